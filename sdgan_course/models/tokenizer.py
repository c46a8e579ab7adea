r"""A byte-level byte-pair-encoding tokenizer, cleaned and bracketed like CLIP's: every string tokenizes.

**CLIP's tokenizer** (Radford et al. 2021, arXiv:2103.00020, section 2.4) is a lower-cased byte-pair encoding
(Sennrich et al. 2016, arXiv:1508.07909) with 49,152 merges' worth of vocabulary; its text is cleaned first
(whitespace collapsed, lower-cased) and bracketed with start and end tokens. Its base alphabet is the 256 bytes, so
no text is ever out of vocabulary: a word the merges never saw is spelt in smaller pieces, down to single bytes
(the byte-level idea is GPT-2's, Radford et al. 2019).

**This one** is trained with Hugging Face's ``tokenizers`` library on the course's training captions only
(:func:`train_bpe`), with the same cleaning (Unicode NFC, whitespace collapsed and stripped, lower-cased), GPT-2's
byte-level pre-tokenizer (words split from punctuation; each byte is a symbol) and a few hundred merges: enough for
every caption word to be one token, while a word it never saw ("trainers", "red") is split into known pieces. Pieces
carry no trained *meaning* for a new word: the tokenizer never fails, the model may still not understand.

The tokenizer is a JSON text (``tokenizers``' own format), shipped as ``data/checkpoints/bpe_tokenizer.json`` with
the checkpoints (checksummed in the manifest) and stored inside every text encoder's config, so a checkpoint is
self-contained. Ids 0, 1, 2 are ``<pad>``, ``<start>``, ``<end>``.

Shape legend: B batch, L max_length (token positions).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import NamedTuple

import torch

PAD, START, END = "<pad>", "<start>", "<end>"
BPE_SPECIAL_TOKENS = (PAD, START, END)  # ids 0, 1, 2
SHIPPED_TOKENIZER = "checkpoints/bpe_tokenizer.json"
BPE_VOCAB_SIZE = 512  # 3 special tokens + 256 bytes + merges


def _tokenizers():
    try:
        import tokenizers
    except ImportError as err:  # pragma: no cover - tokenizers is a core requirement
        raise ImportError(
            "The course's tokenizer needs the `tokenizers` package (Hugging Face): pip install tokenizers"
        ) from err
    return tokenizers


def _pipeline():
    """An untrained tokenizer with CLIP's cleaning and GPT-2's byte-level pieces."""
    tk = _tokenizers()
    from tokenizers import decoders, models, normalizers, pre_tokenizers

    tokenizer = tk.Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(tk.Regex(r"\s+"), " "), normalizers.Strip(), normalizers.Lowercase()]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def train_bpe(texts: Iterable[str], *, vocab_size: int = BPE_VOCAB_SIZE) -> str:
    """Train a byte-level BPE on ``texts`` (deterministic for the same texts); returns its JSON."""
    from tokenizers import pre_tokenizers, trainers

    tokenizer = _pipeline()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(BPE_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes: nothing is out of vocabulary
        show_progress=False,
    )
    tokenizer.train_from_iterator(sorted(set(texts)), trainer=trainer)
    return tokenizer.to_str()


@lru_cache(maxsize=1)
def shipped_bpe_json() -> str:
    """The course's tokenizer (``data/checkpoints/bpe_tokenizer.json``, checked against the manifest)."""
    from ..assets import find_asset

    return find_asset(SHIPPED_TOKENIZER).read_text(encoding="utf-8")


class Tokens(NamedTuple):
    ids: torch.Tensor  # (B, L) int64, <start> pieces <end> <pad> ...
    mask: torch.Tensor  # (B, L) bool, True on <start>, the pieces and <end>


def bracket(sequences: list[list[int]], max_length: int, *, start_id: int, end_id: int, pad_id: int) -> Tokens:
    """Token id lists (each at most ``max_length - 2`` long) -> ``Tokens``: ``<start>`` ids ``<end>`` then padding,
    (B, L) each, and the mask of real positions."""
    ids = torch.full((len(sequences), max_length), pad_id, dtype=torch.long)  # (B, L)
    for row, pieces in enumerate(sequences):
        seq = [start_id, *pieces, end_id]
        ids[row, : len(seq)] = torch.tensor(seq)
    return Tokens(ids, ids != pad_id)


