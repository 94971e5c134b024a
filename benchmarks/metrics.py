"""Benchmark all-pairs linear CKA for an ensemble of representations.

Usage: python benchmarks/metrics.py [--quick] [--repeats R] [--part {1,2,3} ...]

Part 1 (K=32 members, n=1000, width 200) fills the K x K linear-CKA matrix four ways:
  (a) textbook: tr(K H L H) with an explicit centring matrix H, per pair (timed on a
      subset of pairs and extrapolated to all K(K-1)/2 pairs),
  (b) a Python loop over pairs calling the scalar ``cka``,
  (c) ``alignment_matrix`` (it picks the Gram or feature form by operation count),
  (d) ``alignment_matrix`` forced to the other form, for comparison,
checks that all results agree to 1e-10, and prints speed-ups against (a) and (b).

Part 2 (K=32, n=5000, width 200) times ``alignment_matrix`` under its default memory
bound and the scalar loop on a subset of pairs (extrapolated), and checks peak memory
against 2 GB.

Part 3 (K=32, n=1000, width 200, the data of part 1) times the information imbalance for
all pairs (both directions of every pair, k=1, and the alignment score built from them)
against all-pairs linear CKA on the same input in the same run, timed alternately, and
reports the ratio (target: within 10x of linear CKA); it checks the all-pairs imbalances
against the scalar ``information_imbalance`` on a few pairs (exact equality).

Timing: best of R runs after one untimed warm-up run (the loops of (a), and of (b)
in part 2, run once on their subset).  Memory: tracemalloc's peak of the memory
allocated during one run of a method (numpy registers its buffers with tracemalloc;
the inputs, the interpreter and BLAS's own work buffers are not included), measured
in a separate untimed run because tracing slows small allocations.  For part 2 the
maximum resident set size of a fresh process that builds the data and runs
``alignment_matrix`` is also reported; it includes everything.

Timings are printed, never asserted; the exit status is 1 only if results disagree.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import repalign.metrics as metrics  # noqa: E402
from repalign.metrics import alignment_matrix, allpairs, cka  # noqa: E402
from repalign.metrics.imbalance import information_imbalance  # noqa: E402

TOLERANCE = 1e-10
MEMORY_LIMIT = 2 * 10**9  # "2 GB"
SPEEDUP_TARGETS = {"textbook loop": 100.0, "scalar cka loop": 4.0}
IMBALANCE_TARGET = 10.0  # information imbalance within 10x of all-pairs linear CKA
MIB = 2**20


def make_ensemble(members: int, n: int, width: int, seed: int = 0) -> np.ndarray:
    """Members share a 20-dimensional latent signal, each with its own map and noise."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 20))
    return np.stack([latent @ rng.standard_normal((20, width)) + rng.standard_normal((n, width))
                     for _ in range(members)])


def textbook_cka(x: np.ndarray, y: np.ndarray) -> float:
    """HSIC(K, L) = tr(K H L H) / (n-1)^2 with H = I - 11^T / n, as usually written."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k, l = x @ x.T, y @ y.T

    def hsic(a, b):
        return np.trace(a @ h @ b @ h) / (n - 1) ** 2

    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


def pair_loop(function, reps: np.ndarray, pairs) -> dict:
    return {(i, j): function(reps[i], reps[j]) for i, j in pairs}


@contextlib.contextmanager
def forced_linear_form(form: str | None):
    """Make alignment_matrix use the given linear-CKA form (None: its own choice)."""
    original = allpairs._linear_form
    if form is not None:
        allpairs._linear_form = lambda *args: form
    try:
        yield
    finally:
        allpairs._linear_form = original


def best_time(function, repeats: int, warm_up: bool = True):
    if warm_up:
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return result, min(times)


def traced_peak(function) -> int:
    """Peak bytes allocated (as seen by tracemalloc) while function runs."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def print_table(rows, reference: str) -> None:
    print(f"{'method':<58} {'time (s)':>9} {'peak MiB':>9} {'speed-up of (c)':>16} {'max |diff|':>11}")
    for label, seconds, peak, diff in rows:
        ratio = "" if label.startswith("(c)") else f"{seconds / reference:.1f}x"
        print(f"{label:<58} {seconds:>9.3f} {peak / MIB:>9.1f} {ratio:>16} {diff:>11.1e}")


