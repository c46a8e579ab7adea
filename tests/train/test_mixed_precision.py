"""One mixed-precision path for every family: fp16 + loss scaling before Ampere (Colab's T4), bf16 from Ampere on,
nothing on the CPU. The CUDA capability is mocked where the code asks for it; the steps themselves run on the CPU."""

import pytest
import torch

from sdgan_course.models.toy import ToyDiscriminator, ToyGenerator
from sdgan_course.models.unet import UNet, UNetConfig
from sdgan_course.schedules import NoiseSchedule
from sdgan_course.train import loop
from sdgan_course.train.diffusion import diffusion_train_step
from sdgan_course.train.gan import gan_train_step, make_gan_optimizers
from sdgan_course.train.ldm import ldm_train_step
from sdgan_course.train.loop import MixedPrecision, mixed_precision


def fake_cuda(monkeypatch, capability, bf16):
    monkeypatch.delenv("SDGAN_AMP_DTYPE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)


@pytest.mark.parametrize("capability,bf16", [((7, 5), False), ((7, 5), True), ((6, 0), False)])
def test_pre_ampere_gpus_get_fp16_with_an_enabled_scaler(monkeypatch, capability, bf16):
    """T4 (7.5), P100 (6.0): fp16 autocast, whose gradients underflow without loss scaling. Recent torch reports bf16
    as 'supported' on a T4 (emulated, slow): the capability decides, not is_bf16_supported."""
    fake_cuda(monkeypatch, capability, bf16)
    mp = MixedPrecision("cuda")
    assert mp.dtype == torch.float16
    assert mp.scaler is not None and mp.scaler.is_enabled()


@pytest.mark.parametrize("capability", [(8, 0), (8, 6), (9, 0)])
def test_ampere_and_later_get_bf16_and_need_no_scaler(monkeypatch, capability):
    fake_cuda(monkeypatch, capability, True)
    mp = MixedPrecision("cuda")
    assert mp.dtype == torch.bfloat16 and mp.scaler is None


def test_the_cpu_and_amp_off_are_a_no_op(monkeypatch):
    fake_cuda(monkeypatch, (7, 5), False)
    for mp in (MixedPrecision("cpu"), MixedPrecision("cuda", enabled=False)):
        assert mp.dtype is None and mp.scaler is None
        with mp.autocast():
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_the_dtype_can_be_forced_for_a_gpu_check(monkeypatch):
    fake_cuda(monkeypatch, (9, 0), True)
    monkeypatch.setenv("SDGAN_AMP_DTYPE", "float16")
    mp = MixedPrecision("cuda")
    assert mp.dtype == torch.float16 and mp.scaler.is_enabled()
    monkeypatch.setenv("SDGAN_AMP_DTYPE", "int8")
    with pytest.raises(ValueError, match="SDGAN_AMP_DTYPE"):
        MixedPrecision("cuda")


def test_an_optimiser_keeps_one_scaler_across_steps(monkeypatch):
    """The loss scale adapts over steps: a scaler made afresh every step would restart at 65536 each time."""
    fake_cuda(monkeypatch, (7, 5), False)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    assert mixed_precision(opt, "cuda", True) is mixed_precision(opt, "cuda", True)
    assert mixed_precision(opt, "cuda", False).scaler is None  # asking for another setting replaces it


def params(model):
    return [p.detach().clone() for p in model.parameters()]


def changed(before, model):
    return any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.fixture
def count_shared_steps(monkeypatch):
    """Count the optimiser steps that go through the shared path."""
    calls = []
    original = MixedPrecision.step

    def counted(self, loss, opt, model, **kwargs):
        calls.append(self.scaler is not None)
        return original(self, loss, opt, model, **kwargs)

    monkeypatch.setattr(MixedPrecision, "step", counted)
    return calls


def test_gan_diffusion_and_ldm_steps_share_the_path_and_learn(count_shared_steps, tiny_ldm_run):
    g, d = ToyGenerator(z_dim=2, data_dim=2), ToyDiscriminator(data_dim=2)
    opt_g, opt_d = make_gan_optimizers(g, d)
    before = params(g)
    gan_train_step(g, d, opt_g, opt_d, torch.randn(16, 2), z_dim=2, amp=True, rng=torch.Generator().manual_seed(0))
    assert changed(before, g) and len(count_shared_steps) == 2  # D, then G

    unet = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_levels=(), num_res_blocks=1, groups=4))
    opt = torch.optim.Adam(unet.parameters(), lr=1e-3)
    before = params(unet)
    stats = diffusion_train_step(unet, opt, torch.rand(4, 1, 8, 8) * 2 - 1, NoiseSchedule.from_name("linear", 50),
                                 amp=True, rng=torch.Generator().manual_seed(0))
    assert changed(before, unet) and len(count_shared_steps) == 3 and stats["grad_norm"] > 0

    run = tiny_ldm_run()
    latents = torch.randn(4, run.unet_config.in_channels, 7, 7)
    context = torch.randn(4, 3, run.unet_config.context_dim)
    before = params(run.model)
    ldm_train_step(run.model, run.opt, latents, context, torch.ones(4, 3, dtype=torch.bool), run.schedule, amp=True,
                   rng=torch.Generator().manual_seed(0))
    assert changed(before, run.model) and len(count_shared_steps) == 4
    assert not any(count_shared_steps)  # no scaler on the CPU


def test_a_scaled_step_on_the_cpu_learns_and_reports_the_unscaled_norm():
    """The fp16 path (scale, unscale, clip, step, update) exercised on the CPU with a CPU GradScaler."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mp = MixedPrecision("cpu", scaler=torch.amp.GradScaler("cpu", init_scale=1024.0)).attach(opt)
    assert mixed_precision(opt, "cpu", True) is mp
    x = torch.randn(8, 3)
    loss = model(x).pow(2).mean()
    loss.backward()
    plain = loop.grad_norm(model).item()
    model.zero_grad()
    before = params(model)
    norm = mp.step(model(x).pow(2).mean(), opt, model)
    assert norm.item() == pytest.approx(plain, rel=1e-5)  # unscaled, not 1024 times larger
    assert changed(before, model) and mp.skipped_steps == 0


def test_an_overflowing_fp16_step_is_skipped_not_called_divergence():
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mp = MixedPrecision("cpu", scaler=torch.amp.GradScaler("cpu", init_scale=1e38))
    before = params(model)
    norm = mp.step(model(torch.randn(8, 3) * 1e3).pow(2).mean(), opt, model)
    assert not changed(before, model) and mp.skipped_steps == 1
    assert norm.item() == 0.0 and mp.scaler.get_scale() < 1e38  # the scaler lowers the scale; the loop goes on
