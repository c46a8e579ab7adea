"""Training: the one shared loop (``loop``) and one visible step per model family (``gan``, ``toy``, ``classifier``)."""

from .gan import (
    EMA,
    DivergenceError,
    GANRun,
    GANStepConfig,
    GANTrainConfig,
    TrainResult,
    export_gan,
    gan_train_step,
    make_gan_optimizers,
    train_gan,
)

__all__ = [
    "DivergenceError", "EMA", "GANRun", "GANStepConfig", "GANTrainConfig", "TrainResult", "export_gan",
    "gan_train_step", "make_gan_optimizers", "train_gan",
]
