import json
import shutil
from pathlib import Path

import pytest
import torch

from sdgan_course import classifier as clf
from sdgan_course.classifier import ClassifierError, CourseClassifier
from sdgan_course.data import DataError, load_images

DATA = Path(__file__).resolve().parent.parent / "data" / "classifiers"


def test_forward_gives_128_d_features_and_10_logits():
    model = CourseClassifier().eval()
    out = model.features_and_logits(torch.zeros(3, 1, 28, 28))
    assert out.features.shape == (3, 128) and out.logits.shape == (3, 10)
    assert torch.equal(model(torch.zeros(3, 28, 28)), out.logits)  # (B, 28, 28) is accepted too
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        model(torch.zeros(3, 3, 32, 32))


@pytest.mark.parametrize("dataset, min_accuracy", [("fashion_mnist", 0.92), ("mnist", 0.97)])
def test_shipped_classifiers_are_small_checked_and_accurate(dataset, min_accuracy):
    manifest = json.loads((DATA / "classifiers.json").read_text())
    entry = manifest[dataset]
    assert (DATA / entry["file"]).stat().st_size < 2_000_000
    assert entry["test_accuracy"] >= min_accuracy
    info = clf.load_classifier(dataset)
    assert info.sha256 == entry["sha256"] and not info.model.training
    test = load_images(dataset, "test", limit=500)  # measure it again, on a slice
    assert clf.accuracy(info.model, test.images, test.labels) >= min_accuracy - 0.03


def test_a_corrupted_classifier_file_is_refused_with_what_to_do(monkeypatch, tmp_path):
    shutil.copytree(DATA, tmp_path / "classifiers")
    target = tmp_path / "classifiers" / "fashion_mnist_classifier.pt"
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    target.write_bytes(bytes(raw))
    monkeypatch.setenv("SDGAN_DATA", str(tmp_path))  # searched before the checkout's data/
    with pytest.raises(ClassifierError, match="corrupted.*train classifier --dataset fashion_mnist"):
        clf.load_classifier("fashion_mnist")


def test_unknown_dataset_and_missing_file():
    with pytest.raises(DataError, match="Known datasets"):
        clf.load_classifier("cifar10")
    with pytest.raises(ClassifierError, match="does not exist.*train classifier"):
        clf.load_classifier("mnist", path="/nonexistent/classifier.pt")


def test_random_shift_moves_content_by_at_most_max_shift():
    x = torch.full((50, 1, 28, 28), -1.0)
    x[:, 0, 14, 14] = 1.0
    y = clf.random_shift(x, 2, generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape and torch.equal(clf.random_shift(x, 0), x)
    lit = (y[:, 0] == 1.0).nonzero()  # (50, 3): image, row, column of the moved pixel
    assert len(lit) == 50 and (lit[:, 1:] - 14).abs().max() <= 2 and (lit[:, 1:] != 14).any()


def test_train_command_writes_a_loadable_classifier(tmp_path, capsys):
    from sdgan_course.cli import main

    before = (DATA / "classifiers.json").read_text()
    out = tmp_path / "tiny.pt"
    args = ["train", "classifier", "--dataset", "mnist", "--epochs", "1", "--limit", "256", "--out", str(out)]
    assert main(args) == 0
    assert "test accuracy" in capsys.readouterr().out
    info = clf.load_classifier("mnist", path=out)
    assert 0.0 <= info.test_accuracy <= 1.0 and info.dataset == "mnist"
    torch.manual_seed(0)  # the initialisation train_classifier starts from (seed 0)
    initial = CourseClassifier()
    assert not torch.equal(initial.feature.weight, info.model.feature.weight)  # training changed the weights
    assert (DATA / "classifiers.json").read_text() == before  # a file elsewhere leaves the manifest alone
    with pytest.raises(ClassifierError, match="trained on 'mnist'"):
        clf.load_classifier("fashion_mnist", path=out)


@pytest.mark.parametrize("dataset", ["fashion_mnist", "mnist"])
def test_shipped_reference_statistics_belong_to_the_shipped_classifier(dataset):
    import numpy as np

    sha = json.loads((DATA / "classifiers.json").read_text())[dataset]["sha256"]
    path = DATA / f"reference_{dataset}_train_{sha[:12]}.npz"
    assert path.is_file(), "retraining a classifier must also rewrite its reference statistics"
    with np.load(path) as z:
        assert str(z["classifier_sha256"]) == sha
        assert z["mu"].shape == (128,) and z["sigma"].shape == (128, 128) and z["features"].shape == (5000, 128)
        assert np.allclose(z["sigma"], z["sigma"].T) and np.linalg.eigvalsh(z["sigma"]).min() > -1e-6
