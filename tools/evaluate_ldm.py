"""Measure the text-to-image latent diffusion model: prompt following per class and against guidance (with FID),
new wordings, held-out compositions, and the headline row at 5,000 samples beside the real-data floor; for a model
trained on the richer captions (sdgan_course.data.wordings) also the prompts a newcomer types, trained synonyms and
plurals, the held-out synonyms, and the brightness attribute per class (held-out attribute-object pairs included).

Writes a JSON that notebooks 11 and 12 and `data/checkpoints/README.md` read; every number is measured here.

    python tools/evaluate_ldm.py --checkpoint data/checkpoints/ldm_fashion_mnist.pt \
        --out data/checkpoints/ldm_fashion_mnist_eval.json --n 5000 --grid-n 1000 --threads 2
    python tools/evaluate_ldm.py --snapshots runs/ldm_fm --n 500          # prompt following over training

Prompts are balanced over the classes (``arange(n) % 10``), "a photo of a {name}" unless said otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)

from sdgan_course.data.captions import CLASS_WORDS, HELD_OUT_PAIRS, HELD_OUT_TEMPLATES  # noqa: E402
from sdgan_course.data.wordings import (  # noqa: E402
    ATTRIBUTES,
    HELD_OUT_SYNONYMS,
    PLURALS,
    SYNONYMS,
    attribute_allowed,
    brightness_thresholds,
    with_article,
)
from sdgan_course.metrics.features import reference_statistics  # noqa: E402
from sdgan_course.metrics.prompt_following import (  # noqa: E402
    attribute_accuracy,
    class_prompt,
    classify,
    composition_agreement,
    pair_prompt,
    prompt_agreement,
)
from sdgan_course.metrics.report import describe_machine, real_floor, score_row  # noqa: E402
from sdgan_course.models.classifier import load_classifier  # noqa: E402
from sdgan_course.models.tokenizer import BPETokenizer  # noqa: E402
from sdgan_course.sample.base import network_evaluations  # noqa: E402
from sdgan_course.sample.ldm import generate_ldm  # noqa: E402
from sdgan_course.train.ldm import load_ldm  # noqa: E402

DATASET = "fashion_mnist"


def draw(ldm, prompts, guidance, steps, *, seed=0, sampler="dpm-solver"):
    start = time.perf_counter()
    images = generate_ldm(ldm, prompts, len(prompts), guidance=guidance, steps=steps, sampler=sampler,
                          rng=torch.Generator().manual_seed(seed))
    return images, (time.perf_counter() - start) / len(prompts)


def prompt_row(ldm, n, guidance, steps, reference, classifier, *, template=None, seed=0,
               sampler="dpm-solver") -> dict:
    labels = torch.arange(n) % 10
    names = CLASS_WORDS[DATASET]
    prompts = [template.format(name=names[c]) if template else class_prompt(DATASET, c) for c in labels.tolist()]
    images, seconds = draw(ldm, prompts, guidance, steps, seed=seed, sampler=sampler)
    agree = prompt_agreement(classifier.model, images, labels)
    nfe = network_evaluations(steps, guidance, sampler=sampler)
    row = dict(sampler=sampler, guidance=guidance, steps=steps, nfe=nfe, n=n,
               template=template or "a photo of a {name}",
               seconds_per_image=round(seconds, 4), per_class_agreement=[round(a, 3) for a in agree.per_class.tolist()])
    row.update(score_row(images, labels, reference, classifier))
    print(json.dumps(row), flush=True)
    return row


def composition_rows(ldm, per_pair, guidance, steps, classifier, *, sampler="dpm-solver") -> dict:
    out = {}
    seen = [(b, a) for a, b in HELD_OUT_PAIRS]  # each held-out pair's mirror image is a training pair
    for name, pairs in (("held_out", list(HELD_OUT_PAIRS)), ("training_mirrors", seen)):
        labels = torch.tensor([p for p in pairs for _ in range(per_pair)])  # (P * per_pair, 2)
        prompts = [pair_prompt(DATASET, a, b) for a, b in labels.tolist()]
        images, seconds = draw(ldm, prompts, guidance, steps, seed=1, sampler=sampler)
        s = composition_agreement(classifier.model, images, labels)
        per_pair_both = (s.predictions == labels).all(1).float().view(len(pairs), per_pair).mean(1)
        out[name] = dict(pairs=[list(p) for p in pairs], n=len(prompts), both=round(s.both, 4),
                         left=round(s.left, 4), right=round(s.right, 4), swapped=round(s.swapped, 4),
                         per_pair=[round(v, 3) for v in per_pair_both.tolist()], seconds_per_image=round(seconds, 4))
        print(name, json.dumps(out[name]), flush=True)
    return out


# What a newcomer types first (issue 21), with the class each means (None: no single class, e.g. any shoe).
NEWCOMER_PROMPTS = (("a t-shirt", 0), ("a photo of a T-shirt", 0), ("a photo of sneakers", 7), ("trousers", 1),
                    ("a photo of a shoe", None), ("a red dress", 3))



def agreement_rows(ldm, items, per_prompt, guidance, steps, classifier, *, seed) -> list[dict]:
    """For each (prompt, class or None): ``per_prompt`` samples, the share classified as the class and the classes
    seen (a histogram over the 10 classes)."""
    prompts = [p for p, _ in items for _ in range(per_prompt)]
    images, seconds = draw(ldm, prompts, guidance, steps, seed=seed)
    pred = classify(classifier.model, images).view(len(items), per_prompt)
    rows = []
    for (prompt, c), row in zip(items, pred):
        hist = torch.bincount(row, minlength=10).tolist()
        rows.append(dict(prompt=prompt, target=c, n=per_prompt, histogram=hist,
                         agreement=None if c is None else round((row == c).float().mean().item(), 4)))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def wording_rows(ldm, per_prompt, guidance, steps, classifier) -> dict:
    """The newcomer's prompts, one trained synonym or plural per class, and every held-out synonym."""
    names = CLASS_WORDS[DATASET]
    trained = [(f"a photo of {PLURALS[c][-1]}" if c % 2 else f"a photo of {with_article(SYNONYMS[c][-1])}", c)
               for c in range(len(names))]
    held = [(f"a photo of {w}" if plural else f"a photo of {with_article(w)}", c) for c, w, plural in HELD_OUT_SYNONYMS]
    out = {}
    for key, items, seed in (("newcomer", NEWCOMER_PROMPTS, 3), ("trained_synonyms", trained, 4),
                             ("held_out_synonyms", held, 5)):
        rows = agreement_rows(ldm, items, per_prompt, guidance, steps, classifier, seed=seed)
        scored = [r["agreement"] for r in rows if r["agreement"] is not None]
        out[key] = dict(rows=rows, mean_agreement=round(sum(scored) / len(scored), 4))
    return out


