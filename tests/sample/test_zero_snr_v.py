"""v-prediction on a zero-terminal-SNR schedule (Lin et al. 2023): x0 comes straight from v, never from eps / 0."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from sdgan_course.sample.diffusion import generate_diffusion
from sdgan_course.schedules import NoiseSchedule

MEANS = {0: -0.4, 1: 0.4, 2: 0.1}  # class 0, class 1, and the null label 2 (the unconditional data)
STD = 0.3


class VOracle(nn.Module):
    """The exact v(x_t, t) for data x0 ~ N(mu_y, STD^2) per pixel: v = sqrt(ab) E[eps|x_t] - sqrt(1-ab) E[x0|x_t]."""

    def __init__(self, schedule: NoiseSchedule, num_classes: int = 0):
        super().__init__()
        self.schedule = schedule
        self.weight = nn.Parameter(torch.ones(1, 1, 1, 1))  # a 4-D weight, so channels_last sampling is exercised
        self.config = SimpleNamespace(num_classes=num_classes, null_label=num_classes)

    def forward(self, xt, t, y=None):
        ab = self.schedule.alpha_bar.double()[t].view(-1, 1, 1, 1)
        mu = torch.full_like(ab, MEANS[2]) if y is None else torch.tensor([MEANS[int(c)] for c in y]).view(-1, 1, 1, 1)
        x = xt.double()
        var = ab * STD**2 + 1 - ab
        x0 = mu + ab.sqrt() * STD**2 * (x - ab.sqrt() * mu) / var  # E[x0 | x_t]
        eps = (1 - ab).sqrt() * (x - ab.sqrt() * mu) / var  # E[eps | x_t]
        return (ab.sqrt() * eps - (1 - ab).sqrt() * x0).float() * self.weight


def test_x0_from_velocity_is_exact_where_eps_cannot_give_it():
    s = NoiseSchedule.from_name("linear", 1000, zero_terminal_snr=True)
    assert s.alpha_bar[-1].item() == 0.0
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(3, 1, 4, 4, generator=g), torch.randn(3, 1, 4, 4, generator=g)
    t = torch.tensor([999, 500, 0])
    xt, v = s.add_noise(x0, eps, t), s.velocity(x0, eps, t)
    closed = s.sqrt_alpha_bar[t].view(-1, 1, 1, 1) * xt - s.sqrt_one_minus_alpha_bar[t].view(-1, 1, 1, 1) * v
    assert torch.allclose(s.x0_from_velocity(xt, t, v), closed)
    assert torch.allclose(s.x0_from_velocity(xt, t, v), x0, atol=1e-5)  # x0 back, at t = T-1 too
    assert torch.allclose(s.to_x0("v", xt, t, v), x0, atol=1e-5)
    assert torch.allclose(s.to_x0("eps", xt[1:], t[1:], eps[1:]), x0[1:], atol=1e-4)
    assert s.predict_x0(xt, t, s.to_eps("v", xt, t, v))[0].isnan().all()  # through eps: 0 / 0 at t = T-1


@pytest.mark.parametrize("sampler,steps", [("ddpm", 100), ("ddim", 50), ("dpm-solver", 20)])
def test_v_prediction_samples_a_zero_terminal_snr_schedule(sampler, steps):
    s = NoiseSchedule.from_name("linear", 1000, zero_terminal_snr=True)
    model = VOracle(s)
    out = generate_diffusion(model, s, 2000, shape=(1, 1, 1), sampler=sampler, steps=steps, prediction="v",
                             rng=torch.Generator().manual_seed(0))
    assert torch.isfinite(out).all()
    assert out.mean().item() == pytest.approx(MEANS[2], abs=0.03)
    assert out.std().item() == pytest.approx(STD, rel=0.1)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpm-solver"])
def test_guided_v_prediction_on_zero_terminal_snr_is_finite(sampler):
    s = NoiseSchedule.from_name("linear", 1000, zero_terminal_snr=True)
    labels = torch.tensor([0, 1] * 500)
    out = generate_diffusion(VOracle(s, num_classes=2), s, 1000, shape=(1, 1, 1), labels=labels, sampler=sampler,
                             steps=20, guidance=2.0, prediction="v", rng=torch.Generator().manual_seed(0))
    assert torch.isfinite(out).all()
    assert out[labels == 0].mean() < MEANS[0] + 0.05 and out[labels == 1].mean() > MEANS[1] - 0.05  # pushed apart
