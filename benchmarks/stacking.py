"""Stacking benchmark: a chapter grid trained as stacks against the same grid point by point.

    python benchmarks/stacking.py [--quick] [--repeats R]

One run, one machine state, one thread (as each worker of the book's sweeps), fresh
temporary caches. Two grids of the book's paper presets, at R independent ensembles per point:
  (a) the SNR chapter, network mlp1 (16-8-1 ReLU MLP, 6 members, 1000 full-batch Adam steps),
      regression with label noise: 3 sample sizes x 5 SNRs x R seeds;
  (b) the sample-size chapter, regression: 11 sample sizes x R seeds, 4000 Adam steps.
Each grid runs with ``sweep(..., stack=False)`` (every point alone: one stack of its 6
members) and with ``stack=True`` (every point of the same N in one stack). Prints the times,
the ratio, where the stacked run spends its time (drawing data, training, measuring), the
training step's largest operations (torch profiler), and how far apart the two runs' numbers
are: per ensemble, and per grid point in units of the Monte-Carlo standard error over its
seeds (float32 Adam carries rounding differences along a long run). Nothing is asserted on
times; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
import warnings

import torch

from repalign import book_sweeps
from repalign.cache import ResultCache
from repalign.experiment import budget_stops_expected, run_stack
from repalign.presets import SampleSizeConfig, SNRConfig
from repalign.sweep import grid_experiments, plan_stacks, sweep


def chapter_grids(repeats: int, quick: bool) -> dict[str, tuple]:
    """name -> (base, grid) from the chapters' own job lists."""
    overrides = {"repeats": repeats}
    if quick:
        overrides |= {"steps": 100}
    snr_cfg = SNRConfig.from_preset("paper", networks=("mlp1",), tasks=("regression",), noises=("labels",),
                                    **overrides)
    size_cfg = SampleSizeConfig.from_preset("paper", **overrides)
    (_, snr_base, snr_grid), = book_sweeps.snr_jobs(snr_cfg)
    (_, size_base, size_grid) = book_sweeps.sample_size_jobs(size_cfg)[0]  # regression, sample-wise
    return {"SNR chapter, mlp1, regression, label noise": (snr_base, snr_grid),
            "sample-size chapter, regression": (size_base, size_grid)}


def monte_carlo_ratio(alone, stacked, cell: list[str]) -> float:
    """max over grid points and metrics of |mean_alone - mean_stacked| / se, with the mean and
    its standard error taken over the independent ensembles (seeds) of the per-point run."""
    keys = [*cell, "metric"]
    a, b = alone.groupby(keys).alignment, stacked.groupby(keys).alignment
    return float(((a.mean() - b.mean()).abs() / a.sem()).max())


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def where_time_goes(points) -> dict[str, float]:
    """Seconds of one stacked run in drawing, training and measuring (cProfile, cumulative)."""
    profile = cProfile.Profile()
    profile.runcall(run_stack, points)
    stats = pstats.Stats(profile).stats
    parts = {"_draw": "drawing data and initial weights", "_train_stack": "training",
             "_measure": "measuring (probe forward, metrics)"}
    seconds = {label: sum(v[3] for (_, _, name), v in stats.items() if name == fn) for fn, label in parts.items()}
    seconds["total"] = sum(v[3] for (_, _, name), v in stats.items() if name == "run_stack")
    return seconds


def top_operations(points, count: int = 6) -> str:
    from torch.profiler import profile

    with profile() as prof:
        run_stack(points)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 steps instead of the presets' budgets")
    parser.add_argument("--repeats", type=int, default=10, help="independent ensembles per point")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    print(f"torch {torch.__version__}, 1 thread; repeats = {args.repeats}{', quick' if args.quick else ''}\n")
    for name, (base, grid) in chapter_grids(args.repeats, args.quick).items():
        points = grid_experiments(base, grid)
        stacks = plan_stacks(points)
        with tempfile.TemporaryDirectory() as folder, budget_stops_expected():
            alone, t_alone = timed(lambda: sweep(base, grid, stack=False, progress=False,
                                                 cache=ResultCache(f"{folder}/alone")))
            stacked, t_stacked = timed(lambda: sweep(base, grid, stack=True, progress=False,
                                                     cache=ResultCache(f"{folder}/stacked")))
            largest = max(stacks, key=len)
            parts = where_time_goes(largest)
            profiled_steps = min(base.steps, 200)
            ops = top_operations([exp.replace(steps=profiled_steps) for exp in largest])
        gap = (alone.alignment - stacked.alignment).abs().groupby(alone.metric).max()
        noise = monte_carlo_ratio(alone, stacked, [f for f in grid if f != "seed"])
        print(f"== {name}: {len(points)} points of {base.members} members, {base.steps} Adam steps, "
              f"{len(stacks)} stacks of {min(map(len, stacks))}-{max(map(len, stacks))} points")
        print(f"  {'point by point (stack=False)':<34} {t_alone:8.1f} s")
        print(f"  {'stacked (stack=True)':<34} {t_stacked:8.1f} s   {t_alone / t_stacked:5.1f}x faster")
        print("  largest difference in an ensemble's mean alignment, by metric: "
              + ", ".join(f"{metric} {value:.1e}" for metric, value in gap.items()))
        print(f"  largest difference of a grid point's mean over the seeds, in units of its standard error: "
              f"{noise:.2f}")
        print(f"  one stack of {len(largest)} points (N = {largest[0].n_train}), {parts['total']:.2f} s:")
        for label, seconds in parts.items():
            if label != "total":
                print(f"    {label:<40} {seconds:6.2f} s  {seconds / parts['total']:6.1%}")
        print(f"  its largest operations over {profiled_steps} steps (torch profiler):")
        print("\n".join("    " + line for line in ops.splitlines()))
        print()


if __name__ == "__main__":
    main()
