"""Snapshot hooks (train/snapshots.py): the latent one samples the run's EMA weights in memory, and draws exactly what
the exported file, loaded back, draws."""

import numpy as np
import torch

from sdgan_course.data.images import to_uint8
from sdgan_course.metrics.prompt_following import class_prompt
from sdgan_course.sample.ldm import generate_ldm
from sdgan_course.train.ldm import load_ldm
from sdgan_course.train.snapshots import ldm_pipeline, ldm_snapshot, squeeze_grey


def test_ldm_snapshot_in_memory_draws_what_the_exported_file_draws(tiny_ldm_run, tmp_path):
    run = tiny_ldm_run()
    run.step = 7
    with torch.no_grad():  # the trained weights move away from the EMA: the snapshot must use the EMA ones
        for p in run.model.parameters():
            p.add_(0.05)
    run.model.eval()
    seen = []
    snapshot = ldm_snapshot(tmp_path, "fashion_mnist",
                            agreement=lambda images, labels: seen.append(labels) or 0.25)
    snapshot(run, {"loss": 0.5})
    assert run.model.training  # handed back to training
    assert not any(p.requires_grad for p in run.ema.model.parameters())
    saved = np.load(tmp_path / "samples_step000007.npz")["images"]
    prompts = [class_prompt("fashion_mnist", c) for c in (torch.arange(100) % 10).tolist()]
    reloaded = generate_ldm(load_ldm(tmp_path / "ema_step000007.pt"), prompts, 100, guidance=3.0, steps=20,
                            rng=torch.Generator().manual_seed(0))
    assert np.array_equal(saved, to_uint8(reloaded)[:, 0])
    assert run.history["agreement"] == [0.25] and run.history["agreement_step"] == [7.0]
    assert torch.equal(seen[0], torch.arange(100) % 10)
    assert ldm_pipeline(run).unet is run.ema.model


def test_squeeze_grey_drops_only_a_single_channel():
    assert squeeze_grey(np.zeros((2, 1, 4, 4))).shape == (2, 4, 4)
    assert squeeze_grey(np.zeros((2, 3, 4, 4))).shape == (2, 3, 4, 4)