def part_one(members: int, n: int, width: int, textbook_pairs: int, repeats: int) -> bool:
    reps = make_ensemble(members, n, width)
    pairs = [(i, j) for i in range(members) for j in range(i + 1, members)]
    form = allpairs._linear_form([width] * members, n, metrics.DEFAULT_MAX_BYTES)
    other = "features" if form == "gram" else "gram"
    print(f"\n== Part 1: K={members}, n={n}, width={width}, {len(pairs)} pairs; "
          f"alignment_matrix chooses the {form} form ==")

    sub = pairs[:textbook_pairs]
    textbook, t_a = best_time(lambda: pair_loop(textbook_cka, reps, sub), 1, warm_up=False)
    t_a *= len(pairs) / len(sub)

    def scalar_loop():
        out = np.eye(members)
        for (i, j), value in pair_loop(cka, reps, pairs).items():
            out[i, j] = out[j, i] = value
        return out

    loop, t_b = best_time(scalar_loop, repeats)
    with forced_linear_form(None):
        batched, t_c = best_time(lambda: alignment_matrix(reps, "cka"), repeats)
        peak_c = traced_peak(lambda: alignment_matrix(reps, "cka"))
    with forced_linear_form(other):
        forced, t_d = best_time(lambda: alignment_matrix(reps, "cka"), repeats)
        peak_d = traced_peak(lambda: alignment_matrix(reps, "cka"))
    peak_a = traced_peak(lambda: pair_loop(textbook_cka, reps, pairs[:1]))
    peak_b = traced_peak(lambda: pair_loop(cka, reps, pairs[:3]))

    rows = [
        (f"(a) textbook tr(KHLH) loop [{len(sub)} pairs, extrapolated]", t_a, peak_a,
         max(abs(value - batched[p]) for p, value in textbook.items())),
        ("(b) loop over pairs of scalar cka", t_b, peak_b, np.abs(loop - batched).max()),
        (f"(c) alignment_matrix ({form} form, its choice)", t_c, peak_c, 0.0),
        (f"(d) alignment_matrix forced to the {other} form", t_d, peak_d,
         np.abs(forced - batched).max()),
    ]
    print_table(rows, t_c)
    print("peak MiB of (a), (b): one pair call (the loops keep nothing else)")
    met = True
    for (name, target), seconds in zip(SPEEDUP_TARGETS.items(), (t_a, t_b)):
        ok = seconds / t_c >= target
        met &= ok
        print(f"target: (c) >= {target:g}x faster than the {name}: "
              f"{seconds / t_c:.1f}x, {'met' if ok else 'NOT met'}")
    worst = max(row[3] for row in rows)
    print(f"results agree to {TOLERANCE:g}: {'yes' if worst <= TOLERANCE else 'NO'} (worst {worst:.1e})")
    return worst <= TOLERANCE


def part_two(members: int, n: int, width: int, loop_pairs: int, repeats: int) -> bool:
    reps = make_ensemble(members, n, width)
    pairs = [(i, j) for i in range(members) for j in range(i + 1, members)]
    form = allpairs._linear_form([width] * members, n, metrics.DEFAULT_MAX_BYTES)
    print(f"\n== Part 2: K={members}, n={n}, width={width}, {len(pairs)} pairs; Gram stack would be "
          f"{members * n * n * 8 / MIB:.0f} MiB; default max_bytes "
          f"{metrics.DEFAULT_MAX_BYTES / MIB:.0f} MiB; alignment_matrix chooses the {form} form ==")
    sub = pairs[:loop_pairs]
    values, t_b = best_time(lambda: pair_loop(cka, reps, sub), 1, warm_up=False)
    t_b *= len(pairs) / len(sub)
    batched, t_c = best_time(lambda: alignment_matrix(reps, "cka"), repeats)
    peak_c = traced_peak(lambda: alignment_matrix(reps, "cka"))
    peak_b = traced_peak(lambda: pair_loop(cka, reps, pairs[:1]))
    rss = fresh_process_max_rss(members, n, width)
    rows = [
        (f"(b) loop over pairs of scalar cka [{len(sub)} pairs, extrapolated]", t_b, peak_b,
         max(abs(value - batched[p]) for p, value in values.items())),
        (f"(c) alignment_matrix ({form} form, its choice)", t_c, peak_c, 0.0),
    ]
    print_table(rows, t_c)
    print(f"fresh process building the data and running (c): max RSS {rss / MIB:.0f} MiB "
          "(includes the input and the interpreter)")
    under = max(peak_c, rss) < MEMORY_LIMIT
    print(f"target: under 2 GB (2e9 bytes): traced peak {peak_c / 1e9:.2f} GB, "
          f"max RSS {rss / 1e9:.2f} GB, {'met' if under else 'NOT met'}")
    worst = max(row[3] for row in rows)
    print(f"results agree to {TOLERANCE:g}: {'yes' if worst <= TOLERANCE else 'NO'} (worst {worst:.1e})")
    return worst <= TOLERANCE


