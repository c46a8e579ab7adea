"""Notebook 04's checks: the right answer passes, a blank gets the hint, each recognised mistake its own message."""

import math

import pytest
import torch

from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb04 as ex


def blank_fails(check, *args):
    with pytest.raises(ExerciseError) as err:
        check(*args)
    assert err.value.hint and ("`...`" in err.value.problem or "not a function" in err.value.problem)


def passes(check, capsys, *args):
    check(*args)
    assert "Correct." in capsys.readouterr().out


# ---- exercise 1: the hinge loss by hand

def test_hinge_by_hand(capsys):
    r, f = torch.tensor(ex.REAL_LOGITS), torch.tensor(ex.FAKE_LOGITS)
    hinge_d = torch.relu(1 - r).mean().item() + torch.relu(1 + f).mean().item()
    hinge_g = -f.mean().item()
    passes(ex.check_hinge_by_hand, capsys, hinge_d, hinge_g)
    passes(ex.check_hinge_by_hand, capsys, torch.tensor(hinge_d), torch.tensor(hinge_g))  # tensors work too
    blank_fails(ex.check_hinge_by_hand, ..., hinge_g)
    blank_fails(ex.check_hinge_by_hand, hinge_d, ...)
    with pytest.raises(ExerciseError, match=r"leaves out the max"):
        ex.check_hinge_by_hand((1 - r).mean().item() + (1 + f).mean().item(), hinge_g)
    with pytest.raises(ExerciseError, match="treats the fakes like real images"):
        ex.check_hinge_by_hand(torch.relu(1 - r).mean().item() + torch.relu(1 - f).mean().item(), hinge_g)
    with pytest.raises(ExerciseError, match="sums over the images"):
        ex.check_hinge_by_hand(torch.relu(1 - r).sum().item() + torch.relu(1 + f).sum().item(), hinge_g)
    with pytest.raises(ExerciseError, match="margin for the generator"):
        ex.check_hinge_by_hand(hinge_d, torch.relu(1 - f).mean().item())
    with pytest.raises(ExerciseError, match="wrong sign"):
        ex.check_hinge_by_hand(hinge_d, -hinge_g)
    with pytest.raises(ExerciseError, match="not the hinge L_D"):
        ex.check_hinge_by_hand(hinge_d + 0.1, hinge_g)
    with pytest.raises(ExerciseError, match="one number"):
        ex.check_hinge_by_hand(torch.ones(2), hinge_g)


# ---- exercise 2: the generator gradient at f = -20

def test_vanishing_losses(capsys):
    passes(ex.check_vanishing_losses, capsys, {"minimax"})
    passes(ex.check_vanishing_losses, capsys, ["minimax"])
    blank_fails(ex.check_vanishing_losses, ...)
    with pytest.raises(ExerciseError, match="non-saturating"):
        ex.check_vanishing_losses({"minimax", "ns"})
    with pytest.raises(ExerciseError, match="'lsgan'"):
        ex.check_vanishing_losses({"minimax", "lsgan"})
    with pytest.raises(ExerciseError, match=r"-1 at every logit"):
        ex.check_vanishing_losses({"minimax", "hinge", "wgan"})
    with pytest.raises(ExerciseError, match="misses"):
        ex.check_vanishing_losses(set())
    with pytest.raises(ExerciseError, match="not losses"):
        ex.check_vanishing_losses({"bce"})
    with pytest.raises(ExerciseError, match="set of loss names"):
        ex.check_vanishing_losses("minimax")


# ---- exercise 3: the penalties of a linear critic

def test_linear_critic_penalties(capsys):
    norm = math.hypot(3, 4)
    passes(ex.check_linear_critic_penalties, capsys, (norm - 1) ** 2, norm**2)
    blank_fails(ex.check_linear_critic_penalties, ..., norm**2)
    blank_fails(ex.check_linear_critic_penalties, (norm - 1) ** 2, ...)
    with pytest.raises(ExerciseError, match="not squared"):
        ex.check_linear_critic_penalties(norm - 1, norm**2)
    with pytest.raises(ExerciseError, match="squared norm"):
        ex.check_linear_critic_penalties((norm**2 - 1) ** 2, norm**2)
    with pytest.raises(ExerciseError, match="includes lambda"):
        ex.check_linear_critic_penalties(10 * (norm - 1) ** 2, norm**2)
    with pytest.raises(ExerciseError, match="is the norm, not its square"):
        ex.check_linear_critic_penalties((norm - 1) ** 2, norm)
    with pytest.raises(ExerciseError, match="centred at 1"):
        ex.check_linear_critic_penalties((norm - 1) ** 2, (norm - 1) ** 2)
    with pytest.raises(ExerciseError, match="not the gradient penalty"):
        ex.check_linear_critic_penalties(15.0, norm**2)


# ---- exercise 4: the gradient penalty for images

