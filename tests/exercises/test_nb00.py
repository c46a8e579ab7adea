"""Notebook 00's exercise checks: the right answer passes, a blank fails with a hint, each known mistake is named."""

import numpy as np
import pytest
import torch

from sdgan_course.data import ImageData, load_images
from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb00 as ex


@pytest.fixture(scope="module")
def test():
    return load_images("fashion_mnist", "test")


@pytest.fixture(scope="module")
def train(test):
    """A stand-in for the training split (reading all 60,000 images takes a second): the checks take any ImageData."""
    return ImageData(test.images[:6000], test.labels[:6000], test.class_names)


def label(data, name):
    return data.class_names.index(name)


def test_bag_count(train, test, capsys):
    right = int((test.labels == label(test, "Bag")).sum())
    ex.check_bag_count(right, test, train)
    assert "Correct" in capsys.readouterr().out
    ex.check_bag_count(torch.tensor(right), test, train)  # a tensor count is fine too
    with pytest.raises(ExerciseError, match="still `...`") as err:
        ex.check_bag_count(..., test, train)
    assert err.value.hint
    assert ".sum()" not in err.value.hint and "index('Bag')" not in err.value.hint  # a hint, not the answer
    ex.check_bag_count(np.int64(right), test, train)  # a numpy count too
    with pytest.raises(ExerciseError, match="truth value"):
        ex.check_bag_count(True, test, train)
    with pytest.raises(ExerciseError, match="training split"):
        ex.check_bag_count(int((train.labels == label(train, "Bag")).sum()), test, train)
    with pytest.raises(ExerciseError, match="all test images"):
        ex.check_bag_count(len(test.labels), test, train)
    with pytest.raises(ExerciseError, match="Bag's label"):
        ex.check_bag_count(label(test, "Bag"), test, train)
    with pytest.raises(ExerciseError, match="not a whole number"):
        ex.check_bag_count(999.5, test, train)
    with pytest.raises(ExerciseError, match="not the number of Bags"):
        ex.check_bag_count(right + 1, test, train)


def test_train_bytes(train, capsys):
    images = train.images
    ex.check_train_bytes(6_000 * 784 * 4, images)
    assert "18,816,000 bytes" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_train_bytes(..., images)
    with pytest.raises(ExerciseError, match="number of numbers"):
        ex.check_train_bytes(images.numel(), images)
    with pytest.raises(ExerciseError, match="float64"):
        ex.check_train_bytes(images.numel() * 8, images)
    with pytest.raises(ExerciseError, match="one image"):
        ex.check_train_bytes(784 * 4, images)
    with pytest.raises(ExerciseError, match="megabytes"):
        ex.check_train_bytes(18.816, images)
    with pytest.raises(ExerciseError, match="not the size"):
        ex.check_train_bytes(28 * 28 * 6_000 * 2, images)


def test_to_unit_range(capsys):
    ex.check_to_unit_range(lambda x: ((x + 1) / 2).clamp(0, 1))
    assert "Correct" in capsys.readouterr().out

    def blank(x):
        """# YOUR CODE HERE"""

    with pytest.raises(ExerciseError, match="returned None") as err:
        ex.check_to_unit_range(blank)
    assert err.value.hint and "(x + 1) / 2" not in err.value.hint  # a hint, not the answer
    with pytest.raises(ExerciseError, match="not a function yet"):
        ex.check_to_unit_range(...)
    with pytest.raises(ExerciseError, match="no clamp"):
        ex.check_to_unit_range(lambda x: (x + 1) / 2)
    with pytest.raises(ExerciseError, match="batch's own minimum"):
        ex.check_to_unit_range(lambda x: (x - x.min()) / (x.max() - x.min()))
    with pytest.raises(ExerciseError, match="changed the shape"):
        ex.check_to_unit_range(lambda x: ((x + 1) / 2).clamp(0, 1).flatten())
    with pytest.raises(ExerciseError, match="is not to_unit_range"):
        ex.check_to_unit_range(lambda x: (x / 2).clamp(0, 1))


def test_mean_trouser(train, capsys):
    trousers = train.images[train.labels == label(train, "Trouser")]
    ex.check_mean_trouser(trousers.mean(dim=0), train)
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_mean_trouser(..., train)
    with pytest.raises(ExerciseError, match="every class"):
        ex.check_mean_trouser(train.images.mean(dim=0), train)
    with pytest.raises(ExerciseError, match="plot range"):
        ex.check_mean_trouser((trousers.mean(dim=0) + 1) / 2, train)
    with pytest.raises(ExerciseError, match=r"\(channels, height, width\)"):
        ex.check_mean_trouser(trousers.mean(dim=0)[0], train)  # (28, 28): the channel dropped
    with pytest.raises(ExerciseError, match="one 28 x 28 image"):
        ex.check_mean_trouser(trousers.mean(dim=(1, 2, 3)), train)  # averaged over the pixels
    with pytest.raises(ExerciseError, match="should be a tensor"):
        ex.check_mean_trouser(0.5, train)


def test_brightest_class(train, capsys):
    brightness = torch.stack([train.images[train.labels == c].mean() for c in range(10)])
    order = brightness.argsort(descending=True).tolist()
    ex.check_brightest_class(train.class_names[order[0]], train)
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_brightest_class(..., train)
    with pytest.raises(ExerciseError, match="darkest"):
        ex.check_brightest_class(train.class_names[order[-1]], train)
    with pytest.raises(ExerciseError, match="close second"):
        ex.check_brightest_class(train.class_names[order[1]], train)
    with pytest.raises(ExerciseError, match="is a number"):
        ex.check_brightest_class(order[0], train)
    with pytest.raises(ExerciseError, match="not one of the class names"):
        ex.check_brightest_class("Sock", train)
    with pytest.raises(ExerciseError, match="not the class with the highest"):
        ex.check_brightest_class(train.class_names[order[4]], train)
