"""Profiles and configs: the one place that decides how big everything is.

A *profile* picks the scale of the whole course:

- ``ci``  — tiny models, a few steps, small data slices (the test suite runs every notebook in minutes on 2 CPU cores);
- ``cpu`` — a laptop: small models, minutes per notebook, shipped checkpoints for real quality;
- ``gpu`` — full datasets and full training, mixed precision.

It is read from the environment variable ``SDGAN_PROFILE`` here and nowhere else. The default is ``gpu`` when a CUDA or
Apple MPS device is available, else ``cpu``. Asking for ``gpu`` on a machine without one falls back to ``cpu`` with a
warning that says why (set ``SDGAN_FORCE_PROFILE=1`` to run the ``gpu`` sizes anyway, slowly).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

PROFILE_ENV = "SDGAN_PROFILE"
FORCE_ENV = "SDGAN_FORCE_PROFILE"
PROFILES = ("ci", "cpu", "gpu")


class ProfileError(ValueError):
    """An unknown profile name."""


def profile_sizes(table: Mapping[str, object], profile: str, owner: str, /, **overrides) -> dict:
    """The keyword arguments of ``profile``'s entry in ``table``, with ``overrides`` on top: every preset's one step.

    ``table`` maps each profile (``"ci"``, ``"cpu"``, ``"gpu"``) to a dict of field values or to a config dataclass
    (its fields are taken, shallowly). The result is a new dict, so callers may change it. An unknown profile raises
    :class:`ProfileError` naming ``owner`` (the preset's name, e.g. ``"UNetConfig.preset"``) and the valid profiles.
    """
    if profile not in table:
        valid = ", ".join(table)
        raise ProfileError(f"Unknown profile {profile!r} for {owner}. Valid profiles: {valid}; "
                           "pass one of them, or get_profile() for the active one.")
    entry = table[profile]
    if dataclasses.is_dataclass(entry):
        entry = {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry) if f.init}
    return {**entry, **overrides}


def _accelerator_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return torch.cuda.is_available() or bool(mps is not None and mps.is_available())


def get_profile(name: str | None = None) -> str:
    """Return the active profile: ``name`` if given, else ``$SDGAN_PROFILE``, else the machine's default.

    Raises :class:`ProfileError` naming the valid profiles when the name is unknown.
    """
    source = "argument" if name is not None else PROFILE_ENV
    if name is None:
        name = os.environ.get(PROFILE_ENV, "").strip()
    if not name:
        return "gpu" if _accelerator_available() else "cpu"
    profile = name.strip().lower()
    if profile not in PROFILES:
        raise ProfileError(
            f"Unknown profile {name!r} (from {source}). Valid profiles: {', '.join(PROFILES)}. "
            f"For example: export {PROFILE_ENV}=cpu"
        )
    if profile == "gpu" and not _accelerator_available() and os.environ.get(FORCE_ENV) != "1":
        warnings.warn(
            "Profile 'gpu' was requested but no CUDA or MPS device is available, so the 'cpu' profile is used "
            f"(the gpu sizes would take hours on a CPU). Set {FORCE_ENV}=1 to run the gpu sizes anyway.",
            RuntimeWarning,
            stacklevel=2,
        )
        return "cpu"
    return profile


@dataclass(frozen=True)
class DataConfig:
    """How much data a profile uses. ``train_limit=None`` means the whole split."""

    train_limit: int | None
    test_limit: int | None
    batch_size: int

    @classmethod
    def preset(cls, profile: str, **overrides) -> DataConfig:
        """The data sizes of a profile (``"ci"``, ``"cpu"``, ``"gpu"``), with fields overridden by keyword."""
        return cls(**profile_sizes(DATA_PRESETS, profile, "DataConfig.preset", **overrides))


DATA_PRESETS = {
    "ci": DataConfig(train_limit=2_000, test_limit=500, batch_size=64),
    "cpu": DataConfig(train_limit=None, test_limit=None, batch_size=128),
    "gpu": DataConfig(train_limit=None, test_limit=None, batch_size=256),
}


def data_config(profile: str | None = None) -> DataConfig:
    """The :class:`DataConfig` preset of a profile (the active one by default)."""
    return DataConfig.preset(get_profile(profile))
