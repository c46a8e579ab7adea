r"""The sampler contract: what every diffusion sampler is made of, and the registry that names them.

A diffusion sampler has three parts, and only the middle one differs from sampler to sampler:

1. a **prediction function** ``eps_fn(x_t, t) -> eps`` (:data:`EpsFn`, t a (B,) long tensor): a network, an exact
   oracle, or a guidance wrapper around a network (:mod:`.guidance`); an :class:`EpsWithX0` also gives its own
   estimate of :math:`x_0` (a v-prediction model's);
2. a **step function** (:class:`StepFn`) that moves :math:`x_t` to an earlier timestep ``t_prev`` given the
   prediction, ``-1`` being the clean image. Each sampler's is a named function in its own module, its parameters
   spelled out: :func:`~.ddpm.ddpm_step`, :func:`~.ddim.ddim_step`, :func:`~.dpm_solver.dpm_solver_2m_step`;
3. the **shared loop** :func:`run_sampler`: which timesteps to visit (the spacing), the initial noise, one call of
   ``eps_fn`` per step, and bookkeeping (the trajectory, the final clamp). It owns no mathematics.

Each sampler module ends with one :func:`register_sampler` call; :data:`REGISTRY` (name -> :class:`SamplerSpec`) is
what the command line, :func:`~.diffusion.generate_diffusion` and the latent pipeline read, and its entries' default
spacing and step count come from the two tables below, the only place they are set. A new sampler is a step function,
a sample function that binds it, one registry entry, and one line in this package's ``__init__``.

Shape legend: B batch, C channels, H x W pixels, S sampling steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import torch

from ..schedules import NoiseSchedule, sampling_timesteps

# The default timestep spacing of each sampler (see schedules.sampling_timesteps). DDPM takes every step, where the
# spacing does not matter; the few-step samplers spend their steps where the noise is low (quadratic).
DEFAULT_SPACING = {"ddpm": "trailing", "ddim": "quadratic", "dpm-solver": "quadratic",
                   # the flow samplers (sample/flow.py): times 1 -> 0 uniformly, then the schedule's shift
                   "euler": "uniform", "heun": "uniform"}
# The latent pipeline (sample/ldm.py) uses one spacing for every sampler: Stable Diffusion's later schedulers'
# trailing; "leading" never starts at t = T - 1 (Lin et al. 2023, arXiv:2305.08891).
LATENT_SPACING = "trailing"
# The default number of steps (= network evaluations per image; twice that with guidance), capped at the model's T.
# DDPM's 1000 is the full chain of the course's T = 1000 models (ddpm_sample's own default, None, takes every step).
DEFAULT_STEPS = {"ddpm": 1000, "ddim": 50, "dpm-solver": 15, "euler": 20, "heun": 10}
FAMILIES = ("diffusion", "flow")  # what a sampler integrates: a noise estimate on a NoiseSchedule, or a velocity

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class EpsWithX0:
    r"""An ``eps_fn`` that also gives its own estimate of :math:`x_0`: calling it gives the noise estimate, as any
    ``eps_fn``; ``eps_and_x0(x_t, t)`` gives ``(eps, x0)``. A v-prediction model is wrapped in one
    (:func:`~sdgan_course.sample.guidance.model_eps_fn`): its :math:`\hat x_0 = \sqrt{\bar\alpha_t}\,x_t -
    \sqrt{1-\bar\alpha_t}\,\hat v` needs no division by :math:`\sqrt{\bar\alpha_t}`, which is 0 at the first
    sampling step of a zero-terminal-SNR schedule (there every noise estimate is :math:`x_t` itself, and eq. 15 gives
    0 / 0). ``x0`` may be ``None``: derive it from eps."""

    def __init__(self, eps_and_x0: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]):
        self.eps_and_x0 = eps_and_x0

    def __call__(self, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.eps_and_x0(xt, t)[0]


def estimate(eps_fn: EpsFn, xt: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(eps, x0)`` from one call of ``eps_fn``; x0 is ``None`` unless ``eps_fn`` gives it (:class:`EpsWithX0`)."""
    both = getattr(eps_fn, "eps_and_x0", None)
    return both(xt, t) if both is not None else (eps_fn(xt, t), None)


class StepOutput(NamedTuple):
    prev: torch.Tensor  # x_s (B, C, H, W)
    x0: torch.Tensor  # the prediction of x_0 made at this step (B, C, H, W)


class SampleResult(NamedTuple):
    images: torch.Tensor  # (B, C, H, W) in [-1, 1]
    trajectory: list[torch.Tensor]  # x_t before each step (on the CPU), when asked for
    x0_predictions: list[torch.Tensor]  # the predicted x_0 at each step (on the CPU), when asked for
    timesteps: torch.Tensor  # (S,) the timesteps visited


class StepFn(Protocol):
    """One step of a sampler, its options already bound: from ``xt`` at ``t`` to ``t_prev`` (``-1`` = the clean
    image), given the noise estimate ``eps`` and, where the prediction function gives one, the model's own ``x0``
    (else ``None``). A sample function makes one by binding its step function's options, e.g.
    ``functools.partial(ddim_step, schedule, eta=eta, clip_x0=clip_x0, rng=rng)``."""

    def __call__(
        self, eps: torch.Tensor, xt: torch.Tensor, t: int, t_prev: int, *, x0: torch.Tensor | None
    ) -> StepOutput: ...


