"""The flow commands: ``train flow`` (the miniature Stable Diffusion 3: rectified flow with an MMDiT, on notebook 11's
latents, captions and text encoder) and ``sample flow``, with the same options as ``train ldm`` and ``sample ldm``
(:func:`.ldm.add_family_commands`)."""

from __future__ import annotations

from ..sample.ldm import FLOW_SAMPLERS
from ..train.flow import FlowRun, FlowTrainConfig, load_flow, mmdit_config
from .ldm import LatentFamily, add_family_commands

FLOW = LatentFamily("flow", FlowRun, FlowTrainConfig, mmdit_config, "width",
                    "rectified-flow transformer (MMDiT)", load_flow, FLOW_SAMPLERS, "euler",
                    "data/checkpoints/flow_fashion_mnist.pt")


def add_commands(*, train, sample) -> None:
    """Add ``flow`` to the ``train`` and ``sample`` command groups."""
    add_family_commands(FLOW, train=train, sample=sample)


__all__ = ["FLOW", "add_commands"]
