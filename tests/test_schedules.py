"""Noise schedules and the forward process: closed forms, the iterated chain, endpoints, and diffusers as reference."""

import math

import pytest
import torch

from sdgan_course.schedules import (
    SPACINGS,
    NoiseSchedule,
    cosine_betas,
    linear_betas,
    rescale_zero_terminal_snr,
    sampling_timesteps,
)


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_schedule_endpoints_and_monotonicity(name):
    s = NoiseSchedule.from_name(name, 1000)
    ab = s.alpha_bar.double()
    assert s.betas.dtype == torch.float32 and len(ab) == 1000
    assert (ab[1:] < ab[:-1]).all(), "alpha_bar must fall strictly"
    assert (s.log_snr()[1:] < s.log_snr()[:-1]).all()
    assert ab[0] > 0.999 and ab[-1] < 1e-3
    assert s.alpha_bar[0] == pytest.approx(1 - s.betas[0].item(), rel=1e-6)


def test_linear_matches_ho_et_al_and_cosine_formula():
    b = linear_betas(1000)
    assert b[0].item() == pytest.approx(1e-4) and b[-1].item() == pytest.approx(0.02)
    # cosine: alpha_bar_t = f(t)/f(0) (Nichol and Dhariwal eq. 17), away from the 0.999 clip
    ab = torch.cumprod(1 - cosine_betas(1000), 0)
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    for t in (1, 100, 500, 900):
        assert ab[t - 1].item() == pytest.approx(f(t) / f(0), rel=1e-9)


def test_zero_terminal_snr():
    s = NoiseSchedule(rescale_zero_terminal_snr(linear_betas(1000)))
    assert s.alpha_bar[-1].item() == pytest.approx(0.0, abs=1e-12)
    assert s.alpha_bar[0].item() == pytest.approx(NoiseSchedule.from_name("linear").alpha_bar[0].item(), rel=1e-6)
    assert NoiseSchedule.from_name("linear").alpha_bar[-1].item() > 1e-5  # the default ends above zero SNR


def test_closed_form_q_matches_the_iterated_chain():
    s = NoiseSchedule.from_name("linear", 200)
    rng = torch.Generator().manual_seed(0)
    x0 = torch.tensor([0.8, -0.5, 0.1]).repeat(20_000, 1)  # (N, 3): many chains from the same x0
    x = x0.clone()
    for t in range(120):
        x = s.q_step(x, torch.randn(x.shape, generator=rng), torch.full((len(x),), t))
    mean, var = s.q_moments(x0, torch.full((len(x),), 119))
    assert torch.allclose(x.mean(0), mean[0], atol=0.02)
    assert torch.allclose(x.var(0), var[0].expand(3), rtol=0.05)


def test_posterior_matches_ho_eq_7_and_bayes():
    s = NoiseSchedule.from_name("cosine", 100)
    x0, xt = torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2)
    t = torch.tensor([1, 10, 50, 99])
    post = s.posterior(x0, xt, t)
    b, ab, a = s.betas.double(), s.alpha_bar.double(), s.alphas.double()
    for i, ti in enumerate(t.tolist()):
        ab_prev = ab[ti - 1]
        # Bayes on two Gaussians: q(x_{t-1}|x0) = N(sqrt(ab_prev) x0, 1-ab_prev), q(x_t|x_{t-1}) = N(sqrt(a) x, b)
        prec = 1 / (1 - ab_prev) + a[ti] / b[ti]
        mean = (ab_prev.sqrt() * x0[i].double() / (1 - ab_prev) + a[ti].sqrt() * xt[i].double() / b[ti]) / prec
        assert torch.allclose(post.mean[i].double(), mean, atol=1e-5)
        assert post.variance[i].item() == pytest.approx((1 / prec).item(), rel=1e-5)


def test_parameterisations_round_trip():
    s = NoiseSchedule.from_name("linear")
    x0, eps, t = torch.randn(5, 1, 4, 4), torch.randn(5, 1, 4, 4), torch.tensor([0, 10, 300, 700, 999])
    xt = s.add_noise(x0, eps, t)
    assert torch.allclose(s.predict_x0(xt, t, eps), x0, atol=2e-3)
    assert torch.allclose(s.predict_eps(xt, t, x0), eps, atol=1e-4)
    v = s.velocity(x0, eps, t)
    assert torch.allclose(s.eps_from_velocity(xt, t, v), eps, atol=1e-5)


