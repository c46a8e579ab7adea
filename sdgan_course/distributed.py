r"""Many processes, one training run: the few facts of ``torch.distributed`` the course uses, in one place.

``torchrun --nproc_per_node=N -m sdgan_course train ...`` starts N copies of the same command and tells each its
``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` (and where to meet: ``MASTER_ADDR``/``MASTER_PORT``). Every copy then

1. joins the process group (:func:`init_distributed`: NCCL between GPUs, gloo between CPU processes) and takes its
   own GPU (``cuda:LOCAL_RANK``),
2. wraps each trained network in :class:`~torch.nn.parallel.DistributedDataParallel` (:func:`wrap_ddp`): after
   ``backward()`` every gradient is **averaged over the ranks by an all-reduce**, so every rank takes the same
   optimiser step and the weights stay identical (no parameters are ever averaged by hand),
3. trains on **its slice of the global batch**: ``batch_size`` in every config is the *global* batch, split evenly
   (:class:`~sdgan_course.data.batches.StepBatches`). The mean of N equal shard means is the mean over the global
   batch, so N processes take the step one process would take on the whole batch, with the same learning rate.
   Scaling to more devices at a fixed per-device batch multiplies the global batch, and *that* is when the learning
   rate changes (linearly, Goyal et al. 2017, arXiv:1706.02677, or by the square root for Adam); the course keeps
   both explicit and changes neither behind your back,
4. draws the randomness of the **whole** global batch from the same seeded generator and keeps its rows
   (:func:`global_shape`, :func:`local_part`), so the noise is exactly what one process would draw, the generators
   stay in step on every rank, and a checkpoint resumes identically under another number of processes,
5. leaves EMA, logging, snapshots and checkpoints to rank 0 (:func:`is_main`), while a stop (divergence, time
   budget) is agreed by all ranks in one small all-reduce per step (:func:`all_mean`), so no rank waits forever.

Without ``torchrun`` (no ``WORLD_SIZE`` in the environment) every function here is a no-op: world size 1, rank 0.
"""

from __future__ import annotations

import datetime
import inspect
import os
import socket
import sys
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.distributed as dist
from torch import nn


class ProcessInfo(NamedTuple):
    rank: int  # 0 .. world_size - 1
    local_rank: int  # index of this process on its machine (its GPU)
    world_size: int
    device: torch.device  # the device this process trains on


def launched_by_torchrun() -> bool:
    """True when the environment names more than one process (``torchrun --nproc_per_node=N`` with N > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: torch.device | str | None = None, *, timeout_s: float = 1800.0) -> ProcessInfo:
    """Join the process group that ``torchrun`` describes (if any) and return this process's rank and device.

    NCCL when the device is CUDA (each process takes ``cuda:LOCAL_RANK``), gloo on the CPU. Without ``torchrun``
    nothing is initialised and the answer is ``(0, 0, 1, device)``. Calling it twice is harmless.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank if launched_by_torchrun() else (device.index or 0))
        torch.cuda.set_device(device)
    if launched_by_torchrun() and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return ProcessInfo(rank(), local_rank, world_size(), device)


