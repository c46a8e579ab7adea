"""DDPM, DDIM and DPM-Solver++ steps against their formulas, against diffusers, and with an oracle on Gaussian data."""

import pytest
import torch

from sdgan_course.sample.ddim import ddim_invert, ddim_sample, ddim_sigma, ddim_step
from sdgan_course.sample.ddpm import ddpm_sample, ddpm_step
from sdgan_course.sample.diffusion import generate_diffusion
from sdgan_course.sample.dpm_solver import dpm_solver_sample
from sdgan_course.sample.guidance import classifier_free_guidance, guided_eps
from sdgan_course.schedules import NoiseSchedule, sampling_timesteps


def gaussian_oracle(schedule, mu, std):
    r"""The exact eps(x_t, t) for data x0 ~ N(mu, std^2) per pixel: x_t ~ N(sqrt(ab) mu, ab std^2 + 1 - ab)."""

    def eps_fn(xt, t):
        ab = schedule.alpha_bar.to(xt.device)[t].view(-1, *[1] * (xt.ndim - 1))
        var = ab * std**2 + 1 - ab
        # E[eps | x_t] = sqrt(1-ab) (x_t - sqrt(ab) mu) / var
        return (1 - ab).sqrt() * (xt - ab.sqrt() * mu) / var

    return eps_fn


@pytest.mark.parametrize(
    "sampler,kwargs",
    [
        (ddpm_sample, dict(num_steps=1000)),
        (ddpm_sample, dict(num_steps=1000, variance="large")),
        (ddim_sample, dict(num_steps=200, spacing="quadratic")),
        (ddim_sample, dict(num_steps=1000, eta=1.0)),
        (dpm_solver_sample, dict(num_steps=20, spacing="quadratic")),
    ],
)
def test_oracle_recovers_the_gaussian(sampler, kwargs):
    s = NoiseSchedule.from_name("linear", 1000)
    mu, std = 0.1, 0.3
    rng = torch.Generator().manual_seed(0)
    out = sampler(gaussian_oracle(s, mu, std), (4000, 1, 1, 1), s, rng=rng, clip_x0=False, **kwargs).images
    assert out.mean().item() == pytest.approx(mu, abs=0.02)
    assert out.std().item() == pytest.approx(std, rel=0.07)


def test_few_steps_shrink_the_spread_and_quadratic_spacing_helps():
    """The last step returns E[x0 | x_t], whose spread is smaller than the data's: a long last jump shrinks it."""
    s = NoiseSchedule.from_name("linear", 1000)
    spread = {}
    for spacing in ("trailing", "quadratic"):
        out = ddim_sample(
            gaussian_oracle(s, 0.1, 0.3),
            (4000, 1, 1, 1),
            s,
            num_steps=10,
            spacing=spacing,
            rng=torch.Generator().manual_seed(0),
            clip_x0=False,
        ).images
        spread[spacing] = out.std().item()
    assert spread["trailing"] < spread["quadratic"] < 0.3


def test_ddim_eta_one_has_ddpm_variance():
    s = NoiseSchedule.from_name("linear", 1000)
    like = torch.zeros(1)
    for t in (999, 500, 10, 1):
        assert ddim_sigma(s, t, t - 1, 1.0, like).item() ** 2 == pytest.approx(s.posterior_variance[t].item(), rel=1e-3)
    # respaced step: sigma^2 = beta tilde of the step t -> t_prev
    ab_t, ab_p = s.alpha_bar[700].double(), s.alpha_bar[600].double()
    tilde = (1 - ab_p) / (1 - ab_t) * (1 - ab_t / ab_p)
    assert ddim_sigma(s, 700, 600, 1.0, like).item() ** 2 == pytest.approx(tilde.item(), rel=1e-3)


def test_ddpm_step_mean_is_the_posterior_mean():
    s = NoiseSchedule.from_name("cosine", 200)
    xt, eps, t = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4), 120
    step = ddpm_step(s, eps, xt, t, t - 1, clip_x0=False, noise=torch.zeros_like(xt))
    x0 = s.predict_x0(xt, torch.full((3,), t), eps)
    assert torch.allclose(step.prev, s.posterior(x0, xt, torch.full((3,), t)).mean, atol=1e-5)


