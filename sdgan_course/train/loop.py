"""The one training loop of the course: bookkeeping only, the learning lives in each family's visible step.

Every model family (GAN, toy GAN, classifier, VAE, diffusion) writes a short ``step_fn(step) -> dict[str, float]``
that does one optimisation step on one batch and returns its statistics. :func:`train_loop` owns everything else, in
one place and one way:

- the **EMA** of the weights (if the run keeps one),
- the **divergence guard** (a NaN/inf statistic or a gradient norm above ``max_grad_norm`` stops training; the last
  good checkpoint is left untouched, and the error says what to do),
- **checkpoints** (atomic, every ``checkpoint_every`` steps, at the end and when time runs out) and therefore resume,
- the **history** of statistics, the **progress bar**, a **time budget**, and **one hook** (live plots, snapshots).

Under ``torchrun`` (:mod:`sdgan_course.distributed`) every rank runs this loop on its shard of the global batch;
the statistics are averaged over the ranks once per step, so the divergence guard and the time budget stop every
rank together, and only rank 0 keeps the EMA, shows progress, saves checkpoints and calls the hook.

A *run* is any object with ``step`` (int), ``history`` (dict of lists), ``save(path)`` and, optionally, ``ema``
(an :class:`EMA`) and ``ema_source`` (the live model the EMA follows).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from .. import distributed
from ..checkpoint import CheckpointError, load_checkpoint, save_checkpoint


class DivergenceError(RuntimeError):
    """Training produced a NaN/inf loss or an exploding gradient; the last good checkpoint is kept."""


class EMA:
    r"""Exponential moving average of a model's weights:
    :math:`\bar\theta \leftarrow \beta \bar\theta + (1-\beta)\theta`.

    Sampling from the averaged weights gives smoother, better samples than the last iterate (GANs: Yazici et al. 2019,
    arXiv:1806.04498; diffusion: Ho et al. 2020, arXiv:2006.11239, appendix B). Buffers (batch-norm statistics) are
    copied. ``decay`` warms up as ``min(decay, (1+n)/(10+n))``.
    """

    def __init__(self, model: nn.Module, *, decay: float = 0.999):
        self.decay = decay
        self.num_updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.num_updates += 1
        beta = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        for avg, p in zip(self.model.parameters(), model.parameters(), strict=True):
            avg.lerp_(p.detach(), 1.0 - beta)
        for avg_b, b in zip(self.model.buffers(), model.buffers(), strict=True):
            avg_b.copy_(b)


def grad_norm(model: nn.Module) -> torch.Tensor:
    """The global L2 norm of a model's gradients (0 when it has none)."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))


def check_divergence(
    stats: dict[str, float],
    *,
    step: int,
    max_grad_norm: float,
    checkpoint_path: str | Path | None,
    last_saved: int,
    fixes: str = "lower the learning rate or turn off mixed precision (amp=False)",
) -> None:
    """Raise :class:`DivergenceError` if a statistic is NaN/inf or a ``grad_norm*`` statistic exceeds the threshold."""
    bad = [k for k, v in stats.items() if not math.isfinite(v)]
    big = [k for k, v in stats.items() if k.startswith("grad_norm") and math.isfinite(v) and v > max_grad_norm]
    if not bad and not big:
        return
    what = ", ".join(f"{k} = {stats[k]:.3g}" for k in bad + big)
    kept = (
        f"The last good checkpoint (step {last_saved}) is kept at {checkpoint_path}; resume from it with a lower "
        "learning rate."
        if checkpoint_path is not None and Path(checkpoint_path).exists()
        else "No checkpoint was written yet (pass checkpoint_path= to keep your progress)."
    )
    raise DivergenceError(f"Training diverged at step {step}: {what}. {kept} Usual fixes: {fixes}.")


