"""Training losses, one module per family (``gan``: the GAN losses and regularisers)."""
