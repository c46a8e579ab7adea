r"""Adversarial diffusion distillation (ADD): every loss term of the student and of its discriminator.

ADD (Sauer et al. 2023, arXiv:2311.17042, section 3) turns a diffusion model (the *teacher*, weights :math:`\psi`,
frozen) into a 1-4 step generator (the *student*, weights :math:`\theta`, initialised from the teacher). The student
sees a noised training image :math:`x_s = \alpha_s x_0 + \sigma_s \epsilon` at one of a few student timesteps
:math:`s \in \{\tau_1, \dots, \tau_n\}` and predicts the clean image :math:`\hat x_\theta(x_s, s)`. Two losses pull on
that prediction (section 3.2):

.. math:: \mathcal{L} = \mathcal{L}^G_{adv}(\hat x_\theta, \phi) + \lambda\,\mathcal{L}_{distill}(\hat x_\theta,
          \psi), \qquad \lambda = 2.5 \text{ in the paper},

- the **adversarial loss**, against a discriminator :math:`\phi` made of frozen features :math:`F_k` and trainable heads
  :math:`D_{\phi,k}` (one per feature level), in the hinge form (Lim and Ye 2017, arXiv:1705.02894):

  .. math:: \mathcal{L}^G_{adv} = -\mathbb{E}\Big[\sum_k D_{\phi,k}\big(F_k(\hat x_\theta)\big)\Big],

  .. math:: \mathcal{L}^D_{adv} = \mathbb{E}_{x_0}\Big[\sum_k \max(0, 1 - D_{\phi,k}(F_k(x_0))) + \gamma R1(\phi)\Big]
            + \mathbb{E}_{\hat x_\theta}\Big[\sum_k \max(0, 1 + D_{\phi,k}(F_k(\hat x_\theta)))\Big],

  with the R1 penalty of Mescheder et al. 2018 (arXiv:1801.04406) on real data. The discriminator's loss sees the
  student's output **detached** (its step must not move the student); the student's loss back-propagates through the
  frozen features into :math:`\hat x_\theta` (and also fills the heads' ``.grad``, which the discriminator's step
  clears before it uses them: only the student's optimiser acts on that backward).
- the **distillation loss**: re-noise the student's output to a teacher timestep t with fresh noise,
  :math:`\hat x_{\theta,t} = \alpha_t \hat x_\theta + \sigma_t \epsilon'`, let the teacher denoise it, and pull the
  student's output towards the teacher's answer:

  .. math:: \mathcal{L}_{distill} = \mathbb{E}_{t, \epsilon'}\Big[c(t)\, d\big(\hat x_\theta,
            \hat x_\psi(\mathrm{sg}(\hat x_{\theta,t}); t)\big)\Big],

  where sg is the stop-gradient: the gradient reaches the student only through the first argument, never through the
  teacher. d is the squared L2 distance (the paper's choice) and :math:`c(t)` a weighting; ADD's "exponential"
  weighting is :math:`c(t) = \alpha_t`, here :math:`\sqrt{\bar\alpha_t}`, which trusts the teacher where it sees most
  of the student's image (a teacher at high noise only knows the blurred posterior mean).

The hinge losses and R1 are the course's own (:mod:`sdgan_course.losses.gan`, notebook 04); this module sums them over
the heads. The schedule's notation: :math:`\alpha_t = \sqrt{\bar\alpha_t}`, :math:`\sigma_t = \sqrt{1-\bar\alpha_t}`.

Shape legend: B batch, C latent channels, h x w latent pixels; a head's logits are (B, P) over P positions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..schedules import NoiseSchedule
from .gan import discriminator_loss, generator_loss, r1_penalty

DISTILL_WEIGHTINGS = ("exponential", "uniform")

X0Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t (B, C, h, w), t (B,)) -> x0 estimate


def _heads(logits: Sequence[torch.Tensor] | torch.Tensor) -> list[torch.Tensor]:
    heads = [logits] if isinstance(logits, torch.Tensor) else list(logits)
    if not heads:
        raise ValueError("The discriminator gave no logits: it needs at least one head.")
    return heads


def adversarial_generator_loss(fake_logits: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    r"""The student's adversarial loss :math:`\mathcal{L}^G_{adv} = -\mathbb{E}[\sum_k D_{\phi,k}(F_k(\hat x_\theta))]`
    (Sauer et al. 2023, arXiv:2311.17042, section 3.2): the hinge generator loss of
    :func:`~sdgan_course.losses.gan.generator_loss`, summed over the heads (each averaged over its positions)."""
    return sum(generator_loss("hinge", f) for f in _heads(fake_logits))


def adversarial_discriminator_loss(real_logits: Sequence[torch.Tensor] | torch.Tensor,
                                   fake_logits: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    r"""The discriminator's hinge loss, summed over the heads (Sauer et al. 2023, section 3.2, without its R1 term):
    :math:`\sum_k \mathbb{E}[\max(0, 1 - D_k(F_k(x_0)))] + \mathbb{E}[\max(0, 1 + D_k(F_k(\hat x_\theta)))]`.
    The fake logits must come from a **detached** student output (:func:`discriminator_objective` does it)."""
    real, fake = _heads(real_logits), _heads(fake_logits)
    if len(real) != len(fake):
        raise ValueError(f"{len(real)} real heads but {len(fake)} fake ones: use the same discriminator for both.")
    return sum(discriminator_loss("hinge", r, f) for r, f in zip(real, fake, strict=True))


def discriminator_objective(discriminator: Callable[[torch.Tensor], Sequence[torch.Tensor]], real: torch.Tensor,
                            fake: torch.Tensor, *, r1_gamma: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    r""":math:`\mathcal{L}^D_{adv}` whole: the hinge loss on ``real`` (B, C, h, w) and the **detached** ``fake``, plus
    :math:`\frac{\gamma}{2} R1` (Mescheder et al. 2018, eq. 9; :func:`~sdgan_course.losses.gan.r1_penalty`, the
    gradient of the heads' summed logits with respect to the real input). ``discriminator(x)`` returns the heads'
    logits for a fixed conditioning (bind the prompt first). Returns ``(loss, r1)``; r1 is 0 when ``r1_gamma`` is 0
    (not computed: it needs a second backward through the features)."""
    loss = adversarial_discriminator_loss(discriminator(real), discriminator(fake.detach()))
    r1 = torch.zeros((), device=real.device)
    if r1_gamma > 0:
        # R1 back-propagates through a gradient (a double backward); PyTorch's fused CPU attention kernels have no
        # second derivative, the plain ("math") one has.
        with sdpa_kernel(SDPBackend.MATH):
            r1 = r1_penalty(lambda x: torch.cat([h.flatten(1) for h in discriminator(x)], dim=1), real)
        loss = loss + 0.5 * r1_gamma * r1
    return loss, r1


def renoise(x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, schedule: NoiseSchedule) -> torch.Tensor:
    r""":math:`\hat x_{\theta,t} = \alpha_t\,\mathrm{sg}(\hat x_\theta) + \sigma_t \epsilon'`: the student's output,
    **detached**, re-noised to the teacher's timestep ``t`` (B,) with fresh noise ``eps`` (B, C, h, w)."""
    return schedule.add_noise(x0.detach(), eps, t)


def distillation_weight(schedule: NoiseSchedule, t: torch.Tensor, weighting: str = "exponential") -> torch.Tensor:
    r""":math:`c(t)`, (B,): ``"exponential"`` is ADD's :math:`c(t) = \alpha_t = \sqrt{\bar\alpha_t}` (Sauer et al.
    2023, section 3.2 and their ablation of the weighting), ``"uniform"`` is 1."""
    if weighting not in DISTILL_WEIGHTINGS:
        raise ValueError(f"Unknown distillation weighting {weighting!r}. Valid: {', '.join(DISTILL_WEIGHTINGS)}.")
    t = torch.as_tensor(t).long()
    if weighting == "uniform":
        return torch.ones(t.shape, dtype=torch.float32)
    return schedule.sqrt_alpha_bar[t.cpu()].float()


def distillation_loss(x0_student: torch.Tensor, teacher_x0: X0Fn, schedule: NoiseSchedule, t: torch.Tensor,
                      eps: torch.Tensor, *, weighting: str = "exponential") -> torch.Tensor:
    r""":math:`\mathcal{L}_{distill} = \mathbb{E}[c(t)\,\lVert \hat x_\theta -
    \hat x_\psi(\mathrm{sg}(\hat x_{\theta,t}); t)\rVert^2]` (Sauer et al. 2023, section 3.2), d the squared L2 distance
    averaged over the latent's entries.

    ``x0_student`` (B, C, h, w) the student's prediction, with its graph; ``teacher_x0(x_t, t)`` the teacher's
    estimate of the clean latent (guided or not), run under ``torch.no_grad`` on the re-noised, detached input:
    the teacher never receives a gradient and the target is a constant; ``t`` (B,) teacher timesteps, ``eps`` the
    fresh noise :math:`\epsilon'`."""
    xt = renoise(x0_student, eps, t, schedule)  # (B, C, h, w), no graph
    with torch.no_grad():
        target = teacher_x0(xt, t).float()  # (B, C, h, w): sg(x_psi)
    weight = distillation_weight(schedule, t, weighting).to(x0_student.device)  # (B,)
    per_sample = (x0_student.float() - target).pow(2).flatten(1).mean(1)  # (B,)
    return (weight * per_sample).mean()


def student_objective(fake_logits: Sequence[torch.Tensor] | None, distill: torch.Tensor | None, *,
                      adversarial_weight: float = 1.0, distill_weight: float = 2.5) -> torch.Tensor:
    r"""The student's total :math:`\mathcal{L} = w_{adv}\mathcal{L}^G_{adv} + \lambda\mathcal{L}_{distill}` (Sauer et
    al. 2023, section 3.2, :math:`w_{adv} = 1`, :math:`\lambda = 2.5`). A term whose weight is 0 may be ``None``
    (the ablations: adversarial only, distillation only)."""
    terms = []
    if adversarial_weight:
        if fake_logits is None:
            raise ValueError("adversarial_weight > 0 needs the discriminator's logits on the student's output.")
        terms.append(adversarial_weight * adversarial_generator_loss(fake_logits))
    if distill_weight:
        if distill is None:
            raise ValueError("distill_weight > 0 needs the distillation loss.")
        terms.append(distill_weight * distill)
    if not terms:
        raise ValueError("Both weights are 0: the student would learn nothing. Give one of them a positive weight.")
    return sum(terms)


__all__ = [
    "DISTILL_WEIGHTINGS",
    "adversarial_discriminator_loss",
    "adversarial_generator_loss",
    "discriminator_objective",
    "distillation_loss",
    "distillation_weight",
    "renoise",
    "student_objective",
]
