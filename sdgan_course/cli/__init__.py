"""The command line (``python -m sdgan_course``): the only package of the library that parses arguments."""

from .main import main

__all__ = ["main"]