def alpha_bar_at(schedule: NoiseSchedule, t: int, like: torch.Tensor) -> torch.Tensor:
    r""":math:`\bar\alpha_t` as a scalar tensor on ``like``'s device; 1 for t < 0 (the clean image)."""
    if t < 0:
        return torch.ones((), device=like.device, dtype=torch.float32)
    return schedule.alpha_bar[t].to(like.device)


def predict_x0(xt: torch.Tensor, eps: torch.Tensor, alpha_bar_t: torch.Tensor) -> torch.Tensor:
    r""":math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\epsilon)/\sqrt{\bar\alpha_t}` (Ho et al. eq. 15)."""
    return (xt - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()


def check_steps(num_steps: int | None, schedule: NoiseSchedule) -> int:
    """``num_steps`` (``None``: all T), checked to be in 1..T."""
    num_steps = schedule.num_steps if num_steps is None else num_steps
    if not 1 <= num_steps <= schedule.num_steps:
        raise ValueError(
            f"steps must be between 1 and {schedule.num_steps} (the model's training steps T), got {num_steps}."
        )
    return num_steps


def initial_noise(shape, *, rng: torch.Generator | None, device) -> torch.Tensor:
    """:math:`x_T \\sim \\mathcal{N}(0, I)`, drawn on the CPU with ``rng`` and moved to ``device``."""
    return torch.randn(shape, generator=rng).to(device)

def data_prediction(
    xt: torch.Tensor, eps: torch.Tensor, alpha_bar_t: torch.Tensor, x0: torch.Tensor | None = None, *, clip_x0: bool
) -> torch.Tensor:
    """A step's estimate of x_0: the model's own ``x0`` where the prediction function gives one (a v-prediction
    model's), else eq. 15's from ``eps`` (:func:`predict_x0`); clamped to the data range [-1, 1] when ``clip_x0`` (as
    Ho et al.'s code and diffusers do)."""
    x0 = predict_x0(xt, eps, alpha_bar_t) if x0 is None else x0
    return x0.clamp(-1, 1) if clip_x0 else x0


def step_noise(xt: torch.Tensor, rng: torch.Generator | None, noise: torch.Tensor | None = None) -> torch.Tensor:
    """The fresh noise of a stochastic step: ``noise`` if given, else N(0, I) shaped like ``xt``, drawn on the CPU
    with ``rng`` (so a seed gives the same images on any device) and moved to ``xt``'s device."""
    return torch.randn(xt.shape, generator=rng, dtype=xt.dtype).to(xt.device) if noise is None else noise


def check_earlier(t: int, t_prev: int, who: str) -> None:
    """A step goes from ``t`` to an earlier ``t_prev`` (``-1`` = the clean image); ``who`` names the sampler."""
    if not -1 <= t_prev < t:
        raise ValueError(f"A {who} step goes to an earlier timestep: got t = {t}, t_prev = {t_prev}.")


def run_sampler(
    eps_fn: EpsFn,
    step_fn: StepFn,
    shape: tuple[int, ...],
    schedule: NoiseSchedule,
    *,
    num_steps: int | None,
    spacing: str,
    rng: torch.Generator | None,
    device: torch.device | str = "cpu",
    x_start: torch.Tensor | None = None,
    start_step: int = 0,
    keep_trajectory: bool = False,
    clamp_output: bool = True,
) -> SampleResult:
    """The loop every sampler shares: visit the timesteps from noisy to clean, ask ``eps_fn`` for the noise at each,
    and let ``step_fn`` move to the next one (``-1`` = the clean image).

    The options every sample function passes through: ``device`` (where the noise goes), ``x_start`` (replaces the
    initial noise), ``start_step = k`` (skip the first k timesteps: image-to-image starts from a noised image),
    ``keep_trajectory`` (keep x_t and the predicted x_0 of every step, on the CPU) and ``clamp_output`` (clamp the
    result to the image range [-1, 1]; off for latents, which are not bounded)."""
    num_steps = check_steps(num_steps, schedule)
    timesteps = sampling_timesteps(num_steps, schedule.num_steps, spacing=spacing)[start_step:]
    x = initial_noise(shape, rng=rng, device=device) if x_start is None else x_start
    traj, preds = [], []
    for i, t in enumerate(timesteps.tolist()):
        t_prev = timesteps[i + 1].item() if i + 1 < len(timesteps) else -1
        t_batch = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)  # (B,)
        eps, x0 = estimate(eps_fn, x, t_batch)
        step = step_fn(eps, x, t, t_prev, x0=x0)
        if keep_trajectory:
            traj.append(x.cpu())
            preds.append(step.x0.cpu())
        x = step.prev
    return SampleResult(x.clamp(-1, 1) if clamp_output else x, traj, preds, timesteps)


