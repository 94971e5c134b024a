"""Argument checks of the data functions, and the read-only arrays they hand out.

Each check returns the value in its canonical type or raises a ValueError that names the
argument and the values it allows.
"""

from __future__ import annotations

import operator

import numpy as np


def as_int(name: str, value, minimum: int) -> int:
    """``value`` as an int >= minimum (numpy integers count, floats never)."""
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {number}")
    return number


def as_snr(snr) -> float:
    value = float(snr)
    if not value > 0:  # also rejects NaN
        raise ValueError(f"snr must be > 0 (float('inf') for no Gaussian noise), got {snr!r}")
    return value


def as_flip(flip, n_classes: int) -> float:
    """A flip rate in [0, 1 - 1/C]; at 1 - 1/C the noisy label is independent of the clean one."""
    value = float(flip)
    upper = 1.0 - 1.0 / n_classes
    if not 0.0 <= value <= upper:
        allowed = "0 for regression" if n_classes == 1 else f"[0, 1 - 1/n_classes] = [0, {upper:g}]"
        raise ValueError(f"flip must be in {allowed}, got {flip!r}")
    return value


def read_only(array: np.ndarray) -> np.ndarray:
    """The same array, made read-only: cached arrays are shared, so callers copy what they change."""
    array.setflags(write=False)
    return array
