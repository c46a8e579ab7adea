"""schedules.FlowSchedule: the straight path, its conversions, the time distribution and the shift, against closed
forms, an independent computation and diffusers' flow-matching scheduler."""

import math

import pytest
import torch

from sdgan_course.schedules import FlowSchedule, NoiseSchedule


def test_the_path_and_its_velocity():
    f = FlowSchedule()
    x0, eps = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)
    t = torch.tensor([0.0, 0.3, 1.0])
    xt = f.add_noise(x0, eps, t)
    assert torch.allclose(xt[0], x0[0]) and torch.allclose(xt[2], eps[2])
    assert torch.allclose(xt[1], 0.7 * x0[1] + 0.3 * eps[1])
    # the velocity is the time derivative of the path (finite difference)
    h = 1e-3
    fd = (f.add_noise(x0, eps, t[1] + h) - f.add_noise(x0, eps, t[1] - h)) / (2 * h)
    assert torch.allclose(fd, f.velocity(x0, eps), atol=1e-3)


def test_the_conversions_invert_each_other():
    f = FlowSchedule()
    x0, eps = torch.randn(4, 2, 3, 3, dtype=torch.float64), torch.randn(4, 2, 3, 3, dtype=torch.float64)
    t = torch.tensor([0.1, 0.4, 0.7, 0.95], dtype=torch.float64)
    xt, v = f.add_noise(x0, eps, t), f.velocity(x0, eps)
    assert torch.allclose(f.to_x0(xt, t, v), x0) and torch.allclose(f.to_eps(xt, t, v), eps)
    assert torch.allclose(f.velocity_from_eps(xt, t, eps), v)


def test_the_score_is_tweedie_on_gaussian_data():
    """x0 ~ N(mu, s^2): x_t ~ N((1-t) mu, (1-t)^2 s^2 + t^2), whose score is closed-form; the exact velocity of that
    marginal (E[eps - x0 | x_t]) must give it through score = -E[eps | x_t] / t."""
    mu, s, t = 0.3, 0.5, torch.tensor([0.25, 0.6], dtype=torch.float64)
    x = torch.tensor([[0.2], [-1.1]], dtype=torch.float64)
    tt = t[:, None]
    var = (1 - tt) ** 2 * s**2 + tt**2
    velocity = -mu + (x - (1 - tt) * mu) * (tt - (1 - tt) * s**2) / var
    exact_score = -(x - (1 - tt) * mu) / var
    assert torch.allclose(FlowSchedule().score(x, t, velocity), exact_score)


def test_logit_normal_times_follow_their_density():
    f = FlowSchedule("logit_normal", logit_mean=0.5, logit_std=0.8)
    grid = torch.linspace(1e-6, 1 - 1e-6, 200_001, dtype=torch.float64)
    assert torch.trapezoid(f.t_density(grid), grid).item() == pytest.approx(1.0, abs=1e-4)
    draws = f.draw_t(200_000, rng=torch.Generator().manual_seed(0)).double()
    assert 0 < draws.min() and draws.max() < 1
    for lo, hi in ((0.1, 0.3), (0.4, 0.6), (0.8, 0.95)):
        inside = grid[(grid > lo) & (grid < hi)]
        expected = torch.trapezoid(f.t_density(inside), inside).item()
        assert ((draws > lo) & (draws < hi)).double().mean().item() == pytest.approx(expected, abs=0.005)
    uniform = FlowSchedule("uniform").draw_t(100_000, rng=torch.Generator().manual_seed(1))
    assert uniform.mean().item() == pytest.approx(0.5, abs=0.005)
    again = [f.draw_t(5, rng=torch.Generator().manual_seed(3)) for _ in range(2)]
    assert torch.equal(*again)


def test_bad_options_say_what_is_valid():
    with pytest.raises(ValueError, match="uniform, logit_normal"):
        FlowSchedule("cosine")
    with pytest.raises(ValueError, match="> 0"):
        FlowSchedule(shift=0)
    with pytest.raises(ValueError, match="at least 1"):
        FlowSchedule().sampling_times(0)


def test_the_shift_keeps_the_ends_and_matches_diffusers(diffusers):
    f = FlowSchedule(shift=3.0)
    times = f.sampling_times(10)
    assert times[0] == 1 and times[-1] == 0 and (times[:-1] > times[1:]).all()
    assert f.shift_t(torch.tensor(0.5)).item() == pytest.approx(0.75)  # 3 * 0.5 / (1 + 2 * 0.5)
    ref = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0)
    ref.set_timesteps(sigmas=torch.linspace(1, 0, 11)[:-1].tolist())  # our unshifted grid; diffusers shifts it
    assert torch.allclose(ref.sigmas.float(), times, atol=1e-6), (ref.sigmas, times)


def test_a_diffusion_state_is_a_flow_state_and_ddim_is_an_euler_step():
    """x = sqrt(ab) x0 + sqrt(1-ab) eps, divided by sqrt(ab) + sqrt(1-ab), is the flow's x_t at t = sigma/(alpha +
    sigma); a deterministic DDIM step between two timesteps is then exactly one Euler step of the flow ODE."""
    schedule = NoiseSchedule.from_name("linear", 1000)
    x0, eps = torch.randn(3, 1, 4, 4, dtype=torch.float64), torch.randn(3, 1, 4, 4, dtype=torch.float64)
    f = FlowSchedule()
    ab_t, ab_s = schedule.alpha_bar[700].double(), schedule.alpha_bar[400].double()
    x_vp = ab_t.sqrt() * x0 + (1 - ab_t).sqrt() * eps
    x_flow, t = f.from_diffusion(x_vp, ab_t)
    assert torch.allclose(x_flow, f.add_noise(x0, eps, t))
    # DDIM (eta 0) with this eps estimate: x_s = sqrt(ab_s) x0_hat + sqrt(1 - ab_s) eps_hat
    eps_hat = eps + 0.1 * torch.randn_like(eps)  # any estimate, not the true noise
    x0_hat = (x_vp - (1 - ab_t).sqrt() * eps_hat) / ab_t.sqrt()
    ddim = ab_s.sqrt() * x0_hat + (1 - ab_s).sqrt() * eps_hat
    ddim_flow, s = f.from_diffusion(ddim, ab_s)
    velocity = eps_hat - x0_hat  # the same estimate as a velocity
    assert torch.allclose(ddim_flow, x_flow + (s - t) * velocity)
    assert 0 < s.item() < t.item() < 1 and math.isfinite(t.item())
