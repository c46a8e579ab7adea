"""Checks for the exercises of notebook 00, start here: the shipped data's classes, shapes, memory and range.

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. The expected answers are computed from the data the notebook loaded
(``ImageData``: ``images`` (N, 1, 28, 28) in [-1, 1], ``labels`` (N,), ``class_names``) and from the library's range
conversion. ``show("ex1")`` prints our solution.
"""

from __future__ import annotations

import math

import torch

from ..data import to_unit_range
from . import solutions
from .checks import as_number, call, close, expect, given, mistake, passed

NOTEBOOK = "00_start_here"


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def _count(data, class_name: str) -> int:
    return int((data.labels == data.class_names.index(class_name)).sum())


def _whole_number(value, name: str, hint: str) -> int:
    number = as_number(value, name, hint)  # a Python number, a 0-d tensor (from .sum()) or a numpy scalar
    expect(math.isfinite(number) and number == int(number), f"`{name}` = {number} is not a whole number: count "
           "images, do not average.", hint)
    return int(number)


def check_bag_count(bag_count, test_data, train_data) -> None:
    """Exercise 1: the number of images of the class Bag in the Fashion-MNIST test split."""
    hint = ("compare every label of the test split with Bag's label (a tensor of True and False), then count the "
            "True entries. ex.show('ex1') prints our solution.")
    count = _whole_number(given(bag_count, "bag_count", hint), "bag_count", hint)
    expected = _count(test_data, "Bag")
    if count == expected:
        passed(f"{count:,} Bags among {len(test_data.labels):,} test images. Every class has exactly "
               f"{expected:,} test and {_count(train_data, 'Bag'):,} training images (Xiao et al. 2017): a balanced "
               "dataset, so a classifier that guesses one class is right 10 % of the time.")
        return
    mistake(count == _count(train_data, "Bag"), f"bag_count = {count:,} is the number of Bags in the training split.",
            "count in `fashion_test`, the test split, not in `fashion`.")
    mistake(count == len(test_data.labels), f"bag_count = {count:,} is the number of all test images.",
            "keep only the images whose label is Bag's label before counting.")
    mistake(count == test_data.class_names.index("Bag"), f"bag_count = {count} is Bag's label, not how many Bags.",
            "the label says which class; count how many labels are equal to it.")
    expect(False, f"bag_count = {count:,} is not the number of Bags in the test split.", hint)


def check_train_bytes(train_bytes, images) -> None:
    """Exercise 2: the memory, in bytes, of the training images tensor (float32)."""
    hint = ("bytes = numbers in the tensor x bytes per number: N x C x H x W numbers, and a float32 takes 4 bytes "
            "(images.numel() and images.element_size() say the same).")
    value = as_number(train_bytes, "train_bytes", hint)
    numbers, per_number = images.numel(), images.element_size()
    expected = numbers * per_number
    mistake(value == numbers, f"train_bytes = {value:,.0f} is the number of numbers in the tensor, not of bytes.",
            "each float32 number takes 4 bytes (a uint8 in a file takes 1).")
    mistake(value == numbers * 8, f"train_bytes = {value:,.0f} counts 8 bytes per number: that is float64.",
            "the images are float32 (images.dtype): 4 bytes per number.")
    mistake(value == expected / len(images), f"train_bytes = {value:,.0f} is the memory of one image.",
            "multiply by the number of images, images.shape[0].")
    in_megabytes = any(math.isclose(value, expected / unit, rel_tol=1e-3) for unit in (1e6, 2**20))
    mistake(in_megabytes, f"train_bytes = {value:,.2f} is in megabytes.",
            "give the answer in bytes (a whole number); divide by 1e6 only when you print it.")
    close(value, expected, "train_bytes", hint, rtol=0, atol=0.5, what="the size of the tensor in bytes")
    passed(f"{expected:,} bytes = {expected / 1e6:.0f} MB ({expected / 2**20:.0f} MiB): {numbers:,} float32 numbers. "
           f"The same images as uint8 would take a quarter of it; one batch of 256 takes {256 * 784 * 4 / 1e6:.1f} MB. "
           "The whole split fits in memory, which is why the course keeps it there (data/batches.py).")


