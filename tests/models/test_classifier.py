import shutil

import pytest
import torch

from sdgan_course import assets
from sdgan_course.checkpoint import load_checkpoint
from sdgan_course.data import DataError, load_images
from sdgan_course.models.classifier import ClassifierConfig, ClassifierError, CourseClassifier, load_classifier
from sdgan_course.train.classifier import accuracy, random_shift

DATA = assets.CHECKOUT_DATA / "classifiers"


def test_the_image_shape_comes_from_the_config():
    model = CourseClassifier(config=ClassifierConfig(image_size=32, channels=3)).eval()
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        model(torch.zeros(2, 1, 28, 28))


def test_forward_gives_128_d_features_and_10_logits():
    model = CourseClassifier().eval()
    out = model.features_and_logits(torch.zeros(3, 1, 28, 28))
    assert out.features.shape == (3, 128) and out.logits.shape == (3, 10)
    assert torch.equal(model(torch.zeros(3, 28, 28)), out.logits)  # (B, 28, 28) is accepted too
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        model(torch.zeros(3, 3, 32, 32))


@pytest.mark.slow
@pytest.mark.parametrize("dataset, min_accuracy", [("fashion_mnist", 0.92), ("mnist", 0.97)])
def test_shipped_classifiers_are_small_checked_and_accurate(dataset, min_accuracy):
    name = f"classifiers/{dataset}_classifier.pt"
    assert (DATA.parent / name).stat().st_size < 2_000_000
    info = load_classifier(dataset)
    assert info.sha256 == assets.manifest()[name] and not info.model.training  # checked against the one manifest
    assert info.test_accuracy >= min_accuracy  # stored in the checkpoint itself
    assert load_checkpoint(info.path, kind="classifier")["info"]["command"].startswith("python -m sdgan_course train")
    test = load_images(dataset, "test", limit=500)  # measure it again, on a slice
    assert accuracy(info.model, test.images, test.labels) >= min_accuracy - 0.03


def test_a_corrupted_classifier_file_is_refused_with_what_to_do(monkeypatch, tmp_path):
    shutil.copytree(DATA, tmp_path / "classifiers")  # (the manifest stays the checkout's)
    target = tmp_path / "classifiers" / "fashion_mnist_classifier.pt"
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    target.write_bytes(bytes(raw))
    monkeypatch.setenv("SDGAN_DATA", str(tmp_path))  # searched before the checkout's data/
    with pytest.raises(ClassifierError, match="corrupted.*train classifier --dataset fashion_mnist"):
        load_classifier("fashion_mnist")


def test_unknown_dataset_and_missing_file():
    with pytest.raises(DataError, match="Known datasets"):
        load_classifier("cifar10")
    with pytest.raises(ClassifierError, match="does not exist.*train classifier"):
        load_classifier("mnist", path="/nonexistent/classifier.pt")


def test_random_shift_moves_content_by_at_most_max_shift():
    x = torch.full((50, 1, 28, 28), -1.0)
    x[:, 0, 14, 14] = 1.0
    y = random_shift(x, 2, rng=torch.Generator().manual_seed(0))
    assert y.shape == x.shape and torch.equal(random_shift(x, 0), x)
    lit = (y[:, 0] == 1.0).nonzero()  # (50, 3): image, row, column of the moved pixel
    assert len(lit) == 50 and (lit[:, 1:] - 14).abs().max() <= 2 and (lit[:, 1:] != 14).any()


def test_train_command_writes_a_loadable_classifier(tmp_path, capsys):
    from sdgan_course.cli.main import main

    before = (DATA.parent / "SHA256SUMS").read_text()
    out = tmp_path / "tiny.pt"
    args = ["train", "classifier", "--dataset", "mnist", "--epochs", "1", "--limit", "256", "--out", str(out)]
    assert main(args) == 0
    assert "test accuracy" in capsys.readouterr().out
    info = load_classifier("mnist", path=out)
    assert 0.0 <= info.test_accuracy <= 1.0 and info.dataset == "mnist"
    torch.manual_seed(0)  # the initialisation train_classifier starts from (seed 0)
    initial = CourseClassifier()
    assert not torch.equal(initial.feature.weight, info.model.feature.weight)  # training changed the weights
    assert (DATA.parent / "SHA256SUMS").read_text() == before  # a file elsewhere leaves the manifest alone
    with pytest.raises(ClassifierError, match="trained on 'mnist'"):
        load_classifier("fashion_mnist", path=out)


@pytest.mark.parametrize("dataset", ["fashion_mnist", "mnist"])
def test_shipped_reference_statistics_belong_to_the_shipped_classifier(dataset):
    import numpy as np

    sha = assets.manifest()[f"classifiers/{dataset}_classifier.pt"]
    path = DATA / f"reference_{dataset}_train_{sha[:12]}.npz"
    assert path.is_file(), "retraining a classifier must also rewrite its reference statistics"
    assert f"classifiers/{path.name}" in assets.manifest(), "shipped statistics are in the manifest, checked on load"
    with np.load(path) as z:
        assert str(z["classifier_sha256"]) == sha
        assert z["mu"].shape == (128,) and z["sigma"].shape == (128, 128) and z["features"].shape == (5000, 128)
        assert np.allclose(z["sigma"], z["sigma"].T) and np.linalg.eigvalsh(z["sigma"]).min() > -1e-6
