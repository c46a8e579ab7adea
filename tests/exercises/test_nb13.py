"""Notebook 13's exercise checks: the right answer passes, a blank asks for it, each recognised mistake is named."""

import numpy as np
import pytest
import torch

from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb13 as ex


def test_global_batch():
    ex.check_global_batch(4 * 64, 2e-4 * 2)
    ex.check_global_batch(torch.tensor(256), np.float64(4e-4))  # 0-d tensors and numpy scalars are numbers
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_global_batch(..., 4e-4)
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_global_batch(256, ...)
    with pytest.raises(ExerciseError, match="one GPU's share"):
        ex.check_global_batch(64, 4e-4)
    with pytest.raises(ExerciseError, match="keeps the learning rate"):
        ex.check_global_batch(256, 2e-4)
    with pytest.raises(ExerciseError, match="linear scaling rule.*Goyal.*SGD"):  # was the accepted answer
        ex.check_global_batch(256, 8e-4)
    with pytest.raises(ExerciseError, match="divides by the factor"):
        ex.check_global_batch(256, 5e-5)
    with pytest.raises(ExerciseError, match="divides by the square root"):
        ex.check_global_batch(256, 1e-4)
    with pytest.raises(ExerciseError, match="square root of the global batch"):
        ex.check_global_batch(256, 2e-4 * 16)
    with pytest.raises(ExerciseError, match="multiplies by the global batch"):
        ex.check_global_batch(256, 2e-4 * 256)
    with pytest.raises(ExerciseError, match="not Adam's learning rate by the square-root rule"):
        ex.check_global_batch(256, 3e-4)


def test_matmul_flops():
    ex.check_matmul_flops(lambda m, n, k: 2 * m * n * k)
    with pytest.raises(ExerciseError, match="not a function yet"):
        ex.check_matmul_flops(...)
    with pytest.raises(ExerciseError, match="one FLOP per multiply-add"):
        ex.check_matmul_flops(lambda m, n, k: m * n * k)
    with pytest.raises(ExerciseError, match="inner dimension"):
        ex.check_matmul_flops(lambda m, n, k: 2 * m * n)
    with pytest.raises(ExerciseError, match="wrong for 3 x 7 @ 7 x 5"):
        ex.check_matmul_flops(lambda m, n, k: 2 * m * n * k + (m == 3))
    with pytest.raises(ExerciseError, match=r"m n \(2k - 1\).*2 m n k"):
        ex.check_matmul_flops(lambda m, n, k: m * n * (2 * k - 1))
    ex.check_matmul_flops(lambda m, n, k: torch.tensor(2 * m * n * k))  # a 0-d tensor is a number
    with pytest.raises(ExerciseError, match="should be a number"):
        ex.check_matmul_flops(lambda m, n, k: "2mnk")  # a clear message, not a ValueError


INTENSITY = 2 * 8 * 1024 * 1024 / (4 * (8 * 1024 + 1024 * 1024 + 8 * 1024))


def test_intensity():
    ex.check_intensity(INTENSITY, "memory", 4.9)
    ex.check_intensity(INTENSITY, "arithmetic", 2.0)  # a machine with a low ridge point
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_intensity(..., "memory", 4.9)
    with pytest.raises(ExerciseError, match="weight's bytes"):
        ex.check_intensity(2 * 8 * 1024 * 1024 / (4 * 2 * 8 * 1024), "arithmetic", 4.9)
    with pytest.raises(ExerciseError, match="as 1 FLOP"):
        ex.check_intensity(INTENSITY / 2, "memory", 4.9)
    with pytest.raises(ExerciseError, match="2 bytes"):
        ex.check_intensity(INTENSITY * 2, "arithmetic", 4.9)
    with pytest.raises(ExerciseError, match="below this machine's ridge"):
        ex.check_intensity(INTENSITY, "arithmetic", 4.9)
    with pytest.raises(ExerciseError, match="'memory' or 'arithmetic'"):
        ex.check_intensity(INTENSITY, "compute", 4.9)
    with pytest.raises(ExerciseError, match="output's bytes"):
        ex.check_intensity(2 * 8 * 1024 * 1024 / (4 * (8 * 1024 + 1024 * 1024)), "memory", 4.9)
    ex.check_intensity(torch.tensor(INTENSITY), "memory", 4.9)


def test_all_reduce():
    ex.check_all_reduce(lambda grads: torch.stack(grads).mean(0))
    with pytest.raises(ExerciseError, match="not a function yet"):
        ex.check_all_reduce(...)
    with pytest.raises(ExerciseError, match="sum"):
        ex.check_all_reduce(lambda grads: grads[0] + grads[1])
    with pytest.raises(ExerciseError, match="rank 0's gradient"):
        ex.check_all_reduce(lambda grads: grads[0])
    with pytest.raises(ExerciseError, match="shape"):
        ex.check_all_reduce(lambda grads: torch.stack(grads).mean())
    with pytest.raises(ExerciseError, match="divides by 2 whatever the number of ranks"):  # passed with 2 ranks only
        ex.check_all_reduce(lambda grads: torch.stack(grads).sum(0) / 2)
    ex.check_all_reduce(lambda grads: torch.stack(grads).double().mean(0))  # float64 is fine


def test_ring_bytes():
    ex.check_ring_bytes(2 * 3 / 4 * 4_000_000)
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_ring_bytes(...)
    with pytest.raises(ExerciseError, match="size once"):
        ex.check_ring_bytes(4_000_000)
    with pytest.raises(ExerciseError, match="every round"):
        ex.check_ring_bytes(24_000_000)
    with pytest.raises(ExerciseError, match="reduce-scatter"):
        ex.check_ring_bytes(3_000_000)
    with pytest.raises(ExerciseError, match="numbers, not bytes"):
        ex.check_ring_bytes(1_500_000)
    ex.check_ring_bytes(np.float32(6e6))


def test_rank_draws():
    ex.check_rank_draws(48, 24)
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_rank_draws(..., 24)
    with pytest.raises(ExerciseError, match="local batch's numbers only"):
        ex.check_rank_draws(24, 24)
    with pytest.raises(ExerciseError, match="keeps"):
        ex.check_rank_draws(48, 48)
    with pytest.raises(ExerciseError, match="counts rows"):
        ex.check_rank_draws(16, 8)
    ex.check_rank_draws(torch.tensor(48), np.int64(24))
