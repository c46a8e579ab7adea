"""The one asset manifest (sdgan_course.assets): every shipped file is listed, present, intact and checked on load."""

import shutil

import pytest

from sdgan_course import assets
from sdgan_course.data import DataError

SHIPPED_SUFFIXES = (".npz", ".pt")


def test_every_shipped_file_is_in_the_manifest_and_intact():
    listed = set(assets.manifest())
    on_disk = {
        p.relative_to(assets.CHECKOUT_DATA).as_posix()
        for p in assets.CHECKOUT_DATA.rglob("*")
        if p.suffix in SHIPPED_SUFFIXES
    }
    missing = on_disk - listed
    assert not missing, f"shipped but not in data/SHA256SUMS (record them with assets.record_asset): {missing}"
    assert assets.verify_all() == {}


def test_an_unknown_name_lists_what_ships():
    with pytest.raises(DataError, match="Shipped checkpoints: .*gan_fashion_mnist"):
        assets.find_asset("checkpoints/gan_cifar10.pt")


def test_a_corrupted_copy_is_refused_and_named(tmp_path, monkeypatch):
    (tmp_path / "checkpoints").mkdir()
    target = tmp_path / "checkpoints" / "gan_fashion_mnist.pt"
    shutil.copyfile(assets.CHECKOUT_DATA / "checkpoints" / "gan_fashion_mnist.pt", target)
    target.write_bytes(target.read_bytes()[:-10])  # truncated
    monkeypatch.setattr(assets, "data_dirs", lambda: [tmp_path])
    with pytest.raises(DataError, match="corrupted.*git checkout -- data/checkpoints/gan_fashion_mnist.pt"):
        assets.find_asset("checkpoints/gan_fashion_mnist.pt")
    assert "checkpoints/gan_fashion_mnist.pt" in assets.verify_all()


def test_only_files_inside_data_are_recorded(tmp_path):
    stray = tmp_path / "x.pt"
    stray.write_bytes(b"not shipped")
    with pytest.raises(DataError, match="not inside the course's data/ folder"):
        assets.record_asset(stray)


def test_learner_outputs_go_to_one_ignored_folder(monkeypatch, tmp_path):
    import subprocess

    monkeypatch.delenv(assets.RUNS_ENV, raising=False)
    root = assets.CHECKOUT
    assert assets.runs_dir() == root / "runs"
    expected = root / "runs" / "05_training_a_gan" / "checkpoint.pt"
    assert assets.runs_dir("05_training_a_gan", "checkpoint.pt") == expected
    ignored = subprocess.run(["git", "check-ignore", "-q", "runs/05_training_a_gan/checkpoint.pt"], cwd=root)
    assert ignored.returncode == 0, "runs/ must be ignored by git (.gitignore)"
    monkeypatch.setenv(assets.RUNS_ENV, str(tmp_path))
    assert assets.runs_dir("x") == tmp_path / "x"


def test_notebooks_write_only_under_runs_dir():
    import re

    import nbformat

    for path in sorted((assets.CHECKOUT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        relative = re.findall(r"""(?:Path|open)\(\s*["'](?!/)[^"']*""", code)
        assert not relative, f"{path.name} writes to a relative path {relative}: use sdgan_course.assets.runs_dir()"
