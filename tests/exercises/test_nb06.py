"""Notebook 06's checks: the right answer passes, a blank gets the hint, each recognised mistake its own message."""

import functools
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sdgan_course import metrics
from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb06 as ex


def blank_fails(check, *args):
    with pytest.raises(ExerciseError) as err:
        check(*args)
    assert err.value.hint and ("`...`" in err.value.problem or "not a function" in err.value.problem)


def test_frechet_1d(capsys):
    ex.check_frechet_1d(13.0)
    assert "Correct." in capsys.readouterr().out
    blank_fails(ex.check_frechet_1d, ...)
    with pytest.raises(ExerciseError, match="variances, not the standard deviations"):
        ex.check_frechet_1d(9 + 64)
    with pytest.raises(ExerciseError, match="FID is its square"):
        ex.check_frechet_1d(13**0.5)
    with pytest.raises(ExerciseError, match="factor 2"):
        ex.check_frechet_1d(16.0)
    with pytest.raises(ExerciseError, match="that is not"):
        ex.check_frechet_1d(9.0)


def fid_diagonal(mu1, var1, mu2, var2):
    return float(((mu1 - mu2) ** 2).sum() + ((var1.sqrt() - var2.sqrt()) ** 2).sum())


def test_fid_diagonal(capsys):
    ex.check_fid_diagonal(fid_diagonal)
    assert "Correct." in capsys.readouterr().out
    blank_fails(ex.check_fid_diagonal, ...)
    with pytest.raises(ExerciseError, match="one number per dimension"):
        ex.check_fid_diagonal(lambda m1, v1, m2, v2: (m1 - m2) ** 2 + (v1.sqrt() - v2.sqrt()) ** 2)
    with pytest.raises(ExerciseError, match="variances, not the standard deviations"):
        ex.check_fid_diagonal(lambda m1, v1, m2, v2: ((m1 - m2) ** 2 + (v1 - v2) ** 2).sum())
    with pytest.raises(ExerciseError, match="square root of FID"):
        ex.check_fid_diagonal(lambda *a: fid_diagonal(*a) ** 0.5)
    with pytest.raises(ExerciseError, match="returned None"):
        ex.check_fid_diagonal(lambda *a: None)


@functools.cache
def pairs(n, seed):
    return torch.randn(2, 5000, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def same_fid(n, *, spread=True, means=True, variances=False, seed=0):
    x, y = pairs(n, seed)  # (5000, n) each, as in the notebook
    s = (x.var(1) - y.var(1)) ** 2 if variances else (x.std(1) - y.std(1)) ** 2
    return (means * (x.mean(1) - y.mean(1)) ** 2 + spread * s).mean().item()


def test_fid_bias(capsys):
    for seed in range(2):  # the check's tolerance allows for the randomness of the learner's samples
        ex.check_fid_bias(same_fid(100, seed=seed), same_fid(400, seed=seed))
    assert "Correct." in capsys.readouterr().out
    blank_fails(ex.check_fid_bias, ..., ...)
    blank_fails(ex.check_fid_bias, 0.03, ...)
    with pytest.raises(ExerciseError, match="compares the variances"):
        ex.check_fid_bias(same_fid(100, variances=True), same_fid(400, variances=True))
    with pytest.raises(ExerciseError, match="only the means' term"):
        ex.check_fid_bias(same_fid(100, spread=False), same_fid(400))
    with pytest.raises(ExerciseError, match="only the spreads' term"):
        ex.check_fid_bias(same_fid(100), same_fid(400, means=False))
    with pytest.raises(ExerciseError, match="is 0"):
        ex.check_fid_bias(0.0, 0.0)
    with pytest.raises(ExerciseError, match="mean_fid_400 = .* is not"):  # the two answers swapped
        ex.check_fid_bias(same_fid(100), same_fid(100))


def mmd2(x, y, *, diagonal=False, divide_by_d=True):
    d = x.shape[1] if divide_by_d else 1

    def k(p, q):
        return (p @ q.T / d + 1) ** 3

    m, n = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    if diagonal:
        return float(kxx.mean() + kyy.mean() - 2 * k(x, y).mean())
    return float((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1)) + (kyy.sum() - kyy.diagonal().sum())
                 / (n * (n - 1)) - 2 * k(x, y).mean())