def check_to_unit_range(my_to_unit_range) -> None:
    """Exercise 3: the conversion from the model range [-1, 1] to the plot range [0, 1], clamped."""
    hint = ("-1 should map to 0, 0 to 0.5 and 1 to 1: a straight line through those three points; then clamp what "
            "falls outside [0, 1].")
    rng = torch.Generator().manual_seed(0)
    probe = torch.cat([torch.tensor([-1.0, 0.0, 1.0, -3.0, 2.5]),
                       1.5 * torch.randn(64 * 784 - 5, generator=rng)]).reshape(64, 1, 28, 28)  # (64, 1, 28, 28)
    got = call(my_to_unit_range, probe.clone(), name="my_to_unit_range", hint=hint)
    expected = to_unit_range(probe)  # (64, 1, 28, 28)
    expect(isinstance(got, torch.Tensor), "my_to_unit_range should return a tensor.", hint)
    expect(tuple(got.shape) == tuple(probe.shape), f"my_to_unit_range changed the shape {tuple(probe.shape)} into "
           f"{tuple(got.shape)}.", "the conversion works pixel by pixel: the shape stays.")
    got = got.detach().float()
    mistake(torch.allclose(got, (probe + 1) / 2, atol=1e-6),
            "my_to_unit_range has the right formula but no clamp: inputs below -1 or above 1 (a model's raw output, "
            "noise added to an image) come out below 0 or above 1.", "clamp the result to [0, 1] (torch.clamp).")
    span = probe.max() - probe.min()
    mistake(torch.allclose(got, (probe - probe.min()) / span, atol=1e-5),
            "my_to_unit_range rescales by the batch's own minimum and maximum: the same pixel value would map to a "
            "different grey in every batch.", "use the fixed formula (x + 1) / 2, which knows the range is [-1, 1].")
    close(got, expected, "my_to_unit_range", hint, atol=1e-6, what="to_unit_range of the probe")
    passed("my_to_unit_range equals to_unit_range, clamp included: -1 -> 0 (black), 0 -> 0.5, 1 -> 1 (white).")


def check_mean_trouser(mean_trouser, data) -> None:
    """Exercise 4: the mean image of the class Trouser, (1, 28, 28) in the model range."""
    hint = ("select the Trouser images with a boolean mask on the labels, then average over the images (the first "
            "dimension), not over the pixels.")
    got = given(mean_trouser, "mean_trouser", hint)
    expect(isinstance(got, torch.Tensor), f"mean_trouser should be a tensor, got {type(got).__name__}.", hint)
    trousers = data.images[data.labels == data.class_names.index("Trouser")]  # (n, 1, 28, 28)
    expected = trousers.mean(dim=0)  # (1, 28, 28)
    expect(got.numel() == expected.numel(), f"mean_trouser has shape {tuple(got.shape)}: one 28 x 28 image, "
           "(1, 28, 28), is expected.", "average over dim=0, the images; keep the channel and pixel dimensions.")
    expect(tuple(got.shape) == tuple(expected.shape), f"mean_trouser has shape {tuple(got.shape)}; an image in the "
           "course's layout is (channels, height, width) = (1, 28, 28).", "average with .mean(dim=0) on the (N, 1, "
           "28, 28) images: the channel dimension stays.")
    got = got.detach().double()
    mistake(torch.allclose(got, data.images.mean(dim=0).double(), atol=1e-4),
            "mean_trouser is the mean of all the training images, of every class.",
            "keep only the images whose label is Trouser's before averaging.")
    mistake(torch.allclose(got, (expected.double() + 1) / 2, atol=1e-4),
            "mean_trouser is in the plot range [0, 1].", "stay in the model range: average the images as loaded.")
    close(got, expected, "mean_trouser", hint, rtol=1e-4, atol=1e-4, what="the mean Trouser")
    passed(f"The mean of {len(trousers):,} trousers: values in [{expected.min():.2f}, {expected.max():.2f}], inside "
           "[-1, 1] as every average of images in [-1, 1] is. Its edges are soft where trousers differ in width and "
           "length: an average is not a sample.")


def check_brightest_class(brightest_class, data) -> None:
    """Exercise 5: the class whose images have the highest mean pixel value."""
    hint = ("for each label c in range(10), average fashion.images[fashion.labels == c] (all its pixels); the "
            "brightest class has the largest average; give its name, fashion.class_names[index].")
    answer = given(brightest_class, "brightest_class", hint)
    expect(not isinstance(answer, (int, float, torch.Tensor)), f"brightest_class = {answer} is a number; give the "
           "class's name, an entry of class_names.", hint)
    expect(isinstance(answer, str) and answer in data.class_names, f"brightest_class = {answer!r} is not one of the "
           f"class names: {', '.join(data.class_names)}.", hint)
    per_image = data.images.mean(dim=(1, 2, 3)).double()  # (N,): every image has the same number of pixels
    classes = len(data.class_names)
    brightness = torch.bincount(data.labels, per_image, classes) / torch.bincount(data.labels, minlength=classes)
    order = brightness.argsort(descending=True).tolist()
    names = [data.class_names[i] for i in order]
    mistake(answer == names[-1], f"{answer} is the darkest class (the smallest mean), not the brightest.",
            "take the largest average: argmax, not argmin.")
    mistake(answer == names[1], f"{answer} comes a close second.", "compare the averages with more digits.")
    expect(answer == names[0], f"{answer} is not the class with the highest mean pixel value.", hint)
    passed(f"{names[0]}: mean pixel {brightness[order[0]]:.3f}, then {names[1]} ({brightness[order[1]]:.3f}); the "
           f"darkest is {names[-1]} ({brightness[order[-1]]:.3f}). Large garments cover many pixels; sandals are a "
           "few straps on black.")
