import json
import math
import sys

import numpy as np
import pytest
import torch

from sdgan_course import metrics
from sdgan_course.data import ImageData
from sdgan_course.metrics import MetricInputError
from sdgan_course.models.classifier import ClassifierInfo, CourseClassifier


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- FID


def test_fid_of_identical_sets_is_zero():
    f = torch.randn(400, 16, generator=_gen())
    assert metrics.fid_from_features(f, f) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_the_diagonal_closed_form():
    mu1, mu2 = torch.tensor([0.0, 1.0, -2.0]), torch.tensor([1.0, 1.0, 0.5])
    a, b = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([9.0, 1.0, 0.25])
    # diagonal: Tr(S1 + S2 - 2 (S1 S2)^1/2) = sum (sqrt(a) - sqrt(b))^2
    expected = ((mu1 - mu2) ** 2).sum() + ((a.sqrt() - b.sqrt()) ** 2).sum()
    assert expected.item() == pytest.approx(1 + 6.25 + 4 + 1 + 0)
    d = metrics.frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b))
    assert d == pytest.approx(expected.item(), rel=1e-10)


def test_frechet_distance_full_covariances_against_non_symmetric_eigenvalues():
    g = _gen(1)
    a, b = torch.randn(5, 5, generator=g, dtype=torch.float64), torch.randn(5, 5, generator=g, dtype=torch.float64)
    s1, s2 = a @ a.T + 0.1 * torch.eye(5), b @ b.T + 0.1 * torch.eye(5)  # do not commute
    mu1, mu2 = torch.randn(5, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64)
    # independent route: Tr (S1 S2)^1/2 = sum of square roots of the (real, positive) eigenvalues of S1 S2
    tr_root = torch.linalg.eigvals(s1 @ s2).real.sqrt().sum()
    expected = ((mu1 - mu2) ** 2).sum() + s1.trace() + s2.trace() - 2 * tr_root
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected.item(), rel=1e-9)
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(metrics.frechet_distance(mu2, s2, mu1, s1))


def test_fid_from_samples_approaches_the_closed_form():
    g = _gen(2)
    x = torch.randn(20000, 2, generator=g) * torch.tensor([1.0, 2.0])
    y = torch.randn(20000, 2, generator=g) * torch.tensor([1.0, 1.0]) + torch.tensor([3.0, 0.0])
    expected = 9.0 + (2.0 - 1.0) ** 2  # ||mu||^2 + (sqrt 4 - sqrt 1)^2
    assert metrics.fid_from_features(x, y) == pytest.approx(expected, rel=0.03)


def test_feature_statistics_is_mean_and_unbiased_covariance():
    f = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]])
    s = metrics.feature_statistics(f)
    assert torch.allclose(s.mu, torch.tensor([2.0, 4.0], dtype=torch.float64))
    assert torch.allclose(s.sigma, torch.tensor(np.cov(f.numpy().T), dtype=torch.float64))


# ---------------------------------------------------------------- KID


def test_polynomial_kernel_value():
    x, y = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, -1.0]])
    assert metrics.polynomial_kernel(x, y).item() == pytest.approx((1 / 2 + 1) ** 3)


def test_mmd2_unbiased_has_the_population_value_in_expectation():
    g = _gen(3)
    a = torch.randn(6, 3, generator=g, dtype=torch.float64)  # p: uniform over the rows of a
    b = torch.randn(6, 3, generator=g, dtype=torch.float64) + 0.3  # q: uniform over the rows of b
    k = metrics.polynomial_kernel
    population = (k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()).item()  # i.i.d. draws may repeat a row
    same = k(a, a).mean() + k(a, a).mean() - 2 * k(a, a).mean()
    assert same.item() == pytest.approx(0.0, abs=1e-12)
    unbiased, biased, null = [], [], []
    for _ in range(4000):
        x = a[torch.randint(0, 6, (8,), generator=g)]
        y = b[torch.randint(0, 6, (8,), generator=g)]
        x2 = a[torch.randint(0, 6, (8,), generator=g)]
        unbiased.append(metrics.mmd2_unbiased(x, y))
        null.append(metrics.mmd2_unbiased(x, x2))
        biased.append((k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()).item())
    u, bi, nu = (torch.tensor(v, dtype=torch.float64) for v in (unbiased, biased, null))
    se = u.std() / math.sqrt(len(u))
    assert abs(u.mean() - population) < 4 * se
    assert abs(nu.mean()) < 4 * nu.std() / math.sqrt(len(nu))  # same distribution: zero on average
    assert bi.mean() - population > 10 * se  # the estimator with diagonal terms is biased upwards


