r"""Captions people actually write: synonyms, plurals, punctuation and an attribute the pixels really carry.

:mod:`.captions` writes one caption per image from a handful of templates and one name per class. A newcomer types
"a t-shirt", "trousers", "a photo of sneakers", "a dark coat". This module widens the *training* captions of
Fashion-MNIST, all still written offline from the labels and the pixels:

- **synonyms and plurals** per class (:data:`SYNONYMS`, :data:`PLURALS`): "t-shirt", "top", "trousers", "sweater",
  "jacket", "handbag", "boots", ... with singular templates ("a photo of a {name}", "an image of an ankle boot",
  "a {name}", the bare name) and plural ones ("a photo of sneakers", "sneakers"); an optional full stop. Casing needs
  no variants: the tokenizer lower-cases, as CLIP's does (:mod:`sdgan_course.models.tokenizer`);
- **brightness**, an attribute measured on the image: the mean intensity of the 28 x 28 image, split at the
  terciles of its class on the training split (:func:`brightness_thresholds`). The darkest third may be captioned
  "a dark coat", the lightest third "a light coat", the middle third never gets a brightness word. Because the word
  is read off the pixels, whether a sample honours it can be *measured* (:func:`brightness_attribute`);
- **held out, never in training**: one synonym for five classes (:data:`HELD_OUT_SYNONYMS`: "tee", "pants",
  "jumper", "trainers", "purse") and four attribute-object pairs (:data:`HELD_OUT_ATTRIBUTE_PAIRS`: "a light
  trouser", "a dark dress", "a light sneaker", "a dark bag", although each word is trained with other classes). The
  compositions' held-out arrangements stay those of :data:`.captions.HELD_OUT_PAIRS`.

MNIST keeps its digit templates (:data:`.captions.TEMPLATES`) and no attribute.

Shape legend: N images, K classes, A = 3 attributes (none, dark, light).
"""

from __future__ import annotations

from functools import lru_cache

import torch

from .captions import CLASS_WORDS, TEMPLATES, _dataset_key
from .images import load_images

ATTRIBUTES = ("", "dark", "light")  # index 0: no attribute word; 1: darkest tercile; 2: lightest tercile
# Per Fashion-MNIST class: the names training captions use (the label's own name first, as the old captions).
SYNONYMS = (
    ("t-shirt/top", "t-shirt", "top"),
    ("trouser",),
    ("pullover", "sweater"),
    ("dress",),
    ("coat", "jacket"),
    ("sandal",),
    ("shirt",),
    ("sneaker",),
    ("bag", "handbag"),
    ("ankle boot", "boot"),
)
PLURALS = (
    ("t-shirts", "tops"),
    ("trousers",),
    ("pullovers", "sweaters"),
    ("dresses",),
    ("coats", "jackets"),
    ("sandals",),
    ("shirts",),
    ("sneakers",),
    ("bags", "handbags"),
    ("ankle boots", "boots"),
)
# Never in training: (class, phrase, plural?). "tee", "pants", "jumper", "trainers" and "purse" name a class in
# British or American usage; the model has never seen them and can only guess from the pieces they share.
HELD_OUT_SYNONYMS = ((0, "tee", False), (1, "pants", True), (2, "jumper", False), (7, "trainers", True),
                     (8, "purse", False))
# Never in training: (attribute, class). Each attribute word is trained with the other classes, each class with
# the other attribute.
HELD_OUT_ATTRIBUTE_PAIRS = ((2, 1), (1, 3), (2, 7), (1, 8))

SINGULAR_TEMPLATES = ("a photo of {a_name}", "a picture of {a_name}", "an image of {a_name}", "{a_name}",
                      "a photo of the {name}", "{name}")
PLURAL_TEMPLATES = ("a photo of {names}", "a picture of {names}", "{names}")
ENDINGS = ("", ".")


def with_article(phrase: str) -> str:
    """"a coat", "an ankle boot": the phrase with its indefinite article (by its first letter, enough for the course's
    words)."""
    return f"an {phrase}" if phrase[0] in "aeiou" else f"a {phrase}"


def rich(dataset: str) -> bool:
    """Whether ``dataset`` has the wider captions (Fashion-MNIST) or only its templates (MNIST)."""
    return _dataset_key(dataset) == "fashion_mnist"


def single_captions(dataset: str, label: int, attribute: int = 0, *, held_out_synonyms: bool = False) -> list[str]:
    """Every training wording of class ``label`` with ``attribute`` (0 none, 1 dark, 2 light), or, with
    ``held_out_synonyms``, every wording with the class's held-out synonym (empty if it has none)."""
    key = _dataset_key(dataset)
    if attribute not in (0, 1, 2):
        raise ValueError(f"attribute must be 0 (none), 1 (dark) or 2 (light), got {attribute}.")
    if not rich(key):
        if attribute or held_out_synonyms:
            return []
        return [t.format(name=CLASS_WORDS[key][label]) for t in TEMPLATES[key]]
    word = ATTRIBUTES[attribute]
    if held_out_synonyms:
        names = [(p, plural) for c, p, plural in HELD_OUT_SYNONYMS if c == label]
    else:
        names = [(n, False) for n in SYNONYMS[label]] + [(p, True) for p in PLURALS[label]]
    texts = []
    for phrase, plural in names:
        phrase = f"{word} {phrase}" if word else phrase
        group = PLURAL_TEMPLATES if plural else SINGULAR_TEMPLATES
        for template in group:
            text = template.format(a_name=with_article(phrase), name=phrase, names=phrase)
            texts += [text + end for end in ENDINGS]
    return texts


