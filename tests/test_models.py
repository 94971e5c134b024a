"""Stacked ensembles of networks (repalign.models): shapes, parameter counts, initialisation, end-to-end maps."""

import numpy as np
import pytest
import torch

from repalign.models import Architecture, end_to_end, forward, init_params

F64 = dict(dtype=torch.float64, device=torch.device("cpu"))


def seeds(k: int, seed: int = 0):
    return np.random.SeedSequence(seed).spawn(k)


def test_the_linear_network_has_no_biases_and_one_hidden_layer():
    arch = Architecture.of("linear", d_in=10, width=4, depth=3, n_out=2, activation="relu")
    assert (arch.depth, arch.activation, arch.biases) == (1, "identity", False)  # depth and activation ignored
    assert arch.layer_sizes == [(4, 10), (2, 4)] and arch.n_parameters == 4 * 10 + 2 * 4


def test_mlp_parameter_count_includes_every_bias():
    arch = Architecture.of("mlp", d_in=16, width=8, depth=2, n_out=3, activation="tanh")
    assert arch.layer_sizes == [(8, 16), (8, 8), (3, 8)]
    assert arch.n_parameters == (8 * 16 + 8) + (8 * 8 + 8) + (3 * 8 + 3)


@pytest.mark.parametrize("shared_inputs", [True, False])
def test_forward_gives_outputs_and_last_hidden_layer_of_every_member(shared_inputs):
    arch = Architecture.of("mlp", d_in=5, width=7, depth=2, n_out=3, activation="relu")
    params = init_params(arch, seeds(4), 1.0, **F64)
    x = torch.randn(4, 9, 5, dtype=torch.float64) if not shared_inputs else torch.randn(9, 5, dtype=torch.float64)
    out, hidden = forward(arch, params, x)
    assert out.shape == (4, 9, 3) and hidden.shape == (4, 9, 7)
    assert (hidden >= 0).all()  # after a ReLU
    # Member 2 alone, written out layer by layer, gives the same numbers.
    w1, b1, w2, b2, w3, b3 = (p[2] for p in params)
    xk = x[2] if not shared_inputs else x
    h = torch.relu(torch.relu(xk @ w1.T + b1) @ w2.T + b2)
    torch.testing.assert_close(hidden[2], h, rtol=0, atol=1e-12)
    torch.testing.assert_close(out[2], h @ w3.T + b3, rtol=0, atol=1e-12)


def test_initial_weights_have_the_lecun_scale_and_zero_biases():
    """std = init_scale / sqrt(fan_in). N = 64 x 200 x 400 Gaussian draws estimate a standard deviation
    with relative standard error 1 / sqrt(2N) = 3.1e-4; the tolerance is five of them."""
    arch = Architecture.of("mlp", d_in=400, width=200, depth=1, n_out=1, activation="relu")
    w, b = init_params(arch, seeds(64), 0.5, **F64)[:2]
    assert w.std().item() == pytest.approx(0.5 / np.sqrt(400), rel=5 / np.sqrt(2 * w.numel()))
    assert (b == 0).all()


def test_shared_init_starts_every_member_from_one_draw_and_independent_init_does_not():
    arch = Architecture.of("mlp", d_in=3, width=4, depth=1, n_out=1, activation="relu")
    one = seeds(1)[0]
    shared = init_params(arch, [one] * 3, 1.0, **F64)
    assert all(torch.equal(p[0], p[k]) for p in shared for k in (1, 2))
    independent = init_params(arch, seeds(3), 1.0, **F64)
    assert not torch.equal(independent[0][0], independent[0][1])
    again = init_params(arch, seeds(3), 1.0, dtype=torch.float32, device=torch.device("cpu"))
    torch.testing.assert_close(again[0].double(), independent[0], rtol=0, atol=1e-7)  # the same draw, any dtype


def test_end_to_end_is_the_product_of_the_two_linear_layers():
    arch = Architecture.of("linear", d_in=6, width=5, depth=1, n_out=2, activation="identity")
    params = init_params(arch, seeds(3), 1.0, **F64)
    b = end_to_end(arch, params)
    assert b.shape == (3, 6, 2)
    x = torch.randn(11, 6, dtype=torch.float64)
    out, _ = forward(arch, params, x)
    torch.testing.assert_close(out, x @ b, rtol=0, atol=1e-12)  # f(x) = b^T x for every member
    mlp = Architecture.of("mlp", d_in=6, width=5, depth=1, n_out=2, activation="relu")
    with pytest.raises(ValueError, match="linear network only"):
        end_to_end(mlp, init_params(mlp, seeds(3), 1.0, **F64))


def test_tanh_through_numpy_is_torchs_to_rounding_and_keeps_autograd():
    """models' tanh (numpy's on the CPU outside autograd) against torch.tanh, and torch's own
    where a gradient is needed."""
    from repalign.models import ACTIVATIONS
    h = torch.linspace(-20, 20, 4001, dtype=torch.float64).reshape(1, 1, -1)
    torch.testing.assert_close(ACTIVATIONS["tanh"](h), torch.tanh(h), rtol=4e-16, atol=4e-16)
    leaf = h.clone().requires_grad_()
    ACTIVATIONS["tanh"](leaf).sum().backward()
    torch.testing.assert_close(leaf.grad, 1 - torch.tanh(h) ** 2)
