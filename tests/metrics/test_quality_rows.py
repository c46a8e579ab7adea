"""The rows of the stored quality tables (sdgan_course/metrics/report.py: score_row, real_floor, describe_machine),
which tools/evaluate_diffusion.py, tools/evaluate_ldm.py and tools/compare_models.py write into data/checkpoints/."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from sdgan_course.metrics import report
from sdgan_course.metrics.report import SCORE_KEYS, describe_machine, real_floor, score_row

ROOT = Path(__file__).resolve().parents[2]


def fake_scores(calls):
    def score_samples(images, reference, classifier, *, labels=None, kid_subset_size=1000, **_):
        calls.append(dict(n=len(images), labels=labels, kid_subset_size=kid_subset_size))
        return {"fid": 12.345678, "kid": torch.tensor(-0.000123456), "precision": 0.87654321, "recall": 0.5,
                "label_agreement": 0.93333333, "classes_covered": 10, "density": 1.1, "class_histogram": [0.1] * 10}

    return score_samples


def test_score_row_keeps_the_table_columns_rounded_to_four_decimals(monkeypatch):
    calls = []
    monkeypatch.setattr(report, "score_samples", fake_scores(calls))
    labels = torch.arange(300) % 10
    row = score_row(torch.zeros(300, 1, 28, 28), labels, reference=None, classifier=None)
    assert tuple(row) == SCORE_KEYS == ("fid", "kid", "precision", "recall", "label_agreement", "classes_covered")
    assert row == {"fid": 12.3457, "kid": -0.0001, "precision": 0.8765, "recall": 0.5, "label_agreement": 0.9333,
                   "classes_covered": 10.0}
    assert all(type(v) is float for v in row.values())  # plain floats: json.dumps writes them
    assert calls[0]["kid_subset_size"] == 300 and calls[0]["labels"] is labels  # KID subsets: at most the set
    score_row(torch.zeros(2500, 1, 28, 28), None, reference=None, classifier=None)
    assert calls[1]["kid_subset_size"] == 1000


def test_score_row_without_labels_has_no_label_agreement(monkeypatch):
    """The unconditional GAN's row of tools/compare_models.py: no labels, so no agreement to round."""
    scores = fake_scores([])
    monkeypatch.setattr(report, "score_samples", lambda *a, **k: scores(*a, **k) | {"label_agreement": None})
    row = score_row(torch.zeros(50, 1, 28, 28), None, reference=None, classifier=None)
    assert row["label_agreement"] is None and row["fid"] == 12.3457


def test_real_floor_scores_the_first_n_test_images(monkeypatch):
    calls, asked = [], []

    def load_images(dataset, split, *, limit=None):
        asked.append((dataset, split, limit))
        return SimpleNamespace(images=torch.zeros(limit, 1, 28, 28), labels=torch.arange(limit) % 10)

    monkeypatch.setattr(report, "score_samples", fake_scores(calls))
    monkeypatch.setattr(report, "load_images", load_images)
    row = real_floor(40, reference=None, classifier=None)
    assert asked == [("fashion_mnist", "test", 40)]
    assert list(row)[:2] == ["model", "n"] and row["model"] == "real test images" and row["n"] == 40
    assert {k: row[k] for k in SCORE_KEYS} == score_row(torch.zeros(40, 1, 28, 28), None, None, None)


def test_describe_machine_names_the_threads_and_the_torch_version():
    text = describe_machine()
    assert text.endswith(f", {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    assert text.split(",")[0].strip()  # a processor name, whatever the platform reports


@pytest.mark.slow
def test_real_floor_reproduces_the_stored_floor_of_the_ddpm_grid():
    """The floor stored by tools/evaluate_diffusion.py before these functions moved into the library (1,000 test
    images against 1,000 training features), reproduced to the last stored digit."""
    from sdgan_course.metrics.features import reference_statistics
    from sdgan_course.models.classifier import load_classifier

    stored = json.loads((ROOT / "data/checkpoints/ddpm_fashion_mnist_eval.json").read_text())["real_floor_grid"]
    classifier = load_classifier("fashion_mnist")
    reference = reference_statistics("fashion_mnist", "train", classifier=classifier, num_features=stored["n"])
    assert real_floor(stored["n"], reference, classifier) == stored
