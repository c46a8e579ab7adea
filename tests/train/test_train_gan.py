import math

import pytest
import torch

from sdgan_course.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from sdgan_course.models.gan import GANConfig, load_gan
from sdgan_course.models.toy import ToyDiscriminator, ToyGenerator
from sdgan_course.sample.gan import generate
from sdgan_course.train.gan import (
    EMA,
    DivergenceError,
    GANRun,
    GANStepConfig,
    GANTrainConfig,
    export_gan,
    gan_train_step,
    make_gan_optimizers,
    train_gan,
)


def tiny_run(conditional=False, **train_overrides):
    gan = GANConfig.preset("ci", conditional=conditional)
    train = GANTrainConfig.preset("ci", **{"steps": 6, "batch_size": 8, "checkpoint_every": 3, "log_every": 1,
                                           **train_overrides})
    return GANRun(gan, train)


def images(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g) * 2 - 1, torch.randint(0, 10, (n,), generator=g)


def params(model):
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("loss", ["minimax", "ns", "lsgan", "hinge", "wgan", "wgan-gp"])
def test_one_step_changes_both_networks(loss):
    run = tiny_run()
    x, _ = images(8)
    before_g, before_d = params(run.generator), params(run.discriminator)
    stats = gan_train_step(run.generator, run.discriminator, run.opt_g, run.opt_d, x, config=GANStepConfig(loss=loss),
                           z_dim=run.gan_config.z_dim, rng=torch.Generator().manual_seed(0))
    assert all(math.isfinite(v) for v in stats.values())
    assert {"loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"} <= set(stats)
    assert any(not torch.equal(a, b) for a, b in zip(before_g, params(run.generator)))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, params(run.discriminator)))
    if loss == "wgan-gp":
        assert "gp" in stats
    if loss == "wgan":
        assert max(p.abs().max().item() for p in run.discriminator.parameters()) <= 0.01 + 1e-7


def test_discriminator_step_does_not_touch_the_generator():
    """The .detach() in the D step: with n_critic D steps only, G's gradients stay empty until its own step."""
    g, d = ToyGenerator(z_dim=2, data_dim=2), ToyDiscriminator(data_dim=2)
    opt_g, opt_d = make_gan_optimizers(g, d)
    seen = []
    opt_g.step = lambda *a, **k: seen.append([p.grad is None for p in g.parameters()])  # record, do not update
    gan_train_step(g, d, opt_g, opt_d, torch.randn(16, 2), z_dim=2, config=GANStepConfig(n_critic=2))
    assert seen == [[False] * len(list(g.parameters()))]  # exactly one G step, with gradients


def test_r1_penalty_is_reported_when_used():
    g, d = ToyGenerator(z_dim=2, data_dim=2), ToyDiscriminator(data_dim=2)
    opt_g, opt_d = make_gan_optimizers(g, d)
    stats = gan_train_step(g, d, opt_g, opt_d, torch.randn(16, 2), z_dim=2, config=GANStepConfig(r1_weight=10.0))
    assert stats["r1"] >= 0


def test_unknown_loss_is_a_clear_error():
    with pytest.raises(ValueError, match="Valid losses"):
        GANTrainConfig(loss="bce2")
    with pytest.raises(ValueError, match="Valid losses"):
        GANStepConfig(loss="bce2")
    with pytest.raises(ValueError, match="n_critic"):
        GANStepConfig(n_critic=0)


def test_the_train_config_passes_the_step_its_hyperparameters_whole():
    cfg = GANTrainConfig.preset("ci", loss="wgan-gp", r1_weight=0.5)
    assert cfg.step_config == GANStepConfig(loss="wgan-gp", n_critic=5, gp_weight=10.0, r1_weight=0.5)


def test_ema_tracks_the_average():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = EMA(model, decay=0.5)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # warm-up decay min(0.5, 2/11) = 2/11
    assert ema.model.weight.item() == pytest.approx(1 - 2 / 11)
    assert not ema.model.weight.requires_grad


