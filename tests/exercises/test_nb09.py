"""Notebook 09's exercise checks: the right answer passes, a blank gets the hint, each known mistake its message."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb09 as ex
from sdgan_course.models.unet import UNet, UNetConfig
from sdgan_course.sample.guidance import model_eps_fn
from sdgan_course.schedules import NoiseSchedule


def fails(match):
    return pytest.raises(ExerciseError, match=match)


def column(values, t):
    return values[t].view(-1, 1, 1, 1)


# ---------------------------------------------------------------- exercise 1: noisy_batch


def noisy_batch_with(scale_x0, scale_eps):
    def noisy_batch(x0, t, schedule, rng):
        eps = torch.randn(x0.shape, generator=rng)
        return scale_x0(schedule, t) * x0 + scale_eps(schedule, t) * eps, eps

    return noisy_batch


def test_noisy_batch(capsys):
    ex.check_noisy_batch(noisy_batch_with(lambda s, t: column(s.alpha_bar, t).sqrt(),
                                          lambda s, t: (1 - column(s.alpha_bar, t)).sqrt()))
    assert capsys.readouterr().out.startswith("Correct.")
    with fails(r"not a function yet(.|\n)*Hint: draw the noise from rng"):
        ex.check_noisy_batch(...)
    with fails("those are the variances"):
        ex.check_noisy_batch(noisy_batch_with(lambda s, t: column(s.alpha_bar, t),
                                              lambda s, t: 1 - column(s.alpha_bar, t)))
    with fails("one step of the chain"):
        ex.check_noisy_batch(noisy_batch_with(lambda s, t: column(s.alphas, t).sqrt(),
                                              lambda s, t: (1 - column(s.alphas, t)).sqrt()))
    with fails("swapped coefficients"):
        ex.check_noisy_batch(noisy_batch_with(lambda s, t: (1 - column(s.alpha_bar, t)).sqrt(),
                                              lambda s, t: column(s.alpha_bar, t).sqrt()))
    with fails("not drawn from rng"):
        ex.check_noisy_batch(lambda x0, t, schedule, rng: (schedule.add_noise(x0, e := torch.randn(x0.shape), t), e))
    with fails(r"raised RuntimeError(.|\n)*reshape it"):  # alpha_bar[t] without the reshape
        ex.check_noisy_batch(lambda x0, t, schedule, rng: (schedule.alpha_bar[t] * x0, x0))


def test_noisy_batch_swapped_outputs_are_called_swapped():
    """(eps, x_t) returned in the wrong order was diagnosed as 'draw eps with torch.randn (not torch.rand)'."""
    right = noisy_batch_with(lambda s, t: column(s.alpha_bar, t).sqrt(),
                             lambda s, t: (1 - column(s.alpha_bar, t)).sqrt())
    with fails("the two are swapped"):
        ex.check_noisy_batch(lambda x0, t, schedule, rng: right(x0, t, schedule, rng)[::-1])


def test_noisy_batch_blank_gets_a_hint_not_the_answer():
    with pytest.raises(ExerciseError) as caught:
        ex.check_noisy_batch(...)
    assert 'ex.show("ex1")' in caught.value.hint
    assert "generator=rng)" not in caught.value.hint and "return xt, eps" not in caught.value.hint


# ---------------------------------------------------------------- exercise 2: x0_from_v


def test_x0_from_v(capsys):
    def right(xt, v, t, schedule):
        ab = column(schedule.alpha_bar, t)
        return ab.sqrt() * xt - (1 - ab).sqrt() * v

    ex.check_x0_from_v(right)
    assert capsys.readouterr().out.startswith("Correct.")
    with fails("is not a function yet"):
        ex.check_x0_from_v(...)
    with fails("divides by sqrt"):
        ex.check_x0_from_v(lambda xt, v, t, s: s.predict_x0(xt, t, s.eps_from_velocity(xt, t, v)))
    with fails("returns the noise eps"):
        ex.check_x0_from_v(lambda xt, v, t, s: s.eps_from_velocity(xt, t, v))
    with fails("adds the velocity term"):
        ex.check_x0_from_v(lambda xt, v, t, s: column(s.alpha_bar, t).sqrt() * xt
                           + (1 - column(s.alpha_bar, t)).sqrt() * v)


# ---------------------------------------------------------------- exercise 3: parameters of a ResBlock


def test_resblock_parameters(capsys):
    norms, conv1, conv2 = 2 * 24 + 2 * 48, 9 * 24 * 48 + 48, 9 * 48 * 48 + 48
    temb, skip = 96 * 48 + 48, 24 * 48 + 48
    total = norms + conv1 + conv2 + temb + skip
    ex.check_resblock_parameters(total)
    assert "37,200 parameters" in capsys.readouterr().out
    ex.check_resblock_parameters(torch.tensor(total))  # a 0-d tensor is a number too
    assert "37,200 parameters" in capsys.readouterr().out
    with fails(r"still `\.\.\.`(.|\n)*Hint: add up"):
        ex.check_resblock_parameters(...)
    with fails("leaves out the skip path"):
        ex.check_resblock_parameters(total - skip)
    with fails("time embedding's layer"):
        ex.check_resblock_parameters(total - temb)
    with fails("counts no biases"):
        ex.check_resblock_parameters(total - 4 * 48)
    with fails("two GroupNorms"):
        ex.check_resblock_parameters(total - norms)
    with fails("that is not the parameter count"):
        ex.check_resblock_parameters(total + 1)


# ---------------------------------------------------------------- exercise 4: beta tilde


def beta_tilde(betas, shift):
    ab = torch.cumprod(1 - betas, 0)
    return (1 - shift(ab)) / (1 - ab) * betas


def test_beta_tilde(capsys):
    betas = NoiseSchedule.from_name("cosine", 1000).betas.double()
    shifted = lambda ab: torch.cat([torch.ones(1, dtype=ab.dtype), ab[:-1]])  # noqa: E731
    prev = shifted(torch.cumprod(1 - betas, 0))
    right = beta_tilde(betas, shifted)
    ex.check_beta_tilde(prev, right, True)
    assert capsys.readouterr().out.startswith("Correct. Beta tilde <= beta")
    ex.check_beta_tilde(prev, right, (right <= betas).all())  # a 0-d bool tensor is an answer too
    assert capsys.readouterr().out.startswith("Correct.")
    with fails(r"`alpha_bar_prev` is still `\.\.\.`(.|\n)*Hint: alpha_bar is the running product"):
        ex.check_beta_tilde(..., ..., ...)
    with fails("`my_beta_tilde` is still"):
        ex.check_beta_tilde(prev, ..., ...)
    with fails("`small_is_smaller` is still"):
        ex.check_beta_tilde(prev, right, ...)
    with fails("equals beta_t"):
        ex.check_beta_tilde(prev, beta_tilde(betas, lambda ab: ab), True)
    with fails(r"my_beta_tilde\[0\] is"):
        ex.check_beta_tilde(prev, beta_tilde(betas, lambda ab: torch.roll(ab, 1)), True)
    with fails("float32 loses the digits"):
        ex.check_beta_tilde(prev, beta_tilde(betas.float(), shifted), True)
    with fails("shape"):
        ex.check_beta_tilde(prev, right[:-1], True)
    with fails("small_is_smaller = False is not right"):
        ex.check_beta_tilde(prev, right, False)


def test_beta_tilde_float32_alpha_bar_gets_the_float32_diagnosis():
    """alpha_bar taken from the float32 schedule (betas in float64) is wrong by 3.5e-4 relative at t = 1; the old
    check answered 'largest difference 1.99e-08' and the generic hint: its float32 branch was looser than the final
    test, so it never fired."""
    schedule = NoiseSchedule.from_name("cosine", 1000)
    betas, ab32 = schedule.betas.double(), schedule.alpha_bar  # alpha_bar in float32
    prev32 = torch.cat([torch.ones(1), ab32[:-1]])
    mixed = (1 - prev32.double()) / (1 - ab32.double()) * betas
    with fails(r"relative error 3\.5e-04 at t = 1\): float32 loses the digits"):
        ex.check_beta_tilde(prev32.double(), mixed, True)
    with fails("float32 loses the digits"):
        ex.check_beta_tilde(prev32, (1 - prev32) / (1 - ab32) * schedule.betas, True)


def test_beta_tilde_checks_alpha_bar_prev():
    """alpha_bar_prev was never checked."""
    betas = NoiseSchedule.from_name("cosine", 1000).betas.double()
    ab = torch.cumprod(1 - betas, 0)
    prev = torch.cat([torch.ones(1, dtype=torch.float64), ab[:-1]])
    right = (1 - prev) / (1 - ab) * betas
    with fails("alpha_bar_prev equals alpha_bar_t"):
        ex.check_beta_tilde(ab, right, True)
    with fails(r"alpha_bar_prev\[0\] is"):
        ex.check_beta_tilde(torch.roll(ab, 1), right, True)
    with fails("that is not|largest difference"):
        ex.check_beta_tilde(torch.cat([prev[:1], prev[1:] * 1.01]), right, True)
    with fails("alpha_bar_prev has shape"):
        ex.check_beta_tilde(prev[1:], right, True)


# ---------------------------------------------------------------- exercise 5: does the label help?


@pytest.fixture(scope="module")
def tiny_setup():
    torch.manual_seed(0)
    net = UNet(UNetConfig.preset("ci", num_classes=10)).eval()
    with torch.no_grad():  # a fresh U-Net starts as the identity and predicts zero: wake every zero layer up
        for p in net.parameters():
            if not p.any():
                p.normal_(0, 0.05)
    test = SimpleNamespace(images=torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1,
                           labels=torch.arange(8))
    return net, NoiseSchedule.from_name("linear", 1000), "eps", test


def measured(net, schedule, test):
    """What a learner may report: the right errors, the noise errors, the unclipped errors."""
    x0, y = test.images[:8], test.labels[:8]
    t = torch.full((8,), 600)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    xt = schedule.add_noise(x0, noise, t)
    out = {"right": [], "noise": [], "unclipped": []}
    with torch.no_grad():
        for labels in (y, torch.full_like(y, net.config.null_label)):
            eps_hat = model_eps_fn(net, labels=labels, schedule=schedule)(xt, t)
            x0_hat = schedule.predict_x0(xt, t, eps_hat)
            out["right"].append(F.mse_loss(x0_hat.clamp(-1, 1), x0).item())
            out["noise"].append(F.mse_loss(eps_hat, noise).item())
            out["unclipped"].append(F.mse_loss(x0_hat, x0).item())
    return out


def test_label_helps(tiny_setup, capsys):
    net, schedule, prediction, test = tiny_setup
    answers = measured(net, schedule, test)
    with_label, with_null = answers["right"]
    assert abs(with_label - with_null) > 3e-3 * with_null  # the label matters to this model: a swap can be told
    ex.check_label_helps(with_label, with_null, net, schedule, prediction, test)
    assert capsys.readouterr().out.startswith("Correct.")
    with pytest.raises(ExerciseError, match=r"`mse_label` is still") as caught:
        ex.check_label_helps(..., ..., ..., ..., ..., ...)
    assert 'ex.show("ex5")' in caught.value.hint and ".clamp(-1, 1)" not in caught.value.hint
    ex.check_label_helps(torch.tensor(with_label), torch.tensor(with_null), net, schedule, prediction, test)
    assert capsys.readouterr().out.startswith("Correct.")
    with fails("swapped"):
        ex.check_label_helps(with_null, with_label, net, schedule, prediction, test)
    with fails("error of the noise estimate"):
        ex.check_label_helps(*answers["noise"], net, schedule, prediction, test)
    with fails("was not clipped"):
        ex.check_label_helps(*answers["unclipped"], net, schedule, prediction, test)
    with fails("that is not the error with the true labels"):
        ex.check_label_helps(2 * with_label, with_null, net, schedule, prediction, test)
