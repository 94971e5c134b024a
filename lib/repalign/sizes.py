"""Network sizes: which network a name means, its parameter count P, and the sample size N_ref
at which counting parameters places the interpolation threshold.

Reference sizes (Belkin et al. 2019): a network with P parameters interpolates up to about
N = P samples for a scalar output and N C = P for C outputs fitted with the squared loss.
The linear network is the exception: its end-to-end map has D parameters per output, so it
interpolates up to N = D whatever its width. ``reference_size`` is the one place this rule
is written; ``reference_sizes(table)`` applies it to every row of a sweep table.
``one_hot_reference_size`` counts one-hot targets more closely (they sum to one); the chapters
that train to convergence (Levenberg-Marquardt) use it, the budget-trained chapters keep N C = P,
on which their grids are drawn.
"""

from __future__ import annotations

import math
import re

import numpy as np

from . import data as datasets
from . import validate
from .models import MODELS, Architecture


NETWORKS = {"linear": ("linear", 1), "mlp1": ("mlp", 1), "mlp2": ("mlp", 2)}  # name -> (model, depth)
_DEEPER_MLP = re.compile(r"mlp([1-9][0-9]*)")  # "mlp<depth>" beyond the named networks


def network(name: str) -> tuple[str, int]:
    """``(model, depth)`` of a network name: one in NETWORKS, or ``"mlp<depth>"`` for any depth >= 1."""
    if name in NETWORKS:
        return NETWORKS[name]
    deeper = _DEEPER_MLP.fullmatch(name) if isinstance(name, str) else None
    if deeper is None:
        validate.fail("network", name, f"one of {tuple(NETWORKS)} or 'mlp<depth>'")
    return "mlp", int(deeper.group(1))


def network_name(model: str, depth: int = 1) -> str:
    """The name of ``(model, depth)`` that :func:`network` reads: "linear", or "mlp<depth>"."""
    if validate.choice("model", model, MODELS) == "linear":
        return "linear"
    return f"mlp{validate.integer('depth', depth, minimum=1)}"


def n_parameters(name: str, *, d: int, width: int, n_outputs: int = 1) -> int:
    """P of one member of the network ``name`` (biases included for the MLPs)."""
    model, depth = network(name)
    d, width = validate.integer("d", d, minimum=1), validate.integer("width", width, minimum=1)
    n_outputs = validate.integer("n_outputs", n_outputs, minimum=1)
    return Architecture.of(model, d_in=d, width=width, depth=depth, n_out=n_outputs, activation="relu").n_parameters


def reference_size(name: str, *, d: int, width: int, n_classes: int | None = None) -> float:
    """The N at which the parameter count predicts the threshold (the one formula of the book).

    Linear network: D. MLP: P for regression (``n_classes=None``), P / C for C-class
    classification fitted with the squared loss on one-hot targets (N C = P).
    """
    n_classes = validate.integer("n_classes", n_classes, minimum=2, allow_none="regression")
    if network(name)[0] == "linear":
        return float(validate.integer("d", d, minimum=1))
    outputs = 1 if n_classes is None else n_classes
    return n_parameters(name, d=d, width=width, n_outputs=outputs) / outputs


def one_hot_reference_size(name: str, *, d: int, width: int, n_classes: int) -> float:
    """N_ref of an MLP fitted with the squared loss on C one-hot targets, counting only the
    independent equations: a sample's targets sum to one, and so can the outputs (the last output
    unit one minus the others), which leaves N (C - 1) equations for the P - (H + 1) parameters of
    the rest. For C = 2 this is P of the same network with one output. ``reference_size``'s N C = P
    ignores that constraint and places the threshold lower. A count, not a bound: saturating units
    can fit 0/1 targets beyond it as their weights grow without limit."""
    if network(name)[0] == "linear":
        validate.fail("network", name, "an MLP ('mlp1', 'mlp2' or 'mlp<depth>')")
    n_classes = validate.integer("n_classes", n_classes, minimum=2)
    total = n_parameters(name, d=d, width=width, n_outputs=n_classes)
    return (total - (width + 1)) / (n_classes - 1)


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def converged_reference_size(name: str, *, d: int, width: int, n_classes: int | None = None) -> float:
    """N_ref of an MLP trained to convergence on the squared loss: P for regression
    (``n_classes=None``), :func:`one_hot_reference_size` for C-class classification."""
    if n_classes is None:
        return reference_size(name, d=d, width=width)
    return one_hot_reference_size(name, d=d, width=width, n_classes=n_classes)


def _row_reference_size(model: str, depth, data: str, d, width, n_classes, optimizer: str) -> float:
    """N_ref of one experiment's fields (``d`` None: the data set's native dimension):
    :func:`converged_reference_size` for an MLP trained to convergence, else :func:`reference_size`."""
    native_d, classes = datasets.native_shape(data, int(n_classes))
    name = network_name(model, int(depth))
    count = converged_reference_size if optimizer == "lm" and model != "linear" else reference_size
    return count(name, d=int(native_d if _is_missing(d) else d), width=int(width),
                 n_classes=classes if datasets.task_of(data) == "classification" else None)


def reference_sizes(table) -> np.ndarray:
    """N_ref per row of a sweep table (``repalign.sweep``): :func:`converged_reference_size` for
    MLPs trained by Levenberg-Marquardt, :func:`reference_size` for the others.

    Reads the columns ``model``, ``depth``, ``data``, ``d``, ``width``, ``n_classes`` and ``optimizer``.
    """
    columns = ("model", "depth", "data", "d", "width", "n_classes", "optimizer")
    missing = [c for c in columns if c not in table]
    if missing:
        raise ValueError(f"table must have the columns {columns} of a sweep table; missing {missing}")
    rows = zip(*(table[c] for c in columns))
    return np.array([_row_reference_size(*row) for row in rows], dtype=float)
