"""The byte-level BPE tokenizer: any string tokenizes, CLIP's cleaning, brackets and padding, truncation, the
shipped file is what training on the captions gives."""

import pytest
import torch

from sdgan_course.data.wordings import HELD_OUT_SYNONYMS, tokenizer_corpus
from sdgan_course.models.tokenizer import BPETokenizer, shipped_bpe_json, train_bpe


@pytest.fixture(scope="module")
def tok():
    return BPETokenizer(shipped_bpe_json(), max_length=24)


@pytest.mark.parametrize("text", ["a t-shirt", "a photo of a T-shirt", "a photo of sneakers", "trousers",
                                  "a photo of a shoe", "a red dress", "Ünïcödé ✓ 日本", "🎉", "a\tdark\n coat"])
def test_any_string_tokenizes_and_round_trips_after_cleaning(tok, text):
    ids, mask = tok.encode(text)
    assert ids.shape == mask.shape == (1, 24)
    assert ids[0, 0] == tok.start_id and ids[0, int(mask.sum()) - 1] == tok.end_id
    assert tok.decode(ids) == [tok.normalise(text)]


def test_cleaning_is_clips(tok):
    assert tok.normalise("  A  Photo\tof a\nBAG  ") == "a photo of a bag"  # whitespace collapsed, lower case
    assert torch.equal(tok.encode("A Photo of a BAG").ids, tok.encode("a photo of a bag").ids)
    assert not torch.equal(tok.encode("a photo of a bag.").ids, tok.encode("a photo of a bag").ids)  # "." is a token


def test_training_words_are_single_tokens_new_words_are_pieces(tok):
    assert tok.pieces("a photo of sneakers") == ["a", "Ġphoto", "Ġof", "Ġsneakers"]
    assert dict(tok.known_words("a dark coat"))["dark"]
    for _, word, _ in HELD_OUT_SYNONYMS:  # never in the corpus: spelt in smaller pieces
        assert len(tok.piece_ids(" " + word)) > 1, word
        assert not dict(tok.known_words(word))[word]


def test_empty_prompt_and_truncation(tok):
    for empty in ("", "   "):
        ids, mask = tok.encode(empty)
        assert ids[0, :2].tolist() == [tok.start_id, tok.end_id] and mask.sum() == 2
    long = " ".join(["zebra"] * 30)
    with pytest.warns(UserWarning, match="the rest is ignored"):
        ids, mask = tok.encode(long)
    assert mask.all() and ids[0, -1] == tok.end_id
    with pytest.raises(ValueError, match="at most 22 fit"):
        tok.encode(long, truncate=False)
    with pytest.raises(TypeError, match="must be strings"):
        tok.encode([None])


def test_shipped_tokenizer_is_the_one_trained_on_the_captions(tok):
    fresh = BPETokenizer(train_bpe(tokenizer_corpus()))
    corpus = tokenizer_corpus()
    assert fresh.vocab_size == tok.vocab_size
    assert torch.equal(fresh.encode(corpus).ids, tok.encode(corpus).ids)
    assert max(len(tok.piece_ids(t)) for t in corpus) <= 22  # every caption fits in 24 positions


def test_bad_files_are_refused():
    with pytest.raises(ValueError, match="Not a tokenizer file"):
        BPETokenizer("{not json")
    with pytest.raises(ValueError, match="max_length"):
        BPETokenizer(shipped_bpe_json(), max_length=1)
