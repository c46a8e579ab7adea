"""Notebook 07's checks: the right answer passes, a blank gets the hint, each recognised mistake its own message."""

import math

import numpy as np
import pytest
import torch

from sdgan_course.data import GaussianMixture
from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb07 as ex


def blank_fails(check, *args):
    with pytest.raises(ExerciseError) as err:
        check(*args)
    assert err.value.hint and ("`...`" in err.value.problem or "not a function" in err.value.problem)


def slerp(z0, z1, t, *, backwards=False, normalise=True):
    cos = (z0 @ z1) / (z0.norm() * z1.norm()) if normalise else z0 @ z1
    omega = torch.arccos(cos)
    w0, w1 = torch.sin((1 - t) * omega), torch.sin(t * omega)
    if backwards:
        w0, w1 = w1, w0
    return (w0 * z0 + w1 * z1) / torch.sin(omega)


def test_slerp(capsys):
    ex.check_slerp(slerp)
    assert "Correct." in capsys.readouterr().out
    blank_fails(ex.check_slerp, ...)
    with pytest.raises(ExerciseError, match="runs backwards"):
        ex.check_slerp(lambda z0, z1, t: slerp(z0, z1, t, backwards=True))
    with pytest.raises(ExerciseError, match="that is lerp"):
        ex.check_slerp(lambda z0, z1, t: (1 - t) * z0 + t * z1)
    with pytest.raises(ExerciseError, match="NaN"):
        ex.check_slerp(lambda z0, z1, t: slerp(z0, z1, t, normalise=False))
    with pytest.raises(ExerciseError, match="shape"):
        ex.check_slerp(lambda z0, z1, t: slerp(z0, z1, t)[None])


def test_lerp_norm(capsys):
    ex.check_lerp_norm(math.sqrt(64 * 0.625), 64)
    ex.check_lerp_norm(math.sqrt(32 * 0.625), 32)
    assert "Correct." in capsys.readouterr().out
    blank_fails(ex.check_lerp_norm, ..., ...)
    with pytest.raises(ExerciseError, match="norm of the end points"):
        ex.check_lerp_norm(8.0, 64)
    with pytest.raises(ExerciseError, match="midpoint's norm"):
        ex.check_lerp_norm(math.sqrt(32), 64)
    with pytest.raises(ExerciseError, match="squared norm"):
        ex.check_lerp_norm(40.0, 64)
    with pytest.raises(ExerciseError, match="that is not"):
        ex.check_lerp_norm(6.0, 64)


def test_selection_cost(capsys):
    ex.check_selection_cost(0.25, 0.125, 16_000)
    assert "Correct." in capsys.readouterr().out
    blank_fails(ex.check_selection_cost, ..., ..., ...)
    blank_fails(ex.check_selection_cost, 0.25, 0.125, ...)
    with pytest.raises(ExerciseError, match="the bound M itself"):
        ex.check_selection_cost(4, 8, 16_000)
    with pytest.raises(ExerciseError, match="percentage"):
        ex.check_selection_cost(25, 12.5, 16_000)
    with pytest.raises(ExerciseError, match="the same as with M = 4"):
        ex.check_selection_cost(0.25, 0.25, 16_000)
    with pytest.raises(ExerciseError, match="counts the kept samples"):
        ex.check_selection_cost(0.25, 0.125, 1000)
    with pytest.raises(ExerciseError, match="acceptance_m4"):
        ex.check_selection_cost(0.2, 0.125, 16_000)


def exact(logits, logit_max):
    return torch.exp(logits - logit_max)


def test_exact_acceptance(capsys):
    ex.check_exact_acceptance(exact)
    assert "Correct." in capsys.readouterr().out
    blank_fails(ex.check_exact_acceptance, ...)
    with pytest.raises(ExerciseError, match="without dividing by M"):
        ex.check_exact_acceptance(lambda logits, m: logits.exp())
    with pytest.raises(ExerciseError, match="sigmoid"):
        ex.check_exact_acceptance(lambda logits, m: torch.sigmoid(logits))
    with pytest.raises(ExerciseError, match="shape"):
        ex.check_exact_acceptance(lambda logits, m: exact(logits, m).mean())
    with pytest.raises(ExerciseError, match="should return a tensor"):
        ex.check_exact_acceptance(lambda logits, m: exact(logits, m).tolist())


P_DATA = GaussianMixture([[-2.0], [2.0]], [0.5, 0.5])  # the toy of the notebook's section 1
P_G = GaussianMixture([[0.0]], [2.5])


def toy_generator(n, rng):
    return P_G.sample(n, rng=rng)[:, 0]


def ideal_logit(x):
    return (P_DATA.log_prob(x) - P_G.log_prob(x)).float()


def rate(probability, seed=0):
    rng = torch.Generator().manual_seed(seed)
    candidates = toy_generator(20_000, rng)  # (20000,)
    logits = ideal_logit(candidates)
    return (torch.rand(20_000, generator=rng) < probability(logits)).float().mean().item()


def test_rejection_rate(capsys):
    log_m = float(ideal_logit(torch.linspace(-8, 8, 16_001)).max())
    for seed in range(2):
        ex.check_rejection_rate(rate(lambda d: exact(d, log_m), seed), toy_generator, ideal_logit)
    assert "Correct." in capsys.readouterr().out
    blank_fails(ex.check_rejection_rate, ..., ..., ...)
    with pytest.raises(ExerciseError, match="without dividing by M"):
        ex.check_rejection_rate(rate(torch.exp), toy_generator, ideal_logit)
    with pytest.raises(ExerciseError, match="sigmoid"):
        ex.check_rejection_rate(rate(torch.sigmoid), toy_generator, ideal_logit)
    with pytest.raises(ExerciseError, match="almost every candidate"):
        ex.check_rejection_rate(1.0, toy_generator, ideal_logit)
    with pytest.raises(ExerciseError, match="further from 1/M"):
        ex.check_rejection_rate(0.2, toy_generator, ideal_logit)


def test_numbers_of_any_kind_count_and_blank_hints_do_not_give_the_answer(capsys):
    """Issue 19, items 24-25: 0-d tensors and numpy scalars are numbers, a bool is not; a hint on a blank points the
    way without the finished formula."""
    ex.check_lerp_norm(torch.tensor(math.sqrt(64 * 0.625)), 64)
    ex.check_selection_cost(np.float64(0.25), torch.tensor(0.125), np.int64(16_000))
    assert capsys.readouterr().out.count("Correct.") == 2
    with pytest.raises(ExerciseError, match="truth value"):
        ex.check_lerp_norm(True, 64)
    with pytest.raises(ExerciseError) as err:
        ex.check_slerp(...)
    assert "arccos(" not in err.value.hint and "sin((1 - t) Omega) z0" not in err.value.hint
    with pytest.raises(ExerciseError) as err:
        ex.check_lerp_norm(..., 64)
    assert "0.75^2 + 0.25^2" not in err.value.hint
    with pytest.raises(ExerciseError) as err:
        ex.check_selection_cost(..., 0.125, 16_000)
    assert "1/M" not in err.value.hint


def test_show_prints_a_solution(capsys):
    ex.show("ex4")
    assert "torch.exp(logits - logit_max)" in capsys.readouterr().out