def test_kid_is_near_zero_for_the_same_distribution_and_positive_for_a_shift():
    g = _gen(4)
    x, y = torch.randn(600, 8, generator=g), torch.randn(600, 8, generator=g)
    same = metrics.kid_from_features(x, y, num_subsets=20, subset_size=300)
    shifted = metrics.kid_from_features(x, y + 1.0, num_subsets=20, subset_size=300)
    assert abs(same.mean) < 3 * same.std + 1e-3
    assert shifted.mean > 20 * same.std


# ---------------------------------------------------------------- precision and recall


def _clusters(centre, n, seed):
    return torch.tensor(centre, dtype=torch.float32) + 0.3 * torch.randn(n, 2, generator=_gen(seed))


def test_precision_recall_on_constructed_manifolds():
    real_a, real_b = _clusters([0.0, 0.0], 50, 5), _clusters([10.0, 0.0], 50, 6)
    real = torch.cat([real_a, real_b])
    # half exact copies of real mode A, half in a mode far from any real data
    fake = torch.cat([real_a.clone(), _clusters([100.0, 0.0], 50, 7)])
    pr = metrics.precision_recall(real, fake, k=3)
    assert pr.precision == pytest.approx(0.5) and pr.recall == pytest.approx(0.5)
    # mode collapse onto A: every sample is realistic, half the real data is missed
    collapsed = torch.cat([real_a, real_a + 0.01])
    pr = metrics.precision_recall(real, collapsed, k=3)
    assert pr.precision == pytest.approx(1.0) and pr.recall == pytest.approx(0.5)
    assert metrics.precision_recall(real, real) == (1.0, 1.0)


def test_knn_radius_excludes_the_point_itself():
    pts = torch.tensor([[0.0], [1.0], [3.0], [6.0]])
    assert metrics.knn_radii(pts, k=1).tolist() == [1.0, 1.0, 2.0, 3.0]
    assert metrics.knn_radii(pts, k=3).tolist() == [6.0, 5.0, 3.0, 6.0]


# ---------------------------------------------------------------- classifier-based scores


def test_inception_score_extremes():
    k = 10
    confident_even = torch.eye(k).repeat(20, 1)  # (200, 10) one-hot, every class equally often
    assert metrics.inception_score(confident_even, splits=10).mean == pytest.approx(k, rel=1e-6)
    one_class = torch.eye(k)[torch.zeros(200, dtype=torch.long)]
    assert metrics.inception_score(one_class).mean == pytest.approx(1.0)
    uniform = torch.full((200, k), 1.0 / k)
    assert metrics.inception_score(uniform).mean == pytest.approx(1.0)
    with pytest.raises(MetricInputError, match="softmax"):
        metrics.inception_score(torch.randn(200, k))


def test_class_coverage_histogram_entropy_and_agreement():
    probs = torch.eye(4)[torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])]
    c = metrics.class_coverage(probs, labels=torch.tensor([0, 0, 1, 1, 2, 2, 3, 0]))
    assert c.histogram.tolist() == [0.25] * 4 and c.normalised_entropy == pytest.approx(1.0)
    assert c.classes_covered == 4 and c.label_agreement == pytest.approx(7 / 8)
    unlabelled = metrics.class_coverage(probs, labels=torch.full((8,), -1))  # -1: an unconditional model's samples
    assert unlabelled.label_agreement is None
    partly = metrics.class_coverage(probs, labels=torch.tensor([0, -1, 1, 0, -1, -1, -1, -1]))
    assert partly.label_agreement == pytest.approx(2 / 3)
    two = metrics.class_coverage(torch.eye(4)[torch.tensor([0, 1, 0, 1])])
    assert two.entropy == pytest.approx(math.log(2)) and two.classes_covered == 2 and two.label_agreement is None


# ---------------------------------------------------------------- memorisation


def test_nearest_neighbours_matches_brute_force():
    g = _gen(8)
    q, r = torch.rand(7, 1, 28, 28, generator=g) * 2 - 1, torch.rand(30, 1, 28, 28, generator=g) * 2 - 1
    nn = metrics.nearest_neighbours(q, r, k=2, batch_size=3)
    brute = torch.cdist(q.flatten(1).double(), r.flatten(1).double()) / 28  # RMS over 784 pixels
    vals, idx = brute.topk(2, dim=1, largest=False)
    assert torch.equal(nn.indices, idx) and torch.allclose(nn.distances.double(), vals, atol=1e-4)


def test_memorisation_check_flags_copies_and_not_heldout_images():
    g = _gen(9)
    train = torch.rand(200, 1, 28, 28, generator=g) * 2 - 1
    heldout = torch.rand(100, 1, 28, 28, generator=g) * 2 - 1
    copies = train[[5, 17, 42]]
    m = metrics.memorisation_check(copies, train, heldout)
    assert m.copy_fraction == 1.0 and m.sample_indices.tolist() == [5, 17, 42] and m.median_ratio < 0.01
    fresh = torch.rand(100, 1, 28, 28, generator=g) * 2 - 1
    m = metrics.memorisation_check(fresh, train, heldout)
    assert m.copy_fraction < 0.1 and 0.8 < m.median_ratio < 1.2


