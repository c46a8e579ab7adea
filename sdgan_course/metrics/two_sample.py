r"""Adversarial evaluation after training: the classifier two-sample test (a fresh judge the generator never fooled).

The judge is trained on the shared loop (:func:`sdgan_course.train.loop.train_loop`), with its divergence guard.

Shape legend: N images, C channels, H x W pixels, B batch.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..device import cpu_threads
from ..models.classifier import ClassifierConfig, CourseClassifier
from ..train.loop import Run, train_loop
from .features import MetricInputError, as_images


class TwoSampleResult(NamedTuple):
    """Held-out accuracy of a fresh classifier trained to tell real from generated images."""

    accuracy: float  # 0.5 = indistinguishable, 1.0 = always told apart
    std_error: float  # binomial standard error of that accuracy under the null (0.5)
    num_test: int


def classifier_two_sample_test(
    real,
    fake,
    *,
    steps: int = 300,
    batch_size: int = 64,
    test_fraction: float = 0.3,
    width: int = 8,
    lr: float = 2e-3,
    seed: int = 0,
    device=None,
) -> TwoSampleResult:
    r"""Classifier two-sample test (Lopez-Paz and Oquab 2017, arXiv:1610.06545, Sec. 3): train a small, fresh CNN to
    label real images 1 and generated images 0 on part of the data, and report its accuracy on the rest.

    Under the null hypothesis :math:`p_{data} = p_g` the held-out accuracy is 1/2 with standard error
    :math:`\sqrt{1/(4 n_{test})}`; the further above 1/2, the easier the fakes are to spot. It is the discriminator's
    job done again, after training, by a judge the generator never fooled. Uses equal numbers of real and fake images.
    """
    r, f = as_images(real, name="real"), as_images(fake, name="fake")
    if r.shape[1:] != f.shape[1:]:
        raise MetricInputError(
            f"real and fake images must have the same shape; got {tuple(r.shape)} and {tuple(f.shape)}."
        )
    n = min(len(r), len(f))
    n_test = max(1, int(round(test_fraction * n)))
    if n - n_test < 2:
        raise MetricInputError(f"The two-sample test needs more images; got {len(r)} real and {len(f)} fake.")
    rng = torch.Generator().manual_seed(seed)
    r, f = r[torch.randperm(len(r), generator=rng)[:n]], f[torch.randperm(len(f), generator=rng)[:n]]
    x_train = torch.cat([r[n_test:], f[n_test:]])  # (2(n - n_test), C, H, W)
    y_train = torch.cat([torch.ones(n - n_test), torch.zeros(n - n_test)]).long()
    x_test = torch.cat([r[:n_test], f[:n_test]])  # (2 n_test, C, H, W)
    y_test = torch.cat([torch.ones(n_test), torch.zeros(n_test)]).long()
    device = torch.device(device or "cpu")
    config = ClassifierConfig(num_classes=2, width=width, feature_dim=32, dropout=0.0, image_size=r.shape[-1],
                              channels=r.shape[1])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CourseClassifier(config=config)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()

    def step_fn(step: int) -> dict[str, float]:
        idx = torch.randint(0, len(x_train), (min(batch_size, len(x_train)),), generator=rng)  # (B,)
        loss = F.cross_entropy(model(x_train[idx].to(device)), y_train[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    with cpu_threads(device):  # a model this small only loses time synchronising threads (much more on a busy CPU)
        train_loop(Run(), step_fn, steps=steps, batch_size=batch_size, log_every=steps,
                   progress=False, desc="two-sample judge", fixes="lower lr")
        model.eval()
        with torch.no_grad():
            chunks = [x_test[i : i + 500].to(device) for i in range(0, len(x_test), 500)]
            pred = torch.cat([model(chunk).argmax(1).cpu() for chunk in chunks])  # (2 n_test,)
    return TwoSampleResult(float((pred == y_test).float().mean()), math.sqrt(0.25 / len(y_test)), len(y_test))

