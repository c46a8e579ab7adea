r"""Trade-offs between several measurements at once: which models are not beaten on every axis (Pareto optimal).

The *generative learning trilemma* (Xiao, Kreis and Vahdat 2022, arXiv:2112.07804, figure 1) names three things a
generator should have at once: high sample quality, mode coverage (diversity) and fast sampling. GANs give quality and
speed, diffusion models quality and coverage, VAEs speed and coverage. With one number per axis (FID, recall, seconds
per image) the question "is any model best at everything?" becomes: which rows are **dominated**?

Row a dominates row b when a is at least as good on every axis and strictly better on at least one. The rows no one
dominates form the Pareto front; when it holds more than one model, there is a real trade-off and the choice depends
on what one values.

Shape legend: N rows (models), K axes (measurements).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

SENSES = ("min", "max")


def dominates(a: Sequence[float], b: Sequence[float], senses: Sequence[str]) -> bool:
    """True if ``a`` is at least as good as ``b`` on every axis and strictly better on one (``senses``: ``"min"`` or
    ``"max"`` per axis, what "better" means there)."""
    if not len(a) == len(b) == len(senses):
        raise ValueError(f"dominates needs one sense per axis: got {len(a)}, {len(b)} values and {len(senses)} senses.")
    strictly = False
    for x, y, sense in zip(a, b, senses):
        if sense not in SENSES:
            raise ValueError(f"Unknown sense {sense!r}: use 'min' (lower is better) or 'max' (higher is better).")
        better, worse = (x < y, x > y) if sense == "min" else (x > y, x < y)
        if worse:
            return False
        strictly = strictly or better
    return strictly


def pareto_front(rows: Sequence[Mapping[str, float]], objectives: Mapping[str, str]) -> list[bool]:
    """For each row (a dict of measurements), whether no other row dominates it on ``objectives``
    (``{"fid": "min", "recall": "max", "seconds_per_image": "min"}``). Equal rows do not dominate each other.

    Every row must have a finite number for every objective: a missing or NaN value raises, since "unknown" is neither
    better nor worse.
    """
    if not objectives:
        raise ValueError("pareto_front needs at least one objective, e.g. {'fid': 'min'}.")
    keys, senses = list(objectives), list(objectives.values())
    points = []
    for i, row in enumerate(rows):
        point = []
        for key in keys:
            value = row.get(key)
            if value is None or not math.isfinite(float(value)):
                raise ValueError(f"Row {i} ({row.get('model', '?')}) has no finite {key!r}: {value!r}. Drop the row or "
                                 "measure it.")
            point.append(float(value))
        points.append(point)  # (K,)
    return [not any(dominates(q, p, senses) for j, q in enumerate(points) if j != i) for i, p in enumerate(points)]


__all__ = ["SENSES", "dominates", "pareto_front"]