def shutdown() -> None:
    """Leave the process group (at the end of a command); a no-op without one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if _active() else 0


def world_size() -> int:
    return dist.get_world_size() if _active() else 1


def is_main() -> bool:
    """True on rank 0, the one process that logs, snapshots and writes checkpoints (and in a single process)."""
    return rank() == 0


def global_shape(shape) -> tuple[int, ...]:
    """The shape of a random draw for the *global* batch, given the local one: rows times the world size."""
    shape = tuple(shape)
    return (shape[0] * world_size(), *shape[1:])


def local_part(x: torch.Tensor) -> torch.Tensor:
    """This rank's rows of a tensor drawn (or built) for the global batch: ``x.chunk(world_size)[rank]``.

    Used as ``local_part(torch.randn(global_shape(local.shape), generator=rng))``: every rank draws the same global
    noise from the same seeded generator and keeps its own slice, exactly what one process would draw.
    """
    n = world_size()
    if n == 1:
        return x
    if len(x) % n:
        raise ValueError(f"A global batch of {len(x)} cannot be split evenly over {n} processes.")
    return x.chunk(n)[rank()]


def check_global_batch(batch_size: int) -> int:
    """The per-rank batch for a global ``batch_size``; an error that says what to do if it does not split evenly."""
    n = world_size()
    if batch_size % n:
        raise ValueError(
            f"The global batch size {batch_size} does not split evenly over {n} processes: pass --batch-size as a "
            f"multiple of {n} (e.g. {batch_size - batch_size % n or n})."
        )
    return batch_size // n


def describe_processes(batch_size: int) -> str:
    """One line for a training command's log: how many processes share the global batch, and how."""
    n = world_size()
    if n == 1:
        return f"1 process, batch {batch_size}"
    return (f"{n} processes ({dist.get_backend()}), global batch {batch_size} = {n} x {check_global_batch(batch_size)}"
            " (the learning rate is the global batch's)")


def all_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean over ranks of a small float tensor (one all-reduce); NaN anywhere gives NaN everywhere."""
    if world_size() == 1:
        return values
    device = values.device
    values = values.to("cuda") if dist.get_backend() == "nccl" else values.clone()  # NCCL reduces GPU tensors only
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return (values / world_size()).to(device)


class _GatherRows(torch.autograd.Function):
    """Forward: every rank's rows, rank 0's first. Backward: the gradients that *every* rank's loss sends to each
    slot, summed by one all-reduce, and this rank's slot kept."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad.chunk(world_size())[rank()]


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """The rows of ``x`` (B, ...) from every rank, concatenated in rank order: (world_size * B, ...), with gradients
    flowing back to each rank's own rows; ``x`` itself in one process. Every rank must pass the same shape.

    What a loss over the *whole* global batch needs, such as CLIP's, whose negatives for an image are all the other
    captions (:func:`~sdgan_course.train.clip.clip_train_step`). Every rank then computes the same global loss L.
    The backward sums over the ranks the gradient of each one's copy of L with respect to this rank's rows, that is
    N times dL/d(rows); DistributedDataParallel's average over the N ranks then gives exactly the gradient one process
    gets on the whole batch. (OpenCLIP's ``gather_features`` puts the local tensor back into a plain ``all_gather``
    instead: each rank then differentiates only its own copy, and the averaged gradient is 1/N of one process's,
    which Adam's normalisation mostly hides but gradient clipping does not.)"""
    if world_size() == 1:
        return x
    return _GatherRows.apply(x)  # without gradients (integer groups, say) it is the plain gather


def wrap_ddp(model: nn.Module) -> nn.Module:
    """``model`` wrapped in DistributedDataParallel when several processes train (``model`` itself otherwise).

    Parameters are broadcast from rank 0 once; gradients are averaged by all-reduce during ``backward()``. Buffers
    (batch-norm statistics, spectral-norm vectors) stay per rank (``broadcast_buffers=False``): GAN steps call a
    network several times before one backward, and broadcasting buffers in between would overwrite tensors autograd
    still needs. Rank 0's buffers are the ones saved. Keep the bare model for checkpoints and EMA.
    """
    if world_size() == 1:
        return model
    device = next(model.parameters()).device
    ids = [device.index] if device.type == "cuda" else None
    ddp = nn.parallel.DistributedDataParallel
    if "forward_sync_buffers" in inspect.signature(ddp.__init__).parameters:  # torch >= 2.12's name for the option
        return ddp(model, device_ids=ids, forward_sync_buffers=False)
    return ddp(model, device_ids=ids, broadcast_buffers=False)


