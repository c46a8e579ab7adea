"""Estimating a training step's time and memory on another device from counts: an *estimate*, not a measurement.

No GPU is needed. One step runs once on the CPU under a dispatch mode that counts what a GPU would have to do:

- **FLOPs** of every matrix multiply and convolution (the formulas of ``torch.utils.flop_counter``);
- **operations**: every aten operation dispatched, about one kernel launch each on a GPU (views launch nothing and
  are counted apart);
- **bytes moved**: the sizes of each operation's tensor inputs and outputs, an upper bound of its memory traffic;
- **memory**: the bytes saved for backward (``torch.autograd.graph.saved_tensors_hooks``), the parameters, gradients
  and optimiser state, and the largest single operation's working set.

A device is a :class:`DeviceSpec` (matmul FLOP/s, bandwidth, per-operation overhead, memory). The step time is the
roofline of each operation plus its launch (:func:`estimate_step_seconds`):

    t = sum over operations of max(FLOPs_i / rate, bytes_i / bandwidth) + kernels x launch + views x view

The sum (no overlap of the CPU's launches with the GPU's work) is what a CPU does, so the same formula is checked
against measured CPU steps (:func:`cpu_spec`, ``tools/estimate_t4.py``); on a GPU, where launches run ahead of the
kernels, it is an upper bound, at most 2x above full overlap. :data:`T4` holds NVIDIA's published figures and the
shares of them assumed reachable, each with its reason; :func:`t4_spec` adds the host's measured dispatch cost.

Units: seconds, bytes, FLOPs (a multiply-add is 2).

Why a learner's installation holds this module, though ``tools/estimate_t4.py`` also drives it for the course map:
notebook 13 imports it to teach with. In section 1 the learner describes their own machine as a :class:`DeviceSpec`
from four measured numbers and a Colab T4 from it (:func:`t4_spec`); in sections 3 and 4 they count the FLOPs,
operations and saved bytes of a real training step (:func:`count_step`, also what activation checkpointing saves) and
set the CPU step they just timed beside the T4's estimate (:func:`estimate_step_seconds`), which answers "would a GPU
help, and why" without a GPU.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import flop_registry

from .bench import matmul_peak_gflops

# ---------------------------------------------------------------- the device

# NVIDIA T4 datasheet ("NVIDIA T4 Tensor Core GPU", https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/
# tesla-t4/t4-tensor-core-datasheet-951643.pdf): 65 TFLOPS mixed precision (FP16/FP32 tensor cores), 8.1 TFLOPS FP32,
# 16 GB GDDR6 at 320 GB/s, 70 W. The same figures: TechPowerUp-style spec sheets (65.13 / 8.141 TFLOPS, 320 GB/s).
T4_TENSOR_FLOPS = 65e12  # Colab's T4 trains under fp16 autocast (device.amp_dtype: bf16 only from Ampere on)
T4_FP32_FLOPS = 8.1e12
T4_BANDWIDTH = 320e9  # bytes/s
T4_MEMORY = 16e9  # bytes (15.0 GiB visible to CUDA on Colab)
T4_WATTS = 70

# Assumptions (not measured; each with its reason):
TENSOR_SHARE = 0.25  # the course's convolutions have 1-192 channels on 28x28 or 7x7 maps: far from the large, aligned
#                      GEMMs that reach the tensor peak; a quarter of it (16 TFLOPS, twice the FP32 rate) is assumed
BANDWIDTH_SHARE = 0.7  # a device-to-device copy on GDDR6 reaches about 70-80 % of the nominal bandwidth
CUDA_LAUNCH_S = 5e-6  # cudaLaunchKernel and PyTorch's CUDA-side bookkeeping per kernel, on top of the host's own
#                       dispatch (measured by cpu_spec). An assumption of a few microseconds, the order NVIDIA's
#                       "Getting Started with CUDA Graphs" (developer.nvidia.com/blog/cuda-graphs, 2019) reports for
#                       launching short kernels and the reason CUDA Graphs exist; not measured here (no GPU)
CUDA_CONTEXT_BYTES = 781 * 2**20  # CUDA context + cuBLAS/cuDNN kernels, outside memory_allocated: 781 MB in
#                                   nvidia-smi for a minimal PyTorch program (pytorch/pytorch issue #34323)


class DeviceSpec(NamedTuple):
    """What the estimate needs to know about a device."""

    name: str
    matmul_flops: float  # FLOP/s reachable by the step's matmuls and convolutions
    bandwidth: float  # bytes/s reachable by memory-bound operations
    launch_s: float  # seconds per operation that runs a kernel (dispatch + launch)
    view_s: float  # seconds per view (metadata only: dispatch, no kernel)
    memory_bytes: float  # device memory


T4 = DeviceSpec("NVIDIA T4 (Colab), estimate", TENSOR_SHARE * T4_TENSOR_FLOPS, BANDWIDTH_SHARE * T4_BANDWIDTH,
                CUDA_LAUNCH_S, 0.0, T4_MEMORY)


def t4_spec(host: DeviceSpec) -> DeviceSpec:
    """:data:`T4` with the host CPU's measured dispatch costs added (Colab's 2 vCPUs do the same Python and dispatcher
    work per operation as this machine's CPU; taken as equal, an assumption)."""
    return T4._replace(launch_s=T4.launch_s + host.launch_s, view_s=host.view_s)


