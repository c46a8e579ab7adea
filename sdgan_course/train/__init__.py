"""Training: the one shared loop (``loop``) and one visible step per model family (``gan``, ...)."""

from .gan import (
    EMA,
    DivergenceError,
    GANRun,
    GANTrainConfig,
    LoadedGAN,
    TrainResult,
    export_gan,
    gan_train_step,
    generate,
    load_gan,
    load_shipped_gan,
    make_gan_optimizers,
    train_gan,
    with_steps,
)

__all__ = [
    "DivergenceError", "EMA", "GANRun", "GANTrainConfig", "LoadedGAN", "TrainResult", "export_gan", "gan_train_step",
    "generate", "load_gan", "load_shipped_gan", "make_gan_optimizers", "train_gan", "with_steps",
]  # fmt: skip
