"""The diffusion commands end to end in the ci profile: train, resume, sample, bench, and the errors learners meet."""

import numpy as np
import pytest

from sdgan_course.checkpoint import save_checkpoint
from sdgan_course.cli.main import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddpm")
    args = ["train", "ddpm", "--profile", "ci", "--steps", "2", "--out", str(out), "--no-progress", "--samples", "4"]
    assert main(args + ["--export", str(out / "small.pt")]) == 0
    return out


def test_training_leaves_history_samples_and_the_command(trained):
    from sdgan_course.checkpoint import load_checkpoint
    from sdgan_course.train.diffusion import CHECKPOINT_KIND

    assert (trained / "history.json").is_file() and (trained / "samples.npz").is_file()
    info = load_checkpoint(trained / "small.pt", kind=CHECKPOINT_KIND)["info"]
    assert info["command"].startswith("python -m sdgan_course train ddpm --profile ci --steps 2 --out ")
    assert info["seconds"] > 0


def test_train_resume_and_sample(trained, tmp_path, capsys):
    argv = [
        "train",
        "ddpm",
        "--profile",
        "ci",
        "--steps",
        "3",
        "--out",
        str(trained),
        "--no-progress",
        "--samples",
        "4",
    ]
    assert main(argv) == 0
    assert "Resuming" in capsys.readouterr().out
    out = tmp_path / "s.npz"
    argv = ["sample", "ddpm", "--checkpoint", str(trained / "small.pt"), "--n", "5", "--steps", "2", "--out", str(out)]
    assert main(argv) == 0
    z = np.load(out)
    assert z["images"].shape == (5, 28, 28) and z["images"].dtype == np.uint8
    assert z["labels"].shape == (5,) and set(z["labels"]) <= set(range(10))
    assert main(argv[:-2] + ["--label", "3", "--sampler", "ddpm", "--out", str(out)]) == 0
    assert set(np.load(out)["labels"]) == {3}


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--sampler", "euler"], "Unknown sampler 'euler'"),
        (["--steps", "0"], "between 1 and"),
        (["--steps", "100000"], "between 1 and"),
    ],
)
def test_sample_bad_input(trained, tmp_path, capsys, extra, message):
    argv = ["sample", "ddpm", "--checkpoint", str(trained / "small.pt"), "--n", "2", "--out", str(tmp_path / "x.npz")]
    assert main(argv + extra) == 2
    assert message in capsys.readouterr().err


def test_sample_wrong_kind_and_label(trained, tmp_path, capsys):
    save_checkpoint(tmp_path / "gan.pt", {"gan_config": {}}, kind="gan")
    assert main(["sample", "ddpm", "--checkpoint", str(tmp_path / "gan.pt"), "--out", str(tmp_path / "x.npz")]) == 2
    assert "'gan' checkpoint, but a 'ddpm' checkpoint was expected" in capsys.readouterr().err
    argv = ["sample", "ddpm", "--checkpoint", str(trained / "small.pt"), "--label", "10", "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "out of range" in capsys.readouterr().err


def test_bench_prints_every_sampler(capsys):
    argv = ["bench", "ddpm", "--profile", "ci", "--steps", "1", "--batch-size", "8", "--n", "4", "--ddpm-steps", "20"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for name in ("U-Net (ci", "images/s", "% peak", "peak MB", "dpm-solver", "ddim", "ddpm"):
        assert name in out