def test_save_resume_continues_identically(tmp_path):
    x, _ = images()
    straight = tiny_run()
    train_gan(straight, x, progress=False)

    interrupted = tiny_run()
    path = tmp_path / "run" / "checkpoint.pt"
    train_gan(interrupted, x, steps=3, checkpoint_path=path, progress=False)
    resumed = GANRun.load(path)
    assert resumed.step == 3
    train_gan(resumed, x, checkpoint_path=path, progress=False)
    for a, b in zip(straight.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(straight.ema.model.state_dict().values(), resumed.ema.model.state_dict().values()):
        assert torch.equal(a, b)
    assert straight.history["loss_d"] == resumed.history["loss_d"]
    assert not list(path.parent.glob("*.tmp"))  # atomic writes leave no temporaries


def test_conditional_training_needs_labels_and_uses_them(tmp_path):
    run = tiny_run(conditional=True)
    x, y = images()
    with pytest.raises(ValueError, match="labels"):
        train_gan(run, x, progress=False)
    train_gan(run, x, y, steps=2, progress=False)
    z = torch.Generator().manual_seed(0)
    a = generate(run.ema.model.eval(), 4, z_dim=run.gan_config.z_dim, labels=1, rng=z)
    b = generate(run.ema.model, 4, z_dim=run.gan_config.z_dim, labels=7, rng=torch.Generator().manual_seed(0))
    assert a.shape == (4, 1, 28, 28) and not torch.allclose(a, b)


def test_divergence_guard_fires_on_nan_and_keeps_the_last_good_checkpoint(tmp_path):
    run = tiny_run()
    x, _ = images()
    path = tmp_path / "checkpoint.pt"
    train_gan(run, x, steps=3, checkpoint_path=path, progress=False)
    good = path.read_bytes()
    with torch.no_grad():
        next(run.discriminator.parameters()).fill_(float("nan"))  # inject a NaN
    with pytest.raises(DivergenceError, match=r"diverged at step 3.*loss_d = nan.*step 3.*kept"):
        train_gan(run, x, steps=6, checkpoint_path=path, progress=False)
    assert path.read_bytes() == good


def test_export_and_load_gan(tmp_path):
    run = tiny_run()
    x, _ = images()
    train_gan(run, x, steps=2, progress=False)
    path = export_gan(run, tmp_path / "g.pt", note="test")
    model = load_gan(path)
    z = torch.randn(3, run.gan_config.z_dim)
    with torch.no_grad():
        assert torch.equal(model.generator(z), run.ema.model.eval()(z))
    assert model.step == 2
    with pytest.raises(CheckpointError, match="cannot be resumed"):
        GANRun.load(path)


def test_bad_checkpoints_get_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint"):
        load_gan(tmp_path / "missing.pt")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupted"):
        load_gan(broken)
    truncated = tmp_path / "truncated.pt"
    run = tiny_run()
    export_gan(run, truncated)
    truncated.write_bytes(truncated.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="corrupted"):
        load_gan(truncated)
    other = save_checkpoint(tmp_path / "vae.pt", {"x": 1}, kind="vae")
    with pytest.raises(CheckpointError, match="'vae' checkpoint"):
        load_gan(other)
    mismatched = tmp_path / "mismatched.pt"
    export_gan(run, mismatched)
    state = load_checkpoint(mismatched, kind="gan")
    state["gan_config"]["base_channels"] *= 2  # config no longer matches the weights
    save_checkpoint(mismatched, {k: v for k, v in state.items() if k not in ("kind", "format_version")}, kind="gan")
    with pytest.raises(CheckpointError, match="does not match"):
        load_gan(mismatched)


def test_loss_scaling_path_runs_with_several_critic_steps():
    """The fp16 path (GradScaler) as used on older CUDA GPUs, exercised on the CPU: scale, unscale, step, update."""
    g, d = ToyGenerator(z_dim=2, data_dim=2), ToyDiscriminator(data_dim=2)
    opt_g, opt_d = make_gan_optimizers(g, d)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    before = params(g)
    config = GANStepConfig(loss="wgan-gp", n_critic=2)
    stats = gan_train_step(g, d, opt_g, opt_d, torch.randn(16, 2), z_dim=2, config=config, scaler=scaler,
                           rng=torch.Generator().manual_seed(0))
    assert all(math.isfinite(v) for v in stats.values())
    assert stats["grad_norm_g"] < 1e3  # reported unscaled, not multiplied by 1024
    assert any(not torch.equal(a, b) for a, b in zip(before, params(g)))


def test_wgan_preset_uses_the_papers_rate_without_momentum():
    """Arjovsky et al. 2017: RMSProp at 5e-5, 5 critic steps; the course's Adam with beta1 = 0 is RMSProp's update."""
    config = GANTrainConfig.preset("cpu", loss="wgan")
    assert (config.lr, config.betas[0], config.n_critic, config.clip_value) == (5e-5, 0.0, 5, 0.01)


@pytest.mark.parametrize("loss", ["ns", "wgan", "wgan-gp"])
def test_gan_train_preset_contract_overrides_beat_the_loss_settings(check_preset, loss):
    made = check_preset(lambda p, **kw: GANTrainConfig.preset(p, loss=loss, **kw), "GANTrainConfig.preset",
                        steps=3, lr=1e-3, n_critic=2, betas=(0.5, 0.9))
    expected = {"ns": (2e-4, 1), "wgan": (5e-5, 5), "wgan-gp": (1e-4, 5)}[loss]
    assert all((c.loss, c.lr, c.n_critic) == (loss, *expected) for c in made.values())
