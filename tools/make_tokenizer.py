"""Train the course's byte-level BPE tokenizer on the training captions and ship it
(data/checkpoints/bpe_tokenizer.json, recorded in data/SHA256SUMS).

    python tools/make_tokenizer.py            # writes the file and its manifest line
    python tools/make_tokenizer.py --check    # exit 1 if retraining would change the shipped file

Training is deterministic (the sorted, unique captions of sdgan_course.data.wordings.tokenizer_corpus), so the shipped
file is reproducible; tests/test_tokenizer.py checks that it is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)
from sdgan_course.assets import record_asset  # noqa: E402
from sdgan_course.data.wordings import tokenizer_corpus  # noqa: E402
from sdgan_course.models.tokenizer import SHIPPED_TOKENIZER, BPETokenizer, train_bpe  # noqa: E402

TARGET = ROOT / "data" / SHIPPED_TOKENIZER


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare with the shipped file")
    args = parser.parse_args()
    corpus = tokenizer_corpus()
    text = train_bpe(corpus)
    if args.check:
        same = TARGET.is_file() and TARGET.read_text(encoding="utf-8") == text
        print(f"{TARGET.relative_to(ROOT)}: {'matches' if same else 'DIFFERS from'} a fresh training.")
        return 0 if same else 1
    TARGET.write_text(text, encoding="utf-8")
    digest = record_asset(TARGET)
    vocab = BPETokenizer(text).vocab_size
    print(f"Wrote {TARGET.relative_to(ROOT)}: {vocab} tokens from {len(corpus):,} captions, "
          f"{TARGET.stat().st_size:,} bytes, sha256 {digest[:12]}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
