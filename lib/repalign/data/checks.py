"""Argument checks of the data functions (through ``repalign.validate``), and the read-only
arrays they hand out."""

from __future__ import annotations

import numpy as np

from .. import validate


def as_int(name: str, value, minimum: int) -> int:
    """``value`` as an int >= minimum (numpy integers count, floats never)."""
    return validate.integer(name, value, minimum=minimum)


def as_snr(snr) -> float:
    return validate.snr("snr", snr)


def as_flip(flip, n_classes: int) -> float:
    """A flip rate in [0, 1 - 1/C]; at 1 - 1/C the noisy label is independent of the clean one."""
    upper = 1.0 - 1.0 / n_classes
    allowed = "0 for regression" if n_classes == 1 else f"in [0, 1 - 1/n_classes] = [0, {upper:g}]"
    return validate.number("flip", flip, at_least=0.0, at_most=upper, allowed=allowed)


def read_only(array: np.ndarray) -> np.ndarray:
    """The same array, made read-only: cached arrays are shared, so callers copy what they change."""
    array.setflags(write=False)
    return array
