"""Every bad argument of a command is a one-line message and exit status 2, never a traceback or status 1."""

import pytest

from sdgan_course.cli.main import main

CHECKPOINTS = {"gan": "data/checkpoints/gan_fashion_mnist.pt", "ddpm": "data/checkpoints/ddpm_fashion_mnist.pt",
               "ldm": "data/checkpoints/ldm_fashion_mnist.pt"}


def exit_status(argv) -> int:
    """What ``python -m sdgan_course ARGV`` exits with (``raise SystemExit(main())``)."""
    try:
        return main(argv)
    except SystemExit as stop:  # SystemExit("message") exits with status 1
        return stop.code if isinstance(stop.code, int) else 1


@pytest.mark.parametrize("content", [b"PK\x03\x04 not really a zip", bytes(range(256)) * 8, b"abc\n"],
                         ids=["broken-zip", "binary", "text"])
def test_evaluate_a_file_that_is_not_an_npz_says_what_it_should_be(tmp_path, capsys, content):
    path = tmp_path / "samples.npz"
    path.write_bytes(content)
    assert exit_status(["evaluate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "is not a samples file" in err and ".npz" in err and "'images'" in err and "Traceback" not in err


@pytest.mark.parametrize("model", ["gan", "ddpm", "ldm"])
@pytest.mark.parametrize("n", ["0", "-3"])
def test_sample_with_no_images_exits_2_with_a_message(tmp_path, capsys, model, n):
    argv = ["sample", model, "--checkpoint", CHECKPOINTS[model], "--n", n, "--out", str(tmp_path / "s.npz")]
    argv += ["--prompt", "a bag"] if model == "ldm" else []
    assert exit_status(argv) == 2
    assert f"--n must be at least 1, got {n}" in capsys.readouterr().err
    assert not (tmp_path / "s.npz").exists()


@pytest.mark.parametrize("model", ["gan", "ddpm"])
def test_sample_with_a_label_out_of_range_exits_2(tmp_path, capsys, model):
    checkpoint = "data/checkpoints/cgan_fashion_mnist.pt" if model == "gan" else CHECKPOINTS[model]  # conditional
    argv = ["sample", model, "--checkpoint", checkpoint, "--label", "10", "--out", str(tmp_path / "s.npz")]
    assert exit_status(argv) == 2
    assert "--label 10 is out of range" in capsys.readouterr().err
