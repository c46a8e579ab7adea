"""Checks for the exercises of notebook 12, GANs vs diffusion.

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. ``show("ex1")`` prints our solution.
"""

from __future__ import annotations

import math

import torch

from ..metrics.tradeoff import pareto_front
from ..models.ldm import PromptContext
from ..sample.dpm_solver import dpm_solver_sample
from ..sample.ldm import SPACING, prompt_guidance
from ..schedules import NoiseSchedule
from . import solutions
from .checks import as_bool, as_number, call, expect, given, mistake, passed

NOTEBOOK = "12_gans_vs_diffusion"
TRILEMMA = {"fid": "min", "recall": "max", "seconds_per_image": "min"}  # quality, coverage, speed
ROWS_ABC = (dict(model="A", fid=30.0, recall=0.40, seconds_per_image=0.0005),
            dict(model="B", fid=22.0, recall=0.62, seconds_per_image=0.13),
            dict(model="C", fid=35.0, recall=0.38, seconds_per_image=0.14))  # exercise 2's three models


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


class _CountingUNet:
    """Stands in for a U-Net: returns zeros and counts the images it was run on (one row = one evaluation)."""

    def __init__(self):
        self.rows = 0

    def __call__(self, x, t, **context):
        self.rows += len(x)
        return torch.zeros_like(x)


def counted_nfe(steps: int, guidance: float) -> int:
    """U-Net evaluations per image of the latent model's sampler (DPM-Solver++ with prompt guidance), counted."""
    unet, schedule = _CountingUNet(), NoiseSchedule.from_name("linear")
    prompt = PromptContext(torch.zeros(1, 3, 4), torch.ones(1, 3, dtype=torch.bool))  # (1, L, E), (1, L)
    eps_fn = prompt_guidance(unet, prompt, prompt, scale=guidance, schedule=schedule)
    dpm_solver_sample(eps_fn, (1, 4, 7, 7), schedule, num_steps=steps, spacing=SPACING, clip_x0=False,
                      clamp_output=False)
    return unet.rows


def check_nfe_per_image(nfe_per_image) -> None:
    """Exercise 1: network evaluations per image of a guided sampler, for any steps and guidance scale."""
    hint = ("a step with guidance needs two estimates (prompt and negative prompt, batched into one call of twice "
            "the batch); at scale 1 (the conditional model alone) or 0 (the negative one alone) one is enough.")
    cases = [(20, 3.0), (20, 1.0), (10, 0.0), (5, 7.5)]
    got = [as_number(call(nfe_per_image, steps, guidance, name="nfe_per_image", hint=hint),
                     f"nfe_per_image({steps}, {guidance:g})", hint) for steps, guidance in cases]  # tensors count
    wrong_type = [f"nfe_per_image({s}, {g:g}) = {n:g}" for (s, g), n in zip(cases, got, strict=True)
                  if not n.is_integer()]
    expect(not wrong_type, "a count of network evaluations is a whole number: " + "; ".join(wrong_type) + ".", hint)
    got = [int(n) for n in got]
    expected = [counted_nfe(steps, guidance) for steps, guidance in cases]
    mistake(got == [2 * s for s, _ in cases], "nfe_per_image doubles every step, also at guidance 1 and 0.",
            "at scale 1 the guided estimate *is* the conditional one: the library makes one call a step.")
    mistake(got == [s for s, _ in cases], "nfe_per_image counts one evaluation per step, also with guidance.",
            "guidance mixes two estimates, eps(prompt) and eps(negative): two evaluations a step.")
    wrong = [f"{s} steps at guidance {g:g}: {n}" for (s, g), n, e in zip(cases, got, expected, strict=True)
             if n != e]
    expect(not wrong, "nfe_per_image is wrong for " + "; ".join(wrong) + " (the library's sampler was counted).",
           hint)
    passed(f"{expected[0]} U-Net evaluations for 20 guided steps, {expected[1]} unguided (counted on the library's "
           "sampler), against 1 generator pass for a GAN; the latent model adds one decoder pass per image.")


def check_pareto_front(on_front) -> None:
    """Exercise 2: which of the models A, B, C no other model dominates on (FID, recall, seconds per image)."""
    hint = ("a model is off the front only if another is at least as good on all three axes (FID lower, recall "
            "higher, seconds lower) and better on one; compare each pair.")
    answer = given(on_front, "on_front", hint)
    expect(isinstance(answer, dict) and set(answer) == {"A", "B", "C"},
           "on_front should be a dict with the keys 'A', 'B' and 'C', each True or False.", hint)
    answer = {name: as_bool(v, f"on_front[{name!r}]", hint) for name, v in answer.items()}  # numpy/torch bools count
    expected = dict(zip("ABC", pareto_front(list(ROWS_ABC), TRILEMMA), strict=True))
    mistake(answer["C"] and not expected["C"], "on_front says C is on the front, but another model beats it on all "
            "three axes.", "compare C with B: B has the lower FID, the higher recall and the shorter time.")
    mistake(not answer["A"] and expected["A"], "on_front says A is dominated, but A is the fastest by far.",
            "to dominate A another model would have to be at least as fast: none is.")
    mistake(not answer["B"] and expected["B"], "on_front says B is dominated, but B has the best FID and recall.",
            "a model that is best on one axis cannot be dominated.")
    expect(answer == expected, f"on_front = {answer} is not the Pareto front.", hint)
    passed("A (fast) and B (good and diverse) are on the front; C is dominated (by B, and by A too). Two models on "
           "the front: a trade-off, the trilemma in miniature.")


def check_speed_ratio(speed_ratio, live_rows) -> None:
    """Exercise 3: how many images the fastest measured model draws in the time the slowest draws one."""
    hint = ("take seconds_per_image of every row of LIVE_ROWS and compare the slowest model with the fastest: how "
            "many of the fast one's images fit into the time of one of the slow one's? ex.show('ex3') prints our "
            "solution.")
    value = as_number(speed_ratio, "speed_ratio", hint)  # a float, a 0-d tensor or a numpy number
    rows = list(live_rows)
    if not rows:
        passed("No shipped model was measured here, so there is no ratio to check.")
        return
    seconds = [r["seconds_per_image"] for r in rows]
    expected = max(seconds) / min(seconds)
    mistake(len(rows) > 1 and math.isclose(value, 1 / expected, rel_tol=1e-6),
            f"speed_ratio = {value:.3g} is the inverse: the fastest's time over the slowest's.",
            "divide the slowest model's seconds per image by the fastest's: the answer is above 1.")
    nfes = [r["nfe"] for r in rows]
    mistake(len(rows) > 1 and math.isclose(value, max(nfes) / min(nfes), rel_tol=1e-6)
            and not math.isclose(value, expected, rel_tol=1e-6),
            "speed_ratio is a ratio of network evaluations (NFE), not of measured seconds.",
            "one U-Net evaluation costs far more than one pass of a small generator: use seconds_per_image.")
    expect(math.isclose(value, expected, rel_tol=1e-6), f"speed_ratio = {value:.4g} is not the ratio of the slowest "
           "and the fastest seconds per image in LIVE_ROWS.", hint)
    slowest = max(rows, key=lambda r: r["seconds_per_image"])["model"]
    fastest = min(rows, key=lambda r: r["seconds_per_image"])["model"]
    passed(f"Here {fastest} draws {value:,.0f} images in the time {slowest} draws one (measured on this machine, "
           f"{rows[0].get('n', '?')} samples per model).")