def _seconds_per_call(fn: Callable[[], object], repeats: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def _physical_memory() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # Windows
        return float("nan")


def cpu_spec(*, copy_mb: int = 64, repeats: int = 2000) -> DeviceSpec:
    """THIS machine's CPU, measured now: the matmul rate (bench's, float32 1024x1024), the bandwidth of a large copy
    (read + write), the cost of a tiny in-place add (one dispatched operation) and of a view."""
    rate = matmul_peak_gflops("cpu") * 1e9
    numel = copy_mb * 2**20 // 4  # float32 elements
    src, dst = torch.randn(numel), torch.empty(numel)
    bandwidth = 2 * 4 * numel / min(_seconds_per_call(lambda: dst.copy_(src), 3) for _ in range(3))
    tiny = torch.ones(1)
    launch = min(_seconds_per_call(lambda: tiny.add_(1.0), repeats) for _ in range(3))
    view = min(_seconds_per_call(lambda: tiny.view(1, 1), repeats) for _ in range(3))
    return DeviceSpec("this CPU, measured", rate, bandwidth, launch, view, _physical_memory())


# ---------------------------------------------------------------- counting one step


class StepCounts(NamedTuple):
    """What one call of a step asks of a device (see the module docstring)."""

    flops: int  # matmul + convolution FLOPs, forward and backward
    kernels: int  # aten operations that run a kernel (about one GPU launch each)
    views: int  # aten view operations (no kernel, no bytes)
    bytes_moved: int  # sum over operations of input + output tensor bytes (an upper bound of traffic)
    saved_bytes: int  # distinct tensors saved for backward (activations), bytes
    state_bytes: int  # parameters + buffers + gradients + optimiser state, bytes
    max_op_bytes: int  # the largest single operation's inputs + outputs, bytes
    op_flops: tuple[int, ...] = ()  # per kernel operation, in order (for the per-operation roofline)
    op_bytes: tuple[int, ...] = ()

    def summary(self) -> dict:
        """The totals, without the per-operation lists (for tables and JSON)."""
        return {k: v for k, v in self._asdict().items() if k not in ("op_flops", "op_bytes")}


def _tensor_bytes(tree) -> int:
    leaves, _ = tree_flatten(tree)
    return sum(t.numel() * t.element_size() for t in leaves if isinstance(t, torch.Tensor))


class _CountingMode(TorchDispatchMode):
    """Records each dispatched aten operation: FLOPs (flop_counter's formulas), bytes, view or not."""

    def __init__(self):
        super().__init__()
        self.op_flops: list[int] = []
        self.op_bytes: list[int] = []
        self.views = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func.is_view or func._overloadpacket in _METADATA_OPS:
            self.views += 1
            return out
        packet = func._overloadpacket
        flops = flop_registry[packet](*args, **kwargs, out_val=out) if packet in flop_registry else 0
        self.op_flops.append(int(flops))
        self.op_bytes.append(_tensor_bytes((args, kwargs)) + _tensor_bytes(out))
        return out


_METADATA_OPS = {torch.ops.aten.detach, torch.ops.aten.lift_fresh, torch.ops.aten._local_scalar_dense}


def state_bytes(modules: Iterable[nn.Module] = (), optimizers: Iterable[torch.optim.Optimizer] = ()) -> int:
    """Bytes of the modules' parameters, buffers and gradients and of the optimisers' state tensors."""
    seen, total = set(), 0

    def add(t):
        nonlocal total
        if isinstance(t, torch.Tensor) and t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()

    for m in modules:
        for p in m.parameters():
            add(p)
            add(p.grad)
        for b in m.buffers():
            add(b)
    for opt in optimizers:
        for state in opt.state.values():
            for v in state.values():
                if isinstance(v, torch.Tensor) and v.numel() > 1:  # the step counters are scalars
                    add(v)
    return total


def count_step(step_fn: Callable[[], object], *, modules: Iterable[nn.Module] = (),
               optimizers: Iterable[torch.optim.Optimizer] = ()) -> StepCounts:
    """Run ``step_fn()`` once (forward, backward, optimiser) and count what it did; ``modules`` and ``optimizers``
    give the state it keeps between steps (counted after the call, so the optimiser's state exists)."""
    saved: dict[tuple, int] = {}

    def pack(t: torch.Tensor):
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.dtype)
        saved[key] = t.numel() * t.element_size()
        return t

    mode = _CountingMode()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), mode:
        step_fn()
    params = {p.data_ptr() for m in modules for p in m.parameters()}
    activations = sum(v for k, v in saved.items() if k[0] not in params)  # a saved weight is state, not activation
    return StepCounts(
        flops=sum(mode.op_flops), kernels=len(mode.op_flops), views=mode.views, bytes_moved=sum(mode.op_bytes),
        saved_bytes=activations, state_bytes=state_bytes(modules, optimizers),
        max_op_bytes=max(mode.op_bytes, default=0), op_flops=tuple(mode.op_flops), op_bytes=tuple(mode.op_bytes),
    )


