"""The flow commands end to end in the ci profile: train (with snapshots), resume, sample with both flow samplers, and
the errors learners meet."""

import numpy as np
import pytest

from sdgan_course.cli.main import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("flow")
    argv = ["train", "flow", "--profile", "ci", "--steps", "3", "--out", str(out), "--no-progress"]
    assert main(argv + ["--export", str(out / "small.pt"), "--snapshot-every", "3"]) == 0
    return out


def test_train_resume_and_snapshot(trained, capsys):
    assert (trained / "ema_step000003.pt").exists() and (trained / "samples_step000003.npz").exists()
    argv = ["train", "flow", "--profile", "ci", "--steps", "4", "--out", str(trained), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Resuming" in out and "MMDiT" in out


@pytest.mark.parametrize("sampler", ["euler", "heun"])
def test_sample_with_each_flow_sampler(trained, tmp_path, capsys, sampler):
    out = tmp_path / "s.npz"
    argv = ["sample", "flow", "--checkpoint", str(trained / "small.pt"), "--steps", "3", "--n", "3",
            "--sampler", sampler, "--prompt", "a photo of a sneaker", "--out", str(out)]
    assert main(argv) == 0
    z = np.load(out)
    assert z["images"].shape == (3, 28, 28) and z["images"].dtype == np.uint8
    assert f"({sampler}, 3 steps" in capsys.readouterr().out


def test_errors_say_what_to_do(trained, tmp_path, capsys):
    small = str(trained / "small.pt")
    base = ["--steps", "2", "--out", str(tmp_path / "x.npz"), "--prompt", "a bag"]
    assert main(["sample", "ldm", "--checkpoint", small] + base) == 2
    assert "'flow' checkpoint, but a 'ldm' checkpoint was expected" in capsys.readouterr().err
    assert main(["sample", "flow", "--checkpoint", small, "--steps", "0", "--out", "x.npz", "--prompt", "a"]) == 2
    assert "at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sample", "flow", "--checkpoint", small, "--sampler", "dpm-solver"] + base)
