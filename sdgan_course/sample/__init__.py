"""Sampling, one module per family (``gan``: generate, best-of-N, rejection sampling, interpolation).

The diffusion samplers follow one contract (:mod:`.base`: the step protocol, the shared loop, the registry); importing
their modules here registers each one, so :data:`.base.REGISTRY` is complete whatever a caller imports first.
"""

from . import ddpm, ddim, dpm_solver, flow  # noqa: F401, I001  (each registers its samplers in base.REGISTRY, in this order)
