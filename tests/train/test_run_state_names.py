"""One run-state layout with one set of names (checkpoint.RENAMED_KEYS): every family writes its EMA weights as
"ema_model" and its random generator as "rng"; GAN files written with the old names ("ema_generator", "noise_rng")
still resume and load."""

import torch

from sdgan_course.checkpoint import RENAMED_KEYS, current_names, load_checkpoint, save_checkpoint
from sdgan_course.models.gan import GANConfig, load_gan
from sdgan_course.models.unet import UNetConfig
from sdgan_course.train.diffusion import DiffusionRun, DiffusionTrainConfig
from sdgan_course.train.gan import GANRun, GANTrainConfig, export_gan

OLD = {new: old for old, new in RENAMED_KEYS.items()}  # "ema_model" -> "ema_generator", "rng" -> "noise_rng"


def tiny_gan_run():
    run = GANRun(GANConfig.preset("ci"), GANTrainConfig.preset("ci", steps=4, batch_size=8))
    run.step, run.history = 3, {"loss_d": [1.0]}
    run.rng.manual_seed(123)
    with torch.no_grad():  # the EMA differs from the live generator, so a swapped key would show
        for p in run.ema.model.parameters():
            p.add_(0.25)
    return run


def as_old_format(state: dict) -> dict:
    return {OLD.get(k, k): v for k, v in state.items()}


def test_every_family_uses_the_same_names():
    gan = tiny_gan_run().state()
    diffusion = DiffusionRun(UNetConfig.preset("ci", num_classes=10), DiffusionTrainConfig.preset("ci")).state()
    for state in (gan, diffusion):
        assert {"ema_model", "ema_updates", "rng", "step", "history", "train_config"} <= state.keys()
        assert not set(RENAMED_KEYS) & state.keys()


def test_current_names_renames_old_keys_and_keeps_new_ones():
    assert current_names({"ema_generator": 1, "noise_rng": 2, "step": 3}) == {"ema_model": 1, "rng": 2, "step": 3}
    assert current_names({"ema_model": 1, "ema_generator": 9}) == {"ema_model": 1, "ema_generator": 9}


def test_an_old_format_gan_run_resumes_and_an_old_export_loads(tmp_path):
    run = tiny_gan_run()
    old_run = save_checkpoint(tmp_path / "old_run.pt", as_old_format(run.state()), kind=GANRun.kind)
    assert {"ema_generator", "noise_rng"} <= torch.load(old_run, weights_only=True).keys()  # really the old layout
    resumed = GANRun.load(old_run)
    assert resumed.step == 3 and resumed.history == {"loss_d": [1.0]}
    assert torch.equal(resumed.rng.get_state(), run.rng.get_state())
    for a, b in zip(resumed.ema.model.state_dict().values(), run.ema.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    new_export = export_gan(run, tmp_path / "new.pt")
    assert "ema_model" in torch.load(new_export, weights_only=True)
    old_export = save_checkpoint(tmp_path / "old.pt", as_old_format(load_checkpoint(new_export, kind="gan")),
                                 kind="gan")
    for path in (new_export, old_export, old_run):
        loaded = load_gan(path)
        for a, b in zip(loaded.generator.state_dict().values(), run.ema.model.state_dict().values(), strict=True):
            assert torch.equal(a, b)
