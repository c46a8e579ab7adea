"""``python -m sdgan_course train classifier``: train a course feature network, ship it and its reference statistics."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from ..assets import CHECKOUT_DATA, record_asset, sha256_of
from ..distributed import is_main
from ..metrics.features import ship_reference_statistics
from ..models.classifier import classifier_filename, dataset_key
from ..train.classifier import TrainClassifierConfig, save_classifier, train_classifier


def cmd_train(args: argparse.Namespace) -> int:
    """``python -m sdgan_course train classifier --dataset NAME [--epochs E] [--out FILE]``."""
    if args.threads:
        torch.set_num_threads(max(1, args.threads))
    config = TrainClassifierConfig(epochs=args.epochs, seed=args.seed)
    key = dataset_key(args.dataset)
    default_out = CHECKOUT_DATA / classifier_filename(key)
    out = Path(args.out) if args.out else default_out
    print(f"training the {key} classifier for {config.epochs} epochs on {args.device} -> {out}", flush=True)
    start = time.perf_counter()
    model, acc = train_classifier(
        key, config=config, train_limit=args.limit, test_limit=args.limit, device=args.device,
        log=lambda s: print(s, flush=True),
    )
    seconds = time.perf_counter() - start
    if not is_main():
        return 0  # under torchrun rank 0 alone writes files
    save_classifier(model, out, dataset=key, test_accuracy=acc, train=config, train_seconds=round(seconds),
                    command=f"python -m sdgan_course train classifier --dataset {key} --epochs {config.epochs}")
    print(f"test accuracy {acc:.4f}; saved {out} ({out.stat().st_size / 1e6:.2f} MB, sha256 {sha256_of(out)})")
    if out.resolve().parent == default_out.resolve().parent:
        record_asset(out)
        print(f"updated the asset manifest {CHECKOUT_DATA / 'SHA256SUMS'}")
        print(f"wrote {ship_reference_statistics(key, out.parent, path=out)}")
    return 0


def add_commands(*, train) -> None:
    """Register ``train classifier`` on the ``train`` sub-parsers."""
    p = train.add_parser("classifier", help="train the course classifier (feature network for FID/KID/PR)")
    p.add_argument("--dataset", default="fashion_mnist", help="fashion_mnist or mnist")
    p.add_argument("--epochs", type=int, default=TrainClassifierConfig.epochs)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use only this many train and test images (quick checks)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--out", default=None, help="output file (default: data/classifiers/<dataset>_classifier.pt)")
    p.set_defaults(func=cmd_train)
