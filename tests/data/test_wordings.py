"""Richer captions: synonyms and plurals, the brightness attribute read off the pixels, what is held out."""

import pytest
import torch

from sdgan_course.data.captions import CLASS_WORDS
from sdgan_course.data.wordings import (
    HELD_OUT_ATTRIBUTE_PAIRS,
    HELD_OUT_SYNONYMS,
    attribute_allowed,
    brightness_attribute,
    brightness_thresholds,
    draw_attributes,
    draw_captions,
    image_brightness,
    single_captions,
    tokenizer_corpus,
    training_texts,
)


def test_wordings_cover_what_newcomers_type():
    texts = set(training_texts("fashion_mnist"))
    for caption in ("a t-shirt", "a photo of sneakers", "trousers", "a photo of a handbag", "boots",
                    "an ankle boot.", "a photo of a dark coat", "a light sandal", "a photo of a t-shirt/top"):
        assert caption in texts, caption
    assert "a ankle boot" not in texts  # the article fits the word


def test_held_out_words_and_pairs_never_in_training():
    corpus = " ".join(tokenizer_corpus())
    for c, word, _ in HELD_OUT_SYNONYMS:
        assert f" {word}" not in f" {corpus}", word
        assert all(word in t for t in single_captions("fashion_mnist", c, held_out_synonyms=True))
    allowed = attribute_allowed("fashion_mnist")
    for a, c in HELD_OUT_ATTRIBUTE_PAIRS:
        assert not allowed[c, a] and attribute_allowed("fashion_mnist", which="held_out")[c, a]
        word = ("dark", "light")[a - 1]
        assert not any(f"{word} {n}" in corpus for n in CLASS_WORDS["fashion_mnist"][c:c + 1])
    assert allowed[:, 0].all() and allowed.sum() == 30 - len(HELD_OUT_ATTRIBUTE_PAIRS)
    assert not attribute_allowed("mnist")[:, 1:].any()  # digits: no attribute


def test_brightness_terciles_per_class():
    thresholds = brightness_thresholds("fashion_mnist")  # (K, 2)
    assert thresholds.shape == (10, 2) and (thresholds[:, 0] < thresholds[:, 1]).all()
    black, white = -torch.ones(2, 1, 28, 28), torch.ones(2, 1, 28, 28)
    labels = torch.tensor([4, 7])
    assert image_brightness(white).tolist() == [1.0, 1.0]
    assert brightness_attribute(black, labels, thresholds).tolist() == [1, 1]
    assert brightness_attribute(white, labels, thresholds).tolist() == [2, 2]
    middle = (thresholds.mean(1)[labels] * 2 - 1).view(2, 1, 1, 1).expand(2, 1, 28, 28)
    assert brightness_attribute(middle, labels, thresholds).tolist() == [0, 0]


def test_drawn_captions_say_the_attribute_only_where_allowed():
    rng = torch.Generator().manual_seed(0)
    labels = torch.tensor([4] * 500 + [3] * 500)  # coats; dresses (dark dress is held out)
    dark = torch.ones(1000, dtype=torch.long)
    said = draw_attributes(dark, labels, attribute_allowed("fashion_mnist"), 0.5, rng)
    assert 0.4 < said[:500].float().mean() < 0.6 and (said[500:] == 0).all()
    texts = draw_captions(labels, said, rng=rng)
    assert all(("dark" in t.lower()) == bool(a) for t, a in zip(texts, said.tolist()))
    assert any(t[0].isupper() for t in texts) and any(t[0].islower() for t in texts)
    with pytest.raises(ValueError, match="attribute must be"):
        single_captions("fashion_mnist", 0, 3)
