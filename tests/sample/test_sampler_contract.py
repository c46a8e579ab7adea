"""Every registered sampler through the same checks (sample/base.py's contract), as diffusers tests its schedulers.

A sampler added to the registry is tested here without a line added: the shape of what it returns, determinism with a
seeded ``rng``, the exact answer on Gaussian data (an exact noise oracle; for the deterministic samplers the exact
flow map, whose error falls at the registered order), one network evaluation per step (two with guidance), its step
function's own contract, a whole run against diffusers' scheduler of the same method where it has one, and a clear
error for a name that is not registered. Single steps are compared with diffusers in test_ddpm_samplers.py.
"""

import inspect
import math

import pytest
import torch
from test_ddpm_samplers import gaussian_oracle  # the exact eps(x_t, t) for Gaussian data

from sdgan_course.sample.base import (
    DEFAULT_SPACING,
    REGISTRY,
    StepOutput,
    check_sampler,
    get_sampler,
    network_evaluations,
    sampler_names,
)
from sdgan_course.sample.diffusion import SAMPLERS, generate_diffusion
from sdgan_course.sample.ldm import FLOW_SAMPLERS, LDM_SAMPLERS
from sdgan_course.schedules import FlowSchedule, NoiseSchedule, sampling_timesteps

NAMES = list(sampler_names("diffusion"))  # the diffusion family: eps_fn on a NoiseSchedule
FLOW_NAMES = list(sampler_names("flow"))  # the flow family: velocity_fn on a FlowSchedule (checked at the end)
MU, STD = 0.1, 0.3  # the Gaussian data of the oracle


@pytest.fixture(scope="module")
def schedule():
    return NoiseSchedule.from_name("linear", 1000)


