"""Metrics for generated images, one module per idea; every public name is also importable from here.

- :mod:`.features`: image checks, classifier features, the real data's reference statistics (cached)
- :mod:`.fid`: FID, KID, the standard Inception FID when available
- :mod:`.precision_recall`: improved precision/recall, density/coverage
- :mod:`.classes`: Inception-score analogue, class coverage, label agreement
- :mod:`.similarity`: SSIM, feature similarity, nearest neighbours, memorisation
- :mod:`.two_sample`: the classifier two-sample test
- :mod:`.reconstruction`: PSNR, SSIM and FID of an autoencoder's reconstructions
- :mod:`.tradeoff`: Pareto dominance (is any model best on every axis?)
- :mod:`.report`: everything at once (``evaluate_samples``), the table, sample files
"""

from .classes import ClassCoverage, InceptionScore, class_coverage, inception_score
from .features import (
    FeatureSet,
    GaussianStats,
    MetricInputError,
    ReferenceStats,
    as_images,
    extract_features,
    feature_statistics,
    reference_file_name,
    reference_statistics,
    save_reference_statistics,
    ship_reference_statistics,
)
from .fid import (
    KID,
    InceptionStatus,
    fid_from_features,
    frechet_distance,
    inception_fid,
    inception_fid_status,
    kid_from_features,
    mmd2_unbiased,
    polynomial_kernel,
    sqrtm_psd,
)
from .precision_recall import (
    DensityCoverage,
    PrecisionRecall,
    density_coverage,
    knn_radii,
    manifold_membership,
    precision_recall,
)
from .reconstruction import ReconstructionQuality, psnr, reconstruction_quality
from .report import METRIC_NOTES, evaluate_samples, format_table, load_samples, score_samples
from .similarity import (
    Memorisation,
    Neighbours,
    feature_cosine_similarity,
    gaussian_window,
    memorisation_check,
    nearest_neighbours,
    ssim,
)
from .tradeoff import dominates, pareto_front
from .two_sample import TwoSampleResult, classifier_two_sample_test

__all__ = [
    "ClassCoverage", "DensityCoverage", "FeatureSet", "GaussianStats", "InceptionScore", "InceptionStatus", "KID",
    "METRIC_NOTES", "Memorisation", "MetricInputError", "Neighbours", "PrecisionRecall", "ReconstructionQuality",
    "ReferenceStats", "TwoSampleResult", "as_images", "class_coverage", "classifier_two_sample_test",
    "density_coverage", "dominates", "evaluate_samples", "extract_features", "feature_cosine_similarity",
    "feature_statistics", "fid_from_features", "format_table", "frechet_distance", "gaussian_window",
    "inception_fid", "inception_fid_status", "inception_score", "kid_from_features", "knn_radii", "load_samples",
    "manifold_membership", "memorisation_check", "mmd2_unbiased", "nearest_neighbours", "pareto_front",
    "polynomial_kernel", "precision_recall", "psnr", "reconstruction_quality", "reference_file_name",
    "reference_statistics", "save_reference_statistics", "score_samples", "ship_reference_statistics", "sqrtm_psd",
    "ssim",
]
