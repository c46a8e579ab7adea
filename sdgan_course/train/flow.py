r"""Training the miniature Stable Diffusion 3: rectified flow with a transformer denoiser, on notebook 11's latents.

Everything but two choices is the latent-diffusion family of :mod:`.ldm`: the same frozen autoencoder and text
encoder, the same precomputed latents, captions, compositions and caption dropout, the same run (EMA, warm-up,
resume, checkpoints) and the same training loop (:func:`~.ldm.train_ldm`). What differs:

- the **objective**: flow matching on the straight path :math:`x_t = (1-t)x_0 + t\epsilon`, regressing the velocity
  :math:`\epsilon - x_0` at logit-normal times (Esser et al. 2024, arXiv:2403.03206, section 3.1 and eq. 19;
  :func:`~sdgan_course.losses.flow.flow_matching_loss`): a config with ``prediction="flow"`` and a
  :class:`~sdgan_course.schedules.FlowSchedule`;
- the **network**: an MMDiT (:class:`~sdgan_course.models.transformer.MMDiT`) instead of the U-Net.

Shape legend: B batch, C latent channels, h x w latent pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..config import profile_sizes
from ..models.ldm import LatentDiffusion
from ..models.transformer import MMDiT, MMDiTConfig
from ..schedules import FlowSchedule
from .ldm import LDM_TRAIN_PRESETS, LDMRun, LDMTrainConfig, load_ldm

CHECKPOINT_KIND = "flow"

FLOW_TRAIN_PRESETS = LDM_TRAIN_PRESETS  # the same steps and batches per profile as the latent U-Net

MMDIT_PRESETS = {
    "ci": dict(width=32, depth=2, num_heads=2),
    "cpu": dict(width=96, depth=4, num_heads=4),  # shipped
    "gpu": dict(width=256, depth=8, num_heads=4),
}


@dataclass(frozen=True)
class FlowTrainConfig(LDMTrainConfig):
    """How to train the flow model: every field of :class:`~.ldm.LDMTrainConfig` (data, compositions, caption
    dropout, optimiser, EMA), with the flow-matching target and its time distribution (``schedule`` and
    ``num_train_steps`` are not used: the time is continuous)."""

    predictions: ClassVar[tuple[str, ...]] = ("flow",)
    prediction: str = "flow"
    schedule: str = "rectified_flow"
    t_sampling: str = "logit_normal"  # SD3's default, logit-normal(0, 1)
    logit_mean: float = 0.0
    logit_std: float = 1.0
    shift: float = 1.0  # the sampling grid's shift (SD3: 3.0 at 1024 x 1024; a 7 x 7 latent needs none)

    def make_schedule(self) -> FlowSchedule:
        return FlowSchedule(self.t_sampling, self.logit_mean, self.logit_std, self.shift)


def mmdit_config(profile: str, context_dim: int, latent_channels: int = 4, **overrides) -> MMDiTConfig:
    """The MMDiT of a profile (:data:`MMDIT_PRESETS`)."""
    sizes = profile_sizes(MMDIT_PRESETS, profile, "mmdit_config", **overrides)
    return MMDiTConfig(in_channels=latent_channels, context_dim=context_dim, **sizes)


class FlowRun(LDMRun):
    """A flow run: an :class:`~.ldm.LDMRun` (frozen parts, EMA, optimiser, warm-up, RNG, history) whose network is
    an MMDiT, trained by flow matching. :func:`~.ldm.prepare_ldm_data` and :func:`~.ldm.train_ldm` serve it."""

    kind = CHECKPOINT_KIND
    network = MMDiT
    network_config = MMDiTConfig
    config_key = "mmdit_config"
    train_config_class = FlowTrainConfig


def load_flow(path: str | Path, *, device=None) -> LatentDiffusion:
    """Load a flow checkpoint (a run or an export, :func:`~.ldm.export_ldm` writes both families) for sampling: a
    :class:`~sdgan_course.models.ldm.LatentDiffusion` whose denoiser is the EMA MMDiT and whose schedule is a
    :class:`~sdgan_course.schedules.FlowSchedule` (``prediction == "flow"``)."""
    return load_ldm(path, device=device, family=FlowRun)


def load_shipped_flow(name: str = "flow_fashion_mnist", *, device=None) -> LatentDiffusion:
    """The miniature SD3 shipped with the course (``data/checkpoints/NAME.pt``, checked against the manifest)."""
    from ..assets import find_asset

    return load_flow(find_asset(f"checkpoints/{name}.pt"), device=device)


__all__ = ["CHECKPOINT_KIND", "FLOW_TRAIN_PRESETS", "MMDIT_PRESETS", "FlowRun", "FlowTrainConfig", "load_flow",
           "load_shipped_flow", "mmdit_config"]
