"""Checks for the exercises of notebook 06, evaluating generators.

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. ``show("ex1")`` prints our solution.
"""

from __future__ import annotations

import math

import torch

from .. import metrics
from . import solutions
from .checks import as_number, call, close, expect, given, mistake, passed

NOTEBOOK = "06_evaluating_generators"


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def _fid(mu1, var1, mu2, var2) -> float:
    """The library's FID of two Gaussians with diagonal covariances (F,) -> a number."""
    return metrics.frechet_distance(mu1, torch.diag(var1), mu2, torch.diag(var2))


def check_frechet_1d(frechet_1d) -> None:
    """Exercise 1: the squared Fréchet distance between N(2, 9) and N(-1, 1) (mean, variance), by hand."""
    hint = ("put the two means and variances into the formula of section 2: in one dimension Sigma is the variance, "
            "the trace of a number is the number, and (Sigma1 Sigma2)^(1/2) = s1 s2 with s the standard deviations.")
    value = as_number(frechet_1d, "frechet_1d", hint)
    mu1, var1, mu2, var2 = (torch.tensor([v], dtype=torch.float64) for v in (2.0, 9.0, -1.0, 1.0))
    expected = _fid(mu1, var1, mu2, var2)
    mistake(math.isclose(value, float((mu1 - mu2) ** 2 + (var1 - var2) ** 2)),
            f"frechet_1d = {value:g} compares the variances, not the standard deviations.",
            "the trace term is var1 + var2 - 2 sqrt(var1 var2) = (s1 - s2)^2.")
    mistake(math.isclose(value, math.sqrt(expected)),
            f"frechet_1d = {value:.4g} is the Fréchet distance itself; FID is its square.",
            "do not take the square root: FID = |mu1 - mu2|^2 + Tr(...).")
    mistake(math.isclose(value, float((mu1 - mu2) ** 2 + var1 + var2 - (var1 * var2).sqrt())),
            f"frechet_1d = {value:g} forgets the factor 2 in front of (Sigma1 Sigma2)^(1/2).",
            "Tr(Sigma1 + Sigma2 - 2 (Sigma1 Sigma2)^(1/2)) = 9 + 1 - 2 * 3.")
    close(value, expected, "frechet_1d", hint, rtol=1e-9, what="FID(N(2, 9), N(-1, 1))")
    mean_part = float((mu1 - mu2) ** 2)
    passed(f"FID = {value:g}: {mean_part:g} from the means and {value - mean_part:g} from the spreads.")


def check_fid_diagonal(fid_diagonal) -> None:
    """Exercise 2: ``fid_diagonal(mu1, var1, mu2, var2)``, the FID of two Gaussians with diagonal covariances."""
    hint = ("a Gaussian with a diagonal covariance is a product of 1-D Gaussians, one per dimension: what does that "
            "make of the formula of exercise 1? FID is one number for all dimensions.")
    rng = torch.Generator().manual_seed(0)
    mu1, mu2 = (torch.randn(16, generator=rng, dtype=torch.float64) for _ in range(2))  # (16,) each
    var1, var2 = (torch.rand(16, generator=rng, dtype=torch.float64) * 3 + 0.1 for _ in range(2))  # (16,) each
    got = call(fid_diagonal, mu1, var1, mu2, var2, name="fid_diagonal", hint=hint)
    expected = _fid(mu1, var1, mu2, var2)
    if isinstance(got, torch.Tensor):
        mistake(got.numel() == 16, "fid_diagonal returns one number per dimension.",
                "sum over the dimensions: FID is one number.")
        expect(got.numel() == 1, f"fid_diagonal returned a tensor of shape {tuple(got.shape)}; one number is "
               "expected.", hint)
    value = as_number(got, "fid_diagonal(...)", hint)
    mistake(math.isclose(value, float(((mu1 - mu2) ** 2 + (var1 - var2) ** 2).sum()), rel_tol=1e-6),
            "fid_diagonal compares the variances, not the standard deviations.",
            "(Sigma1 Sigma2)^(1/2) is diagonal with entries sqrt(var1 var2): the spread term is (s1 - s2)^2.")
    mistake(math.isclose(value, math.sqrt(expected), rel_tol=1e-6), "fid_diagonal returns the square root of FID.",
            "FID is the *squared* Fréchet distance.")
    close(value, expected, "fid_diagonal", hint, rtol=1e-6, what="metrics.frechet_distance with diagonal covariances")
    passed("your formula equals the library's frechet_distance with torch.diag(var): no matrix square root is needed "
           "when the covariances are diagonal (the library needs one because course features are correlated).")


def _expected_same_fid(n: int) -> float:
    r"""E[FID] of two independent samples of ``n`` points from N(0, 1), 1-D, sample std with Bessel's correction:
    E[(m1 - m2)^2] = 2/n and E[(s1 - s2)^2] = 2 (1 - c4^2), c4 = E[s] = sqrt(2/(n-1)) Gamma(n/2) / Gamma((n-1)/2)."""
    c4 = math.sqrt(2 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))
    return 2 / n + 2 * (1 - c4**2)


