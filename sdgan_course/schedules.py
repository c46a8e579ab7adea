r"""Noise schedules and the forward process of diffusion: pure tensors, no learnable parameters.

Notation of Ho et al. 2020 (arXiv:2006.11239): :math:`\beta_t` the variance added at step t (t = 1..T in the paper,
``t = 0..T-1`` in code, as in diffusers), :math:`\alpha_t = 1 - \beta_t`, :math:`\bar\alpha_t = \prod_{s \le t}
\alpha_s`. Constants are computed in float64 and stored as float32 (convention 7 of the course).

- forward process in closed form (Ho et al. eq. 4): :math:`q(x_t \mid x_0) = \mathcal{N}(\sqrt{\bar\alpha_t}\,x_0,
  (1-\bar\alpha_t) I)`, so :math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon`;
- the true posterior (Ho et al. eq. 6-7): :math:`q(x_{t-1} \mid x_t, x_0) = \mathcal{N}(\tilde\mu_t, \tilde\beta_t I)`;
- the signal-to-noise ratio :math:`\mathrm{SNR}(t) = \bar\alpha_t / (1-\bar\alpha_t)` (Kingma et al. 2021,
  arXiv:2107.00630) and the v-parameterisation (Salimans and Ho 2022, arXiv:2202.00512).

Shape legend: B batch, C channels, H x W pixels, T number of diffusion steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

SCHEDULES = ("linear", "cosine", "scaled_linear")
SPACINGS = ("trailing", "leading", "linspace", "quadratic")


def linear_betas(num_steps: int = 1000, *, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    r"""DDPM's linear schedule, :math:`\beta_1 = 10^{-4}` to :math:`\beta_T = 0.02` for T = 1000 (Ho et al. 2020,
    section 4). Returns (T,) float64."""
    return torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)


def scaled_linear_betas(num_steps: int = 1000, *, beta_start: float = 0.00085, beta_end: float = 0.012) -> torch.Tensor:
    r"""Stable Diffusion's schedule: :math:`\sqrt{\beta_t}` linear from :math:`\sqrt{0.00085}` to :math:`\sqrt{0.012}`
    over T = 1000 steps (the ``linear_start``/``linear_end`` of CompVis' ``v1-inference.yaml``; diffusers calls it
    ``"scaled_linear"``). Gentler than DDPM's: latents need less noise than pixels to be destroyed. (T,) float64."""
    return torch.linspace(beta_start**0.5, beta_end**0.5, num_steps, dtype=torch.float64) ** 2


def cosine_betas(num_steps: int = 1000, *, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    r"""The cosine schedule (Nichol and Dhariwal 2021, arXiv:2102.09672, eq. 17):
    :math:`\bar\alpha_t = f(t)/f(0)`, :math:`f(t) = \cos^2\!\big(\frac{t/T + s}{1+s}\cdot\frac{\pi}{2}\big)`,
    :math:`\beta_t = \min(1 - \bar\alpha_t/\bar\alpha_{t-1},\ 0.999)`. Returns (T,) float64."""
    steps = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps  # (T+1,)
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)


def rescale_zero_terminal_snr(betas: torch.Tensor) -> torch.Tensor:
    r"""Shift and scale :math:`\sqrt{\bar\alpha_t}` so that the last step is pure noise, :math:`\bar\alpha_T = 0`
    (Lin et al. 2023, arXiv:2305.08891, Algorithm 1). Without it the linear schedule ends at SNR ≈ 4e-5, not 0: the
    model never sees pure noise in training, yet sampling starts from it."""
    sqrt_ab = torch.cumprod(1 - betas.double(), 0).sqrt()
    first, last = sqrt_ab[0].clone(), sqrt_ab[-1].clone()
    sqrt_ab = (sqrt_ab - last) * first / (first - last)
    alpha_bar = sqrt_ab**2
    alphas = torch.cat([alpha_bar[:1], alpha_bar[1:] / alpha_bar[:-1]])
    return 1 - alphas


