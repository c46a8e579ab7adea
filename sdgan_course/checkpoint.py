"""Checkpoints that survive crashes and explain themselves.

- A write is atomic: the state goes to a temporary file in the same folder, is flushed to disk, then renamed over the
  target (``os.replace``), so an interrupted save never leaves a half-written checkpoint.
- A checkpoint carries its kind, a format version and the model config (``asdict(config)``), so it rebuilds its own
  model; loading checks all three and says what is wrong and what to do.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

FORMAT_VERSION = 1

# One set of names for the run state of every family: the EMA weights are "ema_model", the run's random generator
# "rng". Files written before the names were unified (GAN runs and exports: "ema_generator", "noise_rng") still load:
# :func:`load_checkpoint` reads their keys under the current names.
RENAMED_KEYS = {"ema_generator": "ema_model", "noise_rng": "rng"}


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupted, of another kind or incompatible with the code."""


def save_checkpoint(path: str | os.PathLike, state: dict, *, kind: str) -> Path:
    """Atomically write ``state`` (tensors, numbers, dicts) to ``path`` with its ``kind`` and the format version."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"kind": kind, "format_version": FORMAT_VERSION, **state}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, *, kind: str, map_location="cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` and check that it is a ``kind`` checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"No checkpoint at {path}. Check the path; shipped checkpoints live in the course's data/checkpoints/ "
            "folder, and training writes its own with --out DIR (DIR/checkpoint.pt)."
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated, not a torch file, unpicklable: all mean the same to a learner
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(err).__name__}: {str(err).splitlines()[0][:200]}). "
            "It may be truncated or corrupted: delete it and retrain, resume from an earlier file, or fetch a fresh "
            "copy of a shipped checkpoint from the course repository."
        ) from err
    if not isinstance(payload, dict) or "kind" not in payload:
        raise CheckpointError(f"{path} is a torch file but not a course checkpoint (it has no 'kind' field).")
    if payload["kind"] != kind:
        raise CheckpointError(f"{path} is a {payload['kind']!r} checkpoint, but a {kind!r} checkpoint was expected: "
                              f"give it to the commands and loaders of {payload['kind']!r} models.")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {payload.get('format_version')}, this library reads format "
            f"{FORMAT_VERSION}. Update the course (git pull) or retrain with this version."
        )
    return current_names(payload)


def current_names(state: dict) -> dict:
    """``state`` with every old key of :data:`RENAMED_KEYS` read under its current name (a key already stored under
    its current name is kept as it is)."""
    state = dict(state)
    for old, new in RENAMED_KEYS.items():
        if old in state and new not in state:
            state[new] = state.pop(old)
    return state
