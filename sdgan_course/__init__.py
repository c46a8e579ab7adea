"""sdgan_course: the tested library behind the course *From GANs to Stable Diffusion*."""

__version__ = "0.1.0"