# ---------------------------------------------------------------- SSIM


def test_ssim_of_an_image_with_itself_is_one():
    x = torch.rand(3, 1, 28, 28, generator=_gen(10)) * 2 - 1
    assert torch.allclose(metrics.ssim(x, x, reduction="none"), torch.ones(3), atol=1e-6)


def test_ssim_of_constant_images_has_the_closed_form():
    a, b = 0.2, 0.7  # in [0, 1]; SSIM = (2ab + C1) / (a^2 + b^2 + C1) since all variances are zero
    x = torch.full((1, 1, 28, 28), 2 * a - 1)
    y = torch.full((1, 1, 28, 28), 2 * b - 1)
    c1 = 0.01**2
    assert metrics.ssim(x, y).item() == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-5)


def _ssim_by_hand(x, y):
    """Independent SSIM: explicit loops over every valid 11x11 window (Wang et al. 2004)."""
    coords = np.arange(11) - 5
    g = np.exp(-(coords**2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = 0.01**2, 0.03**2
    vals = []
    for i in range(28 - 10):
        for j in range(28 - 10):
            px, py = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
            mx, my = (w * px).sum(), (w * py).sum()
            vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
            cxy = (w * (px - mx) * (py - my)).sum()
            vals.append((2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(vals))


def test_ssim_matches_an_independent_window_loop():
    g = _gen(11)
    x = torch.rand(28, 28, generator=g, dtype=torch.float64)
    y = (x + 0.2 * torch.randn(28, 28, generator=g, dtype=torch.float64)).clamp(0, 1)
    expected = _ssim_by_hand(x.numpy(), y.numpy())
    got = metrics.ssim((2 * x - 1)[None].float(), (2 * y - 1)[None].float()).item()
    assert got == pytest.approx(expected, abs=1e-5)
    assert 0.1 < got < 0.95


def test_feature_cosine_similarity_of_identical_pairs_is_one():
    model = CourseClassifier().eval()
    x = torch.rand(4, 1, 28, 28, generator=_gen(12)) * 2 - 1
    cos = metrics.feature_cosine_similarity(x, x, model)
    assert cos.shape == (4,) and torch.allclose(cos, torch.ones(4), atol=1e-5)


# ---------------------------------------------------------------- bad inputs


def test_metrics_refuse_mismatched_shapes_and_ranges():
    good = torch.zeros(2, 1, 28, 28)
    with pytest.raises(MetricInputError, match=r"\[-1, 1\].*to_model_range"):
        metrics.ssim(good, torch.full((2, 1, 28, 28), 255.0))
    with pytest.raises(MetricInputError, match="equal shape"):
        metrics.ssim(good, torch.zeros(3, 1, 28, 28))
    with pytest.raises(MetricInputError, match=r"\(N, H, W\) or \(N, C, H, W\)"):
        metrics.as_images(torch.zeros(2, 784))
    assert metrics.as_images(torch.zeros(2, 3, 32, 32)).shape == (2, 3, 32, 32)  # the shape comes from the data
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):  # ... and the feature network says what it takes
        metrics.extract_features(torch.zeros(2, 3, 32, 32), CourseClassifier().eval())
    with pytest.raises(MetricInputError, match="different dimensions"):
        metrics.fid_from_features(torch.randn(10, 4), torch.randn(10, 5))
    with pytest.raises(MetricInputError, match="same F"):
        metrics.frechet_distance(torch.zeros(3), torch.eye(3), torch.zeros(2), torch.eye(2))
    with pytest.raises(MetricInputError, match="NaN"):
        metrics.precision_recall(torch.full((10, 2), float("nan")), torch.randn(10, 2))
    with pytest.raises(MetricInputError, match="k=3"):
        metrics.knn_radii(torch.randn(3, 2), k=3)


# ---------------------------------------------------------------- reference statistics and the CLI


def test_reference_statistics_are_cached_by_classifier_checksum(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fake = ImageData(torch.rand(64, 1, 28, 28, generator=_gen(13)) * 2 - 1, torch.zeros(64, dtype=torch.long), ())
    monkeypatch.setattr(metrics.features, "load_images", lambda *a, **k: fake)
    info = ClassifierInfo(CourseClassifier().eval(), "mnist", "ab" * 32, float("nan"), tmp_path / "x.pt")
    ref = metrics.reference_statistics("mnist", "train", classifier=info, num_features=50)
    assert ref.features.shape == (50, 128) and ref.sigma.shape == (128, 128) and ref.n == 64
    cached = list((tmp_path / "sdgan_course" / "reference_stats").glob("reference_mnist_train_abababababab.npz"))
    assert len(cached) == 1

    def boom(*a, **k):
        raise AssertionError("recomputed although a cache file exists")

    monkeypatch.setattr(metrics.features, "extract_features", boom)
    again = metrics.reference_statistics("mnist", "train", classifier=info, num_features=50)
    assert torch.allclose(again.mu, ref.mu) and torch.allclose(again.features, ref.features, atol=1e-2)
    other = info._replace(sha256="cd" * 32)  # another classifier must not reuse the file
    with pytest.raises(AssertionError, match="recomputed"):
        metrics.reference_statistics("mnist", "train", classifier=other, num_features=50)


def test_inception_fid_is_skipped_with_a_message_when_pytorch_fid_is_missing(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pytorch_fid", None)  # import now fails, as when not installed
    monkeypatch.setitem(sys.modules, "pytorch_fid.inception", None)
    status = metrics.inception_fid_status()
    assert not status.available and "pip install pytorch-fid" in status.message
    x = torch.zeros(4, 1, 28, 28)
    assert metrics.inception_fid(x, x) is None
    assert "Inception FID skipped" in capsys.readouterr().out


def test_load_samples_refuses_float_images_and_reads_minus_one_as_no_label(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, images=np.zeros((3, 28, 28), dtype=np.float32))
    with pytest.raises(MetricInputError, match="uint8"):
        metrics.load_samples(path)
    np.savez(path, images=np.zeros((3, 28, 28), dtype=np.uint8), labels=np.full(3, -1))
    x, labels = metrics.load_samples(path)
    assert x.shape == (3, 1, 28, 28) and x.min() == -1.0 and labels is None


def test_evaluate_command_prints_a_table_and_json(tmp_path, capsys):
    from sdgan_course.cli.main import main
    from sdgan_course.data import load_images, to_uint8

    real = load_images("mnist", "test", limit=300)
    path = tmp_path / "samples.npz"
    np.savez(path, images=to_uint8(real.images)[:, 0], labels=real.labels.numpy())
    out_json = tmp_path / "m.json"
    assert main(["evaluate", str(path), "--dataset", "mnist", "--nn-train", "2000", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "not requested" in out
    result = json.loads(out_json.read_text())
    assert result["num_samples"] == 300 and 0.0 <= result["precision"] <= 1.0
    assert result["label_agreement"] > 0.9  # real digits: the classifier agrees with their labels
    assert result["precision"] > 0.8 and result["copy_fraction"] < 0.1  # held-out real data is neither bad nor a copy


def test_classifier_two_sample_test_is_chance_for_one_distribution_and_high_for_two():
    g = _gen(14)
    a = torch.rand(200, 1, 28, 28, generator=g) * 2 - 1
    b = torch.rand(200, 1, 28, 28, generator=g) * 2 - 1
    same = metrics.classifier_two_sample_test(a, b, steps=40, width=4)
    marked = b.clone()
    marked[:, :, 10:18, 10:18] = 1.0  # every "fake" has a white square: easy to spot
    easy = metrics.classifier_two_sample_test(a, marked, steps=40, width=4)
    assert same.num_test == 120 and abs(same.accuracy - 0.5) < 4 * same.std_error
    assert easy.accuracy > 0.9


def test_density_and_coverage_on_constructed_sets():
    real_a, real_b = _clusters([0.0, 0.0], 50, 15), _clusters([10.0, 0.0], 50, 16)
    real = torch.cat([real_a, real_b])
    far = _clusters([100.0, 0.0], 50, 17)
    half = metrics.density_coverage(real, torch.cat([real_a.clone(), far]), k=5)
    assert half.coverage == pytest.approx(0.5)  # exactly the real points of mode A have a sample in their ball
    assert metrics.density_coverage(real, far, k=5) == (0.0, 0.0)
    # one real outlier with a huge ball: precision is fooled by samples near it, density is not
    outlier_real = torch.cat([real_a, torch.tensor([[30.0, 0.0]])])
    near_outlier = torch.tensor([[30.0, 25.0]]).repeat(20, 1) + 0.1 * torch.randn(20, 2, generator=_gen(18))
    assert metrics.precision_recall(outlier_real, near_outlier, k=3).precision == 1.0
    assert metrics.density_coverage(outlier_real, near_outlier, k=3).density < 0.4
    g = _gen(19)
    same = metrics.density_coverage(torch.randn(2000, 3, generator=g), torch.randn(2000, 3, generator=g), k=5)
    assert same.density == pytest.approx(1.0, abs=0.1) and same.coverage > 0.95
