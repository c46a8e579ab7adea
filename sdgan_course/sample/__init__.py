"""Sampling, one module per family (``gan``: generate, best-of-N, rejection sampling, interpolation)."""
