"""Notebook 05's checks: the right answer passes, a blank gets the hint, each recognised mistake its own message."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb05 as ex
from sdgan_course.models.gan import GANConfig, build_gan
from sdgan_course.train.loop import grad_norm


@pytest.fixture(scope="module")
def networks():
    torch.manual_seed(0)
    pair = build_gan(GANConfig.preset("ci"))
    real = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1  # (16, 1, 28, 28)
    return pair.generator, pair.discriminator, real


def blank_fails(check, *args):
    with pytest.raises(ExerciseError) as err:
        check(*args)
    assert err.value.hint and "`...`" in err.value.problem or "not a function" in err.value.problem
    return err.value


# ---- exercise 1: the .detach()


def grad_after_d_loss(G, D, real, z, detach, *, which="G", honour_detach=True):
    fake = G(z)  # (B, 1, 28, 28)
    seen = fake.detach() if detach and honour_detach else fake
    loss_d = F.softplus(-D(real)).mean() + F.softplus(D(seen)).mean()
    loss_d.backward()
    return grad_norm(G if which == "G" else D).item()


def test_detach(networks, capsys):
    G, D, real = networks
    ex.check_detach(grad_after_d_loss, G, D, real)
    assert "Correct." in capsys.readouterr().out
    assert all(p.grad is None for p in G.parameters()), "the check must work on copies"
    blank_fails(ex.check_detach, ..., G, D, real)
    with pytest.raises(ExerciseError, match="changes nothing"):
        ex.check_detach(lambda *a, detach: grad_after_d_loss(*a, detach, honour_detach=False), G, D, real)
    with pytest.raises(ExerciseError, match="discriminator's"):
        ex.check_detach(lambda *a, detach: grad_after_d_loss(*a, detach, which="D"), G, D, real)
    with pytest.raises(ExerciseError, match="0 even without"):
        ex.check_detach(lambda *a, detach: grad_after_d_loss(*a, True), G, D, real)
    with pytest.raises(ExerciseError, match="returned None"):
        ex.check_detach(lambda *a, detach: None, G, D, real)
    with pytest.raises(ExerciseError, match="is not"):  # twice the right norm: a wrong loss, no recognised mistake
        ex.check_detach(lambda *a, detach: 2 * grad_after_d_loss(*a, detach), G, D, real)


# ---- exercise 2: the WGAN-GP preset


def test_wgan_gp(capsys):
    ex.check_wgan_gp(5, (0.0, 0.9), 10_000)
    assert "Correct." in capsys.readouterr().out
    ex.check_wgan_gp(torch.tensor(5), torch.tensor([0.0, 0.9]), np.int64(10_000))  # tensors and numpy count too
    with pytest.raises(ExerciseError, match="DCGAN's betas"):  # float32 (0.5, 0.999) is still recognised
        ex.check_wgan_gp(5, torch.tensor([0.5, 0.999]), 10_000)
    assert "Correct." in capsys.readouterr().out
    blank_fails(ex.check_wgan_gp, ..., ..., ...)
    blank_fails(ex.check_wgan_gp, 5, (0.0, ...), 10_000)
    with pytest.raises(ExerciseError, match="non-saturating loss's setting"):
        ex.check_wgan_gp(1, (0.0, 0.9), 2_000)
    with pytest.raises(ExerciseError, match="DCGAN's betas"):
        ex.check_wgan_gp(5, (0.5, 0.999), 10_000)
    with pytest.raises(ExerciseError, match="generator's updates"):
        ex.check_wgan_gp(5, (0.0, 0.9), 2_000)
    with pytest.raises(ExerciseError, match="not the preset's betas"):
        ex.check_wgan_gp(5, (0.0, 0.99), 10_000)


# ---- exercise 3: draw_grid


CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def draw(what, n=8, seed=0):
    """A stand-in for the notebook's draw: deterministic images that depend on the class and the seed."""
    k = next(i for i, c in enumerate(CLASSES) if c.lower().startswith(what.lower()))
    noise = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))  # (n, 1, 28, 28)
    return (noise + k) / 10 * 2 - 1


