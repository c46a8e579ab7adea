"""The distillation commands end to end in the ci profile: train (with the prompt-agreement snapshot), resume,
export, sample at 1 and 4 student steps, and the errors learners meet (exit code 2, a message that says what to do)."""

import numpy as np
import pytest

from sdgan_course.cli.main import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("distill")
    argv = ["train", "distill", "--profile", "ci", "--steps", "2", "--out", str(out), "--no-progress", "--threads", "1"]
    assert main(argv + ["--export", str(out / "student.pt"), "--snapshot-every", "2"]) == 0
    return out


def test_train_snapshots_resumes_and_exports(trained, capsys):
    assert (trained / "checkpoint.pt").exists() and (trained / "student.pt").exists()
    assert (trained / "history.json").exists() and (trained / "ema_step000002.pt").exists()
    argv = ["train", "distill", "--profile", "ci", "--steps", "3", "--out", str(trained), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Resuming" in out and "at step 2 of 3" in out and "Done: step 3" in out


def test_sample_one_and_four_steps(trained, tmp_path, capsys):
    for steps in ("1", "4"):
        out = tmp_path / f"s{steps}.npz"
        argv = ["sample", "distill", "--checkpoint", str(trained / "student.pt"), "--steps", steps, "--n", "3",
                "--prompt", "a photo of a sneaker", "--out", str(out)]
        assert main(argv) == 0
        z = np.load(out)
        assert z["images"].shape == (3, 28, 28) and z["images"].dtype == np.uint8
    wide = tmp_path / "w.npz"
    argv = ["sample", "distill", "--checkpoint", str(trained / "student.pt"), "--n", "2",
            "--prompt", "a bag to the left of a coat", "--out", str(wide)]
    assert main(argv) == 0
    assert np.load(wide)["images"].shape == (2, 28, 56)
    assert "ms per image" in capsys.readouterr().out


def test_errors_say_what_to_do(trained, tmp_path, capsys):
    base = ["sample", "distill", "--checkpoint", str(trained / "student.pt"), "--out", str(tmp_path / "x.npz")]
    with pytest.warns(UserWarning, match="Did you mean 'sneaker'"):  # an older word tokenizer: <unk>, and why
        assert main(base + ["--prompt", "a photo of a sneeker"]) == 0
    assert main(base + ["--prompt", "a bag", "--steps", "8"]) == 2
    assert "1..4" in capsys.readouterr().err
    missing = ["sample", "distill", "--checkpoint", str(tmp_path / "none.pt"), "--prompt", "a bag", "--out", "x.npz"]
    assert main(missing) == 2
    assert "No checkpoint" in capsys.readouterr().err
    ldm_file = ["sample", "distill", "--checkpoint", "data/checkpoints/ldm_words_fashion_mnist.pt", "--prompt", "a bag",
                "--out", str(tmp_path / "y.npz")]
    assert main(ldm_file) == 2  # a teacher file is not a student
    assert "distill" in capsys.readouterr().err
    train = ["train", "distill", "--profile", "ci", "--out", str(tmp_path / "r"), "--no-progress",
             "--teacher", str(tmp_path / "none.pt")]
    assert main(train) == 2
    assert main(["train", "distill", "--profile", "ci", "--out", str(tmp_path / "r2"), "--no-progress",
                 "--adversarial-weight", "0", "--distill-weight", "0"]) == 2
    assert "not both 0" in capsys.readouterr().err
