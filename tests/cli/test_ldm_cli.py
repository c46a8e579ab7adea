"""The latent-diffusion commands end to end in the ci profile: train, resume, sample (text, negative prompt, image to
image) and the errors learners meet."""

import numpy as np
import pytest

from sdgan_course.cli.main import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("ldm")
    argv = ["train", "ldm", "--profile", "ci", "--steps", "3", "--out", str(out), "--no-progress"]
    assert main(argv + ["--export", str(out / "small.pt"), "--snapshot-every", "3"]) == 0
    return out


def test_train_resume_and_snapshot(trained, capsys):
    assert (trained / "ema_step000003.pt").exists() and (trained / "samples_step000003.npz").exists()
    argv = ["train", "ldm", "--profile", "ci", "--steps", "4", "--out", str(trained), "--no-progress"]
    assert main(argv) == 0
    assert "Resuming" in capsys.readouterr().out


def test_sample_text_negative_and_image_to_image(trained, tmp_path, capsys):
    out = tmp_path / "s.npz"
    base = ["sample", "ldm", "--checkpoint", str(trained / "small.pt"), "--steps", "3", "--n", "3"]
    assert main(base + ["--prompt", "a photo of a sneaker", "--out", str(out)]) == 0
    z = np.load(out)
    assert z["images"].shape == (3, 28, 28) and z["images"].dtype == np.uint8
    assert list(z["prompts"]) == ["a photo of a sneaker"] * 3
    wide = tmp_path / "w.npz"
    argv = ["--prompt", "a bag to the left of a coat", "--negative-prompt", "a sandal", "--out", str(wide)]
    assert main(base + argv) == 0
    assert np.load(wide)["images"].shape == (3, 28, 56)
    edited = tmp_path / "e.npz"
    assert main(base + ["--prompt", "a bag", "--init-image", str(out), "--strength", "0.5", "--out", str(edited)]) == 0
    assert np.load(edited)["images"].shape == (3, 28, 28)
    assert "per image" in capsys.readouterr().out


def test_errors_say_what_to_do(trained, tmp_path, capsys):
    base = ["sample", "ldm", "--checkpoint", str(trained / "small.pt"), "--steps", "2", "--out", str(tmp_path / "x")]
    for prompt in ("a photo of a sneeker", "a t-shirt", "A photo of a T-shirt.", "trousers", "a red dress"):
        assert main(base + ["--prompt", prompt, "--n", "1"]) == 0  # any text tokenizes: nothing is refused
    assert main(base + ["--prompt", "  ", "--n", "1"]) == 0
    assert "unconditional model" in capsys.readouterr().out
    assert main(base + ["--prompt", "a bag", "--init-image", str(tmp_path / "missing.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    missing = ["sample", "ldm", "--checkpoint", str(tmp_path / "none.pt"), "--prompt", "a bag", "--out", "x.npz"]
    assert main(missing) == 2
