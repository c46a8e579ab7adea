"""Mini-batches from tensors already in memory: one epoch, endless, or batch number ``step`` (resumable).

No DataLoader and no worker processes: the course's datasets fit in memory (on a GPU too), so batching is slicing.

Shape legend: N examples, B batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .. import distributed


def batches(
    *tensors: torch.Tensor,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    device: torch.device | str | None = None,
    drop_last: bool = True,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """One epoch of mini-batches from tensors already in memory (no DataLoader, no workers).

    The tensors are moved to ``device`` once, then sliced with a seeded permutation — on a GPU the whole of
    Fashion-MNIST (188 MB as float32) fits, and batching costs nothing. Yields tuples like ``(x, y)``.
    """
    if not tensors:
        raise ValueError("batches() needs at least one tensor.")
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"All tensors must have the same length, got {[len(t) for t in tensors]}.")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")
    if drop_last and n < batch_size:
        raise ValueError(f"batch_size={batch_size} is larger than the {n} examples and drop_last=True: no batch.")
    if device is not None:
        tensors = tuple(t.to(device, non_blocking=True) for t in tensors)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)) if shuffle else torch.arange(n)
    order = order.to(tensors[0].device)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]  # (B,)
        yield tuple(t[idx] for t in tensors)


def endless_batches(*tensors: torch.Tensor, batch_size: int, seed: int = 0, device=None):
    """Batches forever, reshuffled every epoch (epoch ``e`` uses seed ``seed + e``): for step-based training."""
    epoch = 0
    while True:
        yield from batches(*tensors, batch_size=batch_size, seed=seed + epoch, device=device)
        epoch += 1


class StepBatches:
    """Mini-batch number ``step`` of a shuffled stream over in-memory tensors, computed from the step alone.

    Epoch ``e`` uses the permutation seeded by ``seed + e``, so ``batch(step)`` is the same whether a run went straight
    through or was interrupted and resumed: what makes save/resume continue identically. Tensors are moved to
    ``device`` once.

    ``batch_size`` is the **global** batch. Under ``torchrun`` (``world_size`` processes) each rank gets its slice:
    rank ``r`` takes rows ``r*b .. (r+1)*b`` of global batch ``step`` (``b = batch_size // world_size``). The
    permutation is the same on every rank, so the shards never overlap, together they are exactly one process's
    batch, and resuming under another number of processes continues the same stream. ``rank``/``world_size``
    default to the current process group (0 and 1 without one).
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int, seed: int = 0, device=None,
                 rank: int | None = None, world_size: int | None = None):
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("StepBatches needs one or more tensors of the same length.")
        if not 0 < batch_size <= len(tensors[0]):
            raise ValueError(f"batch_size must be in 1..{len(tensors[0])} (the number of examples), got {batch_size}.")
        self.world_size = distributed.world_size() if world_size is None else world_size
        self.rank = distributed.rank() if rank is None else rank
        if batch_size % self.world_size:
            raise ValueError(
                f"The global batch size {batch_size} does not split evenly over {self.world_size} processes: pass a "
                f"multiple of {self.world_size}."
            )
        self.tensors = tuple(t.to(device) if device is not None else t for t in tensors)
        self.batch_size, self.seed = batch_size, seed
        self.local_batch_size = batch_size // self.world_size
        self.per_epoch = len(tensors[0]) // batch_size
        self._epoch, self._order = -1, None

    def batch(self, step: int) -> tuple[torch.Tensor, ...]:
        epoch, index = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            rng = torch.Generator().manual_seed(self.seed + epoch)
            self._order = torch.randperm(len(self.tensors[0]), generator=rng).to(self.tensors[0].device)
            self._epoch = epoch
        start = index * self.batch_size + self.rank * self.local_batch_size
        idx = self._order[start : start + self.local_batch_size]  # (B / world_size,)
        return tuple(t[idx] for t in self.tensors)
