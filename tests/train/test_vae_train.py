"""Training the VAEs: one step changes the parameters, save/resume/export round trips, bad checkpoints, the
``train vae`` / ``train autoencoder`` commands on a fresh parser, and the shipped autoencoder's quality."""

import argparse
import json

import pytest
import torch

from sdgan_course.checkpoint import CheckpointError, save_checkpoint
from sdgan_course.losses.vae import ClassifierPerceptualLoss
from sdgan_course.metrics.reconstruction import psnr
from sdgan_course.models.classifier import ClassifierConfig, CourseClassifier
from sdgan_course.models.vae import AutoencoderConfig, VAEConfig
from sdgan_course.train.vae import (
    AutoencoderRun,
    AutoencoderTrainConfig,
    VAERun,
    VAETrainConfig,
    autoencoder_train_step,
    export_autoencoder,
    load_autoencoder,
    load_vae,
    train_autoencoder,
    train_vae,
    vae_train_step,
)


def images(n=32, size=28, seed=0):
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def params(model):
    return [p.detach().clone() for p in model.parameters()]


def changed(before, model):
    return any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def tiny_perceptual():
    torch.manual_seed(0)
    return ClassifierPerceptualLoss(CourseClassifier(config=ClassifierConfig(width=4)))


@pytest.mark.parametrize("cls, overrides", [
    (VAETrainConfig, dict(steps=3, batch_size=2, beta=0.5)),
    (AutoencoderTrainConfig, dict(steps=3, disc_start=1, disc_channels=4)),
])
def test_train_presets_keep_the_contract(check_preset, cls, overrides):
    check_preset(cls.preset, f"{cls.__name__}.preset", **overrides)


def test_vae_step_changes_the_parameters_and_returns_finite_stats():
    run = VAERun(VAEConfig.preset("ci"), VAETrainConfig.preset("ci"))
    before = params(run.model)
    stats = vae_train_step(run.model, run.opt, images(), rng=run.rng)
    assert changed(before, run.model)
    assert set(stats) == {"loss", "elbo", "reconstruction", "kl", "grad_norm"}
    assert all(torch.isfinite(torch.tensor(v)) for v in stats.values())


def test_autoencoder_step_updates_autoencoder_then_discriminator_only_after_disc_start():
    run = AutoencoderRun(AutoencoderConfig.preset("ci"), AutoencoderTrainConfig.preset("ci"))
    ae_before, d_before = params(run.model), params(run.discriminator)
    kw = dict(perceptual=tiny_perceptual(), discriminator=run.discriminator, opt_d=run.opt_d, disc_start=1,
              rng=run.rng)
    stats = autoencoder_train_step(run.model, run.opt, images(8), step=0, **kw)
    assert changed(ae_before, run.model) and not changed(d_before, run.discriminator)
    assert stats["adaptive_weight"] == 0 and "d_loss" not in stats
    stats = autoencoder_train_step(run.model, run.opt, images(8), step=1, **kw)
    assert changed(d_before, run.discriminator)
    assert stats["adaptive_weight"] > 0 and "d_loss" in stats


def test_autoencoder_without_adversarial_term_has_no_discriminator():
    run = AutoencoderRun(AutoencoderConfig.preset("ci"), AutoencoderTrainConfig.preset("ci", adversarial=False))
    assert run.discriminator is None and run.opt_d is None