def test_the_registry_holds_the_course_samplers_and_the_pipelines_offer_only_registered_ones():
    assert NAMES[:3] == ["ddpm", "ddim", "dpm-solver"] and FLOW_NAMES == ["euler", "heun"]
    assert list(REGISTRY) == NAMES + FLOW_NAMES
    assert SAMPLERS == tuple(NAMES)
    assert set(LDM_SAMPLERS) <= set(NAMES) and set(FLOW_SAMPLERS) == set(FLOW_NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_the_spec_matches_its_functions(name):
    """The registered defaults are the ones the functions use, the step function sits beside the sample function,
    and both spell their parameters out (no ``**options``)."""
    spec = get_sampler(name)
    params = inspect.signature(spec.sample).parameters
    assert spec.name == name and spec.spacing == DEFAULT_SPACING[name] == params["spacing"].default
    assert params["num_steps"].default in (spec.steps, None)  # None: DDPM's full chain
    assert spec.step.__module__ == spec.sample.__module__
    assert set(spec.options) <= set(params) and spec.order in (1, 2)
    for fn in (spec.sample, spec.step):
        kinds = {p.kind for p in inspect.signature(fn).parameters.values()}
        assert inspect.Parameter.VAR_KEYWORD not in kinds, f"{fn.__name__} takes **options"


@pytest.mark.parametrize("name", NAMES)
def test_shape_and_one_network_evaluation_per_step(name, schedule):
    spec, seen = get_sampler(name), []
    oracle = gaussian_oracle(schedule, MU, STD)

    def eps_fn(xt, t):
        seen.append((tuple(xt.shape), tuple(t.shape)))
        return oracle(xt, t)

    out = spec.sample(eps_fn, (3, 2, 5, 4), schedule, num_steps=7, rng=torch.Generator().manual_seed(0),
                      keep_trajectory=True)
    assert out.images.shape == (3, 2, 5, 4) and torch.isfinite(out.images).all()
    assert out.images.abs().max() <= 1
    assert out.timesteps.tolist() == sampling_timesteps(7, 1000, spacing=spec.spacing).tolist()
    assert seen == [((3, 2, 5, 4), (3,))] * 7
    assert len(out.trajectory) == len(out.x0_predictions) == 7
    seen.clear()  # image to image: skipping the first k timesteps skips their evaluations
    start = torch.zeros(3, 2, 5, 4)
    spec.sample(eps_fn, start.shape, schedule, num_steps=7, start_step=3, x_start=start,
                rng=torch.Generator().manual_seed(0))
    assert len(seen) == 4


@pytest.mark.parametrize("name", NAMES)
def test_network_evaluations_are_the_steps_and_twice_that_with_guidance(name, schedule):
    class CountingOracle(torch.nn.Module):
        """A class-conditional 'network' that is the exact Gaussian oracle, counting its forward passes and rows."""

        def __init__(self):
            super().__init__()
            self.config = type("C", (), {"num_classes": 3, "null_label": 3})()
            self.w = torch.nn.Parameter(torch.tensor(1.0))
            self.passes, self.rows, self.oracle = 0, 0, gaussian_oracle(schedule, MU, STD)

        def forward(self, x, t, labels=None):
            self.passes, self.rows = self.passes + 1, self.rows + len(x)
            return self.oracle(x, t) * self.w

    n, steps = 4, 6
    for guidance, per_step in ((1.0, 1), (0.0, 1), (2.0, 2)):
        model = CountingOracle()
        generate_diffusion(model, schedule, n, shape=(1, 2, 2), labels=torch.tensor([0, 1, 2, 0]), sampler=name,
                           steps=steps, guidance=guidance, rng=torch.Generator().manual_seed(0), batch_size=n)
        assert model.passes == steps, (guidance, model.passes)  # guidance batches both halves in one pass
        assert model.rows == per_step * n * steps, (guidance, model.rows)


@pytest.mark.parametrize("name", NAMES)
def test_a_seeded_rng_gives_the_same_images_and_only_a_stochastic_sampler_draws_more_than_x_T(name, schedule):
    spec, oracle = get_sampler(name), gaussian_oracle(schedule, MU, STD)

    def draw(seed, **options):
        return spec.sample(oracle, (6, 1, 3, 3), schedule, num_steps=8, rng=torch.Generator().manual_seed(seed),
                           **options).images

    assert torch.equal(draw(1), draw(1))
    assert not torch.equal(draw(1), draw(2))  # x_T differs
    x_T = torch.randn(6, 1, 3, 3, generator=torch.Generator().manual_seed(3))
    a, b = (draw(seed, x_start=x_T.clone()) for seed in (1, 2))  # the same x_T, other seeds
    if spec.stochastic:
        assert not torch.equal(a, b)  # fresh noise at every step comes from rng
    else:
        assert torch.equal(a, b)  # rng draws x_T only


@pytest.mark.parametrize("name", NAMES)
def test_the_default_steps_and_spacing_recover_the_gaussian(name, schedule):
    """With the exact noise of N(mu, std^2) data, the registered defaults draw that Gaussian."""
    spec = get_sampler(name)
    out = spec.sample(gaussian_oracle(schedule, MU, STD), (4000, 1, 1, 1), schedule, num_steps=spec.steps,
                      rng=torch.Generator().manual_seed(0), clip_x0=False).images
    assert out.mean().item() == pytest.approx(MU, abs=0.02)
    assert out.std().item() == pytest.approx(STD, rel=0.07)


@pytest.mark.parametrize("name", [n for n in NAMES if not REGISTRY[n].stochastic])
def test_a_deterministic_sampler_converges_to_the_exact_flow_map_at_its_order(name, schedule):
    r"""For Gaussian data the probability-flow ODE keeps each sample's standardised value: from x_T at the first
    timestep t, :math:`x_0 = \mu + s\,(x_T - \sqrt{\bar\alpha_t}\mu)/\sqrt{\bar\alpha_t s^2 + 1 - \bar\alpha_t}`.
    Doubling the steps divides the error by about 2^order (measured at 20 -> 40 steps, default spacing)."""
    spec = get_sampler(name)
    x_T = torch.randn(2000, 1, 1, 1, generator=torch.Generator().manual_seed(1))
    errors = []
    for steps in (20, 40):
        t = sampling_timesteps(steps, 1000, spacing=spec.spacing)[0].item()
        ab = schedule.alpha_bar[t].double()
        exact = MU + STD * (x_T.double() - ab.sqrt() * MU) / (ab * STD**2 + 1 - ab).sqrt()
        out = spec.sample(gaussian_oracle(schedule, MU, STD), x_T.shape, schedule, num_steps=steps,
                          x_start=x_T.clone(), clip_x0=False, clamp_output=False).images
        errors.append((out.double() - exact).abs().max().item())
    slope = math.log2(errors[0] / errors[1])
    assert errors[1] < 0.1 and round(slope) == spec.order, (errors, slope)


@pytest.mark.parametrize("name", NAMES)
def test_the_step_function_keeps_the_step_contract(name, schedule):
    """Each step goes to an earlier timestep, returns (prev, x0) shaped like x_t, and its last step (to t = -1)
    lands on the prediction of x_0, the model's own where it gives one."""
    step = get_sampler(name).step
    xt, eps = torch.randn(2, 1, 3, 3), torch.randn(2, 1, 3, 3)
    out = step(schedule, eps, xt, 500, 400)
    assert isinstance(out, StepOutput) and out.prev.shape == out.x0.shape == xt.shape
    given = 1.5 * torch.randn(2, 1, 3, 3)
    assert torch.allclose(step(schedule, eps, xt, 20, -1, x0=given, clip_x0=False).prev, given, atol=1e-6)
    clipped = step(schedule, eps, xt, 20, -1, x0=given, clip_x0=True)
    assert torch.equal(clipped.x0, given.clamp(-1, 1))
    for bad in (500, 600):
        with pytest.raises(ValueError, match="earlier timestep"):
            step(schedule, eps, xt, 500, bad)


# registered name -> diffusers' scheduler of the same method and its settings for ours (trailing spacing, no clipping)
DIFFUSERS = {
    "ddpm": ("DDPMScheduler", dict(variance_type="fixed_small", clip_sample=False, timestep_spacing="trailing")),
    "ddim": ("DDIMScheduler", dict(clip_sample=False, set_alpha_to_one=True, steps_offset=0,
                                   timestep_spacing="trailing")),
    "dpm-solver": ("DPMSolverMultistepScheduler", dict(algorithm_type="dpmsolver++", solver_order=2,
                                                       timestep_spacing="trailing", final_sigmas_type="zero",
                                                       lower_order_final=True)),
}


@pytest.mark.parametrize("name", NAMES)
def test_a_whole_run_matches_diffusers_where_it_has_the_sampler(name, schedule, diffusers):
    """Ten steps from the same x_T on Gaussian data; a stochastic sampler draws its noise from the same generator."""
    if name not in DIFFUSERS:
        pytest.skip(f"diffusers has no scheduler for the sampler {name!r}")
    scheduler, settings = DIFFUSERS[name]
    ref = getattr(diffusers, scheduler)(num_train_timesteps=1000, **settings)
    if name != "dpm-solver":  # the same constants (diffusers' float32 cumprod differs by ~1e-7); DPM's are set at init
        ref.alphas_cumprod = schedule.alpha_bar.clone()
    ref.set_timesteps(10)
    assert ref.timesteps.tolist() == sampling_timesteps(10, 1000, spacing="trailing").tolist()
    eps_fn = gaussian_oracle(schedule, 0.2, 0.4)
    x_T = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(3))
    expected, generator = x_T.clone(), torch.Generator().manual_seed(5)
    for t in ref.timesteps:
        expected = ref.step(eps_fn(expected, t.long().view(1).expand(3)), t, expected, generator=generator).prev_sample
    got = get_sampler(name).sample(eps_fn, x_T.shape, schedule, num_steps=10, spacing="trailing", clip_x0=False,
                                   clamp_output=False, x_start=x_T.clone(), rng=torch.Generator().manual_seed(5))
    assert torch.allclose(got.images, expected, atol=1e-4), (got.images - expected).abs().max()