class MixedPrecision:
    """The one mixed-precision path of every family's training step: :meth:`autocast` around the forward pass and
    the loss, :meth:`step` for backward, gradient norm, clipping and the optimiser step.

    The dtype is :func:`~sdgan_course.device.amp_dtype`'s: bfloat16 from Ampere on, which keeps float32's exponent
    range and needs no loss scaling; float16 on older GPUs (Colab's T4), whose small gradients underflow to zero, so a
    ``torch.amp.GradScaler`` multiplies the loss before backward, unscales the gradients before they are measured or
    clipped, and skips a step whose gradients overflowed (it then lowers the scale: Micikevicius et al. 2018,
    arXiv:1710.03740). On the CPU and MPS, or with ``enabled=False``, both are plain float32.
    ``scaler`` replaces the automatic one (a CPU ``GradScaler`` exercises the fp16 path in the tests)."""

    def __init__(self, device: torch.device | str, enabled: bool = True, *, scaler=None):
        from ..device import amp_dtype

        self.device, self.enabled = torch.device(device), enabled
        self.dtype = amp_dtype(self.device) if enabled else None
        if scaler is None and self.dtype == torch.float16:
            scaler = torch.amp.GradScaler(self.device.type)
        self.scaler = scaler
        self.skipped_steps = 0  # fp16 steps the scaler skipped (overflowed gradients)

    def autocast(self):
        """The autocast context (a no-op where the dtype is ``None``)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def step(self, loss: torch.Tensor, opt: torch.optim.Optimizer, model: nn.Module, *,
             max_grad_clip: float | None = None) -> torch.Tensor:
        """Backward, the (unscaled) gradient norm of ``model``, optional clipping, the optimiser step. Returns the
        norm; 0 for a step the scaler skipped (its overflow is not a divergence: the scale drops and training goes
        on; a model that really diverges shows it in its loss)."""
        if self.scaler is None:
            loss.backward()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(opt)
        norm = grad_norm(model)
        if max_grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), max_grad_clip)
        if self.scaler is None:
            opt.step()
            return norm
        scale = self.scaler.get_scale()
        self.scaler.step(opt)  # skipped if the gradients overflowed
        self.scaler.update()
        if self.scaler.get_scale() < scale:  # the scale drops only after an overflow
            self.skipped_steps += 1
            return torch.zeros((), device=norm.device)
        return norm

    def attach(self, opt: torch.optim.Optimizer) -> MixedPrecision:
        """Make this the path :func:`mixed_precision` returns for ``opt``."""
        _PRECISION[opt] = self
        return self


_PRECISION: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def mixed_precision(opt: torch.optim.Optimizer, device: torch.device | str, enabled: bool = True) -> MixedPrecision:
    """The :class:`MixedPrecision` of optimiser ``opt``: made on first use and kept with it, so its loss scale adapts
    across steps (a scaler made afresh each step would restart at 65536 every time). What every step function calls."""
    mp = _PRECISION.get(opt)
    if mp is None or mp.device != torch.device(device) or mp.enabled != enabled:
        mp = MixedPrecision(device, enabled).attach(opt)
    return mp


class LoopResult(NamedTuple):
    seconds: float  # wall time of this call
    steps: int  # steps done in this call
    examples_per_second: float


def train_loop(
    run: Any,
    step_fn: Callable[[int], dict[str, float]],
    *,
    steps: int,
    batch_size: int,
    checkpoint_path: str | Path | None = None,
    checkpoint_every: int = 500,
    log_every: int = 10,
    max_grad_norm: float = 1e4,
    hook: Callable[[Any, dict[str, float]], None] | None = None,
    hook_every: int = 100,
    progress: bool = True,
    max_seconds: float | None = None,
    desc: str = "training",
    postfix: tuple[str, ...] = ("loss",),
    fixes: str = "lower the learning rate or turn off mixed precision (amp=False)",
) -> LoopResult:
    """Call ``step_fn(run.step)`` until ``run.step == steps``, resuming from ``run.step``; see the module docstring.

    ``batch_size`` only converts steps to examples per second. ``hook(run, stats)`` runs every ``hook_every`` steps
    and at the end; ``max_seconds`` stops (and saves) once that much wall time has passed.
    """
    main = distributed.is_main()  # under torchrun only rank 0 keeps the EMA, shows progress, saves and calls the hook
    bar = _progress(run.step, steps, progress and main, desc)
    start, start_step, last_saved = time.perf_counter(), run.step, run.step
    ema = getattr(run, "ema", None) if main else None
    while run.step < steps:
        stats = step_fn(run.step)
        out_of_time = max_seconds is not None and time.perf_counter() - start > max_seconds
        if distributed.world_size() > 1:  # every rank logs the global means and stops together
            stats, out_of_time = _agree(stats, out_of_time)
        check_divergence(
            stats,
            step=run.step,
            max_grad_norm=max_grad_norm,
            checkpoint_path=checkpoint_path,
            last_saved=last_saved,
            fixes=fixes,
        )
        if ema is not None:
            ema.update(run.ema_source)
        run.step += 1
        if run.step % log_every == 0 or run.step == steps:
            for key, value in stats.items():
                run.history.setdefault(key, []).append(value)
            run.history.setdefault("step", []).append(float(run.step))
        if bar is not None:
            bar.update(1)
            if run.step % log_every == 0:
                bar.set_postfix({k: f"{stats[k]:.3f}" for k in postfix if k in stats})
        if checkpoint_path is not None and (run.step % checkpoint_every == 0 or run.step == steps or out_of_time):
            if main:
                run.save(checkpoint_path)
            last_saved = run.step
        if main and hook is not None and (run.step % hook_every == 0 or run.step == steps or out_of_time):
            hook(run, stats)
        if out_of_time:
            break
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    done = run.step - start_step
    return LoopResult(seconds, done, done * batch_size / seconds if seconds > 0 else float("nan"))


def _agree(stats: dict[str, float], out_of_time: bool) -> tuple[dict[str, float], bool]:
    """One all-reduce per step: the statistics averaged over the ranks (the global batch's means; a NaN on any rank
    is a NaN on all, so the divergence guard stops every rank) and the time budget's verdict (any rank out of time)."""
    values = distributed.all_mean(torch.tensor([*stats.values(), float(out_of_time)], dtype=torch.float64))
    return dict(zip(stats, values[:-1].tolist())), bool(values[-1] > 0)


