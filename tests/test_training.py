"""The training engine on hand-made ensembles: exactness, independence, stopping, divergence."""

import numpy as np
import pytest
import torch

from repalign import metrics
from repalign.models import Architecture, end_to_end, forward, gradients, init_params, layer_outputs
from repalign.training import (linear_gd_learning_rates, losses_and_output_gradients, member_losses, train_backprop,
                               train_linear_gd)

F64 = dict(dtype=torch.float64, device=torch.device("cpu"))


def linear_problem(k=4, n=30, d=60, h=10, snr=4.0, init_scale=1e-3, seed=0):
    """K members on shared clean inputs with their own label noise (the Methods page of the book)."""
    rng = np.random.default_rng(seed)
    beta = rng.standard_normal(d)
    beta /= np.linalg.norm(beta)
    x = np.broadcast_to(rng.standard_normal((n, d)), (k, n, d)).copy()
    y = x @ beta + rng.standard_normal((k, n)) / np.sqrt(snr)
    arch = Architecture.of("linear", d_in=d, width=h, depth=1, n_out=1, activation="relu")
    seeds = np.random.SeedSequence(seed).spawn(k)
    return arch, init_params(arch, seeds, init_scale, **F64), torch.as_tensor(x), torch.as_tensor(y)


def mlp_problem(k=3, n=40, d=8, h=16, depth=2, seed=1, n_out=1):
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(rng.standard_normal((k, n, d)))
    y = torch.as_tensor(np.tanh(x.numpy() @ rng.standard_normal(d)))
    arch = Architecture.of("mlp", d_in=d, width=h, depth=depth, n_out=n_out, activation="tanh")
    return arch, init_params(arch, np.random.SeedSequence(seed).spawn(k), 1.0, **F64), x, y


@pytest.mark.parametrize("model, activation, depth, loss, n_out, groups", [
    ("mlp", "relu", 1, "mse", 1, 2), ("mlp", "tanh", 2, "mse", 3, 6), ("mlp", "relu", 2, "cross_entropy", 4, 1),
    ("mlp", "relu", 1, "cross_entropy", 3, 3), ("linear", "identity", 1, "mse", 2, 6)])
def test_hand_written_backpropagation_gives_autograds_losses_and_gradients(model, activation, depth, loss, n_out,
                                                                          groups):
    """models.gradients and the loss's output gradient against torch.autograd, in float64, with
    inputs shared by groups of members, biases away from zero and dead ReLU units."""
    k, n, d = 6, 25, 5
    rng = np.random.default_rng(depth + n_out)
    arch = Architecture.of(model, d_in=d, width=7, depth=depth, n_out=n_out, activation=activation)
    params = [p + 0.3 * torch.as_tensor(rng.standard_normal(p.shape)) if p.dim() == 2 else p
              for p in init_params(arch, np.random.SeedSequence(5).spawn(k), 1.0, **F64)]
    x = torch.as_tensor(rng.standard_normal((groups, n, d)))
    y = (torch.as_tensor(rng.integers(0, n_out, size=(k, n))) if loss == "cross_entropy"
         else torch.as_tensor(rng.standard_normal((k, n, n_out) if n_out > 1 else (k, n))))
    outputs = layer_outputs(arch, params, x)
    losses, grad_out = losses_and_output_gradients(outputs[-1], y, loss)
    grads = gradients(arch, params, outputs, grad_out)
    leaves = [p.clone().requires_grad_(True) for p in params]
    reference = member_losses(forward(arch, leaves, x)[0], y, loss)
    reference.sum().backward()
    assert torch.allclose(losses, reference.detach(), rtol=0, atol=1e-13)
    assert len(grads) == len(leaves)
    for g, leaf in zip(grads, leaves):
        assert g.shape == leaf.shape and g.is_contiguous()
        assert torch.allclose(g, leaf.grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [30, 90])  # below and above the threshold N = D = 60
def test_linear_network_converges_to_the_minimum_norm_solution(n):
    arch, params, x, y = linear_problem(n=n)
    report = train_linear_gd(params, x, y, lr=linear_gd_learning_rates(x, y), steps=50000, tol=1e-10)
    assert report.converged.all() and not report.diverged.any()
    b = end_to_end(arch, params)[..., 0].numpy()
    b_min_norm = np.stack([np.linalg.pinv(xk) @ yk for xk, yk in zip(x.numpy(), y.numpy())])
    relative = np.linalg.norm(b - b_min_norm, axis=1) / np.linalg.norm(b_min_norm, axis=1)
    assert relative.max() < 1e-3


def test_hidden_cka_of_the_linear_network_is_the_squared_cosine_of_end_to_end_vectors():
    """The hidden layer becomes rank one, W1 ~ u b^T, so CKA(W1 x) = corr^2(b1.x, b2.x)."""
    arch, params, x, y = linear_problem(n=30)
    train_linear_gd(params, x, y, lr=linear_gd_learning_rates(x, y), steps=50000, tol=1e-10)
    probe = torch.as_tensor(np.random.default_rng(5).standard_normal((2000, x.shape[-1])))
    _, hidden = forward(arch, params, probe)
    cka = metrics.alignment_matrix(hidden.numpy(), "cka")
    projections = (probe @ end_to_end(arch, params)[..., 0].T).numpy()  # (n_probe, K): b_k . x
    squared_correlation = np.corrcoef(projections.T) ** 2
    assert np.allclose(cka, squared_correlation, atol=1e-4)


