"""Levenberg-Marquardt on stacked ensembles: the Jacobian, the least-squares minimum, the
stopping criteria, the members' independence, and the Experiment fields it accepts."""

import warnings

import numpy as np
import pytest
import torch

from repalign import Experiment, run_experiment
from repalign.experiment import UnfinishedTraining, run_stack
from repalign.models import Architecture, end_to_end, init_params, jacobian, layer_outputs
from repalign.sweep import grid_experiments
from repalign.training import train_levenberg_marquardt

F64 = dict(dtype=torch.float64, device=torch.device("cpu"))


def _params(arch, k, seed=0, scale=1.0):
    return init_params(arch, np.random.SeedSequence(seed).spawn(k), scale, **F64)


@pytest.mark.parametrize("model, activation, depth, n_out, groups", [
    ("mlp", "relu", 1, 1, 1), ("mlp", "tanh", 2, 3, 2), ("mlp", "relu", 2, 2, 4), ("linear", "identity", 1, 2, 4)])
def test_jacobian_is_autograds_for_every_member(model, activation, depth, n_out, groups):
    """models.jacobian against torch.autograd, member by member, with inputs shared by groups."""
    k, n, d = 4, 9, 5
    rng = np.random.default_rng(depth + n_out)
    arch = Architecture.of(model, d_in=d, width=6, depth=depth, n_out=n_out, activation=activation)
    params = [p + 0.3 * torch.as_tensor(rng.standard_normal(p.shape)) for p in _params(arch, k)]
    x = torch.as_tensor(rng.standard_normal((groups, n, d)))
    jac = jacobian(arch, params, layer_outputs(arch, params, x))
    assert jac.shape == (k, n_out, n, arch.n_parameters)
    for member in range(k):
        def out(theta):
            ps, start = [], 0
            for p in params:
                size = p[member].numel()
                ps.append(torch.cat([p[:member], theta[start:start + size].reshape(1, *p.shape[1:]), p[member + 1:]]))
                start += size
            return layer_outputs(arch, ps, x)[-1][member]
        theta = torch.cat([p[member].reshape(-1) for p in params])
        assert torch.allclose(jac[member], torch.autograd.functional.jacobian(out, theta), rtol=0, atol=1e-12)


def test_the_linear_network_reaches_the_least_squares_fit():
    """More samples than inputs: the minimum of the linear network's loss is the least-squares
    end-to-end vector (no interpolation), which LM reaches to 1e-12 of the loss (so the vector to
    about the square root of that); with fewer samples it interpolates."""
    rng = np.random.default_rng(3)
    arch = Architecture.of("linear", d_in=6, width=4, depth=1, n_out=1, activation="relu")
    for n in (40, 4):
        x = torch.as_tensor(rng.standard_normal((1, n, 6)))
        y = torch.as_tensor(rng.standard_normal((3, n)))
        params = _params(arch, 3, scale=1.0)
        report = train_levenberg_marquardt(arch, params, x, y, steps=500, tol=1e-14)
        assert report.converged.all() and (report.steps < 500).all()
        if n == 40:
            least_squares, residual, *_ = np.linalg.lstsq(x[0].numpy(), y.numpy().T, rcond=None)
            assert np.allclose(report.train_loss, 0.5 * residual / n, rtol=1e-12, atol=0)
            assert np.allclose(end_to_end(arch, params)[..., 0].numpy(), least_squares.T, rtol=0, atol=1e-5)
        else:
            assert (report.train_loss <= 1e-14 * 0.5 * y.pow(2).mean(dim=1).numpy() * 10).all()


def test_members_follow_their_own_path_in_a_stack_to_rounding():
    """Every member has its own damping and stopping, so a stack gives each member its path alone,
    up to rounding: torch sums a lone member's rows in another order than a stack's. Over the first
    iterations the two paths agree to 1e-12; a ReLU network's path later turns at kinks, where
    rounding can choose another end (the sweep tests compare the ensembles' means instead)."""
    rng = np.random.default_rng(4)
    arch = Architecture.of("mlp", d_in=5, width=6, depth=1, n_out=1, activation="relu")
    x = torch.as_tensor(rng.standard_normal((4, 30, 5)))
    y = torch.as_tensor(rng.standard_normal((4, 30)))
    params = _params(arch, 4, seed=2)
    stacked = [p.clone() for p in params]
    train_levenberg_marquardt(arch, stacked, x, y, steps=8, tol=1e-12)
    for k in range(4):
        alone = [p[k:k + 1].clone() for p in params]
        train_levenberg_marquardt(arch, alone, x[k:k + 1], y[k:k + 1], steps=8, tol=1e-12)
        for a, s in zip(alone, stacked):
            assert torch.allclose(a[0], s[k], rtol=0, atol=1e-12)


