"""Stacked sweeps: a grid's points that share their shapes train as one stack, with the numbers
of each point trained alone."""

import math

import numpy as np
import pytest
import torch

from repalign import Experiment, run_experiment
from repalign.cache import ResultCache
from repalign.experiment import budget_stops_expected, run_stack, stack_key
from repalign.models import Architecture, init_params
from repalign.sweep import MIN_STACK_MEMBERS, grid_experiments, plan_stacks, run_points
from repalign.training import train_backprop

INF = math.inf
LINEAR = Experiment(d=12, width=6, members=3, n_probe=60, steps=1500, tol=1e-6, metrics=("cka", "procrustes"))
MLP = Experiment(d=12, model="mlp", width=6, members=3, optimizer="adam", lr=0.01, loss="mse", steps=100, tol=1e-3,
                 n_probe=60, metrics=("cka", "procrustes"))
# Two architectures, three N, two SNRs, two seeds and two member counts: 24 points per architecture;
# and 8 MLP points with input noise (each member its own inputs; shared inputs are one matrix).
GRID = {"n_train": [6, 9, 24], "snr": [1.0, INF], "seed": [0, 1], "members": [3, 4]}
INPUT_NOISE = {"n_train": [9], "snr": [1.0, 4.0], "seed": [0, 1], "members": [3, 4]}
TOLERANCE = {"float32": 1e-6, "float64": 1e-10}  # on every entry of every alignment matrix


def _mixed_grid(dtype: str, mlp: Experiment = MLP) -> list[Experiment]:
    points = [exp for base in (LINEAR, mlp) for exp in grid_experiments(base.replace(dtype=dtype), GRID)]
    return points + grid_experiments(mlp.replace(dtype=dtype, noise="inputs"), INPUT_NOISE)


@pytest.mark.parametrize("dtype, optimizer", [("float32", "adam"), ("float32", "gd"), ("float64", "gd"),
                                              ("float64", "adam")])
