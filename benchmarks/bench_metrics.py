"""Benchmark all-pairs linear CKA for an ensemble of representations.

Usage: python benchmarks/bench_metrics.py [--quick]

Times four ways to fill the K x K linear-CKA matrix (default K=32, n=1000, width 200):
  (a) textbook: tr(K H L H) with explicit centring matrix H, per pair (timed on a
      subset of pairs and extrapolated to all K(K-1)/2 pairs),
  (b) a Python loop over pairs calling the scalar ``cka``,
  (c) ``alignment_matrix`` with the batched Gram form,
  (d) ``alignment_matrix`` forced to the feature form (max_bytes just below the Gram stack),
then checks that all results agree to 1e-10.  Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from repalign.metrics import alignment_matrix, cka  # noqa: E402

TOLERANCE = 1e-10


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


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    args = parser.parse_args()
    members, n, width, subset = (8, 300, 50, 4) if args.quick else (32, 1000, 200, 6)

    reps = make_ensemble(members, n, width)
    pairs = [(i, j) for i in range(members) for j in range(i + 1, members)]
    gram_bytes = members * n * n * 8
    print(f"K={members} members, n={n}, width={width}, float64, {len(pairs)} pairs; "
          f"Gram stack {gram_bytes / 2**20:.0f} MiB; {os.cpu_count()} CPUs")

    sub_pairs = pairs[:subset]
    textbook, t_a = timed(lambda: [textbook_cka(reps[i], reps[j]) for i, j in sub_pairs])
    t_a *= len(pairs) / len(sub_pairs)

    def scalar_loop():
        out = np.eye(members)
        for i, j in pairs:
            out[i, j] = out[j, i] = cka(reps[i], reps[j])
        return out

    loop, t_b = timed(scalar_loop)
    gram, t_c = timed(lambda: alignment_matrix(reps, "cka"))
    feature, t_d = timed(lambda: alignment_matrix(reps, "cka", max_bytes=gram_bytes - 1))

    rows = [
        (f"(a) textbook tr(KHLH) loop [{len(sub_pairs)} pairs, extrapolated]", t_a,
         max(abs(textbook[p] - gram[i, j]) for p, (i, j) in enumerate(sub_pairs))),
        ("(b) loop over pairs of scalar cka", t_b, np.abs(loop - gram).max()),
        ("(c) alignment_matrix, Gram form", t_c, 0.0),
        ("(d) alignment_matrix, feature form", t_d, np.abs(feature - gram).max()),
    ]
    print(f"{'method':<52} {'time (s)':>10} {'vs (a)':>9} {'max |diff| vs (c)':>18}")
    for label, seconds, diff in rows:
        print(f"{label:<52} {seconds:>10.3f} {t_a / seconds:>8.1f}x {diff:>18.2e}")
    worst = max(diff for _, _, diff in rows)
    agree = worst <= TOLERANCE
    print(f"results agree to {TOLERANCE:g}: {'yes' if agree else 'NO'} (worst {worst:.2e})")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
