"""The GPU profile's speed options, checked on the CPU: fused Adam only on CUDA, torch.compile only behind its flag
(and then on the networks the step uses, never on the ones checkpoints save)."""

import torch

from sdgan_course import device as device_module
from sdgan_course.device import adam_speed_options, maybe_compile
from sdgan_course.models.gan import GANConfig
from sdgan_course.models.unet import UNetConfig
from sdgan_course.train.diffusion import DiffusionRun, DiffusionTrainConfig, train_diffusion
from sdgan_course.train.gan import GANRun, GANTrainConfig, train_gan


def test_fused_adam_on_cuda_only():
    assert adam_speed_options("cuda") == {"fused": True}
    assert adam_speed_options(torch.device("cuda", 1)) == {"fused": True}
    assert adam_speed_options("cpu") == {} and adam_speed_options("mps") == {}
    run = GANRun(GANConfig(arch="mlp", z_dim=4, g_hidden=(8,), d_hidden=(8,)), GANTrainConfig(steps=1))
    assert not run.opt_g.param_groups[0].get("fused")  # the CPU keeps the default update


def test_compile_is_off_by_default_and_wraps_the_step_networks_when_asked(monkeypatch):
    compiled = []

    def fake_compile(model, **kwargs):
        compiled.append(model)
        return model

    monkeypatch.setattr(device_module.torch, "compile", fake_compile)
    model = torch.nn.Linear(2, 2)
    assert maybe_compile(model, False) is model and not compiled
    images = torch.rand(16, 1, 28, 28) * 2 - 1
    gan = GANRun(GANConfig(arch="mlp", z_dim=4, g_hidden=(8,), d_hidden=(8,)),
                 GANTrainConfig(steps=1, batch_size=8, compile=True))
    train_gan(gan, images, progress=False)
    assert compiled == [gan.generator, gan.discriminator] and gan.step == 1
    unet = UNetConfig(base_channels=8, channel_mults=(1,), attention_levels=(), groups=4)
    ddpm = DiffusionRun(unet, DiffusionTrainConfig(steps=1, batch_size=8, p_uncond=0.0, compile=True))
    train_diffusion(ddpm, images, progress=False)
    assert compiled[-1] is ddpm.model and ddpm.step == 1
    assert GANTrainConfig.preset("ci").compile is False and DiffusionTrainConfig.preset("ci").compile is False
