import shutil

import numpy as np
import pytest
import torch

from sdgan_course import assets, data
from sdgan_course.data import DataError


def test_fashion_mnist_splits_shapes_range_and_classes():
    train = data.load_images("fashion_mnist", "train")
    test = data.load_images("fashion_mnist", "test")
    assert train.images.shape == (60_000, 1, 28, 28) and test.images.shape == (10_000, 1, 28, 28)
    assert train.images.dtype == torch.float32 and train.labels.dtype == torch.int64
    assert train.images.min() == -1.0 and train.images.max() == 1.0
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    assert train.class_names[7] == "Sneaker" and len(train.class_names) == 10


def test_mnist_splits_are_disjoint_and_cover_everything():
    all_ = data.load_images("mnist", "all")
    train, test = data.load_images("mnist", "train"), data.load_images("mnist", "test")
    assert len(all_.labels) == 10_000 and len(train.labels) + len(test.labels) == 10_000
    assert set(torch.unique(test.labels).tolist()) == set(range(10))  # every digit in both splits
    assert len(train.labels) == pytest.approx(8_000, abs=10)


def test_limit_is_a_fixed_balanced_subset():
    a = data.load_images("fashion_mnist", "train", limit=500)
    b = data.load_images("fashion_mnist", "train", limit=500)
    assert a.images.shape == (500, 1, 28, 28) and torch.equal(a.images, b.images)
    assert torch.bincount(a.labels, minlength=10).min() >= 25  # not the first 500 images (all T-shirts)


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DataError, match="fashion_mnist.*mnist"):
        data.load_images("cifar10")


def test_unknown_split_lists_the_splits():
    with pytest.raises(DataError, match="train, test"):
        data.load_images("fashion_mnist", "validation")


def test_names_are_forgiving_about_dashes_and_case():
    assert data.dataset_info("Fashion-MNIST").file == "fashion_mnist.npz"


REAL_MNIST = assets.CHECKOUT_DATA / "mnist_10k.npz"


@pytest.fixture
def isolated_data(tmp_path, monkeypatch):
    """Only tmp_path/data and tmp_path/cache are searched (the checkout's data/ is hidden)."""
    folders = [tmp_path / "data", tmp_path / "cache"]
    folders[0].mkdir()
    monkeypatch.setattr(assets, "data_dirs", lambda: folders)
    return folders[0]


def test_missing_file_names_the_file_and_the_fix(isolated_data):
    with pytest.raises(DataError) as info:
        data.load_images("mnist")
    message = str(info.value)
    assert "mnist_10k.npz" in message and "SDGAN_DATA" in message and "download=True" in message
    assert str(isolated_data) in message


def test_a_good_copy_is_found_and_a_corrupted_one_refused(isolated_data):
    target = isolated_data / "mnist_10k.npz"
    shutil.copyfile(REAL_MNIST, target)
    assert len(data.load_images("mnist", "all").labels) == 10_000
    raw = bytearray(target.read_bytes())
    raw[1000] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="corrupted"):
        data.load_images("mnist")


def test_download_failure_offline_is_a_clear_error(isolated_data, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(assets.urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match="offline"):
        data.load_images("mnist", download=True)


def test_sdgan_data_comes_first_in_lookup(tmp_path, monkeypatch):
    monkeypatch.setenv("SDGAN_DATA", str(tmp_path))
    assert data.data_dirs()[0] == tmp_path


def test_range_conversions_round_trip():
    u8 = torch.arange(256, dtype=torch.uint8)
    x = data.to_model_range(u8)
    assert x.min() == -1 and x.max() == 1
    assert np.array_equal(data.to_uint8(x), u8.numpy())
    assert torch.allclose(data.to_unit_range(x), u8.float() / 255)


def test_batches_cover_an_epoch_once_and_are_seeded():
    x = torch.arange(10).float()
    y = torch.arange(10) * 10
    first = list(data.batches(x, y, batch_size=3, seed=1))
    again = list(data.batches(x, y, batch_size=3, seed=1))
    assert len(first) == 3  # drop_last: 9 of 10 examples
    seen = torch.cat([b[0] for b in first])
    assert len(set(seen.tolist())) == 9
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, again))
    assert all(torch.equal(bx * 10, by.float()) for bx, by in first)  # pairs stay aligned
    assert not torch.equal(seen, torch.cat([b[0] for b in data.batches(x, y, batch_size=3, seed=2)]))


def test_batches_refuse_bad_arguments():
    with pytest.raises(ValueError, match="same length"):
        next(data.batches(torch.zeros(3), torch.zeros(4), batch_size=2))
    with pytest.raises(ValueError, match="larger than"):
        next(data.batches(torch.zeros(3), batch_size=8))


def test_step_batches_depend_only_on_the_step():
    x = torch.arange(20).float()
    a, b = data.StepBatches(x, batch_size=4, seed=3), data.StepBatches(x, batch_size=4, seed=3)
    sequence = [a.batch(s)[0] for s in range(12)]
    assert torch.equal(b.batch(7)[0], sequence[7])  # jump straight to step 7, as a resumed run does
    epoch0 = torch.cat(sequence[:5])
    assert sorted(epoch0.tolist()) == list(range(20))


def test_gaussian_mixture_density_integrates_to_one_and_matches_samples():
    ring = data.ring_of_gaussians()
    assert ring.means.shape == (8, 2)
    assert torch.allclose(ring.means.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    xs = torch.linspace(-8, 10, 1801, dtype=torch.float64)
    mix = data.gaussian_mixture_1d(means=(-1.0, 2.0), stds=(0.5, 1.0), weights=(1, 3))
    integral = torch.trapezoid(mix.prob(xs), xs).item()
    assert integral == pytest.approx(1.0, abs=2e-3)
    samples = mix.sample(20_000, rng=torch.Generator().manual_seed(0))
    assert samples.shape == (20_000, 1)
    assert samples.mean().item() == pytest.approx(0.25 * -1 + 0.75 * 2, abs=0.05)


def test_mixture_log_prob_matches_a_single_gaussian():
    single = data.GaussianMixture([[0.0, 0.0]], 2.0)
    x = torch.tensor([[1.0, -1.0]])
    expected = -0.5 * 2 / 4 - np.log(2 * np.pi * 4)
    assert single.log_prob(x).item() == pytest.approx(expected)


def test_spiral_shape_and_seed():
    g = torch.Generator().manual_seed(0)
    s = data.spiral(100, rng=g)
    assert s.shape == (100, 2) and s.abs().max() < 2.5
    assert torch.equal(s, data.spiral(100, rng=torch.Generator().manual_seed(0)))


def test_class_index_is_forgiving_and_strict():
    names = data.FASHION_CLASSES
    assert data.class_index(names, "sneaker") == 7
    assert data.class_index(names, "Ankle boot") == 9
    assert data.class_index(names, "t-shirt") == 0
    assert data.class_index(names, 3) == 3
    with pytest.raises(DataError, match="Classes: T-shirt/top"):
        data.class_index(names, "hat")
    with pytest.raises(DataError, match="out of range"):
        data.class_index(names, 10)


def test_full_mnist_offline_without_download_says_how(isolated_data):
    with pytest.raises(DataError, match="download=True.*torchvision"):
        data.load_images("mnist_full")


def test_every_slice_mixes_the_classes():
    full = data.load_images("fashion_mnist", "train")
    assert len(torch.unique(full.labels[:100])) == 10  # the file is sorted by class; the loader is not
    assert torch.equal(full.labels[:500], data.load_images("fashion_mnist", "train", limit=500).labels)