@dataclass(frozen=True)
class SamplerSpec:
    """One registered sampler: what a caller needs to run it by name."""

    name: str  # what --sampler takes
    sample: Callable[..., SampleResult]  # (eps_fn, shape, schedule, *, num_steps, spacing, rng, clip_x0, device, ...)
    step: Callable[..., StepOutput]  # the named step function: (schedule, eps, xt, t, t_prev, *, its options)
    spacing: str  # the default timestep spacing (DEFAULT_SPACING)
    steps: int  # the default number of steps (DEFAULT_STEPS)
    order: int  # of the method: the error of a deterministic run falls as (step size)^order
    stochastic: bool  # draws fresh noise at every step with its default options (DDIM does with eta > 0)
    options: tuple[str, ...] = ()  # its own keyword options beyond the shared ones (DDPM: variance; DDIM: eta)
    family: str = "diffusion"  # "diffusion": sample(eps_fn, .., a NoiseSchedule); "flow": (velocity_fn, a FlowSchedule)
    extra_evaluations: int = 0  # network evaluations per run beyond one per step (Heun: steps - 1 more)

    def evaluations(self, steps: int) -> int:
        """Network evaluations of one run of ``steps`` steps, without guidance."""
        return steps + (self.extra_evaluations * (steps - 1) if steps > 1 else 0)


REGISTRY: dict[str, SamplerSpec] = {}  # name -> spec, in the order the sampler modules register (see __init__)


def register_sampler(
    name: str,
    sample: Callable[..., SampleResult],
    step: Callable[..., StepOutput],
    *,
    order: int,
    stochastic: bool,
    options: tuple[str, ...] = (),
    family: str = "diffusion",
    extra_evaluations: int = 0,
) -> SamplerSpec:
    """Add a sampler to :data:`REGISTRY` under ``name``, with its spacing and step count from the default tables."""
    if name in REGISTRY:
        raise ValueError(f"A sampler named {name!r} is registered already.")
    if family not in FAMILIES:
        raise ValueError(f"Unknown sampler family {family!r}. Valid: {', '.join(FAMILIES)}.")
    spec = SamplerSpec(name, sample, step, DEFAULT_SPACING[name], DEFAULT_STEPS[name], order, stochastic, options,
                       family, extra_evaluations)
    REGISTRY[name] = spec
    return spec


def sampler_names(family: str | None = None) -> tuple[str, ...]:
    """The registered names, in registration order; only those of ``family`` ("diffusion" or "flow") if given."""
    return tuple(name for name, spec in REGISTRY.items() if family is None or spec.family == family)


def get_sampler(name: str, family: str | None = None) -> SamplerSpec:
    """The registered sampler ``name``; an unknown name (or one of another ``family`` than asked for) raises
    ValueError listing the valid ones."""
    valid = sampler_names(family)
    if name not in valid:
        kind = "" if family is None else f" for a {family} model"
        raise ValueError(f"Unknown sampler {name!r}{kind}. Valid samplers: {', '.join(valid)}.")
    return REGISTRY[name]


def check_sampler(sampler: str, steps: int | None, schedule, *, family: str | None = None) -> int:
    """Validate a sampler name and step count (default: the sampler's usual count); return the step count. A
    diffusion schedule caps the steps at its T; a flow's time is continuous, so any count >= 1 is valid."""
    spec = get_sampler(sampler, family)
    limit = getattr(schedule, "num_steps", None)  # None: a FlowSchedule
    steps = (spec.steps if limit is None else min(spec.steps, limit)) if steps is None else steps
    if steps < 1 or (limit is not None and steps > limit):
        bound = "at least 1" if limit is None else f"between 1 and {limit} (the model's training steps T)"
        raise ValueError(f"--steps must be {bound}, got {steps}.")
    return steps


def network_evaluations(steps: int, guidance: float | None = None, *, sampler: str | None = None) -> int:
    """Network evaluations per image of a sampler run with ``steps`` steps: one per step without guidance
    (``guidance`` None, 0 = the unconditional or negative model alone, 1 = the conditional model alone), two per
    evaluation with guidance (both estimates; :mod:`.guidance` runs them as one batch of twice the size, which costs
    the same). A second-order flow sampler (``sampler="heun"``) evaluates twice per step but once on the last.
    This is the NFE column of every table the course prints or stores."""
    calls = steps if sampler is None else get_sampler(sampler).evaluations(steps)
    return calls * (1 if guidance is None or guidance in (0.0, 1.0) else 2)


__all__ = [
    "DEFAULT_SPACING",
    "DEFAULT_STEPS",
    "FAMILIES",
    "LATENT_SPACING",
    "REGISTRY",
    "EpsFn",
    "EpsWithX0",
    "SampleResult",
    "SamplerSpec",
    "StepFn",
    "StepOutput",
    "alpha_bar_at",
    "check_earlier",
    "check_sampler",
    "check_steps",
    "data_prediction",
    "estimate",
    "get_sampler",
    "initial_noise",
    "network_evaluations",
    "predict_x0",
    "register_sampler",
    "run_sampler",
    "sampler_names",
    "step_noise",
]
