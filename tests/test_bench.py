"""bench: the step timer's figures are consistent, and `bench gan|ddpm|ldm` print images/s, % of the matmul rate and
peak memory (the ddpm and gan commands are exercised in tests/cli)."""

import math

import torch

from sdgan_course.bench import bench_step, matmul_peak_gflops, peak_memory_mb
from sdgan_course.cli.main import main


def test_bench_step_counts_flops_and_time_consistently():
    a = torch.randn(64, 64, requires_grad=True)
    b = torch.randn(64, 64)

    def step():
        (a @ b).sum().backward()  # forward 2*64^3 FLOPs, backward (grad of a only) another 2*64^3

    r = bench_step(step, batch_size=64, steps=3, device="cpu", warmup=1)
    assert math.isclose(r.mflop_per_image * 64 * 1e6, 4 * 64**3, rel_tol=1e-6)
    assert math.isclose(r.gflops, r.mflop_per_image * r.images_per_second / 1e3, rel_tol=1e-6)
    assert math.isclose(r.step_ms, 1000 * 64 / r.images_per_second, rel_tol=1e-6)
    assert r.peak_mb > 10  # the process's peak resident set: torch alone is far more than 10 MB


def test_matmul_rate_and_peak_memory_are_positive():
    assert matmul_peak_gflops("cpu", size=128, repeats=2) > 0
    assert peak_memory_mb("cpu") > 0


def test_bench_ldm_prints_a_row(capsys):
    assert main(["bench", "ldm", "--profile", "ci", "--steps", "1", "--batch-size", "4"]) == 0
    out = capsys.readouterr().out
    assert "latent U-Net (ci" in out and "% peak" in out and "peak MB" in out and "images/s" in out
