"""The course models, one file per family."""
