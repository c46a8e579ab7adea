"""Device choice, seeding and mixed precision.

One call picks the device (CUDA, then Apple MPS, then CPU), one call seeds Python, NumPy and torch,
:func:`autocast` is the mixed-precision context: bfloat16/float16 autocast on CUDA, a no-op on the CPU and MPS, and
:func:`cpu_threads` runs tiny models on one CPU thread, and :func:`sampling_layout` with :func:`sampling_batch_size`
make batched sampling fast on the CPU.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch

DEVICE_ENV = "SDGAN_DEVICE"


def get_device(prefer: str | None = None) -> torch.device:
    """Pick the compute device: ``prefer`` or ``$SDGAN_DEVICE`` if set, else CUDA, then MPS, then CPU.

    An explicit request for a device that is not available is an error that says what is available.
    """
    wanted = prefer or os.environ.get(DEVICE_ENV)
    if wanted:
        device = torch.device(wanted)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"Device {wanted!r} was requested but CUDA is not available here; use 'cpu'.")
        if device.type == "mps" and not _mps_available():
            raise RuntimeError(f"Device {wanted!r} was requested but Apple MPS is not available here; use 'cpu'.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python's ``random``, NumPy and torch (all devices); return a CPU ``torch.Generator`` seeded the same.

    Pass the returned generator to samplers (``rng=``) to reproduce a figure exactly.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds CUDA and MPS
    return torch.Generator().manual_seed(seed)


AMP_DTYPE_ENV = "SDGAN_AMP_DTYPE"  # "float16" or "bfloat16": force the CUDA autocast dtype (tools/gpu_check.py)


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype used on ``device``, or ``None`` where mixed precision is off (CPU, MPS).

    On CUDA: bfloat16 from Ampere on (compute capability 8), float16 before (Colab's T4 is 7.5). The capability
    decides, not ``torch.cuda.is_bf16_supported()``, which recent torch answers True on a T4 (emulated, slow).
    ``$SDGAN_AMP_DTYPE`` forces one of the two (to test the fp16 path on a newer GPU)."""
    if device.type != "cuda":
        return None
    forced = os.environ.get(AMP_DTYPE_ENV)
    if forced:
        if forced not in ("float16", "bfloat16"):
            raise ValueError(f"${AMP_DTYPE_ENV} must be 'float16' or 'bfloat16', got {forced!r}.")
        return getattr(torch, forced)
    major, _ = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16  # bf16 natively from Ampere on (Colab's T4 gets fp16)


def autocast(device: torch.device | str, enabled: bool = True):
    """Mixed-precision context: autocast on CUDA, a no-op elsewhere (so the same code runs everywhere)."""
    device = torch.device(device)
    dtype = amp_dtype(device)
    if not enabled or dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


def adam_speed_options(device: torch.device | str) -> dict:
    """Extra Adam arguments that make the update fast where it pays: ``fused=True`` on CUDA (one kernel updates every
    parameter instead of several per tensor: the launch overhead of a small model's many tensors goes away); none on
    the CPU and MPS, which keep PyTorch's default there (on the CPU the per-tensor loop: fused CPU Adam, from torch 2.4,
    is faster for these small models, as notebook 13 measures, but the default keeps CPU results the same across the
    torch versions the course supports)."""
    return {"fused": True} if torch.device(device).type == "cuda" else {}


def maybe_compile(model: torch.nn.Module, enabled: bool) -> torch.nn.Module:
    """``torch.compile(model)`` when ``enabled`` (a train config's ``compile`` field, ``--compile``): fused kernels and
    fewer launches after a compilation of tens of seconds, worth it on a GPU for long runs. The compiled module shares
    the parameters; keep the original for checkpoints (its ``state_dict`` keys are unchanged)."""
    return torch.compile(model) if enabled else model


def describe_device(device: torch.device) -> str:
    """A one-line human description of ``device``."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"cuda ({props.name}, {props.total_memory / 2**30:.1f} GiB)"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


@contextlib.contextmanager
def cpu_threads(device: torch.device, num_threads: int = 1) -> Iterator[None]:
    """Run a block with ``num_threads`` CPU threads when ``device`` is the CPU, then restore the previous count.

    Toy models (a few thousand parameters, batches of a few hundred 2-D points) are too small to split across
    threads: synchronising the threads costs more than the arithmetic, many times more on a busy machine. On other
    devices this does nothing.
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# Images per sampling batch. On the CPU a small batch keeps the U-Net's activations in the processor's cache (with
# guidance a forward pass holds twice the batch); past the cache, a larger batch costs more per image, not less. The
# shipped DDPM's timings per batch size are in data/checkpoints/README.md ("Sampling cost");
# `python tools/bench_sampling.py` measures them on any machine.
CPU_SAMPLING_BATCH = 50
GPU_SAMPLING_BATCH = 1000


def sampling_batch_size(device: torch.device | str) -> int:
    """How many images a sampler draws per batch on ``device`` when the caller does not say."""
    return CPU_SAMPLING_BATCH if torch.device(device).type == "cpu" else GPU_SAMPLING_BATCH


@contextlib.contextmanager
def sampling_layout(model: torch.nn.Module, enabled: bool = True) -> Iterator[bool]:
    """Hold ``model``'s 4-D weights in channels_last (B, H, W, C) memory order for a block, then restore them.

    oneDNN's CPU convolutions run faster on channels_last tensors (the shipped DDPM's timings are in
    data/checkpoints/README.md, "Sampling cost"); the numbers are the same up to float rounding (about 3e-6). Yields
    whether the layout is on, so the caller also converts its inputs. The weights are converted in place (the same
    Parameter objects, so an optimiser or EMA that holds them is unaffected) and converted back afterwards unless they
    were channels_last already.
    """
    weights = [p for p in model.parameters() if p.ndim == 4]
    if not enabled or not weights:
        yield False
        return
    already = all(w.is_contiguous(memory_format=torch.channels_last) for w in weights)
    model.to(memory_format=torch.channels_last)
    try:
        yield True
    finally:
        if not already:
            model.to(memory_format=torch.contiguous_format)