def test_the_fast_linear_engine_takes_the_same_steps_as_backpropagation():
    arch, params, x, y = linear_problem(n=40, init_scale=0.3)
    twin = [p.clone() for p in params]
    lr = torch.full((x.shape[0],), 0.02, dtype=torch.float64)
    train_linear_gd(params, x, y, lr=lr, steps=300, tol=0.0)
    train_backprop(arch, twin, x, y, loss="mse", optimizer="gd", lr=lr, steps=300, tol=0.0)
    for p, q in zip(params, twin):
        assert torch.allclose(p, q, rtol=0, atol=1e-12)


@pytest.mark.parametrize("optimizer, batch_size", [("gd", None), ("sgd", 8), ("adam", None), ("adam", 8)])
def test_members_train_independently(optimizer, batch_size):
    """Member k of a stacked ensemble follows exactly the path it follows when trained alone."""
    arch, params, x, y = mlp_problem()
    lr = torch.full((3,), 0.01 if optimizer == "adam" else 0.05, dtype=torch.float64)
    alone = []
    for k in range(3):
        single = [p[k:k + 1].clone() for p in params]
        rngs = [np.random.default_rng(np.random.SeedSequence(7).spawn(3)[k])]
        train_backprop(arch, single, x[k:k + 1], y[k:k + 1], loss="mse", optimizer=optimizer, lr=lr[:1],
                       steps=60, tol=0.0, weight_decay=1e-3, batch_size=batch_size, batch_rngs=rngs)
        alone.append(single)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(7).spawn(3)]
    train_backprop(arch, params, x, y, loss="mse", optimizer=optimizer, lr=lr, steps=60, tol=0.0,
                   weight_decay=1e-3, batch_size=batch_size, batch_rngs=rngs)
    for k in range(3):
        for p, q in zip(params, alone[k]):
            assert torch.allclose(p[k:k + 1], q, rtol=0, atol=1e-10)


def test_stopping_reports_steps_and_convergence_per_member():
    arch, params, x, y = linear_problem(n=30)
    lr = linear_gd_learning_rates(x, y)
    lr[0] = lr[0] * 1e-3  # member 0 cannot converge within the budget
    report = train_linear_gd(params, x, y, lr=lr, steps=3000, tol=1e-6)
    assert not report.converged[0] and report.steps[0] == 3000
    assert report.converged[1:].all() and (report.steps[1:] < 3000).all()
    assert not report.diverged.any() and np.isfinite(report.train_loss).all()


@pytest.mark.parametrize("engine", ["linear", "backprop"])
def test_divergence_is_reported_not_returned_as_numbers(engine):
    arch, params, x, y = linear_problem(n=30, init_scale=1.0)
    lr = torch.full((x.shape[0],), 1e-3, dtype=torch.float64)
    lr[1] = 1e3  # member 1 blows up
    if engine == "linear":
        report = train_linear_gd(params, x, y, lr=lr, steps=2000, tol=1e-6)
    else:
        report = train_backprop(arch, params, x, y, loss="mse", optimizer="gd", lr=lr, steps=2000, tol=1e-6)
    assert report.diverged.tolist() == [False, True, False, False]
    assert np.isnan(report.train_loss[1]) and not report.converged[1]
    assert np.isfinite(report.train_loss[[0, 2, 3]]).all()


def test_cross_entropy_training_interpolates_separable_labels():
    arch, params, x, _ = mlp_problem(n=20, n_out=3)
    labels = torch.as_tensor(np.random.default_rng(3).integers(0, 3, size=(3, 20)))
    lr = torch.full((3,), 0.02, dtype=torch.float64)
    report = train_backprop(arch, params, x, labels, loss="cross_entropy", optimizer="adam", lr=lr,
                            steps=3000, tol=1e-3)
    assert report.converged.all()
    out, _ = forward(arch, params, x)
    assert (out.argmax(-1) == labels).all()


def test_training_is_deterministic():
    runs = []
    for _ in range(2):
        arch, params, x, y = mlp_problem()
        rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(3).spawn(3)]
        train_backprop(arch, params, x, y, loss="mse", optimizer="adam", lr=torch.full((3,), 0.01, dtype=torch.float64),
                       steps=50, tol=0.0, batch_size=8, batch_rngs=rngs)
        runs.append(params)
    assert all(torch.equal(p, q) for p, q in zip(*runs))


def test_stacked_adam_follows_the_reference_adam_of_each_member():
    """Against torch.optim.Adam's plain (non-fused) implementation, one member at a time."""
    arch, params, x, y = mlp_problem()
    reference = []
    for k in range(3):
        single = [p[k:k + 1].clone().requires_grad_(True) for p in params]
        opt = torch.optim.Adam(single, lr=0.01, weight_decay=1e-3, foreach=False, fused=False)
        for _ in range(30):
            opt.zero_grad()
            member_losses(forward(arch, single, x[k:k + 1])[0], y[k:k + 1], "mse").sum().backward()
            opt.step()
        reference.append(single)
    train_backprop(arch, params, x, y, loss="mse", optimizer="adam", lr=torch.full((3,), 0.01, dtype=torch.float64),
                   steps=30, tol=0.0, weight_decay=1e-3)
    for k in range(3):
        for p, q in zip(params, reference[k]):
            assert torch.allclose(p[k:k + 1], q.detach(), rtol=0, atol=1e-12)
