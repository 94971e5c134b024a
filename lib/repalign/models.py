"""Ensembles of networks as stacked weights: member k's layer is ``weights[k]``.

Two models:

- ``"linear"``: the single-hidden-layer linear network ``f(x) = W2 W1 x`` without biases
  (the Methods page of the book), width H and one or C outputs;
- ``"mlp"``: ``depth`` hidden layers of width H with biases and a ``relu`` or ``tanh``
  activation, and a linear read-out.

Every weight starts from ``N(0, (init_scale / sqrt(fan_in))^2)`` (``init_scale = 1`` is
LeCun's initialisation) and every bias at zero. With ``shared_init`` all members start from
the same draw, otherwise each member draws its own; weights are drawn with NumPy from the
members' seed sequences, so an ensemble starts identically on every device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

MODELS = ("linear", "mlp")


def _tanh(h: torch.Tensor) -> torch.Tensor:
    """``tanh``; on the CPU outside autograd through numpy, whose vectorised float64 tanh runs
    at three times torch's speed here (the trial step of Levenberg-Marquardt is mostly tanh)."""
    if h.device.type != "cpu" or h.requires_grad:
        return torch.tanh(h)
    return torch.from_numpy(np.tanh(h.numpy()))


ACTIVATIONS = {"relu": torch.relu, "tanh": _tanh, "identity": lambda h: h}


@dataclass(frozen=True)
class Architecture:
    """Layer sizes and nonlinearity of one member."""

    d_in: int
    width: int
    depth: int
    n_out: int
    activation: str  # a key of ACTIVATIONS
    biases: bool

    @classmethod
    def of(cls, model: str, *, d_in: int, width: int, depth: int, n_out: int, activation: str):
        if model == "linear":
            return cls(d_in, width, 1, n_out, "identity", biases=False)
        return cls(d_in, width, depth, n_out, activation, biases=True)

    @property
    def layer_sizes(self) -> list[tuple[int, int]]:
        """(fan_out, fan_in) of every layer, read-out last."""
        sizes = [self.d_in] + [self.width] * self.depth + [self.n_out]
        return list(zip(sizes[1:], sizes[:-1]))

    @property
    def n_parameters(self) -> int:
        """P, the number of trainable parameters of one member."""
        return sum(o * i + (o if self.biases else 0) for o, i in self.layer_sizes)


def init_params(arch: Architecture, seeds: list[np.random.SeedSequence], init_scale: float,
                *, dtype: torch.dtype, device: torch.device) -> list[torch.Tensor]:
    """Stacked parameters ``[W_1, (b_1,) ..., W_out, (b_out)]``, each of shape ``(K, ...)``.

    ``seeds`` holds one seed sequence per member; shared initialisation passes the same one K
    times. Weights are drawn layer by layer from each member's own generator.
    """
    rngs = [np.random.default_rng(s) for s in seeds]
    params = []
    for fan_out, fan_in in arch.layer_sizes:
        std = init_scale / np.sqrt(fan_in)
        w = np.stack([rng.normal(0.0, std, size=(fan_out, fan_in)) for rng in rngs])
        params.append(torch.as_tensor(w, dtype=dtype, device=device))
        if arch.biases:
            params.append(torch.zeros((len(seeds), fan_out), dtype=dtype, device=device))
    return params


def _layers(arch: Architecture, params: list[torch.Tensor]):
    """(weight, bias or None) per layer."""
    step = 2 if arch.biases else 1
    return [(params[i], params[i + 1] if arch.biases else None) for i in range(0, len(params), step)]