def test_ddim_is_deterministic_and_inverts():
    s = NoiseSchedule.from_name("linear", 1000)
    eps_fn = gaussian_oracle(s, 0.0, 0.3)
    a = ddim_sample(eps_fn, (8, 1, 3, 3), s, num_steps=50, rng=torch.Generator().manual_seed(1)).images
    b = ddim_sample(eps_fn, (8, 1, 3, 3), s, num_steps=50, rng=torch.Generator().manual_seed(1)).images
    assert torch.equal(a, b)
    x0 = 0.3 * torch.randn(8, 1, 3, 3, generator=torch.Generator().manual_seed(2))
    errors = []
    for steps in (50, 200):  # a first-order method: the round trip error falls with the step size
        xT = ddim_invert(eps_fn, x0, s, num_steps=steps)
        back = ddim_sample(eps_fn, x0.shape, s, num_steps=steps, x_start=xT, clip_x0=False).images
        errors.append((back - x0).abs().max().item())
    assert errors[1] < 0.03 and errors[1] < errors[0] / 3


def test_guidance_scale_zero_and_one():
    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config = type("C", (), {"num_classes": 3, "null_label": 3})()
            self.w = torch.nn.Parameter(torch.tensor(1.0))

        def forward(self, x, t, labels):
            return x * self.w + labels.view(-1, 1, 1, 1).float()

    model, x, t = Toy(), torch.randn(2, 1, 2, 2), torch.tensor([5, 5])
    y = torch.tensor([0, 2])
    assert torch.allclose(classifier_free_guidance(model, y, scale=1.0, null_label=3)(x, t), model(x, t, y))
    null = torch.full_like(y, 3)
    assert torch.allclose(classifier_free_guidance(model, y, scale=0.0, null_label=3)(x, t), model(x, t, null))
    w3 = classifier_free_guidance(model, y, scale=3.0, null_label=3)(x, t)
    assert torch.allclose(w3, guided_eps(model(x, t, y), model(x, t, null), 3.0))


def test_generate_bad_input():
    from sdgan_course.models.unet import UNet, UNetConfig

    model = UNet(UNetConfig.preset("ci", num_classes=10))
    s = NoiseSchedule.from_name("linear", 100)
    with pytest.raises(ValueError, match="Valid samplers"):
        generate_diffusion(model, s, 2, sampler="euler")
    for bad in (0, 101):
        with pytest.raises(ValueError, match="between 1 and 100"):
            generate_diffusion(model, s, 2, sampler="ddim", steps=bad)
    with pytest.raises(ValueError, match="Labels must be in 0..9"):
        generate_diffusion(model, s, 2, labels=10, steps=2)
    out = generate_diffusion(model, s, 3, labels=torch.tensor([0, 1, 2]), sampler="dpm-solver", steps=3, guidance=2.0)
    assert out.shape == (3, 1, 28, 28) and out.abs().max() <= 1


def test_generate_batch_size_and_layout_change_speed_not_samples():
    """Batches of 2 or 5, weights contiguous or channels_last: deterministic DDIM draws the same images."""
    from sdgan_course.models.unet import UNet, UNetConfig

    torch.manual_seed(0)
    model = UNet(UNetConfig.preset("ci", num_classes=10)).eval()
    s = NoiseSchedule.from_name("linear", 100)
    labels = torch.tensor([0, 1, 2, 3, 4])

    def draw(**options):
        return generate_diffusion(model, s, 5, labels=labels, sampler="ddim", steps=3, guidance=2.0,
                                  rng=torch.Generator().manual_seed(1), **options)

    reference = draw(batch_size=5, channels_last=False)
    for options in (dict(batch_size=5, channels_last=True), dict(channels_last=True), dict()):
        assert torch.allclose(draw(**options), reference, atol=1e-5), options
    conv = next(p for p in model.parameters() if p.ndim == 4 and p.shape[-1] > 1)
    assert conv.is_contiguous(), "sampling must give the weights back in their own layout"
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        draw(batch_size=0)




