"""Captioned data: templates, held-out wordings and compositions, canvases that match their labels, determinism."""

import pytest
import torch

from sdgan_course.assets import DataError
from sdgan_course.data.captions import (
    DIGIT_WORDS,
    FASHION_NAMES,
    HELD_OUT_PAIRS,
    HELD_OUT_TEMPLATES,
    PAIR_TEMPLATES,
    TEMPLATES,
    allowed_pairs,
    caption_images,
    caption_labels,
    captioned_dataset,
    compose_pairs,
    is_held_out,
    pair_dataset,
    pair_halves,
    split_words,
    templates_for,
    vocabulary,
)


def distinct_items(n_per_class=3):
    """Images whose every pixel encodes (class, copy): image i is constant 10 * class + copy, scaled to [-1, 1]."""
    labels = torch.arange(10).repeat_interleave(n_per_class)  # (N,)
    copy = torch.arange(n_per_class).repeat(10)
    value = (10 * labels + copy).float() / 100 * 2 - 1  # (N,)
    images = value[:, None, None, None].expand(-1, 1, 28, 28).clone()  # (N, 1, 28, 28)
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(1))
    return images[perm], labels[perm]


def decode(items):
    """Class of each constant item (M, 1, 28, 28) made by distinct_items."""
    value = torch.round((items.mean((1, 2, 3)) + 1) / 2 * 100)
    return (value // 10).long()


def test_required_templates_and_names():
    assert TEMPLATES["fashion_mnist"][0] == "a photo of a {name}"
    assert TEMPLATES["mnist"][0] == "the digit {name}"
    assert FASHION_NAMES[7] == "sneaker" and FASHION_NAMES[0] == "t-shirt/top" and DIGIT_WORDS[3] == "three"
    assert len(TEMPLATES["fashion_mnist"]) >= 3 and len(TEMPLATES["mnist"]) >= 3


def test_held_out_templates_never_in_training():
    for dataset in ("fashion_mnist", "mnist"):
        train = set(templates_for(dataset, "train"))
        held = set(HELD_OUT_TEMPLATES[dataset])
        assert held and not held & train
        assert set(templates_for(dataset, "all")) == train | held
        # every word of a held-out wording is one the training captions use
        train_words = {w for t in train for w in split_words(t.format(name=""))}
        assert {w for t in held for w in split_words(t.format(name=""))} <= train_words
    labels = torch.arange(10).repeat(50)
    captions, which = caption_labels(labels, rng=torch.Generator().manual_seed(0))
    held = {t.format(name=n) for t in HELD_OUT_TEMPLATES["fashion_mnist"] for n in FASHION_NAMES}
    assert not held & set(captions)
    assert len(set(which.tolist())) == len(TEMPLATES["fashion_mnist"])  # every training wording is used
    for caption, label, t in zip(captions, labels.tolist(), which.tolist()):
        assert caption == TEMPLATES["fashion_mnist"][t].format(name=FASHION_NAMES[label])


def test_caption_images_any_size_and_deterministic():
    images, labels = distinct_items()
    a = caption_images(images, labels, n=100, seed=3)
    b = caption_images(images, labels, n=100, seed=3)
    c = caption_images(images, labels, n=100, seed=4)
    assert len(a.captions) == 100 and a.images.shape == (100, 1, 28, 28)  # more than the 30 images
    assert a.captions == b.captions and torch.equal(a.images, b.images)
    assert a.captions != c.captions
    assert torch.equal(decode(a.images), a.labels)
    assert all(FASHION_NAMES[y] in cap for cap, y in zip(a.captions, a.labels.tolist()))
    digits = caption_images(images, labels, dataset="mnist", n=20)
    assert all(DIGIT_WORDS[y] in cap.split() for cap, y in zip(digits.captions, digits.labels.tolist()))


def test_held_out_pairs_are_fixed_and_balanced():
    assert (7, 8) in HELD_OUT_PAIRS  # "a sneaker to the left of a bag" is never seen in training
    train, held = allowed_pairs("train"), allowed_pairs("held_out")
    assert len(train) == 80 and sorted(held) == sorted(HELD_OUT_PAIRS) and not set(train) & set(held)
    assert sorted(a for a, _ in held) == list(range(10)) and sorted(b for _, b in held) == list(range(10))
    assert all((b, a) in train for a, b in held)  # the mirror arrangement is trained
    assert all(a != b for a, b in train)


def test_compositions_put_the_labelled_items_where_the_labels_say():
    images, labels = distinct_items()
    pairs = compose_pairs(images, labels, 500, rng=torch.Generator().manual_seed(0))
    assert pairs.images.shape == (500, 1, 28, 56) and pairs.labels.shape == (500, 2)
    assert pairs.images.min() >= -1 and pairs.images.max() <= 1
    left, right = pair_halves(pairs.images)
    assert torch.equal(decode(left), pairs.labels[:, 0]) and torch.equal(decode(right), pairs.labels[:, 1])
    assert not is_held_out(pairs.labels).any()  # training pairs never hold out arrangements
    for caption, (a, b), t in zip(pairs.captions, pairs.labels.tolist(), pairs.templates.tolist()):
        assert caption == PAIR_TEMPLATES[t].format(left=FASHION_NAMES[a], right=FASHION_NAMES[b])
    assert len({tuple(p) for p in pairs.labels.tolist()}) > 60  # most of the 80 arrangements appear
    held = compose_pairs(images, labels, 200, pairs="held_out", rng=torch.Generator().manual_seed(0))
    assert is_held_out(held.labels).all()
    assert torch.equal(decode(pair_halves(held.images)[0]), held.labels[:, 0])


def test_compositions_are_deterministic():
    images, labels = distinct_items()
    a = compose_pairs(images, labels, 50, rng=torch.Generator().manual_seed(5))
    b = compose_pairs(images, labels, 50, rng=torch.Generator().manual_seed(5))
    assert torch.equal(a.images, b.images) and a.captions == b.captions


def test_real_data_slices():
    data = captioned_dataset("fashion_mnist", "train", n=64)
    assert data.images.shape == (64, 1, 28, 28) and -1 <= data.images.min() and data.images.max() <= 1
    pairs = pair_dataset("fashion_mnist", "test", n=32)  # the test split defaults to the held-out arrangements
    assert pairs.images.shape == (32, 1, 28, 56) and is_held_out(pairs.labels).all()
    assert not is_held_out(pair_dataset("fashion_mnist", "train", n=32).labels).any()


def test_vocabulary_covers_every_caption():
    words = set(vocabulary())
    for group in (*TEMPLATES.values(), *HELD_OUT_TEMPLATES.values()):
        for t in group:
            for name in FASHION_NAMES + DIGIT_WORDS:
                assert set(split_words(t.format(name=name))) <= words
    assert {"left", "right", "t-shirt/top", "ankle", "boot"} <= words


def test_bad_input():
    images, labels = distinct_items()
    with pytest.raises(ValueError, match="caption split"):
        templates_for("fashion_mnist", "test")
    with pytest.raises(DataError, match="Unknown dataset 'mnist_typo'. Known datasets: fashion_mnist"):
        templates_for("mnist_typo")
    with pytest.raises(ValueError, match="No images of"):
        compose_pairs(images[labels < 5], labels[labels < 5], 10)
    with pytest.raises(ValueError, match="even width"):
        pair_halves(torch.zeros(1, 1, 28, 27))
