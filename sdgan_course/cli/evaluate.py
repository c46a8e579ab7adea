"""``python -m sdgan_course evaluate SAMPLES.npz``: every metric of a sample file, as a table and as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ..data.images import load_images
from ..metrics.features import reference_statistics
from ..metrics.fid import inception_fid, inception_fid_status
from ..metrics.report import evaluate_samples, format_table, load_samples
from ..models.classifier import load_classifier


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``python -m sdgan_course evaluate SAMPLES.npz --dataset fashion_mnist``: all metrics, as a table and JSON."""
    if args.threads:
        torch.set_num_threads(args.threads)
    images, labels = load_samples(args.samples)
    classifier = load_classifier(args.dataset, device=args.device)
    reference = reference_statistics(classifier.dataset, args.reference, classifier=classifier, verbose=True)
    result = evaluate_samples(
        images, args.dataset, labels=labels, reference_split=args.reference, classifier=classifier,
        reference=reference, memorisation_train=None if args.nn_train == 0 else args.nn_train, device=args.device,
    )
    status = inception_fid_status()
    if args.inception and status.available:
        real = load_images(classifier.dataset, args.reference, limit=len(images)).images
        result["inception_fid"] = inception_fid(images, real, device=args.device)
    else:
        result["inception_fid"] = None
        result["inception_fid_note"] = status.message if args.inception else "not requested (add --inception)"
    print(f"{args.samples}: {len(images)} samples vs {result['reference']}  ({result['seconds']} s)")
    print(format_table({Path(args.samples).stem: result}))
    inception = result["inception_fid"] if result["inception_fid"] is not None else "-"
    print(f"inception_fid: {inception}  {result.get('inception_fid_note', '')}")
    print(json.dumps(result, indent=None if args.compact else 2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def add_commands(sub) -> None:
    """Register ``evaluate`` on the top-level sub-parsers."""
    p = sub.add_parser("evaluate", help="score generated images: FID, KID, precision/recall, IS, memorisation")
    p.add_argument("samples", help="SAMPLES.npz with 'images' uint8 (N, 28, 28) and optionally 'labels' (N,)")
    p.add_argument("--dataset", default="fashion_mnist", help="fashion_mnist or mnist (picks classifier and data)")
    p.add_argument("--reference", default="train", help="real split to compare with (default: train)")
    p.add_argument("--nn-train", type=int, default=10000, help="training images for the memorisation check (0: all)")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: torch's default; 1 is fastest on a busy machine)"
    )
    p.add_argument("--inception", action="store_true", help="also compute the standard Inception FID (pytorch-fid)")
    p.add_argument("--json", default=None, help="also write the JSON to this file")
    p.add_argument("--compact", action="store_true", help="print the JSON on one line")
    p.set_defaults(func=cmd_evaluate)