def alternating_best_times(functions: dict, repeats: int) -> tuple[dict, dict]:
    """Best of ``repeats`` runs of each function after one warm-up each, the functions timed in
    turn within every repeat, so that a change in machine load affects all of them alike."""
    results = {name: function() for name, function in functions.items()}
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return results, {name: min(values) for name, values in times.items()}


def part_three(members: int, n: int, width: int, checked_pairs: int, repeats: int) -> bool:
    reps = make_ensemble(members, n, width)
    mats = list(reps)
    print(f"\n== Part 3: information imbalance, K={members}, n={n}, width={width}, "
          f"{members * (members - 1)} ordered pairs (k=1), against all-pairs linear CKA ==")
    functions = {
        "cka": lambda: alignment_matrix(reps, "cka"),
        "imbalance": lambda: allpairs.information_imbalance_matrix(reps),
        "score": lambda: allpairs._information_imbalance_matrix(mats),
    }
    results, times = alternating_best_times(functions, repeats)
    peaks = {name: traced_peak(function) for name, function in functions.items()}
    pairs = [(i, (i + 1 + i // 2) % members) for i in range(checked_pairs)]
    deltas = results["imbalance"]
    worst = max(max(abs(forward - deltas[i, j]), abs(backward - deltas[j, i]))
                for (i, j), (forward, backward) in
                ((p, information_imbalance(reps[p[0]], reps[p[1]])) for p in pairs))
    print(f"{'method':<66} {'time (s)':>9} {'peak MiB':>9} {'/ CKA time':>11}")
    labels = {"cka": "all-pairs linear CKA, alignment_matrix(reps, 'cka')",
              "imbalance": "information_imbalance_matrix (K x K, both directions)",
              "score": "_information_imbalance_matrix (alignment score, the registry's)"}
    for name, label in labels.items():
        print(f"{label:<66} {times[name]:>9.3f} {peaks[name] / MIB:>9.1f} "
              f"{times[name] / times['cka']:>10.1f}x")
    off = ~np.eye(members, dtype=bool)
    print(f"mean off-diagonal Delta {deltas[off].mean():.4f}; mean score "
          f"{results['score'][off].mean():.4f}; mean linear CKA {results['cka'][off].mean():.4f}")
    ratio = times["score"] / times["cka"]
    if (members, n, width) == (32, 1000, 200):
        print(f"target: information imbalance within {IMBALANCE_TARGET:g}x of linear CKA: {ratio:.1f}x, "
              f"{'met' if ratio <= IMBALANCE_TARGET else 'NOT met'}")
    else:
        print(f"ratio {ratio:.1f}x (the {IMBALANCE_TARGET:g}x target is for K=32, n=1000, width 200; "
              "at small sizes fixed per-call costs dominate)")
    print(f"all-pairs imbalances equal the scalar information_imbalance on {len(pairs)} pairs: "
          f"{'yes' if worst == 0 else 'NO'} (worst {worst:.1e})")
    return worst == 0


def fresh_process_max_rss(members: int, n: int, width: int) -> int:
    """Max resident set size (bytes) of a new process running only (c) at this size."""
    result = subprocess.run([sys.executable, os.path.abspath(__file__), "--rss-child",
                             str(members), str(n), str(width)],
                            capture_output=True, text=True, check=True)
    return int(result.stdout.split()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method (best is kept)")
    parser.add_argument("--part", type=int, choices=(1, 2, 3), action="append",
                        help="run only this part (repeatable; default: all)")
    parser.add_argument("--rss-child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        alignment_matrix(make_ensemble(*args.rss_child), "cka")
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # Linux: KiB
        return 0

    if args.quick:
        one, two, three = (8, 300, 50, 4), (8, 1500, 50, 4), (8, 300, 50, 4)
    else:
        one, two, three = (32, 1000, 200, 6), (32, 5000, 200, 16), (32, 1000, 200, 4)
    parts = set(args.part or (1, 2, 3))
    print(f"float64; {os.cpu_count()} CPUs; numpy {np.__version__}; best of {args.repeats} "
          "timed runs after a warm-up; peak memory = tracemalloc peak during one run; "
          "load average before start %.2f (other processes slow BLAS down)" % os.getloadavg()[0])
    ok = True
    if 1 in parts:
        ok &= part_one(*one, args.repeats)
    if 2 in parts:
        ok &= part_two(*two, args.repeats)
    if 3 in parts:
        ok &= part_three(*three, args.repeats)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
