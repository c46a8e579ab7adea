"""Closed forms: GAN theory (``gan``: value function, optimal discriminator, JSD); later diffusion."""