@pytest.mark.parametrize("variance,kind", [("small", "fixed_small"), ("large", "fixed_large")])
@pytest.mark.parametrize("num_steps", [1000, 50])
def test_ddpm_step_matches_diffusers(variance, kind, num_steps, diffusers):
    ours = NoiseSchedule.from_name("linear", 1000)
    ref = diffusers.DDPMScheduler(num_train_timesteps=1000, variance_type=kind, clip_sample=True)
    ref.alphas_cumprod = ours.alpha_bar.clone()  # the same constants (diffusers' float32 cumprod differs by ~1e-7)
    ref.set_timesteps(num_steps)
    timesteps = ref.timesteps.tolist()
    for i in (0, len(timesteps) // 2, len(timesteps) - 2, len(timesteps) - 1):
        t = timesteps[i]
        t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        xt, eps = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
        expected = ref.step(eps, t, xt, generator=torch.Generator().manual_seed(7)).prev_sample
        got = ddpm_step(ours, eps, xt, t, t_prev, variance=variance, rng=torch.Generator().manual_seed(7)).prev
        assert torch.allclose(got, expected, atol=1e-5), (t, (got - expected).abs().max())


@pytest.mark.parametrize("eps_from_clipped_x0", [True, False])
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_step_matches_diffusers(eta, eps_from_clipped_x0, diffusers):
    ours = NoiseSchedule.from_name("linear", 1000)
    ref = diffusers.DDIMScheduler(num_train_timesteps=1000, clip_sample=True, set_alpha_to_one=True, steps_offset=0)
    ref.alphas_cumprod = ours.alpha_bar.clone()  # the same constants (diffusers' float32 cumprod differs by ~1e-7)
    ref.set_timesteps(20)  # diffusers' default "leading" spacing: 950, 900, ..., 0
    timesteps = ref.timesteps.tolist()
    for i in (0, 7, len(timesteps) - 1):
        t = timesteps[i]
        t_prev = max(t - 1000 // 20, -1)  # diffusers: a negative step means the clean image
        xt, eps = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
        noise = torch.randn(2, 1, 4, 4)
        expected = ref.step(eps, t, xt, eta=eta, variance_noise=noise,
                            use_clipped_model_output=eps_from_clipped_x0).prev_sample
        got = ddim_step(ours, eps, xt, t, t_prev, eta=eta, noise=noise, eps_from_clipped_x0=eps_from_clipped_x0).prev
        assert torch.allclose(got, expected, atol=1e-5), (t, (got - expected).abs().max())


def test_dpm_solver_matches_diffusers(diffusers):
    ours = NoiseSchedule.from_name("linear", 1000)
    ref = diffusers.DPMSolverMultistepScheduler(
        num_train_timesteps=1000,
        algorithm_type="dpmsolver++",
        solver_order=2,
        timestep_spacing="trailing",
        final_sigmas_type="zero",
        lower_order_final=True,
    )
    ref.set_timesteps(10)
    assert ref.timesteps.tolist() == sampling_timesteps(10, 1000, spacing="trailing").tolist()
    eps_fn = gaussian_oracle(ours, 0.2, 0.4)
    x = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(3))
    ref_x = x.clone()
    for t in ref.timesteps:
        ref_x = ref.step(eps_fn(ref_x, t.long().view(1).expand(3)), t, ref_x).prev_sample
    got = dpm_solver_sample(
        eps_fn, x.shape, ours, num_steps=10, spacing="trailing", clip_x0=False, x_start=x.clone()
    ).images
    assert torch.allclose(got, ref_x.clamp(-1, 1), atol=1e-4), (got - ref_x).abs().max()


@pytest.mark.parametrize("sampler", [ddpm_sample, ddim_sample, dpm_solver_sample])
def test_trailing_samplers_make_exactly_k_calls_at_k_61(sampler):
    """k = 61 is one of the 62 step counts where trailing spacing used to return 62 timesteps ending at t = -1: DDPM
    and DDIM then failed on the 62nd call, DPM-Solver++ called the network at t = -1."""
    s = NoiseSchedule.from_name("linear", 1000)
    oracle, seen = gaussian_oracle(s, 0.1, 0.3), []

    def eps_fn(xt, t):
        seen.append(int(t[0]))
        return oracle(xt, t)

    out = sampler(eps_fn, (64, 1, 1, 1), s, num_steps=61, spacing="trailing", rng=torch.Generator().manual_seed(0))
    assert len(seen) == 61 and seen[0] == 999 and min(seen) >= 0
    assert seen == out.timesteps.tolist() and torch.isfinite(out.images).all()
