"""Sweep benchmark: a cached re-run against the first run, and a process pool against serial.

    python benchmarks/sweep.py [--quick]

One run, one machine state, fresh temporary caches:
  1. the grid serially into an empty cache (first run), then again (every point cached);
  2. the same grid on a local process pool of 2 workers (1 thread each) into another empty
     cache, against the serial first run.
The grid: 8 ensembles of 6 MLPs 20-16-1 (ReLU) on a two-layer teacher with label noise,
N in {40, 120, 360, 1000} x SNR in {1, 4}, full-batch Adam for at most 2000 steps.
Prints times and ratios; asserts only that the three tables agree.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import pandas as pd

from repalign import Experiment
from repalign.cache import ResultCache
from repalign.sweep import sweep


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller grid, seconds")
    args = parser.parse_args()
    steps = 300 if args.quick else 2000
    base = Experiment(data="teacher-mlp", d=20, model="mlp", width=16, members=6, optimizer="adam", lr=1e-2,
                      steps=steps, tol=1e-6, n_probe=1000, snr=4.0)
    grid = {"n_train": [40, 120, 360, 1000], "snr": [1.0, 4.0]}
    with tempfile.TemporaryDirectory() as folder:
        serial_cache, pool_cache = ResultCache(f"{folder}/serial"), ResultCache(f"{folder}/pool")
        first, t_first = timed(lambda: sweep(base, grid, cache=serial_cache, progress=False))
        again, t_again = timed(lambda: sweep(base, grid, cache=serial_cache, progress=False))
        pool, t_pool = timed(lambda: sweep(base, grid, executor="process", workers=2, cache=pool_cache,
                                           progress=False))
    columns = ["n_train", "snr", "metric", "alignment", "test_error"]
    pd.testing.assert_frame_equal(first[columns], again[columns])
    pd.testing.assert_frame_equal(first[columns], pool[columns], rtol=1e-5, atol=1e-8)
    points = len(first) // len(base.metrics)
    print(f"{points} grid points, {base.members} members each, up to {steps} Adam steps")
    print(f"{'run':<44} {'time (s)':>9} {'ratio':>12}")
    print(f"{'serial, empty cache (first run)':<44} {t_first:9.2f} {'1':>12}")
    print(f"{'serial, everything cached (re-run)':<44} {t_again:9.3f} {t_again / t_first:11.2%} of first")
    print(f"{'process pool, 2 workers, empty cache':<44} {t_pool:9.2f} {t_first / t_pool:11.2f}x faster")
    print("tables agree: yes (re-run exactly; pool within float rounding of other thread counts)")


if __name__ == "__main__":
    main()