def test_sampling_timesteps():
    assert sampling_timesteps(10, 1000, spacing="trailing").tolist()[:2] == [999, 899]
    assert sampling_timesteps(10, 1000, spacing="trailing")[-1].item() == 99
    leading = sampling_timesteps(10, 1000, spacing="leading")
    assert leading.tolist()[0] == 900 and leading[-1].item() == 0  # never starts at T-1 (Lin et al. 2023)
    assert sampling_timesteps(1000, 1000).tolist() == list(range(999, -1, -1))
    for bad in (0, -3, 1001):
        with pytest.raises(ValueError, match="between 1 and 1000"):
            sampling_timesteps(bad, 1000)
    with pytest.raises(ValueError, match="spacing"):
        sampling_timesteps(10, 1000, spacing="middle")


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("T", [1000, 100])
def test_every_spacing_gives_k_distinct_timesteps_for_every_k(spacing, T):
    """k steps, strictly decreasing, inside 0..T-1, for every k: the float arange of trailing spacing used to return
    k + 1 steps ending in -1 for 62 values of k at T = 1000 (61, 103, 121, ...)."""
    for k in range(1, T + 1):
        t = sampling_timesteps(k, T, spacing=spacing)
        assert t.dtype == torch.long and t.shape == (k,), (spacing, k, t.shape)
        assert t.min().item() >= 0 and t.max().item() <= T - 1, (spacing, k)
        assert (t[:-1] > t[1:]).all(), (spacing, k)  # strictly decreasing, hence unique
        if spacing != "leading":
            assert t[0].item() == T - 1, (spacing, k)  # the other three start at pure noise


def test_trailing_spacing_is_the_exactly_rounded_fraction():
    """Trailing step i is round(T (k - i) / k) - 1, rounded exactly (halves to even), as Lin et al. 2023 define it."""
    from fractions import Fraction

    for k in (1, 16, 48, 61, 103, 250, 999):
        want = [round(Fraction(1000 * (k - i), k)) - 1 for i in range(k)]  # Python rounds halves to even
        assert sampling_timesteps(k, 1000, spacing="trailing").tolist() == want, k
    assert sampling_timesteps(61, 1000, spacing="trailing")[-1].item() == 15


def test_leading_spacing_is_sd_1x_without_its_offset():
    # the course's leading spacing is diffusers' with steps_offset=0; SD 1.x's configs add steps_offset=1
    assert sampling_timesteps(10, 1000, spacing="leading").tolist() == list(range(900, -1, -100))
    assert sampling_timesteps(1000, 1000, spacing="leading")[0].item() == 999  # visits T - 1 when k = T


def test_bad_input():
    with pytest.raises(ValueError, match="Valid schedules"):
        NoiseSchedule.from_name("quadratic")
    with pytest.raises(ValueError, match="Timesteps must be in 0..999"):
        NoiseSchedule.from_name("linear").add_noise(
            torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), torch.tensor([1000])
        )




@pytest.mark.parametrize(
    "name,kind", [("linear", "linear"), ("cosine", "squaredcos_cap_v2"), ("scaled_linear", "scaled_linear")]
)
def test_schedule_and_add_noise_match_diffusers(name, kind, diffusers):
    # Stable Diffusion's scheduler config passes its own beta range; diffusers' defaults are DDPM's
    betas = dict(beta_start=0.00085, beta_end=0.012) if kind == "scaled_linear" else {}
    ref = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule=kind, **betas)
    ours = NoiseSchedule.from_name(name, 1000)
    assert torch.allclose(ours.betas, ref.betas.float(), atol=1e-6)
    assert torch.allclose(ours.alpha_bar, ref.alphas_cumprod.float(), atol=1e-6)
    x0, eps, t = torch.randn(6, 1, 5, 5), torch.randn(6, 1, 5, 5), torch.tensor([0, 1, 99, 500, 998, 999])
    assert torch.allclose(ours.add_noise(x0, eps, t), ref.add_noise(x0, eps, t), atol=1e-5)
    assert torch.allclose(ours.velocity(x0, eps, t), ref.get_velocity(x0, eps, t), atol=1e-5)


@pytest.mark.parametrize("name", ["cosine", "linear"])
def test_the_forward_process_is_float64_accurate_near_t_0(name):
    """sqrt(1 - alpha_bar) from a float32 alpha_bar is off by up to 3e-4 (relative) at t = 0 for the cosine schedule;
    the schedule stores the square roots taken in float64."""
    schedule = NoiseSchedule.from_name(name, 1000)
    exact = torch.cumprod(1 - schedule.betas.double(), 0)  # float64 from the (exactly stored) float32 betas
    t = torch.tensor([0, 1, 2, 5])
    eps = torch.randn(4, 1, 2, 2, dtype=torch.float64)
    noise_only = schedule.add_noise(torch.zeros(4, 1, 2, 2), eps.float(), t).double()  # x0 = 0: the noise term
    assert torch.allclose(noise_only, (1 - exact[t]).sqrt().view(-1, 1, 1, 1) * eps, rtol=1e-6, atol=0)
    _, variance = schedule.q_moments(torch.zeros(4, 1, 2, 2), t)
    assert torch.allclose(variance.double().flatten(), 1 - exact[t], rtol=1e-6, atol=0)
    old_way = (1 - schedule.alpha_bar[t]).sqrt().double()  # what a float32 alpha_bar gives
    assert ((old_way - (1 - exact[t]).sqrt()).abs() / (1 - exact[t]).sqrt()).max() > 1e-5  # the test can fail
