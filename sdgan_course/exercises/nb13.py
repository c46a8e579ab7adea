"""Checks for the exercises of notebook 13, speed and scale.

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. ``show("ex1")`` prints our solution.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import solutions
from .checks import as_number, call, close, expect, given, mistake, passed

NOTEBOOK = "13_speed_and_scale"


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def matmul_flop_count(m: int, n: int, k: int) -> int:
    """FLOPs of an (m x k) @ (k x n) product as ``bench_step`` counts them (torch.utils.flop_counter's ``mm``
    rule): m n k multiply-adds, 2 FLOPs each."""
    return 2 * m * n * k


def _isclose(a, b) -> bool:
    return math.isclose(float(a), float(b), rel_tol=1e-6)


def check_global_batch(global_batch, scaled_lr) -> None:
    """Exercise 1: 4 GPUs with 64 images each; Adam's learning rate 2e-4 was right for a batch of 64. The square-root
    rule for Adam (Malladi et al. 2022) gives the learning rate of the global batch."""
    hint = ("the global batch is the number of GPUs times the per-GPU batch; the square-root rule for Adam multiplies "
            "the learning rate by the square root of the factor by which the batch grew (Malladi et al. 2022).")
    batch = as_number(global_batch, "global_batch", hint)
    lr = as_number(scaled_lr, "scaled_lr", hint)
    gpus, per_gpu, base_lr = 4, 64, 2e-4
    expected_batch = gpus * per_gpu
    mistake(batch == per_gpu, "global_batch = 64 is one GPU's share.",
            "DDP averages the gradients of all the shards: one step sees every GPU's 64 images.")
    close(batch, expected_batch, "global_batch", hint, rtol=0, atol=0, what="the global batch")
    factor = expected_batch / per_gpu
    mistakes = [
        (base_lr, "scaled_lr = 2e-4 keeps the learning rate of the batch of 64.",
         "the batch grew 4 times; the square-root rule grows Adam's learning rate by the square root of 4."),
        (base_lr * factor, "scaled_lr is the linear scaling rule (x 4), the rule of Goyal et al. 2017 for SGD with "
         "momentum.", "for Adam the square-root rule (Malladi et al. 2022) is the one asked for: x sqrt(4)."),
        (base_lr / factor, "scaled_lr divides by the factor; a larger batch gets a larger rate, not a smaller one.",
         "multiply 2e-4 by the square root of 256 / 64."),
        (base_lr / math.sqrt(factor), "scaled_lr divides by the square root of the factor; a larger batch gets a "
         "larger rate, not a smaller one.", "multiply 2e-4 by the square root of 256 / 64."),
        (base_lr * math.sqrt(expected_batch), "scaled_lr multiplies by the square root of the global batch (16), not "
         "of the factor by which the batch grew.", "the factor is 256 / 64 = 4: the rate of the batch of 64 is the "
         "starting point."),
        (base_lr * expected_batch, "scaled_lr multiplies by the global batch (256), not by the factor by which the "
         "batch grew.", "the factor is 256 / 64 = 4, and Adam's rule takes its square root."),
    ]
    for wrong, problem, why in mistakes:
        mistake(_isclose(lr, wrong), problem, why)
    close(lr, base_lr * math.sqrt(factor), "scaled_lr", hint, rtol=1e-6,
          what="Adam's learning rate by the square-root rule")
    passed(f"Global batch {expected_batch}, learning rate {base_lr * math.sqrt(factor):g} (with a warm-up). The "
           f"linear rule (for SGD) would give {base_lr * factor:g}; Malladi et al. also scale Adam's 1 - beta and "
           "epsilon. With the same global batch on 1 or 4 GPUs the course keeps both numbers unchanged.")


def check_matmul_flops(matmul_flops) -> None:
    """Exercise 2: the FLOPs of an (m x k) @ (k x n) matrix product, counted as torch's FLOP counter does."""
    hint = ("the output has m x n entries; each is a dot product of length k: k multiplications and k additions "
            "(counting a multiply-add as 2 FLOPs, as torch.utils.flop_counter does).")
    shapes = [(3, 5, 7), (64, 32, 16), (1, 1, 1)]
    got = [as_number(call(matmul_flops, m, n, k, name="matmul_flops", hint=hint), f"matmul_flops({m}, {n}, {k})", hint)
           for m, n, k in shapes]
    expected = [matmul_flop_count(m, n, k) for m, n, k in shapes]
    mistake(all(_isclose(g, m * n * k) for g, (m, n, k) in zip(got, shapes, strict=True)),
            "matmul_flops counts m n k: one FLOP per multiply-add.",
            "a multiply-add is two operations, a multiplication and an addition.")
    mistake(all(_isclose(g, 2 * m * n) for g, (m, n, k) in zip(got, shapes, strict=True)),
            "matmul_flops leaves out the inner dimension k.", "each of the m x n outputs sums k products.")
    mistake(all(_isclose(g, m * n * (2 * k - 1)) for g, (m, n, k) in zip(got, shapes, strict=True)),
            "matmul_flops counts m n (2k - 1): k multiplications and k - 1 additions per output. That is the exact "
            "count, but torch.utils.flop_counter (and so bench_step) counts a multiply-add as 2 FLOPs: 2 m n k.",
            "count k multiply-adds per output, 2 FLOPs each.")
    wrong = [f"{m} x {k} @ {k} x {n}: {g!r}" for g, e, (m, n, k) in zip(got, expected, shapes, strict=True)
             if not _isclose(g, e)]
    expect(not wrong, "matmul_flops is wrong for " + "; ".join(wrong) + ".", hint)
    passed(f"2 m n k: a 1024 x 1024 product is {2 * 1024**3 / 1e9:.2f} GFLOP, the yardstick of section 1's "
           "matmul rate.")


