import numpy as np
import pytest

from sdgan_course.cli.main import main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("info", "train", "sample", "bench"):
        assert command in out


def test_info_prints_versions_profile_and_data(capsys, monkeypatch):
    monkeypatch.setenv("SDGAN_PROFILE", "ci")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "profile      ci" in out and "fashion_mnist.npz" in out


def test_a_bad_profile_is_a_message_not_a_traceback(capsys, monkeypatch):
    monkeypatch.setenv("SDGAN_PROFILE", "fast")
    assert main(["info"]) == 2
    assert "Valid profiles: ci, cpu, gpu" in capsys.readouterr().err


def test_train_resume_and_sample_gan(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "gan", "--profile", "ci", "--conditional", "--out", str(out), "--threads", "1"]
    assert main(args + ["--steps", "4", "--export", str(tmp_path / "g.pt")]) == 0
    assert (out / "checkpoint.pt").exists() and (out / "samples.npz").exists()
    assert main(args + ["--steps", "6"]) == 0  # resumes at step 4
    assert "Resuming" in capsys.readouterr().out
    samples = tmp_path / "s.npz"
    assert main(["sample", "gan", "--checkpoint", str(tmp_path / "g.pt"), "--n", "5", "--label", "7",
                 "--out", str(samples)]) == 0
    with np.load(samples) as f:
        assert f["images"].shape == (5, 28, 28) and f["images"].dtype == np.uint8
        assert f["labels"].tolist() == [7] * 5
    assert main(["sample", "gan", "--checkpoint", str(tmp_path / "g.pt"), "--label", "10", "--out", str(samples)]) == 2
    assert "out of range" in capsys.readouterr().err


def test_sampling_a_missing_checkpoint_explains(tmp_path, capsys):
    assert main(["sample", "gan", "--checkpoint", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "s.npz")]) == 2
    assert "No checkpoint" in capsys.readouterr().err


def test_bench_prints_throughput_and_share_of_peak(capsys):
    assert main(["bench", "gan", "--profile", "ci", "--steps", "1", "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert "images/s" in out and "% peak" in out and "tutorial DCGAN" in out and "peak MB" in out