class Posterior(NamedTuple):
    mean: torch.Tensor  # (B, C, H, W)
    variance: torch.Tensor  # (B, 1, 1, 1), beta tilde
    log_variance: torch.Tensor  # (B, 1, 1, 1), clipped at t = 0 as in Ho et al.'s code


@dataclass(frozen=True, eq=False)
class NoiseSchedule:
    r"""A discrete noise schedule: ``betas``, ``alphas``, ``alpha_bar`` as (T,) float32 tensors (computed in float64).

    Build one with :meth:`from_name` (``"linear"`` or ``"cosine"``, optionally ``zero_terminal_snr=True``).
    Every method takes integer timesteps ``t`` (B,) in ``0..T-1`` and broadcasts over images (B, C, H, W).
    """

    betas: torch.Tensor
    name: str = "custom"

    def __post_init__(self):
        betas = torch.as_tensor(self.betas, dtype=torch.float64)
        if betas.ndim != 1 or len(betas) < 1:
            raise ValueError(f"betas must be a non-empty 1-D tensor, got shape {tuple(betas.shape)}.")
        if not ((betas > 0) & (betas <= 1)).all():
            raise ValueError("Every beta must be in (0, 1].")
        alpha_bar = torch.cumprod(1 - betas, 0)  # float64
        alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
        tilde = betas * (1 - alpha_bar_prev) / (1 - alpha_bar)  # Ho et al. eq. 7
        consts = {
            "betas": betas,
            "alphas": 1 - betas,
            "alpha_bar": alpha_bar,
            "alpha_bar_prev": alpha_bar_prev,
            # the square roots the forward process uses, taken in float64: 1 - alpha_bar in float32 keeps few digits
            # near t = 0 (cosine: alpha_bar_0 = 0.99996, so sqrt(1 - alpha_bar_0) would be off by 3e-4, relatively)
            "sqrt_alpha_bar": alpha_bar.sqrt(),
            "sqrt_one_minus_alpha_bar": (1 - alpha_bar).sqrt(),
            "posterior_variance": tilde,
            # log of beta tilde with t = 0 (where it is 0) replaced by t = 1, as in Ho et al.'s code
            "posterior_log_variance": torch.log(torch.cat([tilde[1:2], tilde[1:]])),
            "posterior_coef_x0": betas * alpha_bar_prev.sqrt() / (1 - alpha_bar),  # eq. 7
            "posterior_coef_xt": (1 - alpha_bar_prev) * (1 - betas).sqrt() / (1 - alpha_bar),  # eq. 7
        }
        for key, value in consts.items():
            object.__setattr__(self, key, value.float())

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_name(cls, name: str = "linear", num_steps: int = 1000, *, zero_terminal_snr: bool = False):
        """``"linear"`` (Ho et al. 2020), ``"cosine"`` (Nichol and Dhariwal 2021) or ``"scaled_linear"`` (Stable
        Diffusion) with ``num_steps`` steps."""
        if name not in SCHEDULES:
            raise ValueError(f"Unknown noise schedule {name!r}. Valid schedules: {', '.join(SCHEDULES)}.")
        if num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {num_steps}.")
        betas = {"linear": linear_betas, "cosine": cosine_betas, "scaled_linear": scaled_linear_betas}[name](num_steps)
        if zero_terminal_snr:
            betas = rescale_zero_terminal_snr(betas)
            name += "+zero-snr"
        return cls(betas, name=name)

    @property
    def num_steps(self) -> int:
        return len(self.betas)

    def snr(self) -> torch.Tensor:
        r""":math:`\mathrm{SNR}(t) = \bar\alpha_t/(1-\bar\alpha_t)`, (T,) float64."""
        ab = self.alpha_bar.double()
        return ab / (1 - ab)

    def log_snr(self) -> torch.Tensor:
        r""":math:`\lambda_t = \log \mathrm{SNR}(t)`, (T,) float64; ``-inf`` at a zero-terminal-SNR end."""
        return self.snr().log()

    # ------------------------------------------------------------------ the forward process

    def _at(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``values[t]`` shaped (B, 1, 1, ...) to broadcast over ``like``, on its device and dtype."""
        t = torch.as_tensor(t, device=values.device).long()
        if t.ndim == 0:
            t = t.expand(like.shape[0])
        if (t < 0).any() or (t >= self.num_steps).any():
            raise ValueError(f"Timesteps must be in 0..{self.num_steps - 1}, got {t.min().item()}..{t.max().item()}.")
        out = values[t].to(device=like.device, dtype=like.dtype)  # (B,)
        return out.view(-1, *([1] * (like.ndim - 1)))  # (B, 1, 1, 1)

    def q_moments(self, x0: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Mean and variance of :math:`q(x_t \mid x_0)` (Ho et al. eq. 4): ``(sqrt(ab_t) x0, 1 - ab_t)``."""
        return self._at(self.sqrt_alpha_bar, t, x0) * x0, self._at(self.sqrt_one_minus_alpha_bar, t, x0) ** 2

    def add_noise(self, x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r""":math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon` (Ho et al. eq. 4), (B, C, H, W)."""
        return self._at(self.sqrt_alpha_bar, t, x0) * x0 + self._at(self.sqrt_one_minus_alpha_bar, t, x0) * eps

    def q_step(self, x_prev: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r"""One step of the chain, :math:`q(x_t \mid x_{t-1}) = \mathcal{N}(\sqrt{1-\beta_t}\,x_{t-1}, \beta_t I)`
        (Ho et al. eq. 2)."""
        beta = self._at(self.betas, t, x_prev)
        return (1 - beta).sqrt() * x_prev + beta.sqrt() * eps

    def posterior(self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor) -> Posterior:
        r""":math:`q(x_{t-1} \mid x_t, x_0) = \mathcal{N}(\tilde\mu_t, \tilde\beta_t I)` with (Ho et al. eq. 7)
        :math:`\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\beta_t}{1-\bar\alpha_t}x_0 +
        \frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}x_t` and
        :math:`\tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t`."""
        mean = self._at(self.posterior_coef_x0, t, xt) * x0 + self._at(self.posterior_coef_xt, t, xt) * xt
        return Posterior(mean, self._at(self.posterior_variance, t, xt), self._at(self.posterior_log_variance, t, xt))

    # ------------------------------------------------------------------ parameterisations

    def predict_x0(self, xt: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        r""":math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\epsilon)/\sqrt{\bar\alpha_t}` (Ho et al. eq. 15)."""
        return (xt - self._at(self.sqrt_one_minus_alpha_bar, t, xt) * eps) / self._at(self.sqrt_alpha_bar, t, xt)

    def predict_eps(self, xt: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        r""":math:`\hat\epsilon = (x_t - \sqrt{\bar\alpha_t}\,\hat x_0)/\sqrt{1-\bar\alpha_t}`."""
        return (xt - self._at(self.sqrt_alpha_bar, t, xt) * x0) / self._at(self.sqrt_one_minus_alpha_bar, t, xt)

    def velocity(self, x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r"""The v-prediction target :math:`v = \sqrt{\bar\alpha_t}\,\epsilon - \sqrt{1-\bar\alpha_t}\,x_0`
        (Salimans and Ho 2022, arXiv:2202.00512, section 4)."""
        return self._at(self.sqrt_alpha_bar, t, x0) * eps - self._at(self.sqrt_one_minus_alpha_bar, t, x0) * x0

    def eps_from_velocity(self, xt: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        r""":math:`\hat\epsilon = \sqrt{1-\bar\alpha_t}\,x_t + \sqrt{\bar\alpha_t}\,\hat v` (from v's definition)."""
        return self._at(self.sqrt_one_minus_alpha_bar, t, xt) * xt + self._at(self.sqrt_alpha_bar, t, xt) * v

    def x0_from_velocity(self, xt: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        r""":math:`\hat x_0 = \sqrt{\bar\alpha_t}\,x_t - \sqrt{1-\bar\alpha_t}\,\hat v` (from v's definition, as
        diffusers computes it). No division: exact where :math:`\bar\alpha_t = 0` (zero terminal SNR), where going
        through :math:`\hat\epsilon` and :meth:`predict_x0` gives 0 / 0."""
        return self._at(self.sqrt_alpha_bar, t, xt) * xt - self._at(self.sqrt_one_minus_alpha_bar, t, xt) * v

    def to_x0(self, prediction: str, xt: torch.Tensor, t: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """Turn a network's output into an estimate of x_0: ``prediction`` is ``"eps"`` (eq. 15) or ``"v"``
        (directly, without eq. 15's division)."""
        if prediction == "eps":
            return self.predict_x0(xt, t, output)
        if prediction == "v":
            return self.x0_from_velocity(xt, t, output)
        raise ValueError(f"Unknown prediction type {prediction!r}: use 'eps' or 'v'.")

    def to_eps(self, prediction: str, xt: torch.Tensor, t: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """Turn a network's output into a noise estimate: ``prediction`` is ``"eps"`` or ``"v"``."""
        if prediction == "eps":
            return output
        if prediction == "v":
            return self.eps_from_velocity(xt, t, output)
        raise ValueError(f"Unknown prediction type {prediction!r}: use 'eps' or 'v'.")


def sampling_timesteps(num_steps: int, num_train_steps: int, *, spacing: str = "trailing") -> torch.Tensor:
    r"""The ``num_steps`` timesteps a sampler visits, descending, as a (num_steps,) long tensor.

    Every spacing is built from the integer count S = ``num_steps``, so it returns exactly S distinct steps in
    ``0..T-1`` for every S in 1..T (a float ``arange(T, 0, -T/S)`` returns S + 1 values ending at -1 for 62 values of
    S at T = 1000, such as 61 and 103: diffusers' own trailing spacing has that bug).

    - ``"trailing"``: :math:`\mathrm{round}(T(S-k)/S) - 1` for k = 0..S-1, rounded exactly (halves to even), starts
      at T-1 (Lin et al. 2023, arXiv:2305.08891, Table 2);
    - ``"leading"``: :math:`k\lfloor T/S \rfloor` for k = S-1..0 (diffusers' DDIM default with ``steps_offset=0``).
      It starts at :math:`(S-1)\lfloor T/S \rfloor`, below T-1 for every S < T when T = 1000 (S = T visits every
      step), so the first step denoises an image that is *less* noisy than the pure noise it starts from.
      Stable Diffusion 1.x adds ``steps_offset=1`` (its diffusers configs; CompVis' ``make_ddim_timesteps`` adds
      one): 901, 801, ..., 1 at 10 steps with T = 1000, where this spacing gives 900, 800, ..., 0;
    - ``"linspace"``: evenly spaced from T-1 to 0, rounded;
    - ``"quadratic"``: :math:`(T-1)(k/(S-1))^2`, from T-1 to 0, dense at low noise where the last steps refine detail
      (after the "quadratic" subsequence of Song et al. 2020, appendix D.2, there scaled to 0.8T).
    """
    if spacing not in SPACINGS:
        raise ValueError(f"Unknown timestep spacing {spacing!r}. Valid spacings: {', '.join(SPACINGS)}.")
    if not 1 <= num_steps <= num_train_steps:
        raise ValueError(
            f"The number of sampling steps must be between 1 and {num_train_steps} (the training steps T), "
            f"got {num_steps}."
        )
    if spacing == "trailing":
        # round(T n / S) for n = S..1 in integers, halves to even (T n / S is exact: no float step accumulates)
        n = torch.arange(num_steps, 0, -1, dtype=torch.long)
        q, r = torch.div(num_train_steps * n, num_steps, rounding_mode="floor"), (num_train_steps * n) % num_steps
        up = (2 * r > num_steps) | ((2 * r == num_steps) & (q % 2 == 1))
        t = (q + up.long() - 1).double()
    elif spacing == "leading":
        t = (torch.arange(num_steps, dtype=torch.float64) * (num_train_steps // num_steps)).flip(0)
    elif spacing == "linspace":
        t = torch.linspace(num_train_steps - 1, 0, num_steps, dtype=torch.float64).round()
    else:
        k = torch.linspace(1, 0, num_steps, dtype=torch.float64)
        t = ((num_train_steps - 1) * k**2).floor()
        for i in range(num_steps - 2, -1, -1):  # keep the steps distinct where the parabola is flat
            t[i] = max(t[i].item(), t[i + 1].item() + 1)
        t[0] = num_train_steps - 1
    return t.long()


FLOW_T_SAMPLING = ("uniform", "logit_normal")


@dataclass(frozen=True)
class FlowSchedule:
    r"""The straight path of rectified flow and flow matching, in continuous time :math:`t \in [0, 1]`:

    .. math:: x_t = (1 - t)\,x_0 + t\,\epsilon, \qquad u = \frac{dx_t}{dt} = \epsilon - x_0,

    t = 0 the data, t = 1 pure noise (Liu et al. 2022, arXiv:2209.03003; Lipman et al. 2022, arXiv:2210.02747, with
    :math:`\sigma_{min} = 0`; the convention of Stable Diffusion 3, Esser et al. 2024, arXiv:2403.03206, eq. 3 and
    section 3.1). The network regresses the velocity :math:`u`.

    ``t_sampling`` is how training draws t: ``"uniform"``, or SD3's ``"logit_normal"`` (their eq. 19:
    :math:`t = \mathrm{sigmoid}(u)`, :math:`u \sim \mathcal{N}(m, s^2)`, which weights the middle of the path,
    where the velocity is hardest to predict). ``shift`` moves the sampling grid towards the noise
    (:meth:`shift_t`; SD3 uses 3.0 at 1024 x 1024, their section 5.3.2); 1 leaves it uniform.
    Every method takes t as a float tensor (B,) (or a scalar) and broadcasts over images (B, C, H, W).
    """

    t_sampling: str = "logit_normal"
    logit_mean: float = 0.0  # m
    logit_std: float = 1.0  # s
    shift: float = 1.0

    def __post_init__(self):
        if self.t_sampling not in FLOW_T_SAMPLING:
            raise ValueError(f"Unknown t_sampling {self.t_sampling!r}. Valid: {', '.join(FLOW_T_SAMPLING)}.")
        if self.logit_std <= 0 or self.shift <= 0:
            raise ValueError(f"logit_std and shift must be > 0, got {self.logit_std} and {self.shift}.")

    @staticmethod
    def _at(t, like: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
        return t.view(-1, *([1] * (like.ndim - 1))) if t.ndim else t

    def add_noise(self, x0: torch.Tensor, eps: torch.Tensor, t) -> torch.Tensor:
        r""":math:`x_t = (1-t)x_0 + t\epsilon`."""
        t = self._at(t, x0)
        return (1 - t) * x0 + t * eps

    @staticmethod
    def velocity(x0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        r"""The conditional velocity :math:`u = \epsilon - x_0` (the regression target)."""
        return eps - x0

    def to_x0(self, xt: torch.Tensor, t, velocity: torch.Tensor) -> torch.Tensor:
        r""":math:`\hat x_0 = x_t - t\,\hat u` (the path is straight, so one step of length t lands on the data)."""
        return xt - self._at(t, xt) * velocity

    def to_eps(self, xt: torch.Tensor, t, velocity: torch.Tensor) -> torch.Tensor:
        r""":math:`\hat\epsilon = x_t + (1-t)\,\hat u`."""
        return xt + (1 - self._at(t, xt)) * velocity

    def velocity_from_eps(self, xt: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
        r""":math:`\hat u = (\hat\epsilon - x_t)/(1-t)`, the inverse of :meth:`to_eps` (t < 1)."""
        return (eps - xt) / (1 - self._at(t, xt))

    def score(self, xt: torch.Tensor, t, velocity: torch.Tensor) -> torch.Tensor:
        r"""Tweedie's formula on this path: :math:`\nabla\log p_t(x) = -\mathbb{E}[\epsilon \mid x_t]/t =
        -\hat\epsilon/t` (t > 0)."""
        return -self.to_eps(xt, t, velocity) / self._at(t, xt)

    def draw_t(self, n: int, *, rng: torch.Generator | None = None) -> torch.Tensor:
        """``n`` training times in (0, 1), float32 (n,), drawn on the CPU with ``rng``."""
        if self.t_sampling == "uniform":
            return torch.rand(n, generator=rng)
        return torch.sigmoid(self.logit_mean + self.logit_std * torch.randn(n, generator=rng))

    def t_density(self, t: torch.Tensor) -> torch.Tensor:
        """The density of :meth:`draw_t` at t in (0, 1) (SD3 eq. 19 for the logit-normal), float64."""
        t = torch.as_tensor(t, dtype=torch.float64)
        if self.t_sampling == "uniform":
            return torch.ones_like(t)
        logit = torch.log(t / (1 - t))
        z = (logit - self.logit_mean) / self.logit_std
        return torch.exp(-0.5 * z**2) / (self.logit_std * math.sqrt(2 * math.pi) * t * (1 - t))

    def shift_t(self, t: torch.Tensor) -> torch.Tensor:
        r"""SD3's resolution shift :math:`t' = \alpha t / (1 + (\alpha - 1) t)` with :math:`\alpha` = ``shift``
        (Esser et al. 2024, section 5.3.2; diffusers' ``FlowMatchEulerDiscreteScheduler``): keeps 0 and 1."""
        return self.shift * t / (1 + (self.shift - 1) * t)

    def sampling_times(self, num_steps: int) -> torch.Tensor:
        """The S + 1 times a sampler visits, from 1 (noise) to 0 (data), float32 (S + 1,): uniform, then shifted."""
        if num_steps < 1:
            raise ValueError(f"The number of sampling steps must be at least 1, got {num_steps}.")
        return self.shift_t(torch.linspace(1, 0, num_steps + 1, dtype=torch.float64)).float()

    @staticmethod
    def from_diffusion(xt: torch.Tensor, alpha_bar) -> tuple[torch.Tensor, torch.Tensor]:
        r"""A diffusion state in flow variables: :math:`x_t = \alpha x_0 + \sigma\epsilon` with
        :math:`\alpha = \sqrt{\bar\alpha}`, :math:`\sigma = \sqrt{1-\bar\alpha}` is the flow's point
        :math:`x_t/(\alpha+\sigma)` at :math:`t = \sigma/(\alpha+\sigma)` (the same x_0 and noise, rescaled).
        Returns ``(x_flow, t)``; ``alpha_bar`` a float or a tensor (B,)."""
        ab = torch.as_tensor(alpha_bar, dtype=torch.float64)
        alpha, sigma = ab.sqrt(), (1 - ab).sqrt()
        scale = (alpha + sigma).to(xt.dtype)
        t = (sigma / (alpha + sigma)).to(xt.dtype)
        return xt / FlowSchedule._at(scale.to(xt.device), xt), t


__all__ = [
    "FLOW_T_SAMPLING",
    "FlowSchedule",
    "NoiseSchedule",
    "Posterior",
    "SCHEDULES",
    "SPACINGS",
    "cosine_betas",
    "linear_betas",
    "rescale_zero_terminal_snr",
    "sampling_timesteps",
]
