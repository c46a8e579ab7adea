"""Adversarial diffusion distillation: the discriminator (models/distill.py), one training step, resume, export and
sampling (train/distill.py, sample/distill.py), on a tiny teacher with the shipped text encoder and autoencoder."""

from dataclasses import asdict, replace

import pytest
import torch

from sdgan_course.models.distill import DistillDiscriminator, encoder_features, pooled_prompt
from sdgan_course.models.unet import UNet
from sdgan_course.sample.distill import generate_student, student_timesteps
from sdgan_course.train.distill import (
    DistillRun,
    DistillTrainConfig,
    export_distill,
    latent_diffusion,
    load_distill,
    student_draw,
    train_distill,
)
from sdgan_course.train.ldm import LDMTrainConfig, ldm_unet_config, prepare_ldm_data, shipped_frozen_parts


@pytest.fixture(scope="module")
def teacher_state():
    clip_state, ae_state = shipped_frozen_parts()
    torch.manual_seed(0)
    cfg = ldm_unet_config("ci", context_dim=clip_state["config"]["width"])
    return {"unet_config": asdict(cfg), "train_config": asdict(LDMTrainConfig.preset("ci")), "step": 7,
            "ema_model": UNet(cfg).state_dict(), "text_encoder": clip_state, "autoencoder": ae_state}


@pytest.fixture(scope="module")
def data(teacher_state):
    return prepare_ldm_data(DistillRun(teacher_state, DistillTrainConfig.preset("ci")))


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module):
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


def test_encoder_features_are_the_unets_own(teacher_state):
    unet = latent_diffusion(teacher_state).unet
    x, t = torch.randn(2, 4, 7, 7), torch.tensor([3, 500])
    ctx, mask = torch.randn(2, 5, unet.config.context_dim), torch.ones(2, 5, dtype=torch.bool)
    seen = {}
    unet.downsample[0].register_forward_hook(lambda m, i, o: seen.setdefault("level0", i[0]))
    unet.mid.cross[1].register_forward_hook(lambda m, i, o: seen.setdefault("mid", o))
    unet(x, t, context=ctx, context_mask=mask)
    features = encoder_features(unet, x, t, ctx, mask)
    assert torch.allclose(features[0], seen["level0"]) and torch.allclose(features[-1], seen["mid"])
    assert [f.shape[1] for f in features] == [16, 32, 32]


def test_discriminator_trains_only_its_heads_and_reads_the_prompt(teacher_state):
    unet = latent_diffusion(teacher_state).unet
    disc = DistillDiscriminator(unet)
    trainable = {n for n, p in disc.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("heads.") for n in trainable)
    x = torch.randn(2, 4, 7, 7, requires_grad=True)
    ctx, mask = torch.randn(2, 5, unet.config.context_dim), torch.ones(2, 5, dtype=torch.bool)
    logits = disc(x, torch.tensor([0, 10]), ctx, mask)
    assert [tuple(lg.shape) for lg in logits] == [(2, 49), (2, 16), (2, 16)]
    sum(lg.sum() for lg in logits).backward()
    assert x.grad is not None and all(p.grad is None for p in unet.parameters())
    with torch.no_grad():  # the projection: another prompt, other logits
        other = disc(x, torch.tensor([0, 10]), ctx.flip(0), mask)
    assert not torch.allclose(logits[0], other[0])
    assert torch.allclose(pooled_prompt(torch.ones(1, 3, 2), torch.tensor([[True, True, False]])), torch.ones(1, 2))


@pytest.mark.parametrize("weights", [(1.0, 2.5), (0.0, 2.5), (1.0, 0.0)], ids=["both", "distill-only", "adv-only"])
def test_one_step_moves_the_student_never_the_teacher(teacher_state, data, weights):
    cfg = DistillTrainConfig.preset("ci", adversarial_weight=weights[0], distill_weight=weights[1])
    run = DistillRun(teacher_state, cfg)
    student, heads, teacher = params(run.student), params(run.discriminator.heads), params(run.teacher.unet)
    train_distill(run, data, steps=1, progress=False)
    assert changed(student, run.student)
    assert not changed(teacher, run.teacher.unet)
    assert changed(heads, run.discriminator.heads) == bool(weights[0])  # no adversarial loss: no discriminator step
    assert ("loss_d" in run.history) == bool(weights[0]) and ("distill" in run.history) == bool(weights[1])


def test_resume_continues_exactly(teacher_state, data, tmp_path):
    cfg = DistillTrainConfig.preset("ci", steps=3)
    straight = DistillRun(teacher_state, cfg)
    train_distill(straight, data, progress=False)
    first = DistillRun(teacher_state, cfg)
    train_distill(first, data, steps=2, checkpoint_path=tmp_path / "run.pt", progress=False)
    resumed = DistillRun.load(tmp_path / "run.pt")
    assert resumed.step == 2
    train_distill(resumed, data, progress=False)
    for a, b in zip(straight.student.parameters(), resumed.student.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert straight.history["loss"] == pytest.approx(resumed.history["loss"])


def test_export_load_and_sample(teacher_state, data, tmp_path):
    run = DistillRun(teacher_state, DistillTrainConfig.preset("ci"))
    train_distill(run, data, steps=2, progress=False)
    path = export_distill(run, tmp_path / "student.pt", seconds=1.0)
    assert "opt" not in torch.load(path, weights_only=True)
    with pytest.raises(Exception, match="cannot be resumed"):
        DistillRun.load(path)
    student = load_distill(path)
    for a, b in zip(student.unet.parameters(), run.ema.model.parameters(), strict=True):
        assert torch.equal(a, b)  # the EMA student
    assert student.info["seconds"] == 1.0 and student.info["distill_config"]["student_steps"] == 4
    images = generate_student(student, "a photo of a bag", 3, steps=4, rng=torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 28, 28) and images.abs().max() <= 1
    # one step is one call of the student at t = 999 from the same noise, decoded
    _, z = generate_student(student, "a photo of a bag", 2, steps=1, rng=torch.Generator().manual_seed(1),
                            return_latents=True)
    noise = torch.randn((2, 4, 7, 7), generator=torch.Generator().manual_seed(1))
    ctx = student.encode_prompts(["a photo of a bag"] * 2)
    t = torch.full((2,), 999)
    with torch.no_grad():
        x0 = student.schedule.predict_x0(noise, t, student.unet(noise, t, context=ctx.tokens, context_mask=ctx.mask))
    assert torch.allclose(z, x0, atol=1e-5)


def test_bad_configs_and_steps_say_why():
    assert student_timesteps(4, 1000).tolist() == [999, 749, 499, 249]
    assert student_timesteps(1, 1000).tolist() == [999]
    with pytest.raises(ValueError, match="1 to 4 steps"):
        student_timesteps(5, 1000)
    with pytest.raises(ValueError, match="not both 0"):
        DistillTrainConfig(adversarial_weight=0, distill_weight=0)
    with pytest.raises(ValueError, match="Unknown weighting"):
        replace(DistillTrainConfig(), weighting="sds")
    with pytest.raises(ValueError, match="first_share"):
        DistillTrainConfig(first_share=0.0)


def test_first_share_draws_the_one_step_timestep_that_often():
    rng = torch.Generator().manual_seed(0)
    assert student_draw(4, 50, 1.0, rng).eq(0).all()
    share = student_draw(4, 20_000, 0.5, rng).eq(0).float().mean().item()
    uniform = student_draw(4, 20_000, None, rng).eq(0).float().mean().item()
    assert abs(share - 0.5) < 0.02 and abs(uniform - 0.25) < 0.02
