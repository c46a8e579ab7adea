"""One diffusion family: the latent config extends the pixel one (each field declared once, ``compile`` included),
the shipped checkpoints still rebuild their configs, and one train step serves labels and text."""

from dataclasses import asdict, fields

import pytest
import torch

from sdgan_course.assets import find_asset
from sdgan_course.checkpoint import load_checkpoint
from sdgan_course.train import ldm as train_ldm_module
from sdgan_course.train.diffusion import DiffusionTrainConfig, DiffusionTrainResult, diffusion_train_step
from sdgan_course.train.ldm import LDMTrainConfig, LDMTrainResult, ldm_train_step, prepare_ldm_data, train_ldm

LATENT_ONLY = {"pair_batch_size", "pair_every", "num_pairs", "p_attribute"}


def test_the_latent_config_extends_the_pixel_config_with_the_composition_fields_only():
    assert issubclass(LDMTrainConfig, DiffusionTrainConfig)
    pixel, latent = {f.name for f in fields(DiffusionTrainConfig)}, {f.name for f in fields(LDMTrainConfig)}
    assert latent == pixel | LATENT_ONLY and "compile" in latent
    own = {name for name in LDMTrainConfig.__annotations__ if name != "presets"}
    assert own == LATENT_ONLY | {"schedule", "steps"}  # new fields, and the two defaults the latent model changes
    assert LDMTrainConfig().schedule == "scaled_linear" and DiffusionTrainConfig().schedule == "linear"
    with pytest.raises(ValueError, match="prediction"):
        LDMTrainConfig(prediction="x0")  # the pixel config's checks run too
    with pytest.raises(ValueError, match="pair_every"):
        LDMTrainConfig(pair_every=1)
    assert LDMTrainConfig.preset("ci").steps == 9 and DiffusionTrainConfig.preset("ci").steps == 12


@pytest.mark.parametrize(("name", "kind", "config"), [
    ("ddpm_fashion_mnist", "ddpm", DiffusionTrainConfig),
    ("ldm_fashion_mnist", "ldm", LDMTrainConfig),
    ("ldm_words_fashion_mnist", "ldm", LDMTrainConfig),
])
def test_every_shipped_diffusion_checkpoint_rebuilds_its_config(name, kind, config):
    stored = load_checkpoint(find_asset(f"checkpoints/{name}.pt"), kind=kind)["train_config"]
    rebuilt = config(**stored)  # a field the file predates (e.g. compile) takes its default
    again = asdict(rebuilt)
    assert {k: again[k] for k in stored} == {k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()}
    assert rebuilt.compile is False


def test_train_ldm_compiles_when_asked(tiny_ldm_run, monkeypatch):
    seen = []

    def fake_compile(model, enabled):
        seen.append(enabled)
        return model

    monkeypatch.setattr(train_ldm_module, "maybe_compile", fake_compile)
    run = tiny_ldm_run(steps=1, compile=True, pair_every=0)
    images, labels = torch.rand(20, 1, 28, 28) * 2 - 1, torch.arange(20) % 10
    result = train_ldm(run, prepare_ldm_data(run, images, labels), progress=False)
    assert seen == [True]
    assert LDMTrainResult is DiffusionTrainResult and result.images_per_second > 0  # examples per second, by name


def test_one_train_step_for_labels_and_text(tiny_ldm_run):
    """ldm_train_step is diffusion_train_step with a text context: the same parameters after one step."""
    results = []
    for step in (ldm_train_step, None):
        run = tiny_ldm_run()
        latents = torch.randn(4, run.unet_config.in_channels, 7, 7, generator=torch.Generator().manual_seed(0))
        context = torch.randn(4, 3, run.unet_config.context_dim, generator=torch.Generator().manual_seed(1))
        mask = torch.ones(4, 3, dtype=torch.bool)
        rng = torch.Generator().manual_seed(2)
        if step is None:
            stats = diffusion_train_step(run.model, run.opt, latents, run.schedule, context=context, context_mask=mask,
                                         rng=rng)
        else:
            stats = step(run.model, run.opt, latents, context, mask, run.schedule, rng=rng)
        results.append((stats, [p.detach().clone() for p in run.model.parameters()]))
    (a, pa), (b, pb) = results
    assert a == b and all(torch.equal(x, y) for x, y in zip(pa, pb))
    assert a["loss"] > 0