def test_stopping_says_interpolated_at_a_minimum_or_out_of_steps():
    """Below the threshold members interpolate (loss below tol x the initial loss); far above it
    they stop at a minimum of a positive loss; a budget of 3 steps leaves them unconverged, and
    says so."""
    rng = np.random.default_rng(5)
    arch = Architecture.of("mlp", d_in=4, width=8, depth=1, n_out=1, activation="relu")
    for n, interpolates in ((5, True), (200, False)):
        x = torch.as_tensor(rng.standard_normal((1, n, 4)))
        y = torch.as_tensor(rng.standard_normal((3, n)))
        params = _params(arch, 3, seed=n)
        initial = 0.5 * (layer_outputs(arch, params, x)[-1][:, 0] - y).pow(2).mean(dim=1).numpy()
        report = train_levenberg_marquardt(arch, params, x, y, steps=2000, tol=1e-12)
        assert report.converged.all() and not report.diverged.any()
        assert ((report.train_loss <= 1e-12 * initial) == interpolates).all()
        short = train_levenberg_marquardt(arch, _params(arch, 3, seed=n), x, y, steps=3, tol=1e-12)
        assert not short.converged.any() and (short.steps == 3).all()


def test_an_experiment_trains_with_lm_and_reports_members_out_of_steps():
    exp = Experiment(data="teacher-mlp", d=4, n_train=12, snr=4.0, model="mlp", width=8, members=4,
                     optimizer="lm", dtype="float64", steps=200, tol=1e-10, n_probe=40, seed=1)
    res = run_experiment(exp)
    assert res.converged.all() and np.isfinite(res.alignment["cka"]) and (res.train_error < 1e-6).all()
    assert res.alignment == run_experiment(exp).alignment  # reproducible
    with pytest.warns(UnfinishedTraining, match="did not reach"):
        assert not run_experiment(exp.replace(steps=2)).converged.any()


@pytest.mark.parametrize("changes, field", [
    (dict(lr=0.01), "lr"), (dict(batch_size=4), "batch_size"), (dict(dtype="float32"), "dtype"),
    (dict(weight_decay=1e-3), "weight_decay"), (dict(data="teacher-mlp-class", n_classes=3), "loss")])
def test_lm_refuses_what_it_would_ignore_naming_the_field(changes, field):
    base = dict(data="teacher-mlp", d=4, n_train=12, model="mlp", width=8, optimizer="lm", dtype="float64")
    with pytest.raises(ValueError, match=f"Experiment.{field}"):
        Experiment(**{**base, **changes})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Experiment(**{**base, "data": "teacher-mlp-class", "n_classes": 3, "loss": "mse"})  # one-hot targets: fine


def test_a_looser_plateau_stops_each_member_no_later_and_is_lms_alone():
    """Above the threshold a tanh member stops on the plateau rule: with a looser one at the same
    step or earlier, never at a lower loss; the rule is refused for the other optimisers."""
    exp = Experiment(data="teacher-linear", d=4, n_train=60, snr=4.0, model="mlp", width=4, activation="tanh",
                     members=4, optimizer="lm", dtype="float64", steps=5000, tol=1e-10, n_probe=40, seed=2)
    strict, loose = run_experiment(exp), run_experiment(exp.replace(plateau=3e-2))
    assert strict.converged.all() and loose.converged.all()
    assert (loose.steps <= strict.steps).all() and (loose.steps < strict.steps).any()
    assert (loose.train_loss >= strict.train_loss).all()
    with pytest.raises(ValueError, match="Experiment.plateau"):
        exp.replace(optimizer="adam", lr=0.01, dtype="float32", plateau=1e-2)
    for bad in (0, 1, -1e-3, float("nan")):
        with pytest.raises(ValueError, match="Experiment.plateau"):
            exp.replace(plateau=bad)


