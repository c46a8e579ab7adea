"""Speed measurements that print figures: training throughput (images/s, achieved FLOP/s, peak memory) of any step
and the machine's matrix-multiply rate, the yardstick for "% peak" (``python -m sdgan_course bench gan|ddpm|ldm``).

The reference is the common 28x28 tutorial DCGAN (z 100 -> ConvT 256x7x7 -> 128x14x14 -> 1x28x28; D 64 -> 128
channels -> linear), trained with the same step, batch and device, so a speed claim is always relative to a model
measured on the same machine at the same moment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from .device import describe_device
from .nn.blocks import init_dcgan_weights
from .train.gan import gan_train_step, make_gan_optimizers


class TutorialGenerator(nn.Module):
    """The tutorial DCGAN generator for 28x28: z (B, 100) -> (B, 1, 28, 28)."""

    def __init__(self, *, z_dim: int = 100):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 256, 7, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU(True),  # (B, 256, 7, 7)
            nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),  # (B, 128, 14, 14)
            nn.ConvTranspose2d(128, 1, 4, 2, 1, bias=False), nn.Tanh(),  # (B, 1, 28, 28)
        )

    def forward(self, z):
        return self.net(z[:, :, None, None])


class TutorialDiscriminator(nn.Module):
    """The tutorial DCGAN discriminator for 28x28: (B, 1, 28, 28) -> (B,) logits."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2, True),  # (B, 64, 14, 14)
            nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2, True),  # (B, 128, 7, 7)
            nn.Flatten(), nn.Linear(128 * 7 * 7, 1),  # (B, 1)
        )

    def forward(self, x):
        return self.net(x).squeeze(1)  # (B,)


class BenchResult(NamedTuple):
    images_per_second: float
    step_ms: float
    mflop_per_image: float
    gflops: float  # achieved: counted FLOPs per step / measured seconds per step
    peak_mb: float  # peak memory: CUDA allocations on a GPU, the process's resident set on the CPU


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def reset_peak_memory(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device) -> float:
    """Peak memory since :func:`reset_peak_memory`: tensors allocated on a CUDA device, or (CPU) the whole process's
    peak resident set, libraries and data included (it never goes down, so it bounds every model timed before)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def bench_step(step: Callable[[], object], *, batch_size: int, steps: int, device, warmup: int = 2) -> BenchResult:
    """Time ``steps`` calls of a training ``step()`` on ``batch_size`` images (after one FLOP-counted call and
    ``warmup`` more); FLOPs counted by torch's FlopCounterMode (matmuls and convolutions, forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    device = torch.device(device)
    reset_peak_memory(device)
    with FlopCounterMode(display=False) as counter:
        step()
    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    seconds = (time.perf_counter() - start) / steps
    flops = counter.get_total_flops()
    return BenchResult(batch_size / seconds, 1000 * seconds, flops / batch_size / 1e6, flops / seconds / 1e9,
                       peak_memory_mb(device))


def bench_gan_step(
    generator: nn.Module, discriminator: nn.Module, *, z_dim: int, batch_size: int, steps: int, device, amp=True
) -> BenchResult:
    """Time ``steps`` full GAN steps (D then G) on random images of the generator's output shape."""
    device = torch.device(device)
    generator, discriminator = generator.to(device), discriminator.to(device)
    opt_g, opt_d = make_gan_optimizers(generator, discriminator)
    real = torch.rand(batch_size, *_output_shape(generator, z_dim, device), device=device) * 2 - 1  # (B, C, H, W)

    def step():
        gan_train_step(generator, discriminator, opt_g, opt_d, real, z_dim=z_dim, amp=amp)

    return bench_step(step, batch_size=batch_size, steps=steps, device=device)


def print_bench_header(device, peak_gflops: float, what: str) -> str:
    """The lines every ``bench`` command starts with; returns the table header's format for :func:`bench_row`."""
    print(f"device {describe_device(device)}; {what}")
    print(f"matmul rate (float32, 1024x1024), the reference for '% peak': {peak_gflops:.1f} GFLOP/s")
    print("(FLOPs counted by torch.utils.flop_counter; a reference rate, not a hard ceiling; peak memory: CUDA "
          "allocations on a GPU, the process's peak resident set on the CPU)\n")
    header = (f"{'model':<34} {'params':>14} {'images/s':>9} {'ms/step':>8} {'MFLOP/img':>10} {'GFLOP/s':>8} "
              f"{'% peak':>7} {'peak MB':>8}")
    print(header)
    print("-" * len(header))
    return header


def bench_row(name: str, params: str, r: BenchResult, peak_gflops: float) -> str:
    row = (f"{name:<34} {params:>14} {r.images_per_second:>9.0f} {r.step_ms:>8.1f} {r.mflop_per_image:>10.1f} "
           f"{r.gflops:>8.1f} {100 * r.gflops / peak_gflops:>6.0f}% {r.peak_mb:>8.0f}")
    print(row)
    return row


def _output_shape(generator: nn.Module, z_dim: int, device: torch.device) -> tuple[int, ...]:
    """(C, H, W) of the generator's images, from one forward pass in eval mode (batch-norm statistics untouched)."""
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        shape = tuple(generator(torch.zeros(2, z_dim, device=device)).shape[1:])
    generator.train(was_training)
    return shape


def matmul_peak_gflops(device, *, size: int = 1024, repeats: int = 10) -> float:
    """This machine's measured float32 matrix-multiply rate in GFLOP/s (the best of three timings)."""
    device = torch.device(device)
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    best = 0.0
    for _ in range(3):
        _sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        _sync(device)
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9)
    return best


def tutorial_pair() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    return init_dcgan_weights(TutorialGenerator()), init_dcgan_weights(TutorialDiscriminator())