def attribute_allowed(dataset: str, *, which: str = "train") -> torch.Tensor:
    """(K, A) bool: the (class, attribute) captions of training (``"train"``) or only the held-out pairs
    (``"held_out"``). Attribute 0 (none) is always a training caption."""
    key = _dataset_key(dataset)
    k = len(CLASS_WORDS[key])
    held = torch.zeros(k, len(ATTRIBUTES), dtype=torch.bool)
    if rich(key):
        for a, c in HELD_OUT_ATTRIBUTE_PAIRS:
            held[c, a] = True
    if which == "held_out":
        return held
    if which != "train":
        raise ValueError(f"which must be 'train' or 'held_out', got {which!r}.")
    allowed = ~held
    if not rich(key):
        allowed[:, 1:] = False
    return allowed


def image_brightness(images: torch.Tensor) -> torch.Tensor:
    """Mean intensity of images (N, 1, H, W) in [-1, 1], mapped to [0, 1] (0 black, 1 white): (N,)."""
    return (images.flatten(1).mean(1) + 1) / 2


@lru_cache(maxsize=4)
def brightness_thresholds(dataset: str = "fashion_mnist") -> torch.Tensor:
    """(K, 2) per class, the 1/3 and 2/3 quantiles of :func:`image_brightness` over the whole training split."""
    key = _dataset_key(dataset)
    data = load_images(key, "train")
    value = image_brightness(data.images)  # (N,)
    k = len(CLASS_WORDS[key])
    q = torch.tensor([1 / 3, 2 / 3])
    return torch.stack([torch.quantile(value[data.labels == c], q) for c in range(k)])  # (K, 2)


def brightness_attribute(images: torch.Tensor, labels: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """(N,) attribute the pixels carry: 1 (dark) in the class's darkest third, 2 (light) in its lightest, else 0."""
    value = image_brightness(images.cpu())  # (N,)
    low, high = thresholds[labels.cpu(), 0], thresholds[labels.cpu(), 1]  # (N,) each
    return torch.where(value < low, 1, torch.where(value >= high, 2, 0))


def draw_attributes(attributes: torch.Tensor, labels: torch.Tensor, allowed: torch.Tensor, p_attribute: float,
                    rng: torch.Generator | None = None) -> torch.Tensor:
    """Which attribute each caption states: the image's own (``attributes`` (N,)) with probability ``p_attribute``
    where the (class, attribute) pair is a training one, else 0 (no word). One uniform draw per caption on the CPU."""
    keep = torch.rand(len(labels), generator=rng) < p_attribute  # (N,)
    attributes, labels = attributes.cpu(), labels.cpu()
    return torch.where(keep & allowed[labels, attributes], attributes, 0)


def draw_captions(labels: torch.Tensor, attributes: torch.Tensor, *, dataset: str = "fashion_mnist",
                  rng: torch.Generator | None = None, casing: bool = True) -> list[str]:
    """One caption per (class, attribute) drawn uniformly from :func:`single_captions`; with ``casing``, half of
    them start with a capital (the tokenizer lower-cases: the model must not care)."""
    pick = torch.rand(len(labels), generator=rng)  # (N,)
    upper = torch.rand(len(labels), generator=rng) < 0.5  # (N,)
    texts = []
    for c, a, u, cap in zip(labels.tolist(), attributes.tolist(), pick.tolist(), upper.tolist()):
        options = _variants(dataset, c, a)
        text = options[min(int(u * len(options)), len(options) - 1)]
        texts.append(text[:1].upper() + text[1:] if casing and cap else text)
    return texts


@lru_cache(maxsize=128)
def _variants(dataset: str, label: int, attribute: int) -> tuple[str, ...]:
    return tuple(single_captions(dataset, label, attribute))


def training_wordings(dataset: str = "fashion_mnist") -> list[list[list[str]]]:
    """[class][attribute] -> every single-item training caption of that pair (empty where the pair is held out or the
    dataset has no attributes)."""
    allowed = attribute_allowed(dataset)  # (K, A)
    return [[single_captions(dataset, c, a) if allowed[c, a] else [] for a in range(allowed.shape[1])]
            for c in range(allowed.shape[0])]


def training_texts(dataset: str = "fashion_mnist") -> list[str]:
    """Every single-item training caption of ``dataset``, flat: what the tokenizer is trained on, with the
    compositions' captions (:mod:`.captions`)."""
    return [t for row in training_wordings(dataset) for texts in row for t in texts]


def tokenizer_corpus() -> list[str]:
    """What the course's tokenizer is trained on: every training caption of every captioned dataset, single items
    (:func:`training_texts`) and compositions in both wordings (never a held-out synonym), sorted and unique."""
    from .captions import PAIR_TEMPLATES, allowed_pairs

    texts = set()
    for key in ("fashion_mnist", "mnist"):
        texts.update(training_texts(key))
        names = CLASS_WORDS[key]
        texts.update(t.format(left=names[a], right=names[b]) for a, b in allowed_pairs("all")
                     for t in PAIR_TEMPLATES)
    return sorted(texts)


__all__ = [
    "ATTRIBUTES", "HELD_OUT_ATTRIBUTE_PAIRS", "HELD_OUT_SYNONYMS", "PLURALS", "PLURAL_TEMPLATES",
    "SINGULAR_TEMPLATES", "SYNONYMS", "attribute_allowed", "brightness_attribute", "brightness_thresholds",
    "draw_attributes", "draw_captions", "image_brightness", "rich", "single_captions", "tokenizer_corpus",
    "training_texts", "training_wordings", "with_article",
]