def penalty(critic, real, fake, alpha, *, norm="image", graph=True, at_real=False):
    a = alpha.view(-1, 1, 1, 1)  # (B, 1, 1, 1)
    x_hat = real if at_real else a * real + (1 - a) * fake  # (B, C, H, W)
    x_hat = x_hat.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=graph)  # (B, C, H, W)
    if norm == "image":
        norms = grad.flatten(1).norm(dim=1)  # (B,)
    elif norm == "pixel":
        norms = grad.norm(dim=1)  # (B, H, W): the channel dimension only
    elif norm == "batch":
        norms = grad.norm()  # one number
    else:  # squared
        norms = grad.flatten(1).pow(2).sum(dim=1)  # (B,)
    return ((norms - 1) ** 2).mean()


def test_gradient_penalty(capsys):
    passes(ex.check_gradient_penalty, capsys, penalty)
    blank_fails(ex.check_gradient_penalty, ...)
    with pytest.raises(ExerciseError, match="one norm per pixel"):
        ex.check_gradient_penalty(lambda *a: penalty(*a, norm="pixel"))
    with pytest.raises(ExerciseError, match="whole batch"):
        ex.check_gradient_penalty(lambda *a: penalty(*a, norm="batch"))
    with pytest.raises(ExerciseError, match="squared norm"):
        ex.check_gradient_penalty(lambda *a: penalty(*a, norm="squared"))
    with pytest.raises(ExerciseError, match="at the real images"):
        ex.check_gradient_penalty(lambda *a: penalty(*a, at_real=True))
    with pytest.raises(ExerciseError, match="create_graph=True"):
        ex.check_gradient_penalty(lambda *a: penalty(*a, graph=False))
    with pytest.raises(ExerciseError, match="create_graph=True"):
        ex.check_gradient_penalty(lambda *a: penalty(*a).item())
    with pytest.raises(ExerciseError, match="not the library's gradient_penalty"):
        ex.check_gradient_penalty(lambda *a: 2 * penalty(*a))
    with pytest.raises(ExerciseError, match="raised RuntimeError"):  # alpha not viewed as (B, 1, 1, 1)
        ex.check_gradient_penalty(lambda c, r, f, alpha: penalty(c, alpha * r, f, alpha))


# ---- exercise 5: power iteration

def power_iteration(weight, u, steps, *, normalise=True):
    for _ in range(steps):
        v = weight.T @ u  # (n,)
        v = v / v.norm() if normalise else v
        u = weight @ v  # (m,)
        u = u / u.norm() if normalise else u
    return u @ weight @ v


def test_power_iteration(capsys):
    passes(ex.check_power_iteration, capsys, power_iteration)
    passes(ex.check_power_iteration, capsys, lambda w, u, s: float(power_iteration(w, u, s)))
    blank_fails(ex.check_power_iteration, ...)
    with pytest.raises(ExerciseError, match="Frobenius"):
        ex.check_power_iteration(lambda w, u, s: torch.linalg.matrix_norm(w))
    with pytest.raises(ExerciseError, match="sigma squared"):
        ex.check_power_iteration(lambda w, u, s: power_iteration(w, u, s) ** 2)
    with pytest.raises(ExerciseError, match="cannot be iterating"):
        ex.check_power_iteration(lambda w, u, s: torch.linalg.matrix_norm(w, ord=2))
    with pytest.raises(ExerciseError, match="more than the largest singular value"):
        ex.check_power_iteration(lambda w, u, s: power_iteration(w, u, s, normalise=False))
    with pytest.raises(ExerciseError, match=r"power_iteration\(weight, u, 5\) gives 2.01"):  # always one step
        ex.check_power_iteration(lambda w, u, s: power_iteration(w, u, 1))


def test_power_iteration_off_by_one_steps_are_named():
    """The text says the check compares after 1, 5 and 50 steps: a loop one step long or short must fail."""
    with pytest.raises(ExerciseError, match=r"one step too many\); after exactly 1 it is") as err:
        ex.check_power_iteration(lambda w, u, s: power_iteration(w, u, s + 1))
    assert "range(steps)" in err.value.hint
    with pytest.raises(ExerciseError, match=r"after 4 steps \(one step too few\); after exactly 5"):
        ex.check_power_iteration(lambda w, u, s: power_iteration(w, u, max(s - 1, 1)))
    with pytest.raises(ExerciseError, match=r"after exactly 5"):  # too few only from 5 on is also caught
        ex.check_power_iteration(lambda w, u, s: power_iteration(w, u, s if s == 1 else s - 1))
    with pytest.raises(ExerciseError, match="step\\(s\\) of power iteration"):  # far off: plain message
        ex.check_power_iteration(lambda w, u, s: power_iteration(w, u, 5 * s))
    with pytest.raises(ExerciseError, match="one number"):
        ex.check_power_iteration(lambda w, u, s: w @ torch.ones(3, dtype=w.dtype))


def test_checks_leave_the_notebooks_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ex.check_gradient_penalty(penalty)
    ex.check_linear_critic_penalties(16.0, 25.0)
    assert torch.equal(torch.rand(3), expected)