def test_mmd2(capsys):
    ex.check_mmd2(mmd2)
    assert "Correct." in capsys.readouterr().out
    x, y = torch.randn(7, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    assert abs(mmd2(x, y) - metrics.mmd2_unbiased(x, y)) < 1e-10
    blank_fails(ex.check_mmd2, ...)
    with pytest.raises(ExerciseError, match="biased estimate"):
        ex.check_mmd2(lambda x, y: mmd2(x, y, diagonal=True))
    with pytest.raises(ExerciseError, match="feature dimension d"):
        ex.check_mmd2(lambda x, y: mmd2(x, y, divide_by_d=False))
    with pytest.raises(ExerciseError, match="raised ValueError"):
        ex.check_mmd2(lambda x, y: float(x @ y.T))


SCORES = {"blurry": {"precision": 0.63, "recall": 0.0}, "two classes": {"precision": 0.91, "recall": 0.31}}
C2ST = {"blurry": SimpleNamespace(accuracy=0.98)}


def test_predictions(capsys):
    ex.check_predictions("two classes", 100, SCORES, C2ST)
    assert "Correct." in capsys.readouterr().out
    ex.check_predictions("Two classes", 100, SCORES, C2ST)
    blank_fails(ex.check_predictions, ..., ..., ..., ...)
    blank_fails(ex.check_predictions, "two classes", ..., SCORES, C2ST)
    with pytest.raises(ExerciseError, match="is not the set with the higher"):
        ex.check_predictions("blurry", 100, SCORES, C2ST)
    with pytest.raises(ExerciseError, match="does not match the judge"):
        ex.check_predictions("two classes", 50, SCORES, C2ST)
    with pytest.raises(ExerciseError, match="answer 'blurry' or 'two classes'"):
        ex.check_predictions("noise", 100, SCORES, C2ST)
    with pytest.raises(ExerciseError, match="50 or 100"):
        ex.check_predictions("two classes", 98.8, SCORES, C2ST)
    # the check reads the notebook's numbers, not ours: a judge at chance makes 50 the right answer
    ex.check_predictions("two classes", 50, SCORES, {"blurry": SimpleNamespace(accuracy=0.55)})


def test_numbers_of_any_kind_count_and_blank_hints_do_not_give_the_answer(capsys):
    """Issue 19, items 24-25: 0-d tensors and numpy scalars are numbers; a list is not one number; a hint on a blank
    points the way without the code of the answer."""
    ex.check_frechet_1d(np.float64(13.0))
    ex.check_frechet_1d(torch.tensor(13.0))
    ex.check_predictions("two classes", np.int64(100), SCORES, C2ST)
    ex.check_predictions("two classes", torch.tensor(100), SCORES, C2ST)
    assert capsys.readouterr().out.count("Correct.") == 4
    with pytest.raises(ExerciseError, match="should be a number, got list"):
        ex.check_fid_diagonal(lambda *a: [float(fid_diagonal(*a))])
    with pytest.raises(ExerciseError, match="truth value"):
        ex.check_frechet_1d(True)
    for check, args in ((ex.check_frechet_1d, (...,)), (ex.check_fid_diagonal, (...,)), (ex.check_fid_bias, (..., ...)),
                        (ex.check_mmd2, (...,))):
        with pytest.raises(ExerciseError) as err:
            check(*args)
        assert ".std(1)" not in err.value.hint and "K.diagonal()" not in err.value.hint
        assert "(mu1 - mu2)^2 + (s1 - s2)^2" not in err.value.hint and "sqrt(var1) - sqrt(var2)" not in err.value.hint


def test_show_prints_a_solution(capsys):
    ex.show("ex4")
    assert "kxx.diagonal()" in capsys.readouterr().out
