"""Diffusion training: one step changes the parameters, label dropout, checkpoints, resume, export, bad input."""

import pytest
import torch

from sdgan_course.checkpoint import CheckpointError, save_checkpoint
from sdgan_course.losses.diffusion import diffusion_loss
from sdgan_course.models.unet import UNet, UNetConfig
from sdgan_course.schedules import NoiseSchedule
from sdgan_course.train.diffusion import (
    DiffusionRun,
    DiffusionTrainConfig,
    diffusion_train_step,
    drop_labels,
    export_diffusion,
    load_diffusion,
    train_diffusion,
)
from sdgan_course.train.loop import DivergenceError


def tiny_data(n=64):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 28, 28, generator=g) * 2 - 1, torch.randint(0, 10, (n,), generator=g)


def test_loss_is_the_noise_regression():
    s = NoiseSchedule.from_name("linear", 100)
    x0, eps, t = torch.randn(4, 1, 5, 5), torch.randn(4, 1, 5, 5), torch.tensor([0, 10, 50, 99])

    def perfect(xt, t_, *_):  # knows the noise: loss 0
        return eps

    assert diffusion_loss(perfect, x0, s, t=t, eps=eps).item() == pytest.approx(0.0, abs=1e-12)
    zero = lambda xt, t_, *_: torch.zeros_like(xt)  # noqa: E731
    assert diffusion_loss(zero, x0, s, t=t, eps=eps).item() == pytest.approx(eps.pow(2).mean().item(), rel=1e-6)
    v = s.velocity(x0, eps, t)
    assert diffusion_loss(zero, x0, s, t=t, eps=eps, prediction="v").item() == pytest.approx(v.pow(2).mean().item())


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_one_step_changes_the_parameters(prediction):
    torch.manual_seed(0)
    model = UNet(UNetConfig.preset("ci", num_classes=10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    # a key bias adds q.b to every score of a query alike, and softmax ignores a constant: its gradient is exactly 0
    names = [n for n, _ in model.named_parameters() if not n.endswith("to_k.bias")]
    before = [p.detach().clone() for n, p in model.named_parameters() if n in names]
    x, y = tiny_data(8)
    rng = torch.Generator().manual_seed(0)
    schedule = NoiseSchedule.from_name("linear", 100)
    stats = diffusion_train_step(model, opt, x, schedule, labels=y, prediction=prediction, p_uncond=0.2, rng=rng)
    assert set(stats) == {"loss", "grad_norm"} and stats["loss"] > 0
    after = dict(model.named_parameters())
    changed = sum(not torch.equal(a, after[n]) for n, a in zip(names, before))
    assert changed == 2  # the zero-initialised output layer moves first: every block starts as the identity
    for _ in range(3):  # gradients reach deeper layers once the zero-initialised layers have moved
        diffusion_train_step(model, opt, x, schedule, labels=y, prediction=prediction, p_uncond=0.2, rng=rng)
    changed = sum(not torch.equal(a, after[n]) for n, a in zip(names, before))
    assert changed == len(before)  # then every parameter, the label and time embeddings included


def test_label_dropout_rate():
    y = torch.zeros(20_000, dtype=torch.long)
    dropped = drop_labels(y, 0.1, 10, rng=torch.Generator().manual_seed(0))
    assert (dropped == 10).float().mean().item() == pytest.approx(0.1, abs=0.01)
    assert torch.equal(drop_labels(y, 0.0, 10), y)


def test_train_resume_export_and_load(tmp_path):
    x, y = tiny_data()
    cfg = DiffusionTrainConfig.preset("ci", steps=4, batch_size=16, checkpoint_every=2, num_train_steps=50)
    run = DiffusionRun(UNetConfig.preset("ci", num_classes=10), cfg)
    train_diffusion(run, x, y, checkpoint_path=tmp_path / "c.pt", steps=2, progress=False)
    straight = DiffusionRun(UNetConfig.preset("ci", num_classes=10), cfg)
    train_diffusion(straight, x, y, progress=False)
    resumed = DiffusionRun.load(tmp_path / "c.pt")
    assert resumed.step == 2
    train_diffusion(resumed, x, y, progress=False)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.allclose(a, b, atol=1e-6)  # resume continues exactly
    export_diffusion(resumed, tmp_path / "small.pt")
    loaded = load_diffusion(tmp_path / "small.pt")
    assert loaded.step == 4 and loaded.schedule.num_steps == 50 and loaded.config.num_classes == 10
    with pytest.raises(CheckpointError, match="cannot be resumed"):
        DiffusionRun.load(tmp_path / "small.pt")


def test_bad_input(tmp_path):
    x, y = tiny_data()
    run = DiffusionRun(UNetConfig.preset("ci", num_classes=10), DiffusionTrainConfig.preset("ci", steps=1))
    with pytest.raises(ValueError, match="pass the dataset's labels"):
        train_diffusion(run, x, progress=False)
    with pytest.raises(ValueError, match="channels"):
        train_diffusion(run, x.repeat(1, 3, 1, 1), y, progress=False)
    save_checkpoint(tmp_path / "gan.pt", {"x": 1}, kind="gan")
    with pytest.raises(CheckpointError, match="'gan' checkpoint"):
        load_diffusion(tmp_path / "gan.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_diffusion(tmp_path / "broken.pt")
    with pytest.raises(ValueError, match="prediction"):
        DiffusionTrainConfig(prediction="x0")


def test_diffusion_preset_contract(check_preset):
    check_preset(DiffusionTrainConfig.preset, "DiffusionTrainConfig.preset", steps=3, batch_size=2, warmup_steps=1)


def test_divergence_guard_keeps_the_checkpoint(tmp_path):
    x, y = tiny_data()
    cfg = DiffusionTrainConfig.preset("ci", steps=6, batch_size=16, checkpoint_every=2, lr=1e6, max_grad_clip=0)
    run = DiffusionRun(UNetConfig.preset("ci", num_classes=10), cfg)
    with pytest.raises(DivergenceError, match="diverged"):
        train_diffusion(run, x * 1e30, y, checkpoint_path=tmp_path / "c.pt", progress=False)


@pytest.mark.parametrize("make", ["diffusion", "ldm"])
def test_diffusion_configs_refuse_a_bad_target_or_dropout(make):
    from sdgan_course.train.diffusion import DiffusionTrainConfig
    from sdgan_course.train.ldm import LDMTrainConfig

    config = DiffusionTrainConfig if make == "diffusion" else LDMTrainConfig
    with pytest.raises(ValueError, match="Unknown prediction type 'x0': use 'eps' or 'v'"):
        config(prediction="x0")
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match=r"p_uncond must be in \[0, 1\)"):
            config(p_uncond=bad)
    assert config(prediction="v", p_uncond=0.0).prediction == "v"