def check_fid_bias(mean_fid_100, mean_fid_400) -> None:
    """Exercise 3: the average FID of two samples of the *same* N(0, 1), with 100 and with 400 points each."""
    hint = ("each row of x100 and the same row of y100 are one pair of samples: apply exercise 1's formula to the two "
            "rows' own means and standard deviations, then average over the 5,000 pairs; the same for N = 400.")
    mean_fid_100 = as_number(mean_fid_100, "mean_fid_100", hint)  # a number, a 0-d tensor or a numpy scalar
    mean_fid_400 = as_number(mean_fid_400, "mean_fid_400", hint)
    for name, value, n in (("mean_fid_100", mean_fid_100, 100), ("mean_fid_400", mean_fid_400, 400)):
        ratio = value / _expected_same_fid(n)
        mistake(value == 0, f"{name} is 0: two finite samples never have exactly the same mean and spread.",
                "compute each row's sample mean and std from its own points.")
        mistake(1.6 < ratio < 2.4, f"{name} = {value:.4g} is about twice the expected value: it compares the "
                "variances, not the standard deviations.", "the spread term is (s1 - s2)^2 with s = x.std(1).")
        mistake(0.55 < ratio < 0.78, f"{name} = {value:.4g} holds only the means' term.",
                "add the spread term (a.std(1) - b.std(1))**2.")
        mistake(0.25 < ratio < 0.42, f"{name} = {value:.4g} holds only the spreads' term.",
                "add the means' term (a.mean(1) - b.mean(1))**2.")
        expect(0.9 < ratio < 1.1, f"{name} = {value:.4g} is not the average FID of two samples of {n} points from "
               "N(0, 1) (allowing for the randomness of 5,000 repetitions).", hint)
    ratio = float(mean_fid_100) / float(mean_fid_400)
    passed(f"{float(mean_fid_100):.4f} at N = 100 and {float(mean_fid_400):.4f} at N = 400, {ratio:.1f} times "
           "less: about 3/N, although both samples come from one distribution. Each sample's mean and spread are "
           "off by noise whose variance is of order 1/N, and FID adds squares, so the noise never cancels: FID is "
           "biased upwards by c/N.")


def check_mmd2(mmd2_by_hand) -> None:
    """Exercise 4: the unbiased MMD^2 with the KID kernel, against ``metrics.mmd2_unbiased``."""
    hint = ("build the three kernel matrices k(x, x), k(y, y) and k(x, y) with the formula above; the two within-set "
            "averages leave out their diagonal (so they divide by m (m - 1) and n (n - 1)), the cross average keeps "
            "every pair.")
    rng = torch.Generator().manual_seed(0)
    x = torch.randn(30, 8, generator=rng, dtype=torch.float64) + 0.3  # (30, 8)
    y = torch.randn(25, 8, generator=rng, dtype=torch.float64)  # (25, 8)
    value = as_number(call(mmd2_by_hand, x, y, name="mmd2_by_hand", hint=hint), "mmd2_by_hand(x, y)", hint)
    expected = metrics.mmd2_unbiased(x, y)

    def kernel(a, b):
        return (a @ b.T / a.shape[1] + 1) ** 3  # (m, n)

    biased = float(kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean())
    mistake(math.isclose(value, biased, rel_tol=1e-6), "mmd2_by_hand keeps the diagonal terms k(x_i, x_i): that "
            "is the biased estimate, which is positive even for two samples of one distribution.",
            "leave out the diagonal of k(x, x) and of k(y, y), and divide by m (m - 1) and n (n - 1).")
    no_d = metrics.mmd2_unbiased(x, y, kernel=lambda a, b: (a @ b.T + 1) ** 3)
    mistake(math.isclose(value, no_d, rel_tol=1e-6), "mmd2_by_hand's kernel forgets to divide x^T y by the feature "
            "dimension d.", "the KID kernel is (x^T y / d + 1)^3 (Bińkowski et al. 2018, section 4).")
    close(value, expected, "mmd2_by_hand", hint, rtol=1e-8, atol=1e-10, what="metrics.mmd2_unbiased(x, y)")
    passed(f"MMD^2 = {value:.4f}, as the library: without the diagonal its average is 0 for equal distributions, so "
           "KID can come out negative, as it may for real data.")


def check_predictions(higher_precision, blurry_accuracy_closer_to, scores, c2st) -> None:
    """Exercise 5: read the results: which set has the higher precision, and the blurry set's two-sample test."""
    hint = ("precision: the y-axis of the precision/recall plot (section 4); two-sample: a judge that finds any "
            "difference, such as missing detail, gets far above 50%.")
    given(higher_precision, "higher_precision", hint)
    given(blurry_accuracy_closer_to, "blurry_accuracy_closer_to", hint)
    pair = ("blurry", "two classes")
    higher_precision = str(higher_precision).strip().lower()
    expect(higher_precision in pair, f"higher_precision = {higher_precision!r}; answer 'blurry' or 'two classes'.",
           hint)
    best = max(pair, key=lambda name: scores[name]["precision"])
    mistake(higher_precision != best, f"higher_precision = {higher_precision!r} is not the set with the higher "
            "precision in this notebook's SCORES.",
            "precision asks whether each sample lies on the real manifold; which set consists of real images? "
            "Compare the two on the y-axis of the plot in section 4.")
    blurry_accuracy_closer_to = as_number(blurry_accuracy_closer_to, "blurry_accuracy_closer_to", hint)
    expect(blurry_accuracy_closer_to in (50, 100), "blurry_accuracy_closer_to should be 50 or 100.", hint)
    blurry_accuracy_closer_to = int(blurry_accuracy_closer_to)
    accuracy = c2st["blurry"].accuracy
    truth = 100 if abs(accuracy - 1.0) < abs(accuracy - 0.5) else 50
    mistake(blurry_accuracy_closer_to != truth, f"blurry_accuracy_closer_to = {blurry_accuracy_closer_to} does not "
            "match the judge's held-out accuracy on the blurry set in section 8.",
            "same classes are not the same distribution: can a judge see the missing detail? Read the 'blurry' line "
            "that section 8 prints.")
    passed(f"'{best}' is realistic but covers two classes (precision {scores[best]['precision']:.2f}, recall "
           f"{scores[best]['recall']:.2f}); the judge tells blurry from real {accuracy:.0%} of the time, though "
           "their classes are the same.")