def test_an_unknown_sampler_name_lists_the_registered_ones(schedule):
    listed = "Valid samplers: " + ", ".join(NAMES + FLOW_NAMES)
    with pytest.raises(ValueError, match=f"Unknown sampler 'lms'. {listed}"):
        get_sampler("lms")
    with pytest.raises(ValueError, match=listed):
        check_sampler("Euler", None, schedule)
    model = torch.nn.Linear(1, 1)
    diffusion_only = "Valid samplers: " + ", ".join(NAMES) + r"\.$"
    with pytest.raises(ValueError, match=diffusion_only):
        generate_diffusion(model, schedule, 1, sampler="dpm_solver")
    with pytest.raises(ValueError, match="'euler' for a diffusion model. " + diffusion_only):
        generate_diffusion(model, schedule, 1, sampler="euler")  # a flow sampler cannot integrate noise estimates


def test_check_sampler_takes_the_registered_default_steps_capped_at_T():
    short = NoiseSchedule.from_name("linear", 100)
    for name in NAMES:
        assert check_sampler(name, None, short) == min(REGISTRY[name].steps, 100)
    for name in FLOW_NAMES:  # continuous time: no cap
        assert check_sampler(name, None, FlowSchedule()) == REGISTRY[name].steps
        assert check_sampler(name, 5000, FlowSchedule()) == 5000
        with pytest.raises(ValueError, match="at least 1"):
            check_sampler(name, 0, FlowSchedule())


