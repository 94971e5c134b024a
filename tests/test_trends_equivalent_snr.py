"""Label flips relabelled as their equivalent SNR (repalign.inference.trends.equivalent_snr): it inverts
flip_for_snr on every grid the book uses, and equals the three relabellings the chapters made."""

import math

import numpy as np
import pandas as pd
import pytest

from repalign.inference.trends import equivalent_snr, flip_for_snr, snr_for_flip

GRIDS = ((0.1, 1.0, 10.0, 100.0, math.inf), (0.25, 1.0, 4.0, math.inf), (0.5, 2.0, 8.0, math.inf))


def _sweep_table(snrs, n_classes):
    """Rows as a sweep gives them: flips carry the noise of classification labels (snr = inf)."""
    rows = []
    for task in ("regression", "classification"):
        for noise in ("labels", "inputs"):
            for s in snrs:
                flipped = task == "classification" and noise == "labels"
                rows.append({"task": task, "noise_location": noise, "n_classes": n_classes,
                             "snr": math.inf if flipped else s, "flip": flip_for_snr(s, n_classes) if flipped else 0.0,
                             "intended": s})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("snrs", GRIDS)
@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_flips_map_back_to_exactly_their_snr(snrs, n_classes):
    table = _sweep_table(snrs, n_classes)
    np.testing.assert_array_equal(equivalent_snr(table.flip, table.snr, table.n_classes), table.intended)
    np.testing.assert_array_equal(equivalent_snr(table.flip, table.snr, n_classes), table.intended)


@pytest.mark.parametrize("snrs", GRIDS)
def test_equals_the_three_chapter_relabellings(snrs):
    C = 10
    table = _sweep_table(snrs, C)
    new = equivalent_snr(table.flip, table.snr, table.n_classes)
    # chapters/snr.md
    flip_to_snr = {flip_for_snr(s, C): s for s in snrs}
    snr_md = np.where((table.task == "classification") & (table.noise_location == "labels"),
                      table.flip.map(flip_to_snr), table.snr)
    # chapters/real_data.md
    real_md = np.where((table.task == "classification") & (table.noise_location == "labels"),
                       table.flip.map(lambda f: flip_to_snr.get(f, math.nan)), table.snr)
    # chapters/decoupling.md
    equivalent = [snr_for_flip(f, c) if f > 0 else s for f, s, c in zip(table.flip, table.snr, table.n_classes)]
    decoupling_md = [float(f"{s:.6g}") for s in equivalent]
    for old in (snr_md, real_md, decoupling_md):
        np.testing.assert_array_equal(new, np.asarray(old, dtype=float))


def test_rows_without_flips_keep_their_snr_untouched():
    # Neither rounded nor read for classes: a regression row's n_classes may be anything.
    out = equivalent_snr([0.0, 0.0, math.nan], [1 / 3, math.inf, 2.0], [None, None, None])
    np.testing.assert_array_equal(out, [1 / 3, math.inf, 2.0])
    assert equivalent_snr(0.2, math.inf, 10).shape == (1,)
    assert equivalent_snr(flip_for_snr(4.0, 3), math.inf, np.int64(3))[0] == 4.0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="flip must be a probability"):
        equivalent_snr([0.95], [math.inf], 10)  # beyond 1 - 1/C
    with pytest.raises(ValueError, match="n_classes must be an integer"):
        equivalent_snr([0.1], [math.inf], 1)
    with pytest.raises(ValueError, match="snr must be one value or a column as long as flip"):
        equivalent_snr([0.1, 0.2], [1.0, 2.0, 3.0], 10)
    with pytest.raises(ValueError, match="flip must be one column"):
        equivalent_snr([[0.1]], [1.0], 10)