def test_autoencoder_run_resumes_and_exports(tmp_path):
    cfg = AutoencoderTrainConfig.preset("ci", steps=4, disc_start=2, checkpoint_every=2)
    run = AutoencoderRun(AutoencoderConfig.preset("ci"), cfg)
    train_autoencoder(run, images(32), tiny_perceptual(), steps=2, checkpoint_path=tmp_path / "c.pt", progress=False)
    resumed = AutoencoderRun.load(tmp_path / "c.pt")
    assert resumed.step == 2
    for a, b in zip(run.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    train_autoencoder(resumed, images(32), tiny_perceptual(), checkpoint_path=tmp_path / "c.pt", progress=False)
    assert resumed.step == 4 and "d_loss" in resumed.history
    export_autoencoder(resumed, tmp_path / "e.pt", scale_images=images(64))
    loaded = load_autoencoder(tmp_path / "e.pt")
    assert loaded.step == 4 and loaded.config.scale_factor != 1.0
    with torch.no_grad():  # float16 storage: close to the float32 weights
        assert torch.allclose(loaded.model.reconstruct(images(4)), resumed.model.eval().reconstruct(images(4)),
                              atol=2e-2)
    with pytest.raises(CheckpointError, match="cannot be resumed"):
        AutoencoderRun.load(tmp_path / "e.pt")


def test_training_rejects_images_with_the_wrong_channels_or_range():
    run = AutoencoderRun(AutoencoderConfig.preset("ci"), AutoencoderTrainConfig.preset("ci"))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        train_autoencoder(run, torch.zeros(32, 3, 28, 28), None, progress=False)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        train_autoencoder(run, torch.full((32, 1, 28, 28), 255.0), None, progress=False)


def test_wrong_kind_and_corrupted_checkpoints_are_clear_errors(tmp_path):
    save_checkpoint(tmp_path / "gan.pt", {"step": 0}, kind="gan")
    with pytest.raises(CheckpointError, match="'gan' checkpoint"):
        load_autoencoder(tmp_path / "gan.pt")
    with pytest.raises(CheckpointError, match="'gan' checkpoint"):
        load_vae(tmp_path / "gan.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupted"):
        load_autoencoder(tmp_path / "bad.pt")
    good = AutoencoderRun(AutoencoderConfig.preset("ci"), AutoencoderTrainConfig.preset("ci"))
    state = good.state()
    state["ae_config"]["base_channels"] = 16  # the weights no longer fit the config
    save_checkpoint(tmp_path / "mismatch.pt", state, kind="autoencoder")
    with pytest.raises(CheckpointError, match="does not match"):
        load_autoencoder(tmp_path / "mismatch.pt")


def test_vae_training_improves_the_elbo_and_resumes(tmp_path):
    cfg = VAETrainConfig.preset("ci", steps=40, batch_size=32)
    run = VAERun(VAEConfig.preset("ci"), cfg)
    train_vae(run, images(256), checkpoint_path=tmp_path / "v.pt", progress=False)
    elbo = run.history["elbo"]
    assert elbo[-1] > elbo[0]
    assert VAERun.load(tmp_path / "v.pt").step == 40
    assert load_vae(tmp_path / "v.pt").config == run.vae_config


def test_psnr_by_hand():
    x = torch.zeros(2, 1, 4, 4)
    y = torch.full((2, 1, 4, 4), 0.2)  # 0.1 in [0, 1] units: MSE 0.01 -> 20 dB
    assert psnr(x, y).tolist() == pytest.approx([20.0, 20.0], rel=1e-5)


def _parser():
    from sdgan_course.cli import vae

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    train = sub.add_parser("train").add_subparsers()
    vae.add_commands(sub, train)
    return parser


def test_train_commands_run_resume_and_export(tmp_path):
    out = tmp_path / "ae"
    base = ["train", "autoencoder", "--profile", "ci", "--out", str(out), "--no-progress", "--threads", "1"]
    args = _parser().parse_args(base + ["--steps", "4", "--eval-every", "4", "--snapshot-every", "2"])
    assert args.func(args) == 0
    row = json.loads((out / "quality.jsonl").read_text().splitlines()[-1])
    assert row["step"] == 4 and row["psnr"] > 0
    assert (out / "recon_step000002.npz").exists()
    args = _parser().parse_args(base + ["--steps", "6", "--export", str(tmp_path / "ae.pt")])
    assert args.func(args) == 0
    assert load_autoencoder(tmp_path / "ae.pt").step == 6
    args = _parser().parse_args(["train", "autoencoder", "--profile", "ci", "--out", str(tmp_path / "plain"),
                                 "--no-adversarial", "--steps", "2", "--no-progress"])
    assert args.func(args) == 0
    assert AutoencoderRun.load(tmp_path / "plain" / "checkpoint.pt").discriminator is None
    args = _parser().parse_args(["train", "vae", "--profile", "ci", "--out", str(tmp_path / "vae"), "--steps", "4",
                                 "--latent-dim", "3", "--beta", "2", "--no-progress"])
    assert args.func(args) == 0
    assert load_vae(tmp_path / "vae" / "checkpoint.pt").config.latent_dim == 3