def test_long_runs_in_a_stack_agree_with_runs_alone_within_their_monte_carlo_error():
    """Tanh members trained to convergence just above the threshold (hundreds of iterations, the
    plateau criterion): a stack of ten seeds' ensembles against each trained alone. Rounding may
    turn a member's path late in training, so single ensembles can differ; the means over the
    independent ensembles agree within their Monte-Carlo standard error."""
    base = Experiment(data="teacher-mlp", d=4, n_train=30, snr=4.0, model="mlp", width=4, activation="tanh",
                      members=3, optimizer="lm", loss="mse", dtype="float64", steps=100000, tol=1e-10, n_probe=40)
    points = grid_experiments(base, {"seed": list(range(10))})
    stacked, alone = run_stack(points), [run_experiment(exp) for exp in points]
    assert all(res.converged.all() for res in stacked + alone)
    assert np.median([res.steps.mean() for res in alone]) > 100  # long runs, not a few Gauss-Newton steps
    for measure in (lambda res: res.alignment["cka"], lambda res: res.test_error.mean()):
        a, b = np.array([measure(r) for r in stacked]), np.array([measure(r) for r in alone])
        assert abs(a.mean() - b.mean()) < b.std(ddof=1) / np.sqrt(len(b))


@pytest.mark.parametrize("rows, cols", [(12, 7), (5, 9)])
def test_the_gram_matrix_is_the_smaller_of_the_two_products(rows, cols):
    """training._gram (numpy's BLAS on the CPU) against torch's product, in each form."""
    from repalign.training import _gram
    jac = torch.as_tensor(np.random.default_rng(rows).standard_normal((3, rows, cols)))
    expected = jac @ jac.transpose(1, 2) if rows < cols else jac.transpose(1, 2) @ jac
    assert _gram(jac).shape == (3, min(rows, cols), min(rows, cols))
    torch.testing.assert_close(_gram(jac), expected, rtol=1e-13, atol=0)


def test_the_member_wise_cholesky_solve_flags_an_indefinite_system_and_skips_the_members_not_asked():
    """training._cholesky_solve against torch.linalg.solve: a solved member's solution, an
    indefinite member flagged unsolved with a zero solution, and a member outside ``which``
    neither solved nor touched."""
    from repalign.training import _cholesky_solve
    rng = np.random.default_rng(3)
    a = torch.as_tensor(rng.standard_normal((4, 6, 6)))
    system = a @ a.transpose(1, 2) + 0.1 * torch.eye(6)
    system[1] -= 100 * torch.eye(6)  # indefinite
    rhs = torch.as_tensor(rng.standard_normal((4, 6)))
    expected = torch.linalg.solve(system, rhs)
    which = torch.tensor([True, True, True, False])
    solution, solved = _cholesky_solve(system.clone(), rhs, which)
    assert solved.tolist() == [True, False, True, False]
    torch.testing.assert_close(solution[[0, 2]], expected[[0, 2]], rtol=1e-10, atol=1e-12)
    assert not solution[[1, 3]].any()


@pytest.mark.parametrize("d, width, n_out, groups", [(3, 4, 1, 1), (5, 3, 3, 2), (2, 6, 2, 4)])
def test_the_structured_normal_equations_are_those_of_the_jacobian(d, width, n_out, groups):
    """models.normal_equations (J^T J and J^T r without forming J) against the Jacobian's, with
    inputs shared by groups of members and the residuals' scale."""
    from repalign.models import normal_equations
    k, n = 4, 11
    rng = np.random.default_rng(d + n_out)
    arch = Architecture.of("mlp", d_in=d, width=width, depth=1, n_out=n_out, activation="tanh")
    params = [p + 0.3 * torch.as_tensor(rng.standard_normal(p.shape)) for p in _params(arch, k)]
    outputs = layer_outputs(arch, params, torch.as_tensor(rng.standard_normal((groups, n, d))))
    jac = jacobian(arch, params, outputs, scale=0.3).flatten(1, 2)
    r = torch.as_tensor(rng.standard_normal((k, n_out * n)))
    gram, gradient = normal_equations(arch, params, outputs, r, scale=0.3)
    torch.testing.assert_close(gram, jac.transpose(1, 2) @ jac, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(gradient, (jac * r.unsqueeze(-1)).sum(dim=1), rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match="one hidden layer"):
        normal_equations(Architecture.of("mlp", d_in=d, width=width, depth=2, n_out=n_out, activation="tanh"),
                         params, outputs, r)
