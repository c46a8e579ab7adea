"""Notebook 10's exercise checks: the right answer passes, a blank gets the hint, each known mistake its message."""

import numpy as np
import pytest
import torch

from sdgan_course import metrics
from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb10 as ex
from sdgan_course.models.classifier import ClassifierConfig, CourseClassifier
from sdgan_course.models.unet import UNet, UNetConfig
from sdgan_course.sample.guidance import classifier_free_guidance
from sdgan_course.schedules import NoiseSchedule, sampling_timesteps

LINEAR = NoiseSchedule.from_name("linear", 1000)


def fails(match):
    return pytest.raises(ExerciseError, match=match)


# ---------------------------------------------------------------- exercise 1: the DDIM step with eta = 0


def ddim_step_with(alpha_bar_s, noise_level):
    def step(eps, xt, t, s, schedule):
        ab_t, ab_s = schedule.alpha_bar[t], alpha_bar_s(schedule, s)
        x0_hat = (xt - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()
        return ab_s.sqrt() * x0_hat + noise_level(ab_t, ab_s) * eps

    return step


def clean_is_one(schedule, s):
    return schedule.alpha_bar[s] if s >= 0 else torch.tensor(1.0)


def test_ddim_step_eta0(capsys):
    ex.check_ddim_step_eta0(ddim_step_with(clean_is_one, lambda ab_t, ab_s: (1 - ab_s).sqrt()))
    assert capsys.readouterr().out.startswith("Correct. Eq. 12")
    with fails(r"not a function yet(.|\n)*Hint: eq. 12 with sigma = 0") as blank:
        ex.check_ddim_step_eta0(...)
    assert "sqrt(1 - ab_s) eps" not in str(blank.value)  # the blank's hint points the way; show() has the answer
    with fails(r"alpha_bar\[-1\]"):
        ex.check_ddim_step_eta0(ddim_step_with(lambda sch, s: sch.alpha_bar[s], lambda ab_t, ab_s: (1 - ab_s).sqrt()))
    with fails("pointing back towards x_t is missing"):
        ex.check_ddim_step_eta0(ddim_step_with(clean_is_one, lambda ab_t, ab_s: 0.0))
    with fails("noise level of the step you leave"):
        ex.check_ddim_step_eta0(ddim_step_with(clean_is_one, lambda ab_t, ab_s: (1 - ab_t).sqrt()))

    def clipped(eps, xt, t, s, schedule):
        ab_t, ab_s = schedule.alpha_bar[t], clean_is_one(schedule, s)
        x0_hat = ((xt - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()).clamp(-1, 1)
        return ab_s.sqrt() * x0_hat + (1 - ab_s).sqrt() * eps

    with fails("was clipped"):
        ex.check_ddim_step_eta0(clipped)


# ---------------------------------------------------------------- exercise 2: sigma^2 of a respaced step


def test_respaced_variance(capsys):
    ab = LINEAR.alpha_bar.double()
    right = ((1 - ab[679]) / (1 - ab[699]) * (1 - ab[699] / ab[679])).item()
    ex.check_respaced_variance(right, LINEAR)
    assert capsys.readouterr().out.startswith("Correct. sigma^2")
    with fails(r"still `\.\.\.`(.|\n)*Hint: square eq. 16") as blank:
        ex.check_respaced_variance(..., ...)
    assert "(1 - ab_s) / (1 - ab_t)" not in str(blank.value)
    ex.check_respaced_variance(torch.tensor(right), LINEAR)  # a 0-d tensor and a numpy scalar are numbers too
    ex.check_respaced_variance(np.float32(right), LINEAR)
    with fails("should be a number, got str"):
        ex.check_respaced_variance("sigma", LINEAR)
    with fails("is sigma, not sigma"):
        ex.check_respaced_variance(right**0.5, LINEAR)
    with fails("single step 699 -> 698"):
        ex.check_respaced_variance(LINEAR.posterior_variance[699].item(), LINEAR)
    with fails("'large' variance"):
        ex.check_respaced_variance((1 - ab[699] / ab[679]).item(), LINEAR)
    with fails("negative"):
        ex.check_respaced_variance(((1 - ab[699]) / (1 - ab[679]) * (1 - ab[679] / ab[699])).item(), LINEAR)


# ---------------------------------------------------------------- exercise 3: leading and trailing timesteps


def test_spacing(capsys):
    lead = sampling_timesteps(8, 1000, spacing="leading").tolist()
    trail = sampling_timesteps(8, 1000, spacing="trailing").tolist()
    ex.check_spacing(lead, trail)
    assert "trailing starts at 999" in capsys.readouterr().out
    ex.check_spacing(torch.tensor(lead), tuple(trail))  # a tensor or a tuple is fine too
    ex.check_spacing(np.array(lead), np.array(trail))  # and a numpy array
    with fails(r"`leading_8` is still(.|\n)*Hint: with T = 1000"):
        ex.check_spacing(..., ...)
    with fails("swapped"):
        ex.check_spacing(trail, lead)
    with fails("ascending"):
        ex.check_spacing(lead[::-1], trail)
    with fails("starts at 1000: code timesteps"):
        ex.check_spacing(lead, [t + 1 for t in trail])
    with fails("never reaches 0"):
        ex.check_spacing([t + 125 for t in lead], trail)
    with fails("steps_offset = 1"):  # Stable Diffusion 1.x's leading timesteps: 876, ..., 1
        ex.check_spacing([t + 1 for t in lead], trail)
    with fails("has 7 timesteps"):
        ex.check_spacing(lead[:-1], trail)
    with fails("whole timesteps"):
        ex.check_spacing(["a"] * 8, trail)


# ---------------------------------------------------------------- exercise 4: network evaluations of guidance


def test_guided_nfe(capsys):
    ex.check_guided_nfe(30, 15)
    assert capsys.readouterr().out.startswith("Correct. 30 and 15")
    with fails(r"`nfe_guided` is still(.|\n)*Hint: one evaluation"):
        ex.check_guided_nfe(..., ...)
    with fails("one evaluation per step"):
        ex.check_guided_nfe(15, 15)
    with fails("both estimates at s = 0"):
        ex.check_guided_nfe(30, 30)
    with fails("that is not the evaluations per image at s = 2"):
        ex.check_guided_nfe(31, 15)
    ex.check_guided_nfe(torch.tensor(30), np.int64(15))  # numbers of any kind
    with fails("should be a number, got list"):
        ex.check_guided_nfe([30], 15)


# ---------------------------------------------------------------- exercise 5: two notations of guidance


def test_guidance_notation(capsys):
    ex.check_guidance_notation(1.3, -1.0)
    assert "w = 0.3 is s = 1.3" in capsys.readouterr().out
    with fails(r"`scale_for_w` is still(.|\n)*Hint: the paper"):
        ex.check_guidance_notation(..., ...)
    with fails("the paper's w itself"):
        ex.check_guidance_notation(0.3, -1.0)
    with fails("1 - w"):
        ex.check_guidance_notation(0.7, -1.0)
    with fails("plain conditional"):
        ex.check_guidance_notation(1.3, 0.0)
    with fails("not the unconditional estimate"):
        ex.check_guidance_notation(1.3, 1.0)
    ex.check_guidance_notation(torch.tensor(1.3), np.float64(-1.0))


# ---------------------------------------------------------------- exercise 6: guidance from the first step


@pytest.fixture(scope="module")
def tiny_models():
    torch.manual_seed(0)
    net = UNet(UNetConfig.preset("ci", num_classes=10, base_channels=8)).eval()  # small: fast
    with torch.no_grad():  # a fresh U-Net starts as the identity and predicts zero: wake every zero layer up
        for p in net.parameters():
            if not p.any():
                p.normal_(0, 0.05)
    return net, CourseClassifier(config=ClassifierConfig(width=8)).eval()


def guided_guess(net, classifier, statistic="probability"):
    y = torch.arange(8)
    x = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    t = torch.full((8,), 700)
    out = []
    with torch.no_grad():
        for scale in (1.0, 3.0):
            eps_fn = classifier_free_guidance(net, y, scale=scale, null_label=10, schedule=LINEAR)
            probs = metrics.extract_features(LINEAR.predict_x0(x, t, eps_fn(x, t)).clamp(-1, 1), classifier).probs
            out.append(probs[torch.arange(8), y].mean().item() if statistic == "probability"
                       else (probs.argmax(1) == y).float().mean().item())
    return out


def test_guided_guess(tiny_models, capsys):
    net, classifier = tiny_models
    p1, p3 = guided_guess(net, classifier)
    ex.check_guided_guess(p1, p3, net, LINEAR, "eps", classifier)
    assert capsys.readouterr().out.startswith("Correct.")
    with fails(r"`p_class_s1` is still(.|\n)*Hint: for each scale") as blank:
        ex.check_guided_guess(..., ..., ..., ..., ..., ...)
    assert "extract_features(x0_hat" not in str(blank.value)  # the code only through ex.show("ex6")
    with fails("swapped"):
        ex.check_guided_guess(p3, p1, net, LINEAR, "eps", classifier)
    a1, _ = guided_guess(net, classifier, statistic="accuracy")
    assert abs(a1 - p1) > 1e-2  # for this tiny model the two statistics differ, so the mistake can be told apart
    with fails("names correctly"):
        ex.check_guided_guess(a1, p3, net, LINEAR, "eps", classifier)
    with fails("that is not the mean probability at scale 3"):
        ex.check_guided_guess(p1, p3 + 0.1, net, LINEAR, "eps", classifier)
    with fails("guidance scale 3 did not reach"):
        ex.check_guided_guess(p1, p1, net, LINEAR, "eps", classifier)
    ex.check_guided_guess(torch.tensor(p1), np.float32(p3), net, LINEAR, "eps", classifier)