class BPETokenizer:
    """``encode(texts) -> Tokens(ids, mask)``, each (B, L): ``<start>`` pieces ``<end>`` then ``<pad>``. Same
    interface as the closed-vocabulary :class:`~sdgan_course.models.text_encoder.Tokenizer` of older checkpoints."""

    def __init__(self, json_text: str, *, max_length: int = 24):
        if max_length < 2:
            raise ValueError(f"max_length must leave room for <start> and <end> (>= 2), got {max_length}.")
        try:
            self.backend = _tokenizers().Tokenizer.from_str(json_text)
        except Exception as err:
            raise ValueError(f"Not a tokenizer file of the `tokenizers` library: {err}") from err
        ids = [self.backend.token_to_id(t) for t in BPE_SPECIAL_TOKENS]
        if ids != [0, 1, 2]:
            raise ValueError(f"The tokenizer's special tokens must be {BPE_SPECIAL_TOKENS} at ids 0, 1, 2, got {ids}.")
        self.pad_id, self.start_id, self.end_id = ids
        self.max_length = max_length
        self.json = json_text

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    def normalise(self, text: str) -> str:
        """The cleaned text the pieces are cut from (lower case, single spaces, no outer spaces)."""
        return self.backend.normalizer.normalize_str(text)

    def pieces(self, text: str) -> list[str]:
        """The text's BPE pieces as readable strings (GPT-2's byte-level marks a leading space as ``Ġ``)."""
        return self.backend.encode(text, add_special_tokens=False).tokens

    def piece_ids(self, text: str) -> list[int]:
        return self.backend.encode(text, add_special_tokens=False).ids

    def encode(self, texts: str | Sequence[str], *, truncate: bool = True, on_unknown: str = "unk") -> Tokens:
        """Texts -> ``Tokens(ids, mask)``, each (B, L). A text longer than ``max_length - 2`` pieces is cut (its
        ``<end>`` takes the last position), with a warning, as CLIP's pipelines truncate at 77; ``truncate=False``
        makes that an error instead. ``""`` (or only spaces) is ``<start> <end>``: the empty prompt. ``on_unknown``
        is the word tokenizer's option, accepted for the same interface: byte-level BPE has no unknown words."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        room, sequences = self.max_length - 2, []
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"Prompts must be strings, got {type(text).__name__}: {text!r}.")
            pieces = self.piece_ids(text)
            if len(pieces) > room:
                if not truncate:
                    raise ValueError(f"{text!r} is {len(pieces)} tokens; at most {room} fit in {self.max_length}.")
                warnings.warn(
                    f"{text!r} is {len(pieces)} tokens; the text encoder reads the first {room} "
                    f"({self.max_length} positions with <start> and <end>), the rest is ignored.",
                    stacklevel=2,
                )
                pieces = pieces[:room]
            sequences.append(pieces)
        return bracket(sequences, self.max_length, start_id=self.start_id, end_id=self.end_id, pad_id=self.pad_id)

    def decode(self, ids: torch.Tensor) -> list[str]:
        """(B, L) or (L,) ids -> the cleaned texts (the pieces between ``<start>`` and ``<end>``)."""
        rows = ids[None] if ids.ndim == 1 else ids
        texts = []
        for row in rows.tolist():
            end = row.index(self.end_id) if self.end_id in row else len(row)
            texts.append(self.backend.decode([i for i in row[:end] if i not in (self.pad_id, self.start_id)]))
        return texts

    def known_words(self, text: str) -> list[tuple[str, bool]]:
        """Each cleaned word of ``text`` and whether it is a single token (a word the training captions used)."""
        words = [w for w in self.normalise(text).split(" ") if w]
        return [(w, min(len(self.piece_ids(w)), len(self.piece_ids(" " + w))) == 1) for w in words]


__all__ = ["BPE_SPECIAL_TOKENS", "BPE_VOCAB_SIZE", "SHIPPED_TOKENIZER", "BPETokenizer", "Tokens", "bracket",
           "shipped_bpe_json", "train_bpe"]
