"""Notebook 02's exercise checks: the right answer passes, a blank fails with a hint, each known mistake is named."""

import math

import numpy as np
import pytest
import torch

from sdgan_course.data.toy import gaussian_mixture_1d
from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb02 as ex
from sdgan_course.theory import gan as theory

X = torch.linspace(-10, 10, 4001, dtype=torch.float64)  # the notebook's grid and two-bump data
P_DATA = gaussian_mixture_1d(means=(-2.0, 2.0), stds=(0.5, 0.5)).prob(X[:, None])


def test_optimal_discriminator(capsys):
    ex.check_optimal_discriminator(0.75)
    assert "Correct" in capsys.readouterr().out
    ex.check_optimal_discriminator(torch.tensor(0.75))
    with pytest.raises(ExerciseError, match="still `...`") as err:
        ex.check_optimal_discriminator(...)
    assert err.value.hint
    with pytest.raises(ExerciseError, match="odds"):
        ex.check_optimal_discriminator(3.0)
    with pytest.raises(ExerciseError, match="fake"):
        ex.check_optimal_discriminator(0.25)
    with pytest.raises(ExerciseError, match="logit"):
        ex.check_optimal_discriminator(math.log(3))
    with pytest.raises(ExerciseError, match="only where p_data = p_g"):
        ex.check_optimal_discriminator(0.5)
    with pytest.raises(ExerciseError, match=r"not D\*\(x\)"):
        ex.check_optimal_discriminator(0.7)


def test_value_at_equilibrium(capsys):
    ex.check_value_at_equilibrium(-math.log(4))
    ex.check_value_at_equilibrium(-1.386)  # three decimals
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_value_at_equilibrium(...)
    with pytest.raises(ExerciseError, match="JSD"):
        ex.check_value_at_equilibrium(0.0)
    with pytest.raises(ExerciseError, match="wrong sign"):
        ex.check_value_at_equilibrium(math.log(4))
    with pytest.raises(ExerciseError, match="one of the two terms"):
        ex.check_value_at_equilibrium(-math.log(2))
    with pytest.raises(ExerciseError, match=r"is D\*"):
        ex.check_value_at_equilibrium(0.5)
    with pytest.raises(ExerciseError, match="not C"):
        ex.check_value_at_equilibrium(-1.0)


def test_generator_gradients(capsys):
    ex.check_generator_gradients(-0.01, -0.99)
    assert "99 times" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_generator_gradients(..., ...)
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_generator_gradients(-0.01, ...)
    with pytest.raises(ExerciseError, match="probability D, not the logit"):
        ex.check_generator_gradients(-1 / 0.99, -100.0)
    with pytest.raises(ExerciseError, match="wrong sign"):
        ex.check_generator_gradients(0.01, 0.99)
    with pytest.raises(ExerciseError, match="swapped"):
        ex.check_generator_gradients(-0.99, -0.01)
    with pytest.raises(ExerciseError, match="grad_non_saturating"):
        ex.check_generator_gradients(-0.01, -1.0)


def jsd(p, q, x):
    m = 0.5 * (p + q)
    return 0.5 * (torch.trapezoid(torch.xlogy(p, p) - torch.xlogy(p, m), x)
                  + torch.trapezoid(torch.xlogy(q, q) - torch.xlogy(q, m), x))


def test_jsd(capsys):
    ex.check_jsd(jsd)
    assert "Correct" in capsys.readouterr().out

    def blank(p, q, x):
        """# YOUR CODE HERE"""

    with pytest.raises(ExerciseError, match="returned None"):
        ex.check_jsd(blank)
    with pytest.raises(ExerciseError, match="not a function yet"):
        ex.check_jsd(...)
    with pytest.raises(ExerciseError, match=r"KL\(p \|\| q\)"):
        ex.check_jsd(lambda p, q, x: torch.trapezoid(torch.xlogy(p, p) - torch.xlogy(p, q), x))
    with pytest.raises(ExerciseError, match="twice the JSD"):
        ex.check_jsd(lambda p, q, x: 2 * jsd(p, q, x))
    with pytest.raises(ExerciseError, match="bits"):
        ex.check_jsd(lambda p, q, x: jsd(p, q, x) / math.log(2))
    with pytest.raises(ExerciseError, match="one number"):
        ex.check_jsd(lambda p, q, x: 0.5 * (p + q))
    with pytest.raises(ExerciseError, match="do not overlap"):  # p log(p / m) without xlogy: 0 * log 0 = nan
        ex.check_jsd(lambda p, q, x: 0.5 * (torch.trapezoid(p * torch.log(p / (0.5 * (p + q))), x)
                                            + torch.trapezoid(q * torch.log(q / (0.5 * (p + q))), x)))
    with pytest.raises(ExerciseError, match="symmetric"):  # right on (p, q), but not on (q, p)
        ex.check_jsd(lambda p, q, x: jsd(p, q, x) if p.argmax() < q.argmax() else jsd(p, q, x) + 0.1)
    with pytest.raises(ExerciseError, match="is not JSD"):
        ex.check_jsd(lambda p, q, x: jsd(p, q, x) + 0.01)


def best_blur():
    sigmas = torch.linspace(0.1, 5.0, 99, dtype=torch.float64)  # steps of 0.05
    c = torch.stack([theory.virtual_training_criterion(P_DATA, ex._gaussian(X, 0.0, float(s)), X) for s in sigmas])
    return sigmas[c.argmin()].item(), c.min().item()


def test_best_blur(capsys):
    sigma, c = best_blur()
    ex.check_best_blur(sigma, c, P_DATA, X)
    assert "below" in capsys.readouterr().out
    ex.check_best_blur(2.0, -0.9841, P_DATA, X)  # a coarser search, four decimals
    with pytest.raises(ExerciseError, match="still `...`") as err:
        ex.check_best_blur(..., ..., ..., ...)
    assert err.value.hint
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_best_blur(sigma, ..., P_DATA, X)
    with pytest.raises(ExerciseError, match="width of one data bump"):
        ex.check_best_blur(0.5, c, P_DATA, X)
    with pytest.raises(ExerciseError, match="is the JSD"):
        ex.check_best_blur(sigma, (c + math.log(4)) / 2, P_DATA, X)
    with pytest.raises(ExerciseError, match="on one bump"):
        ex.check_best_blur(1.0, -0.9548, P_DATA, X)
    with pytest.raises(ExerciseError, match="not where C"):
        ex.check_best_blur(3.0, c, P_DATA, X)
    with pytest.raises(ExerciseError, match="best_c"):
        ex.check_best_blur(sigma, -0.9, P_DATA, X)


def test_blank_hints_do_not_give_the_answer_and_numbers_of_any_kind_count(capsys):
    """Issue 19, items 24-25: a hint on a blank points the way without the finished formula; 0-d tensors and numpy
    scalars count as numbers, a bool does not."""
    with pytest.raises(ExerciseError) as err:
        ex.check_optimal_discriminator(...)
    assert "p_data(x) / (p_data(x) + p_g(x))" not in err.value.hint
    with pytest.raises(ExerciseError) as err:
        ex.check_generator_gradients(..., ...)
    assert "= -D" not in err.value.hint and "D = 0.01" not in err.value.hint
    ex.check_optimal_discriminator(np.float64(0.75))
    ex.check_value_at_equilibrium(torch.tensor(-math.log(4), dtype=torch.float64))
    ex.check_generator_gradients(np.float32(-0.01), torch.tensor(-0.99))
    assert capsys.readouterr().out.count("Correct") == 3
    with pytest.raises(ExerciseError, match="truth value"):
        ex.check_optimal_discriminator(True)