def _affine(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """``w h + b`` for every member at once, features first: h (K, in, n), w (K, out, in),
    b (K, out); returns (K, out, n). The bias is added after the product, in place: ``baddbmm``
    copies the broadcast bias into its output first, which took up to twice as long as the
    product on the book's first layers (measured on one CPU thread, torch 2.13)."""
    out = torch.bmm(w, h)
    return out if b is None else out.add_(b.unsqueeze(-1))


def layer_outputs(arch: Architecture, params: list[torch.Tensor], x: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's output, features first: the inputs (G, d_in, n), each hidden layer
    (K, width, n), and the read-out (K, n_out, n).

    ``x`` is (K, n, d_in), each member's own inputs; (G, n, d_in), inputs shared by each of
    G groups of K / G consecutive members; or (n, d_in), inputs common to all.

    Layers run features first (``W h``): the m members of a group then take their first layer
    as one product ``[W_1; ...; W_m] x_g^T`` whose result is already each member's (width, n)
    block, with no copy (small products cost their call, not their arithmetic).
    """
    layers = _layers(arch, params)
    act = ACTIVATIONS[arch.activation]
    inputs = (x if x.dim() == 3 else x.unsqueeze(0)).transpose(1, 2)
    members, g = len(params[0]), len(inputs)
    w, b = layers[0]
    w = w.reshape(g, -1, w.shape[-1])  # (G, m width, d_in): the group's first layers stacked
    b = None if b is None else b.reshape(g, -1)
    outputs = [inputs, act(_affine(inputs, w, b).view(members, arch.width, -1))]
    for w, b in layers[1:-1]:
        outputs.append(act(_affine(outputs[-1], w, b)))
    w, b = layers[-1]
    return outputs + [_affine(outputs[-1], w, b)]


def forward(arch: Architecture, params: list[torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs (K, n, n_out) and last hidden layer (K, n, width) of every member, as transposed
    views of ``layer_outputs``."""
    *_, hidden, out = layer_outputs(arch, params, x)
    return out.transpose(1, 2), hidden.transpose(1, 2)


# each activation's backward pass from its output h, as autograd takes it
_ACTIVATION_BACKWARD = {"relu": lambda g, h: torch.ops.aten.threshold_backward(g, h, 0),
                        "tanh": torch.ops.aten.tanh_backward, "identity": lambda g, h: g}


def gradients(arch: Architecture, params: list[torch.Tensor], outputs: list[torch.Tensor],
              grad_out: torch.Tensor) -> list[torch.Tensor]:
    """Backpropagation by hand: every parameter's gradient of ``sum_k L_k``, given
    ``layer_outputs`` and each member's ``dL_k / d out_k`` (K, n_out, n).

    Autograd computes the same products, but on networks this small its bookkeeping costs more
    than the arithmetic (about half of a training step); written out, a step is one product per
    weight and one per hidden layer, and every gradient comes out contiguous.
    """
    layers, backward = _layers(arch, params), _ACTIVATION_BACKWARD[arch.activation]
    grads, g = [], grad_out
    for i in range(len(layers) - 1, -1, -1):
        w, b = layers[i]
        h = outputs[i]
        if i == 0:  # per input group: (G, m width, n) (G, n, d_in)
            gw = torch.bmm(g.reshape(len(h), -1, g.shape[-1]), h.transpose(1, 2)).view_as(w)
        else:
            gw = torch.bmm(g, h.transpose(1, 2))
        grads = ([gw] if b is None else [gw, g.sum(dim=-1)]) + grads
        if i > 0:
            g = backward(_product(w.transpose(1, 2), g), h)
    return grads


# each activation's derivative from its output h = act(z)
_ACTIVATION_DERIVATIVE = {"relu": lambda h: (h > 0).to(h.dtype), "tanh": lambda h: 1 - h * h,
                          "identity": torch.ones_like}


def jacobian(arch: Architecture, params: list[torch.Tensor], outputs: list[torch.Tensor],
             scale: float = 1.0) -> torch.Tensor:
    """Every member's Jacobian (K, n_out, n, P), times ``scale``: ``d out_k[c, sample] / d theta_k``,
    with the parameters in the order of ``params`` flattened (``torch.cat([p.reshape(K, -1) ...])``).

    Backpropagation of each output unit without summing over samples: ``delta`` (K, n_out,
    width, n) is each output's derivative with respect to a layer's pre-activations, and a
    weight's column block is ``delta`` times the layer's input, sample by sample, written in
    place into the one (K, n_out, n, P) tensor (it is the largest of a Levenberg-Marquardt step).
    """
    layers, derivative = _layers(arch, params), _ACTIVATION_DERIVATIVE[arch.activation]
    k, c, n = outputs[-1].shape
    jac = outputs[-1].new_empty(k, c, n, arch.n_parameters)
    eye = scale * torch.eye(c, dtype=outputs[-1].dtype, device=outputs[-1].device)
    delta = eye.view(1, c, c, 1).expand(k, c, c, n)
    end = arch.n_parameters  # the blocks are filled from the last layer's backwards
    for i in range(len(layers) - 1, -1, -1):
        w, b = layers[i]
        h = outputs[i] if i else outputs[0].repeat_interleave(k // len(outputs[0]), dim=0)
        if b is not None:
            jac[..., end - b.shape[-1]:end] = delta.transpose(2, 3)
            end -= b.shape[-1]
        rows, cols = w.shape[1:]
        block = jac[..., end - rows * cols:end].unflatten(-1, (rows, cols))  # (K, c, n, rows, cols)
        torch.mul(delta.transpose(2, 3).unsqueeze(-1), h.transpose(1, 2).unsqueeze(1).unsqueeze(3), out=block)
        end -= rows * cols
        if i > 0:
            delta = torch.einsum("kji,kcjn->kcin", w, delta) * derivative(h).unsqueeze(1)
    return jac


def _product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` per member; an outer product (a single output's read-out) as a broadcast
    multiply: the same numbers, about 8x faster than ``bmm`` takes it (torch 2.13, CPU)."""
    return a * b if a.shape[-1] == 1 else torch.bmm(a, b)


def end_to_end(arch: Architecture, params: list[torch.Tensor]) -> torch.Tensor:
    """``b_k = W1^T W2^T`` (K, d_in, n_out) of the linear network."""
    if arch.activation != "identity" or arch.biases or arch.depth != 1:
        raise ValueError("end_to_end is defined for the linear network only")
    w1, w2 = params
    return torch.bmm(w1.transpose(1, 2), w2.transpose(1, 2))


def row_grams(a: torch.Tensor) -> torch.Tensor:
    """``a a^T`` per member, (K, m, m) from (K, m, n). On the CPU through numpy, whose BLAS
    runs this float64 product at twice the speed of torch's here (``benchmarks/``)."""
    if a.device.type != "cpu":
        return torch.bmm(a, a.transpose(1, 2))
    rows = a.numpy()
    return torch.from_numpy(np.matmul(rows, rows.transpose(0, 2, 1)))


def has_structured_normal_equations(arch: Architecture) -> bool:
    """Whether ``normal_equations`` applies: one hidden layer with biases."""
    return arch.depth == 1 and arch.biases


def normal_equations(arch: Architecture, params: list[torch.Tensor], outputs: list[torch.Tensor],
                     r: torch.Tensor, scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``J^T J`` (K, P, P) and ``J^T r`` (K, P) of ``jacobian(arch, params, outputs, scale)``
    flattened to (K, n_out n, P), without forming J, for one hidden layer with biases;
    ``r`` (K, n_out n) in that row order.

    A row (output c, sample i) of J is ``w_c * f_i`` on the first layer's parameters, where
    ``f_i`` holds ``act'(z_ji) x_i`` and ``act'(z_ji)`` for every hidden unit j and ``w_c``
    repeats ``W2[c, j]`` over unit j's entries, and ``g_i = (h_i, 1)`` on output c's read-out
    row. Summed over the C outputs, the first layer's block is ``(F^T F) * (W^T W)``: one
    product over the n samples instead of C n rows, the cost of a Gauss-Newton step above the
    threshold. The read-out's blocks are ``G^T G`` on the diagonal, one per output. With
    several outputs this is about twice as fast as forming J (``benchmarks/``).
    """
    if not has_structured_normal_equations(arch):
        raise ValueError("normal_equations needs one hidden layer with biases, got depth "
                         f"{arch.depth} and biases={arch.biases}")
    w2 = params[2]
    k, c, hidden = w2.shape
    x, h = outputs[0].repeat_interleave(k // len(outputs[0]), dim=0), outputs[1]  # (K, D, n), (K, H, n)
    n = h.shape[-1]
    slope = scale * _ACTIVATION_DERIVATIVE[arch.activation](h)  # J's scale rides on f and g
    f = torch.cat([(slope.unsqueeze(2) * x.unsqueeze(1)).flatten(1, 2), slope], dim=1)  # (K, H(D+1), n)
    g = torch.cat([scale * h, h.new_full((k, 1, n), scale)], dim=1)  # (K, H+1, n)
    spread = torch.cat([w2.repeat_interleave(x.shape[1], dim=2), w2], dim=2)  # (K, C, H(D+1)): w_c
    first = row_grams(f) * torch.bmm(spread.transpose(1, 2), spread)
    cross = spread.unsqueeze(-1) * torch.bmm(f, g.transpose(1, 2)).unsqueeze(1)  # (K, C, H(D+1), H+1)
    cross_w2, cross_b2 = cross[..., :hidden].permute(0, 2, 1, 3).flatten(2), cross[..., hidden].transpose(1, 2)
    readout = row_grams(g)
    w2_w2, w2_b2, b2_b2 = (_block_diagonal(readout[:, rows, cols], c) for rows, cols in
                           ((slice(hidden), slice(hidden)), (slice(hidden), slice(hidden, None)),
                            (slice(hidden, None), slice(hidden, None))))
    gram = torch.cat([torch.cat([first, cross_w2, cross_b2], dim=2),
                      torch.cat([cross_w2.transpose(1, 2), w2_w2, w2_b2], dim=2),
                      torch.cat([cross_b2.transpose(1, 2), w2_b2.transpose(1, 2), b2_b2], dim=2)], dim=1)
    res = r.view(k, c, n)
    readout_gradient = torch.bmm(res, g.transpose(1, 2))  # (K, C, H+1)
    gradient = torch.cat([(spread * torch.bmm(res, f.transpose(1, 2))).sum(dim=1),
                          readout_gradient[..., :hidden].flatten(1), readout_gradient[..., hidden]], dim=1)
    return gram, gradient


def _block_diagonal(block: torch.Tensor, copies: int) -> torch.Tensor:
    """Per member, ``copies`` copies of ``block`` (K, r, c) on the diagonal of a (K, copies r, copies c)."""
    eye = torch.eye(copies, dtype=block.dtype, device=block.device)
    k, rows, cols = block.shape
    return (eye[None, :, None, :, None] * block[:, None, :, None, :]).reshape(k, copies * rows, copies * cols)