def check_intensity(intensity, bound, ridge) -> None:
    """Exercise 3: the arithmetic intensity of nn.Linear(1024, 1024) on a batch of 8 (float32, no bias), and whether
    it is bound by memory or arithmetic on a machine whose ridge point is ``ridge`` FLOP/byte."""
    hint = ("FLOPs = 2 x batch x in x out; bytes = 4 x (the input, batch x in, + the weight, in x out, + the output, "
            "batch x out); intensity = FLOPs / bytes. Below the ridge point an operation waits for memory.")
    intensity = as_number(intensity, "intensity", hint)
    given(bound, "bound", hint)
    batch, features = 8, 1024
    flops = matmul_flop_count(batch, features, features)  # x (8, 1024) @ W^T (1024, 1024)
    elements = batch * features + features * features + batch * features  # read x and W, write y
    expected = flops / (4 * elements)
    mistake(_isclose(intensity, flops / (4 * 2 * batch * features)),
            f"intensity = {float(intensity):.4g} leaves out the weight's bytes.",
            "the layer must read its 1024 x 1024 weight matrix, by far the largest tensor here.")
    mistake(_isclose(intensity, flops / (4 * (batch * features + features * features))),
            f"intensity = {float(intensity):.4g} leaves out the output's bytes.",
            "the layer also writes its output, batch x out numbers.")
    mistake(_isclose(intensity, expected / 2), f"intensity = {float(intensity):.4g} counts a multiply-add as 1 FLOP.",
            "a matrix product costs 2 m n k FLOPs (exercise 2).")
    mistake(_isclose(intensity, expected * 2), f"intensity = {float(intensity):.4g} counts 2 bytes per number.",
            "float32 is 4 bytes per number (bfloat16 would be 2).")
    close(intensity, expected, "intensity", hint, rtol=1e-6, what="FLOPs per byte moved")
    expect(bound in ("memory", "arithmetic"), f"bound should be 'memory' or 'arithmetic', got {bound!r}.", hint)
    right = "memory" if expected < ridge else "arithmetic"
    expect(bound == right, f"bound = {bound!r}, but this layer's {expected:.2f} FLOP/byte is "
           f"{'below' if expected < ridge else 'above'} this machine's ridge point.", "compare with `ridge`.")
    passed(f"{expected:.2f} FLOP/byte, about batch / 2: at batch 8 the weight's 4 MB dominate the bytes, so this layer "
           f"is {right}-bound here (ridge {ridge:.1f}); larger batches reuse the weight and raise the intensity.")


def _gradient(net, x, y) -> torch.Tensor:
    net.zero_grad()
    nn.functional.mse_loss(net(x), y).backward()  # the mean over this part
    return torch.cat([p.grad.flatten() for p in net.parameters()])  # (P,)