def attribute_rows(ldm, per_pair, guidance, steps, classifier) -> dict:
    """"a photo of a dark {name}" and "... light ..." per class: the share of samples in the requested brightness
    third of their class (chance about 1/3), beside the plain prompt's share in each third; held-out pairs marked."""
    names = [SYNONYMS[c][0] for c in range(len(CLASS_WORDS[DATASET]))]
    thresholds = brightness_thresholds(DATASET)
    held = attribute_allowed(DATASET, which="held_out")
    k = len(names)
    labels = torch.arange(k).repeat_interleave(per_pair)  # (K * per_pair,)
    plain, _ = draw(ldm, [f"a photo of {with_article(names[c])}" for c in labels.tolist()], guidance, steps, seed=6)
    base = attribute_accuracy(plain, labels, torch.zeros_like(labels), thresholds).measured.view(k, per_pair)
    out = {"per_pair": per_pair, "rows": []}
    for a in (1, 2):
        prompts = [f"a photo of {with_article(ATTRIBUTES[a] + ' ' + names[c])}" for c in labels.tolist()]
        images, _ = draw(ldm, prompts, guidance, steps, seed=6 + a)
        acc = attribute_accuracy(images, labels, torch.full_like(labels, a), thresholds)
        agree = prompt_agreement(classifier.model, images, labels)
        for c in range(k):
            row = dict(attribute=ATTRIBUTES[a], cls=c, name=names[c], held_out=bool(held[c, a]),
                       accuracy=round(acc.per_class[c].item(), 4),
                       plain_share=round((base[c] == a).float().mean().item(), 4),
                       class_agreement=round(agree.per_class[c].item(), 4))
            out["rows"].append(row)
            print(json.dumps(row), flush=True)
    for name, keep in (("trained", False), ("held_out", True)):
        rows = [r for r in out["rows"] if r["held_out"] == keep]
        out[name] = dict(pairs=len(rows), accuracy=round(sum(r["accuracy"] for r in rows) / len(rows), 4),
                         plain_share=round(sum(r["plain_share"] for r in rows) / len(rows), 4))
    print(json.dumps({k: v for k, v in out.items() if k != "rows"}), flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--snapshots", type=Path, help="a training folder with ema_step*.pt files")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--n", type=int, default=5000, help="samples for the floor and the headline row")
    parser.add_argument("--grid-n", type=int, default=1000, help="samples per guidance row")
    parser.add_argument("--scales", default="1,2,3,5,7.5", help="guidance scales of the sweep")
    parser.add_argument("--steps", type=int, default=20, help="DPM-Solver++ steps")
    parser.add_argument("--guidance", type=float, default=None, help="headline guidance (default: best FID)")
    parser.add_argument("--per-pair", type=int, default=50, help="samples per composition")
    parser.add_argument("--per-wording", type=int, default=200, help="samples per wording (newcomer, synonyms)")
    parser.add_argument("--per-attribute", type=int, default=200, help="samples per (attribute, class)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    classifier = load_classifier(DATASET)  # the file and its checksum; .model is the network
    reference = reference_statistics(DATASET, "train", classifier=classifier, num_features=max(args.n, 5000))

    if args.snapshots:
        rows = []
        for path in sorted(args.snapshots.glob("ema_step*.pt")):
            ldm = load_ldm(path)
            rows.append({"step": ldm.step, **prompt_row(ldm, args.n, args.guidance or 3.0, args.steps, reference,
                                                         classifier)})
        if args.out:
            args.out.write_text(json.dumps(rows, indent=1))
        return 0

    ldm = load_ldm(args.checkpoint)
    result = {"machine": describe_machine(), "model": str(args.checkpoint), "model_step": ldm.step,
              "command": " ".join(sys.argv), "sampler": f"dpm-solver {args.steps} steps"}
    result["floor"] = real_floor(args.n, reference, classifier)
    print(json.dumps(result["floor"]), flush=True)
    scales = [float(s) for s in args.scales.split(",")]
    result["guidance_sweep"] = [prompt_row(ldm, args.grid_n, g, args.steps, reference, classifier) for g in scales]
    best = args.guidance or min(result["guidance_sweep"], key=lambda r: r["fid"])["guidance"]
    result["headline"] = prompt_row(ldm, args.n, best, args.steps, reference, classifier)
    result["new_wording"] = prompt_row(ldm, args.grid_n, best, args.steps, reference, classifier,
                                       template=HELD_OUT_TEMPLATES[DATASET][0])
    result["compositions"] = composition_rows(ldm, args.per_pair, best, args.steps, classifier)
    if isinstance(ldm.tokenizer, BPETokenizer):  # a model trained on the richer captions
        result["wordings"] = wording_rows(ldm, args.per_wording, best, args.steps, classifier)
        result["attributes"] = attribute_rows(ldm, args.per_attribute, best, args.steps, classifier)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
        print(f"Wrote {args.out}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
