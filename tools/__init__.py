"""The maintainer's tools of the course: each makes or checks a number, a table or a stored output (tools/README.md).

Run one from the repository root as ``python -m tools.NAME ...`` or, as the README and data/checkpoints/README.md
write it, ``python tools/NAME.py ...``: both resolve imports the same way (``tools/_as_package.py``). A tool imports
another as ``from tools.NAME import ...``; what a test or a notebook needs lives in ``sdgan_course``, not here. The
package ships only ``sdgan_course`` (pyproject.toml), so none of this reaches a learner's installation.
"""