def scale_counts(counts: StepCounts, factor: float) -> StepCounts:
    """``counts`` repeated ``factor`` times (e.g. steps of a loop): everything but the memory scales."""
    return counts._replace(flops=round(counts.flops * factor), kernels=round(counts.kernels * factor),
                           views=round(counts.views * factor), bytes_moved=round(counts.bytes_moved * factor),
                           op_flops=(), op_bytes=())


# ---------------------------------------------------------------- the estimates


class StepEstimate(NamedTuple):
    seconds: float  # the estimate: compute + launches (see the module docstring)
    compute_s: float  # sum over operations of max(FLOPs / rate, bytes / bandwidth)
    launch_s: float  # kernels x launch + views x view
    overlapped_s: float  # max(compute, launches): the lower bound if launches overlapped the kernels fully


def estimate_step_seconds(counts: StepCounts, spec: DeviceSpec) -> StepEstimate:
    """The per-operation roofline plus launches: ``sum_i max(F_i / rate, B_i / bandwidth) + kernels x launch_s +
    views x view_s``. Without per-operation lists (hand-made counts) the totals stand in: ``max(F / rate,
    B / bandwidth)``, which can only be smaller."""
    if counts.op_flops:
        compute = sum(max(f / spec.matmul_flops, b / spec.bandwidth)
                      for f, b in zip(counts.op_flops, counts.op_bytes, strict=True))
    else:
        compute = max(counts.flops / spec.matmul_flops, counts.bytes_moved / spec.bandwidth)
    launches = counts.kernels * spec.launch_s + counts.views * spec.view_s
    return StepEstimate(compute + launches, compute, launches, max(compute, launches))


def estimate_memory_bytes(counts: StepCounts, *, context_bytes: float = CUDA_CONTEXT_BYTES,
                          resident_bytes: float = 0.0) -> float:
    """Peak device memory of the step: its state (parameters, gradients, optimiser state), the activations saved for
    backward, the largest single operation's inputs and outputs, the CUDA context, and ``resident_bytes`` the caller
    keeps on the device (a dataset held in memory, frozen networks)."""
    return counts.state_bytes + counts.saved_bytes + counts.max_op_bytes + context_bytes + resident_bytes


__all__ = [
    "BANDWIDTH_SHARE", "CUDA_CONTEXT_BYTES", "CUDA_LAUNCH_S", "T4", "T4_BANDWIDTH", "T4_FP32_FLOPS", "T4_MEMORY",
    "T4_TENSOR_FLOPS", "T4_WATTS", "TENSOR_SHARE", "DeviceSpec", "StepCounts", "StepEstimate", "count_step",
    "cpu_spec", "estimate_memory_bytes", "estimate_step_seconds", "scale_counts", "state_bytes", "t4_spec",
]