def test_a_mixed_grid_gives_the_per_point_numbers_when_stacked(tmp_path, dtype, optimizer):
    """Members stop at different steps (the stack sheds them as it goes) and still match."""
    points = _mixed_grid(dtype, MLP.replace(optimizer=optimizer, lr=0.01 if optimizer == "adam" else 0.05))
    # per architecture, N and member count (members that share inputs share C or the first layer),
    # and the input-noise stack
    assert len(plan_stacks(points)) == 6 + 6 + 1
    with budget_stops_expected():
        stacked = run_points(points, cache=ResultCache(tmp_path / "stacked"), progress=False)
        alone = run_points(points, stack=False, cache=ResultCache(tmp_path / "alone"), progress=False)
    for exp in points:
        a, b = stacked[exp][0], alone[exp][0]
        for name in exp.metrics:
            np.testing.assert_allclose(a.alignment_matrix[name], b.alignment_matrix[name], rtol=0,
                                       atol=TOLERANCE[dtype])
        for field in ("steps", "converged", "diverged"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        np.testing.assert_allclose(a.test_error, b.test_error, rtol=TOLERANCE[dtype])


def test_gradient_descent_members_are_bitwise_identical_in_any_stack():
    """GD's arithmetic per member does not depend on the stack: equal to the last bit, at any
    length, while members stop at very different steps and the stack sheds them."""
    points = grid_experiments(LINEAR.replace(dtype="float64", tol=1e-8, steps=5000),
                              {"snr": [0.5, 2.0, INF], "seed": [0, 1, 2], "n_train": [9]})
    for stacked, exp in zip(run_stack(points), points):
        alone = run_experiment(exp)
        assert np.array_equal(stacked.end_to_end, alone.end_to_end)
        assert np.array_equal(stacked.steps, alone.steps)
    steps = np.concatenate([res.steps for res in run_stack(points)])
    assert steps.max() > 3 * steps.min()  # members did stop at very different times


def _mlp_members(k=6, n=20, d=8, seed=0):
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(rng.standard_normal((k, n, d)))
    y = torch.as_tensor(rng.standard_normal((k, n)))
    arch = Architecture.of("mlp", d_in=d, width=8, depth=1, n_out=1, activation="relu")
    params = init_params(arch, np.random.SeedSequence(seed).spawn(k), 1.0, dtype=torch.float64,
                         device=torch.device("cpu"))
    return arch, params, x, y


def test_adam_members_differ_from_training_alone_by_rounding_only():
    """Where the two paths part: torch's fused Adam can round a member's update one ulp
    differently depending on where the member sits in the stack (the vectorised body of the
    kernel against its scalar tail); gradient descent never does. One step differs by at most
    an ulp. Over 1000 steps the alignment matrices of the mixed grid's MLP stay within about
    3e-16 in float64 and 2e-7 in float32; well above the threshold, float32 runs drift further
    apart (next test)."""
    arch, params, x, y = _mlp_members()
    lr = torch.full((len(x),), 0.01, dtype=torch.float64)
    stack = [p.clone() for p in params]
    train_backprop(arch, stack, x, y, loss="mse", optimizer="adam", lr=lr, steps=1, tol=0.0)
    for k in range(len(x)):
        alone = [p[k:k + 1].clone() for p in params]
        train_backprop(arch, alone, x[k:k + 1], y[k:k + 1], loss="mse", optimizer="adam", lr=lr[:1], steps=1, tol=0.0)
        for p, q in zip(stack, alone):
            ulp = torch.finfo(torch.float64).eps * q.abs().max()
            assert (p[k:k + 1] - q).abs().max() <= ulp


def test_long_adam_runs_agree_within_their_monte_carlo_error():
    """Long float32 Adam runs well above the threshold carry rounding differences along (to
    about 1e-3 in one ensemble's alignment over 1000 steps on the SNR chapter's grid): there
    the two paths agree within the Monte-Carlo error of the mean over independent ensembles,
    and in float64 they agree to rounding, so the gap is single precision's, not the stack's."""
    base = MLP.replace(d=16, width=8, n_train=200, members=4, steps=600, tol=0.0, n_probe=100, metrics=("cka",))
    points = grid_experiments(base, {"seed": list(range(10))})
    with budget_stops_expected():
        stacked = np.array([res.alignment["cka"] for res in run_stack(points)])
        alone = np.array([run_experiment(exp).alignment["cka"] for exp in points])
        exact = [exp.replace(dtype="float64") for exp in points[:2]]
        gap64 = [abs(a.alignment["cka"] - run_experiment(e).alignment["cka"]) for a, e in zip(run_stack(exact), exact)]
    standard_error = alone.std(ddof=1) / math.sqrt(len(alone))
    assert abs(stacked.mean() - alone.mean()) < standard_error
    assert max(gap64) < 1e-12


def test_members_that_stop_early_leave_the_stack_with_their_adam_state_intact():
    """Half the members stop at once (a loose tolerance), so the stack sheds them at the first
    check; the others go on with their own Adam moments: equal to training alone."""
    arch, params, x, y = _mlp_members()
    lr = torch.full((len(x),), 0.01, dtype=torch.float64)
    tol = torch.tensor([0.99, 0.0, 0.99, 0.0, 0.99, 0.0], dtype=torch.float64)
    stack = [p.clone() for p in params]
    report = train_backprop(arch, stack, x, y, loss="mse", optimizer="gd", lr=lr, steps=80, tol=tol)
    assert report.converged.tolist() == [True, False] * 3 and report.steps.tolist()[1::2] == [80] * 3
    stack_adam = [p.clone() for p in params]
    train_backprop(arch, stack_adam, x, y, loss="mse", optimizer="adam", lr=lr, steps=80, tol=tol)
    for k in (1, 3, 5):
        alone = [p[k:k + 1].clone() for p in params]
        train_backprop(arch, alone, x[k:k + 1], y[k:k + 1], loss="mse", optimizer="adam", lr=lr[:1], steps=80,
                       tol=0.0)
        for p, q in zip(stack_adam, alone):
            torch.testing.assert_close(p[k:k + 1], q, rtol=0, atol=1e-12)


def test_stacks_group_points_by_their_shapes_and_respect_the_memory_bound():
    points = _mixed_grid("float32") + grid_experiments(MLP.replace(width=7), {"n_train": [6], "seed": [0, 1]})
    stacks = plan_stacks(points)
    assert sum(len(s) for s in stacks) == len(points) and {e for s in stacks for e in s} == set(points)
    assert all(len({stack_key(exp) for exp in stack}) == 1 for stack in stacks)
    assert len(stacks) == 6 + 6 + 1 + 1  # as in the mixed grid, and the other width
    small = plan_stacks(points, max_bytes=12 * 6 * 4 * 50)  # a few members' worth
    assert len(small) > len(stacks) and {e for s in small for e in s} == set(points)


def test_a_parallel_sweep_halves_its_largest_stacks_for_its_workers_but_not_below_the_minimum():
    big = grid_experiments(MLP.replace(n_train=24), {"snr": [1.0, 2.0, 4.0, 8.0], "seed": list(range(40))})
    small = grid_experiments(MLP.replace(n_train=6), {"seed": [0, 1]})  # 6 members: never cut
    assert len(plan_stacks(big + small, workers=1)) == 2
    pieces = plan_stacks(big + small, workers=2)
    work = [sum(exp.members * exp.steps * exp.n_train for exp in stack) for stack in pieces]
    members = [sum(exp.members for exp in stack) for stack in pieces]
    assert work == sorted(work, reverse=True) and max(work) <= sum(work) / 4  # a quarter: two workers
    assert min(m for m in members if m != 6) >= MIN_STACK_MEMBERS
    assert sum(map(len, pieces)) == len(big + small) and {exp for stack in pieces for exp in stack} == set(big + small)
    lone = plan_stacks(grid_experiments(MLP, {"seed": list(range(30))}), workers=8)  # 90 members: one stack
    assert len(lone) == 1


def test_run_stack_refuses_points_of_different_shapes():
    with pytest.raises(ValueError, match="stack_key"):
        run_stack([LINEAR.replace(n_train=6), LINEAR.replace(n_train=12)])
    assert stack_key(LINEAR.replace(snr=1.0, seed=3, tol=1e-3, init_scale=0.3)) == stack_key(LINEAR)
    independent = LINEAR.replace(shared_inputs=False)
    assert stack_key(independent.replace(members=5)) == stack_key(independent)
    assert stack_key(LINEAR.replace(members=5)) != stack_key(LINEAR)  # one C per group of members
    assert stack_key(MLP.replace(lr=0.02)) != stack_key(MLP)  # one Adam per stack
