"""Training to convergence: Levenberg-Marquardt against the book's Adam recipe, time to one criterion.

    python benchmarks/convergence.py [--quick]

Three networks of the book, each at sample sizes through its threshold, each point one stack of
8 members as the sweeps run it (linear teacher, label noise at SNR 4, shared clean inputs):
(1) the threshold-tracking chapter's tanh network (D = 2, H = 16, P = 65); (2) the sample-size
chapter's tanh network (D = 16, H = 8, P = 145); (3) the nonlinear-regimes chapter's ReLU network
of the same size, which Levenberg-Marquardt does not suit (it stops at ReLU kinks). Levenberg-Marquardt (float64) trains every
member to its own convergence (``repalign.training``: interpolation at tol = 1e-6 of the
initial loss, or a minimum). Adam, the book's recipe (lr 0.01, full batch, float32), then trains
the same members from the same weights until each reaches the same criterion: a loss at most
max(1e-6 x its initial loss, 1.01 x the loss Levenberg-Marquardt stopped at), through the
library's own per-member stopping (``tol``), within a budget of 40,000 steps (10x the book's).
Both are timed in the same run, best of a few after a warm-up; members Adam leaves short of the
criterion are counted, and its time is then a lower bound. Nothing is asserted; the output is
the record (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from repalign import Experiment
from repalign.experiment import _draw
from repalign.models import forward
from repalign.sizes import n_parameters
from repalign.training import member_losses, train_backprop, train_levenberg_marquardt

TOL, ADAM_BUDGET, SLACK = 1e-6, 40_000, 1.01


def best_time(fn, repeats: int) -> tuple[float, object]:
    fn()  # warm-up
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


NETWORKS = {"tanh, D = 2, H = 16 (threshold tracking)": dict(d=2, width=16, activation="tanh"),
            "tanh, D = 16, H = 8 (sample size)": dict(d=16, width=8, activation="tanh"),
            "ReLU, D = 16, H = 8 (nonlinear regimes)": dict(d=16, width=8, activation="relu")}


def point(network: dict, n: int, members: int):
    exp = Experiment(data="teacher-linear", n_train=n, snr=4.0, model="mlp", members=members, optimizer="lm",
                     dtype="float64", tol=TOL, n_probe=40, seed=0, **network)
    return _draw(exp)


def initial_losses(drawn) -> torch.Tensor:
    return member_losses(forward(drawn.arch, drawn.params, drawn.x)[0], drawn.y, "mse")


def compare(network: dict, n: int, members: int, repeats: int) -> dict:
    drawn = point(network, n, members)

    def lm():
        params = [p.clone() for p in drawn.params]
        return train_levenberg_marquardt(drawn.arch, params, drawn.x, drawn.y, steps=10_000, tol=TOL)

    t_lm, report = best_time(lm, repeats)
    start = initial_losses(drawn)
    target = torch.maximum(TOL * start, SLACK * torch.as_tensor(report.train_loss))
    tol = (target / start).float()  # Adam's own stopping rule: loss below tol x its initial loss
    lr = torch.full((members,), 0.01)

    def adam():
        params = [p.float().clone() for p in drawn.params]
        return train_backprop(drawn.arch, params, drawn.x.float(), drawn.y.float(), loss="mse", optimizer="adam",
                              lr=lr, steps=ADAM_BUDGET, tol=tol)

    t_adam, adam_report = best_time(adam, 1)
    return dict(n=n, lm=t_lm, lm_steps=report.steps, lm_converged=int(report.converged.sum()),
                interpolated=int((report.train_loss <= TOL * start.numpy()).sum()), adam=t_adam,
                adam_steps=adam_report.steps, adam_reached=int(adam_report.converged.sum()), members=members)


def ratio(value: float) -> str:
    """A speed ratio for the table: whole numbers from 10, two significant digits below."""
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two sample sizes per network, one repeat")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; 8 members per point")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, network in NETWORKS.items():
            parameters = n_parameters("mlp1", d=network["d"], width=network["width"], n_outputs=1)
            ratios = (0.5, 1.0) if args.quick else (0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 4.0)
            print(f"\n{name}, P = {parameters}")
            print("| N | N/P | LM s | LM iterations (median, max) | converged | interpolated | Adam s | "
                  "Adam steps (median, max) | reached | Adam / LM |")
            print("|---:|---:|---:|---|---:|---:|---:|---|---:|---:|")
            total_lm = total_adam = 0.0
            short = 0
            for ratio in ratios:
                n = max(2, round(ratio * parameters))
                r = compare(network, n, 8, 1 if args.quick else 3)
                total_lm, total_adam = total_lm + r["lm"], total_adam + r["adam"]
                short += r["members"] - r["adam_reached"]
                bound = ">" if r["adam_reached"] < r["members"] else ""
                print(f"| {n} | {n / parameters:.2f} | {r['lm']:.3f} | {int(np.median(r['lm_steps']))}, "
                      f"{r['lm_steps'].max()} | {r['lm_converged']}/{r['members']} | {r['interpolated']} | "
                      f"{r['adam']:.2f} | {int(np.median(r['adam_steps']))}, {r['adam_steps'].max()} | "
                      f"{r['adam_reached']}/{r['members']} | {bound}{ratio(r['adam'] / r['lm'])}x |", flush=True)
            bound = ">" if short else ""
            print(f"all points: LM {total_lm:.2f} s, Adam {total_adam:.1f} s ({short} members short of the "
                  f"criterion after {ADAM_BUDGET} steps): {bound}{ratio(total_adam / total_lm)}x")


if __name__ == "__main__":
    main()