# ---------------------------------------------------------------- the flow family (sample/flow.py)

MU_F, STD_F = 0.3, 0.5  # Gaussian data for the flow's exact velocity


def gaussian_velocity(x, t):
    """The exact marginal velocity of x0 ~ N(MU_F, STD_F^2) per pixel on x_t = (1 - t) x0 + t eps."""
    t = t.view(-1, *[1] * (x.ndim - 1)).to(x.dtype)
    var = (1 - t) ** 2 * STD_F**2 + t**2
    return -MU_F + (x - (1 - t) * MU_F) * (t - (1 - t) * STD_F**2) / var


@pytest.mark.parametrize("name", FLOW_NAMES)
def test_a_flow_sampler_spec_shapes_and_evaluations(name):
    spec, seen = get_sampler(name), []
    assert spec.family == "flow" and spec.spacing == DEFAULT_SPACING[name] and not spec.stochastic
    params = inspect.signature(spec.sample).parameters
    assert params["num_steps"].default == spec.steps and params["spacing"].default == spec.spacing

    def velocity_fn(x, t):
        seen.append((tuple(x.shape), t.dtype, t.min().item(), t.max().item()))
        return gaussian_velocity(x, t)

    out = spec.sample(velocity_fn, (3, 2, 5, 4), FlowSchedule(), num_steps=6, rng=torch.Generator().manual_seed(0),
                      keep_trajectory=True)
    assert out.images.shape == (3, 2, 5, 4) and out.images.abs().max() <= 1
    assert len(seen) == spec.evaluations(6) == (6 if name == "euler" else 11)
    assert network_evaluations(6, 2.0, sampler=name) == 2 * spec.evaluations(6)
    assert all(s[0] == (3, 2, 5, 4) and s[1] == torch.float32 and 0 < s[2] <= s[3] <= 1 for s in seen)
    assert len(out.trajectory) == 6 and torch.allclose(out.timesteps, FlowSchedule().sampling_times(6)[:-1])
    a = spec.sample(gaussian_velocity, (4, 1, 2, 2), FlowSchedule(), num_steps=4, rng=torch.Generator().manual_seed(1))
    b = spec.sample(gaussian_velocity, (4, 1, 2, 2), FlowSchedule(), num_steps=4, rng=torch.Generator().manual_seed(1))
    assert torch.equal(a.images, b.images)  # the seeded rng draws x_1 only
    seen.clear()
    start = torch.zeros(3, 2, 5, 4)
    spec.sample(velocity_fn, start.shape, FlowSchedule(), num_steps=6, start_step=2, x_start=start)
    assert len(seen) == spec.evaluations(4)  # image to image: the skipped times cost nothing