def test_draw_grid(capsys):
    ex.check_draw_grid(lambda names, n: torch.cat([draw(m, n=n) for m in names]), draw)
    assert "Correct." in capsys.readouterr().out
    blank_fails(ex.check_draw_grid, ..., draw)
    with pytest.raises(ExerciseError, match="returned a list"):
        ex.check_draw_grid(lambda names, n: [draw(m, n=n) for m in names], draw)
    with pytest.raises(ExerciseError, match="torch.stack added a dimension"):
        ex.check_draw_grid(lambda names, n: torch.stack([draw(m, n=n) for m in names]), draw)
    with pytest.raises(ExerciseError, match="interleaves"):
        ex.check_draw_grid(lambda names, n: torch.stack([draw(m, n=n) for m in names], 1).flatten(0, 1), draw)
    with pytest.raises(ExerciseError, match="has shape"):
        ex.check_draw_grid(lambda names, n: draw(names[0], n=n), draw)


# ---- exercise 4: the EMA's beta


def test_ema_beta(capsys):
    ex.check_ema_beta(31 / 40, 2001 / 2010)
    assert "Correct." in capsys.readouterr().out
    blank_fails(ex.check_ema_beta, ..., ...)
    with pytest.raises(ExerciseError, match="decay itself"):
        ex.check_ema_beta(0.999, 0.999)
    with pytest.raises(ExerciseError, match="1 - beta"):
        ex.check_ema_beta(9 / 40, 2001 / 2010)
    with pytest.raises(ExerciseError, match="beta_at_2000"):
        ex.check_ema_beta(31 / 40, 0.99)
    ex.check_ema_beta(torch.tensor(31 / 40, dtype=torch.float64), np.float64(2001 / 2010))  # 0-d tensor, numpy
    assert "Correct." in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="is beta at update 29, not 30"):
        ex.check_ema_beta(30 / 39, 2001 / 2010)
    with pytest.raises(ExerciseError, match="is beta at update 2001, not 2000"):
        ex.check_ema_beta(31 / 40, 2002 / 2011)


# ---- exercise 5: one EMA step


def ema_update(average, model, beta, *, swap=False, copy_buffers=True, in_place=True):
    target = average if in_place else copy.deepcopy(average)
    with torch.no_grad():
        for avg, p in zip(target.parameters(), model.parameters()):
            avg.copy_(beta * p + (1 - beta) * avg if swap else beta * avg + (1 - beta) * p)
        if copy_buffers:
            for avg_b, b in zip(target.buffers(), model.buffers()):
                avg_b.copy_(b)
    return target


def test_ema_update(capsys):
    ex.check_ema_update(ema_update)
    assert "Correct." in capsys.readouterr().out
    blank_fails(ex.check_ema_update, ...)
    with pytest.raises(ExerciseError, match="left `average` unchanged"):
        ex.check_ema_update(lambda a, m, b: ema_update(a, m, b, in_place=False))
    with pytest.raises(ExerciseError, match="weight beta and the average 1 - beta"):
        ex.check_ema_update(lambda a, m, b: ema_update(a, m, b, swap=True))
    with pytest.raises(ExerciseError, match="copied, not averaged"):
        ex.check_ema_update(lambda a, m, b: ema_update(a, m, b, copy_buffers=False))
    with pytest.raises(ExerciseError, match="raised RuntimeError"):  # in place on a leaf that requires grad

        def no_no_grad(average, model, beta):
            for avg, p in zip(average.parameters(), model.parameters()):
                avg.mul_(beta).add_(p, alpha=1 - beta)
            return average

        ex.check_ema_update(no_no_grad)


def test_show_prints_a_solution(capsys):
    ex.show("ex5")
    assert "avg.mul_(beta)" in capsys.readouterr().out
