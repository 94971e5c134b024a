"""The statistics layer: every test, estimate and verdict of the book, computed from tidy sweep
tables (one row per independent ensemble) and never from a network: nothing here trains,
builds a model or touches the result cache.

- ``core``: paired tests, multiplicity control (Holm, Benjamini-Hochberg), the t-based number
  of independent ensembles that would decide a verdict, and the verdict word ``UNDECIDED``;
- ``trends``: does alignment rise with the SNR (claim 1), and label flips on the SNR axis;
- ``extrema``: the interpolation threshold and the extrema of a sweep, located;
- ``threshold``: where an extremum lies relative to the threshold, by window tests (claim 2);
- ``colocation``: does the alignment minimum sit at the test-error peak;
- ``tracking``: does an extremum move with the threshold as the network grows;
- ``decoupling``: regimes, the coupling of alignment and error, counterexamples (claim 3);
- ``floor``: trained alignment against the untrained ensemble's;
- ``claims``: the three claims decided on a sweep, and their vocabulary;
- ``robustness``: every claim on every setup and metric;
- ``phrases``: the sentences that report all of this.

The names of ``core`` are available from ``repalign.inference`` itself.
"""

from .core import (ALPHA, MEASUREMENTS, MOST_REPEATS, POWER, ROUNDING, UNDECIDED, benjamini_hochberg, checked, holm,
                   level, mean_interval, measurements, one_sided_p, repeat_labels, repeats_needed, t_power,
                   welch_one_sided_p)

__all__ = ["ALPHA", "MEASUREMENTS", "MOST_REPEATS", "POWER", "ROUNDING", "UNDECIDED", "benjamini_hochberg", "checked",
           "holm", "level", "mean_interval", "measurements", "one_sided_p", "repeat_labels", "repeats_needed",
           "t_power", "welch_one_sided_p"]
