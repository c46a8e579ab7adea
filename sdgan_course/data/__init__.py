"""Data: image datasets and the range contract (``images``), in-memory batches (``batches``), toy distributions
(``toy``). The names below are importable from ``sdgan_course.data`` directly."""

from ..assets import DataError, cache_dir, data_dirs, find_file, sha256_of
from .batches import StepBatches, batches, endless_batches
from .images import (
    DATASETS,
    DIGIT_CLASSES,
    FASHION_CLASSES,
    DatasetInfo,
    ImageData,
    class_index,
    dataset_info,
    load_images,
    to_model_range,
    to_uint8,
    to_unit_range,
)
from .toy import GaussianMixture, ModeCoverage, count_modes, gaussian_mixture_1d, ring_of_gaussians, spiral

__all__ = [
    "DATASETS", "DIGIT_CLASSES", "FASHION_CLASSES", "DataError", "DatasetInfo", "GaussianMixture", "ImageData",
    "ModeCoverage", "StepBatches", "batches", "cache_dir", "class_index", "count_modes", "data_dirs", "dataset_info",
    "endless_batches", "find_file", "gaussian_mixture_1d", "load_images", "ring_of_gaussians", "sha256_of", "spiral",
    "to_model_range", "to_uint8", "to_unit_range",
]
