"""Tests of repalign.data.checks: each check names its argument and the values it allows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from repalign.data.checks import as_flip, as_int, as_snr, read_only


def test_as_int_takes_integers_only():
    assert as_int("members", 3, 1) == 3 and as_int("members", np.int32(3), 1) == 3
    assert type(as_int("members", np.int64(3), 1)) is int
    for bad in (2.0, "3", None):
        with pytest.raises(ValueError, match=r"members must be an integer >= 1, got"):
            as_int("members", bad, 1)
    with pytest.raises(ValueError, match=r"members must be an integer >= 1, got 0"):
        as_int("members", 0, 1)


def test_as_snr_takes_positive_numbers_and_infinity():
    assert as_snr(2) == 2.0 and as_snr(math.inf) == math.inf
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match=r"snr must be a positive number \(inf allowed\), got"):
            as_snr(bad)


def test_as_flip_allows_zero_up_to_the_no_signal_bound():
    assert as_flip(0.0, 1) == 0.0 and as_flip(0.75, 4) == 0.75
    with pytest.raises(ValueError, match="flip must be 0 for regression"):
        as_flip(0.1, 1)
    with pytest.raises(ValueError, match=r"flip must be in \[0, 1 - 1/n_classes\] = \[0, 0\.5\], got"):
        as_flip(0.51, 2)


def test_read_only_freezes_in_place():
    array = np.zeros(3)
    assert read_only(array) is array and not array.flags.writeable