class _Methods(nn.Module):
    """``forward(name, ...)`` runs ``model.name(...)``: a model trained through methods other than ``forward``
    (CLIP's ``encode_image``/``encode_text``) becomes visible to DDP, which synchronises only through ``forward``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, name: str, *args, **kwargs):
        return getattr(self.model, name)(*args, **kwargs)


class DDPMethods:
    """Stands in for ``model`` in a train step: the named methods run through one DistributedDataParallel wrapper
    (so every parameter's gradient is averaged), everything else (parameters, ``log_scale``, ``device``) is the
    model's own. Use :func:`wrap_ddp_methods`."""

    def __init__(self, model: nn.Module, methods: tuple[str, ...]):
        self._model, self._methods, self._ddp = model, methods, wrap_ddp(_Methods(model))

    def __getattr__(self, name: str):
        if name in self._methods:
            return lambda *args, **kwargs: self._ddp(name, *args, **kwargs)
        return getattr(self._model, name)


def wrap_ddp_methods(model: nn.Module, methods: tuple[str, ...]):
    """``model`` itself in one process; with several, a :class:`DDPMethods` routing ``methods`` through DDP."""
    return model if world_size() == 1 else DDPMethods(model, methods)


def rank_generator(rng: torch.Generator) -> torch.Generator:
    """The generator a rank draws one step's per-example randomness from, where a step cannot draw for the global
    batch (CLIP's captions, the autoencoders' posterior samples): ``rng`` itself in one process; with several, a
    fresh generator seeded by one number drawn from ``rng`` (the same on every rank, so ``rng`` stays in step and
    resumes) plus the rank, so the shards get independent noise. Statistically the same training, not bit-equal to
    one process (:func:`local_part` is)."""
    if world_size() == 1:
        return rng
    seed = int(torch.randint(0, 2**62, (1,), generator=rng))
    return torch.Generator().manual_seed(seed + 7919 * rank())


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside a DistributedDataParallel wrapper (its ``config``, its ``state_dict`` keys)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def run_processes(fn: Callable, nprocs: int, *args) -> list:
    """``fn(*args)`` in ``nprocs`` fresh CPU processes joined by gloo, what ``torchrun`` does, from Python (tests,
    notebook 13); returns each rank's return value, rank 0 first. Off Linux ``fn`` must be importable.

    A process that fails stops the others and raises here (:class:`torch.multiprocessing.ProcessRaisedException`
    or ``ProcessExitedException``).
    """
    import tempfile

    import torch.multiprocessing as mp

    with socket.socket() as s:  # a free port on this machine for the processes to meet
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Linux forks (the children inherit the imported libraries and start in a blink, as DataLoader workers do);
    # elsewhere they start afresh ("spawn"), which takes seconds per process.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    with tempfile.TemporaryDirectory() as tmp:
        mp.start_processes(_process_entry, args=(fn, nprocs, port, tmp, args), nprocs=nprocs, start_method=method)
        return [torch.load(os.path.join(tmp, f"rank{r}.pt"), weights_only=False) for r in range(nprocs)]


def _process_entry(rank_: int, fn: Callable, nprocs: int, port: int, tmp: str, args: tuple) -> None:
    os.environ.update(RANK=str(rank_), LOCAL_RANK=str(rank_), WORLD_SIZE=str(nprocs), LOCAL_WORLD_SIZE=str(nprocs),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)  # as torchrun does (OMP_NUM_THREADS=1): N processes share the cores
    init_distributed("cpu")
    try:
        torch.save(fn(*args), os.path.join(tmp, f"rank{rank_}.pt"))
    finally:
        shutdown()


__all__ = [
    "DDPMethods", "ProcessInfo", "all_gather_with_grad", "all_mean", "barrier", "check_global_batch",
    "describe_processes", "global_shape", "init_distributed", "is_main", "launched_by_torchrun", "local_part", "rank",
    "rank_generator", "run_processes", "shutdown", "unwrap", "world_size", "wrap_ddp", "wrap_ddp_methods",
]