@pytest.mark.parametrize("name", FLOW_NAMES)
def test_a_flow_sampler_converges_to_the_exact_map_at_its_order(name):
    """For Gaussian data the flow ODE keeps each sample's standardised value: x_1 ends at MU_F + STD_F x_1."""
    spec = get_sampler(name)
    x1 = torch.randn(2000, 1, 1, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    exact = MU_F + STD_F * x1
    errors = []
    for steps in (20, 40):
        out = spec.sample(gaussian_velocity, x1.shape, FlowSchedule(), num_steps=steps, x_start=x1.clone(),
                          clamp_output=False).images
        errors.append((out - exact).abs().max().item())
    slope = math.log2(errors[0] / errors[1])
    assert errors[1] < 0.1 and round(slope) == spec.order, (errors, slope)


@pytest.mark.parametrize("name", FLOW_NAMES)
def test_a_flow_step_keeps_its_contract(name):
    step, f = get_sampler(name).step, FlowSchedule()
    x, v = torch.randn(2, 1, 3, 3), torch.randn(2, 1, 3, 3)
    last = step(f, v, x, 0.25, 0.0, velocity_fn=gaussian_velocity)
    assert torch.allclose(last.prev, x - 0.25 * v) and torch.allclose(last.x0, last.prev)  # lands on x0_hat
    for bad in ((0.5, 0.5), (0.5, 0.7), (0.5, -0.1)):
        with pytest.raises(ValueError, match="earlier time"):
            step(f, v, x, *bad, velocity_fn=gaussian_velocity)
    with pytest.raises(ValueError, match="uniform"):
        get_sampler(name).sample(gaussian_velocity, (1, 1, 1, 1), f, num_steps=2, spacing="trailing")


FLOW_DIFFUSERS = {"euler": "FlowMatchEulerDiscreteScheduler", "heun": "FlowMatchHeunDiscreteScheduler"}


@pytest.mark.parametrize("name", FLOW_NAMES)
def test_a_whole_flow_run_matches_diffusers(name, diffusers):
    """Eight steps from the same x_1 with the exact velocity, shift 3, against diffusers' flow-matching scheduler of
    the same method (its timesteps are 1000 t; its Heun scheduler asks for the velocity twice per step). diffusers'
    own default grid ends at t = 1/1000 before jumping to 0; it is given ours (uniform from 1, before the shift)."""
    f = FlowSchedule(shift=3.0)
    ref = getattr(diffusers, FLOW_DIFFUSERS[name])(num_train_timesteps=1000, shift=3.0)
    if name == "euler":
        ref.set_timesteps(sigmas=torch.linspace(1, 0, 9)[:-1].tolist())
    else:  # its set_timesteps takes no grid: build its tables from ours as it builds them from its own
        ref.set_timesteps(8)
        sig = f.sampling_times(8)  # (9,) shifted, ending at 0
        ref.timesteps = torch.cat([sig[:1], sig[1:-1].repeat_interleave(2)]) * 1000
        ref.sigmas = torch.cat([sig[:1], sig[1:-1].repeat_interleave(2), sig[-1:]])
    x1 = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(4))
    expected = x1.clone()
    for t in ref.timesteps:
        v = gaussian_velocity(expected, (t / 1000).view(1).expand(3))
        expected = ref.step(v, t, expected).prev_sample
    got = get_sampler(name).sample(gaussian_velocity, x1.shape, f, num_steps=8, x_start=x1.clone(),
                                   clamp_output=False).images
    assert torch.allclose(got, expected, atol=1e-4), (got - expected).abs().max()
