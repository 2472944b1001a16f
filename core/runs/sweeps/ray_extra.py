"""Whether Ray, the `sweeps` extra, is installed, and how to install it: answered
without importing Ray or the sweep process, so any page can ask."""

from __future__ import annotations

import importlib.util

RAY_INSTALL = "pip install 'ray[tune]==2.60.0' (or, in a checkout, pip install -e '.[sweeps]')"


def ray_installed() -> bool:
    """Whether Ray can be imported: sweeps are an extra, training and the app work without it."""
    return importlib.util.find_spec("ray") is not None