class Run:
    """The smallest run :func:`train_loop` accepts: a step counter and a history, for loops that are never resumed
    (toy GANs, a discriminator fitted alone, the classifiers, the two-sample judge). ``save`` refuses: such a run is
    trained without ``checkpoint_path``."""

    def __init__(self):
        self.step = 0
        self.history: dict[str, list[float]] = {}

    def save(self, path):
        raise NotImplementedError(f"{type(self).__name__} is not checkpointed: run train_loop without checkpoint_path.")


class ResumableRun:
    """What every saved-and-resumed run shares: ``save`` writes :meth:`state` atomically under the class's ``kind``;
    :meth:`read_resumable` reads such a file back and refuses a sampling-only export (it has no optimiser state)."""

    kind: str = ""
    optimizer_key: str = "opt"  # a field that only a resumable file holds

    def state(self) -> dict:
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Atomically save the whole run (resumable)."""
        return save_checkpoint(path, self.state(), kind=self.kind)

    @classmethod
    def read_resumable(cls, path: str | Path) -> dict:
        ckpt = load_checkpoint(path, kind=cls.kind)
        if cls.optimizer_key not in ckpt:
            raise CheckpointError(f"{path} holds only sampling weights (a shipped model): it cannot be resumed.")
        return ckpt


LOOP_FIELDS = ("batch_size", "checkpoint_every", "log_every", "max_grad_norm")


def loop_options(config) -> dict:
    """The bookkeeping fields every training config shares, as keyword arguments of :func:`train_loop`."""
    return {name: getattr(config, name) for name in LOOP_FIELDS}


def _progress(initial: int, total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step")


__all__ = [
    "DivergenceError",
    "EMA",
    "LoopResult",
    "MixedPrecision",
    "Run",
    "check_divergence",
    "grad_norm",
    "loop_options",
    "mixed_precision",
    "train_loop",
]