def check_all_reduce(all_reduce_mean) -> None:
    """Exercise 4: what every rank holds after DDP's all-reduce of the gradients, checked on two half batches."""
    hint = ("DDP's all-reduce adds up the gradients of all the ranks and divides the sum by the number of ranks; "
            "every rank ends with that same tensor (torch.stack turns the list into one tensor).")
    rng = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=rng))
    x, y = torch.randn(32, 8, generator=rng), torch.randn(32, 1, generator=rng)  # the global batch
    whole = _gradient(net, x, y)  # (P,) one process on all 32
    halves = [_gradient(net, x[:16], y[:16]), _gradient(net, x[16:], y[16:])]  # rank 0, rank 1
    got = call(all_reduce_mean, [h.clone() for h in halves], name="all_reduce_mean", hint=hint)
    expect(isinstance(got, torch.Tensor), "all_reduce_mean should return a tensor.", hint)
    expect(tuple(got.shape) == tuple(whole.shape), f"all_reduce_mean returned shape {tuple(got.shape)}; the "
           f"averaged gradient has the shape of each rank's, {tuple(whole.shape)}.", "average over the ranks only.")
    got = got.detach().to(whole.dtype)  # a float64 answer is fine
    mistake(torch.allclose(got, halves[0] + halves[1], atol=1e-6), "all_reduce_mean returns the sum of the ranks' "
            "gradients: twice the whole batch's gradient.", "divide the sum by the number of ranks.")
    mistake(torch.allclose(got, halves[0], atol=1e-7), "all_reduce_mean returns rank 0's gradient unchanged.",
            "every rank must end with the same average over all ranks, or the copies drift apart.")
    close(got, whole, "all_reduce_mean", hint, atol=1e-6, what="the gradient of the whole batch")
    quarters = [_gradient(net, xq, yq) for xq, yq in zip(x.chunk(4), y.chunk(4), strict=True)]  # 4 ranks of 8
    got4 = call(all_reduce_mean, [q.clone() for q in quarters], name="all_reduce_mean", hint=hint)
    expect(isinstance(got4, torch.Tensor) and tuple(got4.shape) == tuple(whole.shape),
           "all_reduce_mean works for 2 ranks but not for 4: it should return a tensor of the same shape.", hint)
    got4 = got4.detach().to(whole.dtype)
    mistake(torch.allclose(got4, torch.stack(quarters).sum(0) / 2, atol=1e-6),
            "all_reduce_mean divides by 2 whatever the number of ranks: with 4 ranks it returns twice the average.",
            "divide by the number of gradients in the list, len(rank_gradients).")
    close(got4, whole, "all_reduce_mean with 4 ranks", hint, atol=1e-6, what="the gradient of the whole batch")
    passed("The mean of the ranks' gradients is the whole batch's gradient, for 2 ranks of 16 images and for 4 of 8: "
           "the ranks take exactly the step one process takes.")


def check_ring_bytes(bytes_sent) -> None:
    """Exercise 5: bytes each GPU sends in a ring all-reduce of 1,000,000 float32 gradients over 4 GPUs."""
    hint = ("a ring all-reduce is a reduce-scatter then an all-gather, each N - 1 rounds of a 1/N chunk: each GPU "
            "sends 2 (N - 1) / N times the gradient's bytes (Patarasuk and Yuan 2009).")
    value = as_number(bytes_sent, "bytes_sent", hint)
    n, gradient_bytes = 4, 4 * 1_000_000
    mistake(_isclose(value, gradient_bytes), "bytes_sent is the gradient's size once.",
            "each chunk travels twice round the ring: once to be summed, once to be shared.")
    mistake(_isclose(value, 2 * (n - 1) * gradient_bytes), "bytes_sent sends the whole gradient in every round.",
            "in each round a GPU sends one chunk, 1/N of the gradient.")
    mistake(_isclose(value, (n - 1) / n * gradient_bytes), "bytes_sent counts only the reduce-scatter.",
            "after it each GPU holds 1/N of the sum; the all-gather sends as much again.")
    mistake(_isclose(value, 2 * (n - 1) / n * 1_000_000), "bytes_sent counts numbers, not bytes.",
            "each float32 number is 4 bytes.")
    close(value, 2 * (n - 1) / n * gradient_bytes, "bytes_sent", hint, rtol=1e-9, what="the bytes each GPU sends")
    passed(f"{2 * (n - 1) / n * gradient_bytes / 1e6:g} MB per GPU per step, and at most twice the gradient however "
           "many GPUs join: why the ring scales.")


def check_rank_draws(drawn_per_process, kept_per_process) -> None:
    """Exercise 6: ``local_part(torch.randn(global_shape((8, 3)), generator=rng))`` in each of two processes."""
    hint = ("global_shape multiplies the rows by the number of processes; local_part keeps this rank's rows, "
            "x.chunk(world_size)[rank].")
    drawn_per_process = as_number(drawn_per_process, "drawn_per_process", hint)
    kept_per_process = as_number(kept_per_process, "kept_per_process", hint)
    world, local = 2, (8, 3)
    drawn = torch.randn(local[0] * world, *local[1:])  # (16, 3) what global_shape asks for
    kept = drawn.chunk(world)[0]  # (8, 3) rank 0's rows
    mistake(drawn_per_process == kept.numel(), "drawn_per_process is the local batch's numbers only.",
            "every rank draws the noise of the *global* batch from the same generator, then keeps its rows: that is "
            "what keeps the ranks' generators in step and the noise equal to one process's.")
    mistake(drawn_per_process == drawn.shape[0] or kept_per_process == kept.shape[0],
            "that counts rows; the question asks for random numbers, and each row holds 3.",
            "count rows x 3 numbers.")
    close(drawn_per_process, drawn.numel(), "drawn_per_process", hint, rtol=0, atol=0,
          what="the numbers each process draws")
    close(kept_per_process, kept.numel(), "kept_per_process", hint, rtol=0, atol=0,
          what="the numbers each process keeps")
    passed(f"Each process draws {drawn.numel()} and keeps {kept.numel()}: twice the work of drawing its own, the price "
           "of noise that is exactly what one process would draw.")
