"""Measure the shipped miniature CLIP on the 10,000 Fashion-MNIST test images: zero-shot accuracy per wording and per
class, trained synonyms and plurals, the held-out synonyms, dark-versus-light brightness per class (held-out pairs
marked), and reading two-item compositions (trained and held-out arrangements).

    python tools/evaluate_clip.py --out data/checkpoints/clip_fashion_mnist_eval.json --threads 1

Chance: 0.10 for zero-shot, 0.5 for dark versus light, 1/90 for compositions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)
from sdgan_course.data.captions import pair_dataset  # noqa: E402
from sdgan_course.data.images import load_images  # noqa: E402
from sdgan_course.data.wordings import (  # noqa: E402
    ATTRIBUTES,
    HELD_OUT_ATTRIBUTE_PAIRS,
    HELD_OUT_SYNONYMS,
    PLURALS,
    SYNONYMS,
    brightness_attribute,
    brightness_thresholds,
    with_article,
)
from sdgan_course.metrics.clip_score import composition_accuracy, zero_shot_accuracy, zero_shot_predict  # noqa: E402
from sdgan_course.metrics.report import describe_machine  # noqa: E402
from sdgan_course.train.clip import load_clip, load_shipped_clip  # noqa: E402

WORDINGS = ("a photo of a {name}", "a picture of a {name}", "a {name}", "a picture of the {name}")



def evaluate(model, test) -> dict:
    out = {"zero_shot": {t: round(zero_shot_accuracy(model, test.images, test.labels, template=t).accuracy, 4)
                         for t in WORDINGS}}
    out["per_class"] = [round(x, 4) for x in zero_shot_accuracy(model, test.images, test.labels).per_class.tolist()]
    for name, prompts in (("last_synonym", [f"a photo of {with_article(SYNONYMS[c][-1])}" for c in range(10)]),
                          ("plural", [f"a photo of {PLURALS[c][0]}" for c in range(10)])):
        out["zero_shot"][name] = round((zero_shot_predict(model, test.images, prompts) == test.labels)
                                       .float().mean().item(), 4)
    held = {}
    for c, word, plural in HELD_OUT_SYNONYMS:  # the class's prompt says the new word; recall on that class
        prompts = [f"a photo of {with_article(SYNONYMS[k][0])}" for k in range(10)]
        prompts[c] = f"a photo of {word}" if plural else f"a photo of {with_article(word)}"
        sel = test.labels == c
        held[word] = round((zero_shot_predict(model, test.images[sel], prompts) == c).float().mean().item(), 4)
    out["held_out_synonym_recall"] = held
    attributes = brightness_attribute(test.images, test.labels, brightness_thresholds("fashion_mnist"))  # (N,)
    rows = []
    for c in range(10):
        sel = (test.labels == c) & (attributes > 0)  # the darkest and lightest thirds of the class
        prompts = [f"a photo of {with_article(word + ' ' + SYNONYMS[c][0])}" for word in ("dark", "light")]
        pred = zero_shot_predict(model, test.images[sel], prompts) + 1  # 1 dark, 2 light
        rows.append(dict(cls=c, n=int(sel.sum()), accuracy=round((pred == attributes[sel]).float().mean().item(), 4),
                         held_out=[ATTRIBUTES[a] for a, k in HELD_OUT_ATTRIBUTE_PAIRS if k == c]))
    out["dark_vs_light"] = rows
    for which in ("train", "held_out"):
        pairs = pair_dataset("fashion_mnist", "test", n=2000, pairs=which, seed=0)
        score = composition_accuracy(model, pairs.images, pairs.labels)
        out[f"compositions_{which}"] = dict(exact=round(score.accuracy, 4), either_order=round(score.items, 4))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped clip_fashion_mnist")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_clip(args.checkpoint) if args.checkpoint else load_shipped_clip()
    result = {"machine": describe_machine(), "command": " ".join(sys.argv), "model_step": model.step,
              "training": model.info, **evaluate(model, load_images("fashion_mnist", "test"))}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
