"""Measure the distilled student (adversarial diffusion distillation, notebook 15) beside the cGAN, its teacher and the
real-data floor, on the course features: FID, KID, precision/recall, prompt agreement, held-out compositions and
seconds per image; the teacher in few steps (why few steps fail); and the ablations (adversarial only, distillation
only, both), each at 1 and 4 student steps.

    python tools/evaluate_distill.py --checkpoint data/checkpoints/distill_fashion_mnist.pt \
        --out data/checkpoints/distill_fashion_mnist_eval.json --n 5000 --grid-n 1000 --threads 1 \
        --ablation "both=runs/distill_fm/ema_step000800.pt" --ablation "adversarial only=runs/distill_adv/..." ...

The teacher's 20-step row and its compositions are read from its stored evaluation
(data/checkpoints/ldm_words_fashion_mnist_eval.json, same features, sample count and prompts); every other number is
measured here. Prompts are balanced over the classes (``arange(n) % 10``), "a photo of a {name}".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)

from sdgan_course.data.captions import HELD_OUT_PAIRS  # noqa: E402
from sdgan_course.metrics.features import reference_statistics  # noqa: E402
from sdgan_course.metrics.prompt_following import class_prompt, composition_agreement, pair_prompt  # noqa: E402
from sdgan_course.metrics.report import describe_machine, real_floor, score_row  # noqa: E402
from sdgan_course.models.classifier import load_classifier  # noqa: E402
from sdgan_course.models.gan import load_shipped_gan  # noqa: E402
from sdgan_course.sample.distill import generate_student  # noqa: E402
from sdgan_course.sample.gan import generate  # noqa: E402
from sdgan_course.sample.ldm import generate_ldm  # noqa: E402
from sdgan_course.train.distill import load_distill  # noqa: E402
from sdgan_course.train.ldm import load_shipped_ldm  # noqa: E402

DATASET = "fashion_mnist"
TEACHER_EVAL = ROOT / "data" / "checkpoints" / "ldm_words_fashion_mnist_eval.json"


def echo(row: dict) -> dict:
    print(json.dumps(row), flush=True)
    return row


def balanced_prompts(n: int):
    labels = torch.arange(n) % 10
    return labels, [class_prompt(DATASET, c) for c in labels.tolist()]


def student_row(student, steps, n, reference, classifier, *, name="student") -> dict:
    labels, prompts = balanced_prompts(n)
    start = time.perf_counter()
    images = generate_student(student, prompts, n, steps=steps, rng=torch.Generator().manual_seed(0))
    seconds = (time.perf_counter() - start) / n
    row = dict(model=name, sampler=f"student, {steps} step{'s' * (steps > 1)}", nfe=steps, n=n,
               seconds_per_image=round(seconds, 6))
    row.update(score_row(images, labels, reference, classifier))
    return echo(row)


def held_out_compositions(sample_fn, per_pair, classifier) -> dict:
    """Prompt agreement on the held-out arrangements ("a {left} to the left of a {right}", never trained on)."""
    labels = torch.tensor([p for p in HELD_OUT_PAIRS for _ in range(per_pair)])  # (P * per_pair, 2)
    prompts = [pair_prompt(DATASET, a, b) for a, b in labels.tolist()]
    start = time.perf_counter()
    images = sample_fn(prompts)
    seconds = (time.perf_counter() - start) / len(prompts)
    s = composition_agreement(classifier.model, images, labels)
    return dict(n=len(prompts), both=round(s.both, 4), left=round(s.left, 4), right=round(s.right, 4),
                swapped=round(s.swapped, 4), seconds_per_image=round(seconds, 4))


def cgan_row(n, reference, classifier) -> dict:
    model = load_shipped_gan("cgan_fashion_mnist")
    labels = torch.arange(n) % 10
    start = time.perf_counter()
    images = generate(model.generator, n, z_dim=model.config.z_dim, labels=labels, rng=torch.Generator().manual_seed(0))
    row = dict(model="cgan_fashion_mnist", sampler="one generator pass", nfe=1, n=n,
               seconds_per_image=round((time.perf_counter() - start) / n, 6))
    row.update(score_row(images, labels, reference, classifier))
    return echo(row)


def teacher_few_steps(n, steps_list, guidance, reference, classifier) -> list[dict]:
    """The teacher itself in few DPM-Solver++ steps (guidance 2): the blur that distillation removes."""
    teacher = load_shipped_ldm("ldm_words_fashion_mnist")
    labels, prompts = balanced_prompts(n)
    rows = []
    for steps in steps_list:
        start = time.perf_counter()
        images = generate_ldm(teacher, prompts, n, guidance=guidance, steps=steps, rng=torch.Generator().manual_seed(0))
        row = dict(model="teacher", sampler=f"dpm-solver {steps} steps, guidance {guidance:g}", steps=steps,
                   nfe=2 * steps, n=n, seconds_per_image=round((time.perf_counter() - start) / n, 6))
        row.update(score_row(images, labels, reference, classifier))
        rows.append(echo(row))
    return rows


def speed(student, n: int, batch: int, repeats: int) -> dict:
    """Seconds per image for ``n`` images in batches of ``batch``, best of ``repeats``: the one-step student, the
    four-step student and the cGAN, with the machine's load average beside them. The student's time splits into the
    U-Net's and the autoencoder decoder's share (one batch, timed alone)."""
    _, prompts = balanced_prompts(n)
    gan = load_shipped_gan("cgan_fashion_mnist")
    labels = torch.arange(n) % 10

    def best(fn, count=n):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times) / count

    out = dict(n=n, batch=batch, repeats=repeats, load_average=[round(v, 2) for v in os.getloadavg()],
               threads=torch.get_num_threads())
    out["student_1"] = best(lambda: generate_student(student, prompts, n, steps=1, batch_size=batch))
    out["student_4"] = best(lambda: generate_student(student, prompts, n, steps=4, batch_size=batch))
    out["cgan"] = best(lambda: generate(gan.generator, n, z_dim=gan.config.z_dim, labels=labels, batch_size=batch))
    z = torch.randn(batch, *student.latent_shape((28, 28)))  # (B, C, h, w)
    context = student.encode_prompts(prompts[:batch])
    t = torch.full((batch,), student.schedule.num_steps - 1)
    with torch.no_grad():
        out["student_unet"] = best(lambda: student.unet(z, t, context=context.tokens, context_mask=context.mask),
                                   batch)
        out["student_decoder"] = best(lambda: student.decode_latents(z), batch)
    out = {k: round(v, 7) if isinstance(v, float) else v for k, v in out.items()}
    return echo({"speed": out})["speed"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="the student (a run or an export)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--n", type=int, default=5000, help="samples for the floor and the headline rows")
    parser.add_argument("--grid-n", type=int, default=1000, help="samples per teacher-few-steps and ablation row")
    parser.add_argument("--per-pair", type=int, default=50, help="samples per held-out composition")
    parser.add_argument("--ablation", action="append", default=[], help="NAME=CHECKPOINT, scored at 1 and 4 steps")
    parser.add_argument("--ablation-note", default="", help="how the ablations were trained (stored)")
    parser.add_argument("--speed-n", type=int, default=1000, help="images per speed measurement")
    parser.add_argument("--speed-batch", type=int, default=200, help="batch size of the speed measurement")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    classifier = load_classifier(DATASET)
    reference = reference_statistics(DATASET, "train", classifier=classifier, num_features=max(args.n, 5000))
    student = load_distill(args.checkpoint)
    teacher_eval = json.loads(TEACHER_EVAL.read_text())
    result = {"machine": describe_machine(), "model": str(args.checkpoint), "model_step": student.step,
              "command": " ".join(sys.argv), "features": "course classifier (notebook 06)",
              "student_info": {k: v for k, v in student.info.items() if k != "history"}}
    result["floor"] = echo(real_floor(args.n, reference, classifier))
    result["cgan"] = cgan_row(args.n, reference, classifier)
    result["teacher_20"] = {"model": "teacher", "sampler": teacher_eval["sampler"], **teacher_eval["headline"],
                            "held_out": teacher_eval["compositions"]["held_out"], "source": str(TEACHER_EVAL.name)}
    result["student"] = {}
    for steps in (1, 4):
        row = student_row(student, steps, args.n, reference, classifier)
        row["held_out"] = held_out_compositions(
            lambda p, s=steps: generate_student(student, p, len(p), steps=s, rng=torch.Generator().manual_seed(1)),
            args.per_pair, classifier)
        result["student"][str(steps)] = echo(row)
    result["teacher_few_steps"] = teacher_few_steps(args.grid_n, (1, 2, 4), teacher_eval["headline"]["guidance"],
                                                    reference, classifier)
    result["ablations"] = {"note": args.ablation_note, "n": args.grid_n, "rows": []}
    for item in args.ablation:
        name, _, path = item.partition("=")
        ablated = load_distill(path)
        for steps in (1, 4):
            row = student_row(ablated, steps, args.grid_n, reference, classifier, name=name)
            row.update(checkpoint=path, train_step=ablated.step, config={
                k: ablated.info["distill_config"][k] for k in ("adversarial_weight", "distill_weight")})
            result["ablations"]["rows"].append(row)
    result["speed"] = speed(student, args.speed_n, args.speed_batch, 3)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
        print(f"Wrote {args.out}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
