"""Levenberg-Marquardt's linear algebra on the CPU: the library's against torch's batched kernels.

    python benchmarks/lm_linear_algebra.py [--quick]

Each Levenberg-Marquardt iteration forms every member's Gram matrix (``J^T J``, or ``J J^T``
below the threshold) and solves its damped system by Cholesky. On the CPU the library forms the
Gram matrices through numpy's BLAS, above the threshold of a network with several outputs
from the layers' structure without forming J (``repalign.models.normal_equations``), and
factors one member at a time through LAPACK, skipping members that stopped
(``repalign.training._cholesky_solve``). The simple way forms every Jacobian and uses torch's
batched ``bmm`` and ``cholesky_ex`` on the whole work set. Both recompute a member's
linearisation only after an accepted step (the library's loop; not switched here). Both train the same stacks
of the book's costliest sweeps (above their thresholds, where members run hundreds of
iterations), from the same weights, in the same run, on one thread as the sweeps' workers do;
each is timed once after a warm-up stack. The two ways round differently, so members' paths can
part late in training; the table gives both iteration counts. Nothing is asserted; the output
is the record (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from repalign import Experiment, training
from repalign.experiment import _draw
from repalign.training import train_levenberg_marquardt


def torch_gram(jac: torch.Tensor) -> torch.Tensor:
    a = jac if jac.shape[1] < jac.shape[2] else jac.transpose(1, 2)
    return torch.bmm(a, a.transpose(1, 2))


def torch_cholesky_solve(system: torch.Tensor, rhs: torch.Tensor, which: torch.Tensor):
    factor, info = torch.linalg.cholesky_ex(system)
    return torch.cholesky_solve(rhs.unsqueeze(-1), factor).squeeze(-1), info == 0


TANH = dict(model="mlp", activation="tanh", optimizer="lm", loss="mse", dtype="float64", tol=1e-10, n_probe=40)
STACKS = {  # the book's costliest Levenberg-Marquardt sweeps, one point above the threshold each
    "real data, MNIST 3 vs 5 (D = 10, H = 8, C = 2), N = 194": dict(
        data="mnist-3-5", d=10, width=8, n_train=194, noise="labels", flip=0.2, snr=float("inf"), members=4, **TANH),
    "threshold tracking (D = 2, H = 32), N = 161": dict(
        data="teacher-linear", d=2, width=32, n_train=161, snr=4.0, members=4, **TANH),
    "sample size, classification (D = 16, H = 8, C = 3), N = 116": dict(
        data="teacher-linear-class", d=16, width=8, n_train=116, n_classes=3, flip=0.122, snr=float("inf"), members=6,
        **TANH),
}


def train(drawn: list) -> tuple[float, np.ndarray]:
    params = [torch.cat(layer) for layer in zip(*(d.params for d in drawn))]
    x, y = torch.cat([d.x for d in drawn]), torch.cat([d.y for d in drawn])
    start = time.perf_counter()
    report = train_levenberg_marquardt(drawn[0].arch, params, x, y, steps=100_000, tol=1e-10)
    return time.perf_counter() - start, report.steps


def timed(drawn: list, simple: bool) -> tuple[float, np.ndarray]:
    names = ("_gram", "_cholesky_solve", "has_structured_normal_equations")
    library = [getattr(training, name) for name in names]
    if simple:
        for name, plain in zip(names, (torch_gram, torch_cholesky_solve, lambda arch: False)):
            setattr(training, name, plain)
    try:
        train(drawn[:1])  # warm-up
        return train(drawn)
    finally:
        for name, value in zip(names, library):
            setattr(training, name, value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two ensembles per stack instead of six")
    args = parser.parse_args()
    ensembles = 2 if args.quick else 6
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, numpy {np.__version__}, one thread; {ensembles} ensembles per stack")
    print("| stack | members | library s | iterations (median, max) | torch batched s | "
          "iterations (median, max) | ratio |")
    print("|---|---:|---:|---|---:|---|---:|")
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        for name, fields in STACKS.items():
            drawn = [_draw(Experiment(seed=seed, **fields)) for seed in range(ensembles)]
            (fast, fast_steps), (slow, slow_steps) = timed(drawn, False), timed(drawn, True)
            members = sum(d.exp.members for d in drawn)
            print(f"| {name} | {members} | {fast:.1f} | {int(np.median(fast_steps))}, {fast_steps.max()} | "
                  f"{slow:.1f} | {int(np.median(slow_steps))}, {slow_steps.max()} | {slow / fast:.2g}x |",
                  flush=True)


if __name__ == "__main__":
    main()
