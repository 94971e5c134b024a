"""Ensembles that need no training: the alignment floor, how aligned an ensemble's members are
before any training, and the exact ridge estimator, a closed-form reference setup.

    floor = untrained_alignment(Experiment(model="mlp", width=8, metrics=("cka",)))

Two independently initialised ReLU layers already share structure (both are functions of
the same probe inputs), so their CKA is far from 0. This is the reference line the figures
draw: trained alignment below it means training made members *less* alike.

The members start from exactly the weights ``run_experiment`` would train (same seed
streams), and are measured on the same probe set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from . import metrics
from .experiment import Experiment, alignment_matrices, experiment_data, split_measurement
from .models import Architecture, init_params, layer_outputs


def untrained_alignment(exp: Experiment) -> dict[str, float]:
    """Mean pairwise alignment of the K untrained members of ``exp``, per metric in ``exp.metrics``."""
    if not isinstance(exp, Experiment):
        raise TypeError(f"exp must be a repalign.Experiment, got {type(exp).__name__}")
    ens = experiment_data(exp)
    _data_seed, init_seed, _batch_seed = np.random.SeedSequence(exp.seed).spawn(3)  # as run_experiment
    seeds = [init_seed] * exp.members if exp.shared_init else init_seed.spawn(exp.members)
    n_out = ens.n_classes if ens.task == "classification" else 1
    arch = Architecture.of(exp.model, d_in=ens.x_probe.shape[-1], width=exp.width, depth=exp.depth,
                           n_out=n_out, activation=exp.activation)
    params = init_params(arch, seeds, exp.resolved_init_scale, dtype=torch.float64, device=torch.device("cpu"))
    with torch.no_grad():
        layers = layer_outputs(arch, params, torch.as_tensor(ens.x_probe, dtype=torch.float64))
    matrices = alignment_matrices(layers, exp.metrics, alive=np.ones(exp.members, dtype=bool))
    return {name: metrics.mean_alignment(matrix)[0] for name, matrix in matrices.items()}


def untrained_floors(bases: Mapping[Any, Experiment], seeds: Sequence[int], columns: Sequence[str]) -> pd.DataFrame:
    """The floor of every ensemble of a sweep, as a table to merge with it: one row per base
    experiment (its key in ``bases``, spread over ``columns``), seed and metric, with ``floor``,
    the untrained alignment of that ensemble's members (:func:`untrained_alignment` of the base
    at that seed). Merged on the key columns, ``seed`` and ``metric``, it gives each trained
    ensemble its own untrained members, as ``repalign.inference.floor.floor_test`` reads them."""
    rows = []
    for key, base in bases.items():
        named = dict(zip(columns, key if isinstance(key, tuple) else (key,)))
        for s in seeds:
            rows += [{**named, "seed": s, "metric": name, "floor": value}
                     for name, value in untrained_alignment(base.replace(seed=s)).items()]
    return pd.DataFrame(rows)


def ridge_ensemble(exp: Experiment, ridge: float) -> tuple[dict[str, float], float]:
    """Alignment (every metric of ``exp``) and mean test MSE of the exact ridge estimator on the
    data of ``exp``: ``b_k = (X_k^T X_k + N ridge I)^{-1} X_k^T y_k`` for each member.

    Its representation of a probe x is the rank-one hidden layer ``u (b_k . x)`` that a linear
    network trained from a small initialisation ends with; every metric here is invariant to
    the embedding direction u and to scale, so the one feature ``b_k . x`` stands for it.
    """
    if exp.model != "linear" or exp.task != "regression" or not 0 < ridge < math.inf:
        raise ValueError("ridge_ensemble needs a linear-network regression Experiment and a finite ridge > 0, got "
                         f"model={exp.model!r}, data={exp.data!r}, ridge={ridge!r}")
    ens = experiment_data(exp)
    x, y = ens.x_train.astype(float), ens.y_train.astype(float)
    n, d = x.shape[1:]
    gram = np.einsum("kni,knj->kij", x, x) + n * ridge * np.eye(d)
    b = np.linalg.solve(gram, np.einsum("kni,kn->ki", x, y)[..., None])[..., 0]  # (K, D)
    outputs = ens.x_probe @ b.T  # (n_probe, K)
    reps = outputs.T[..., None]  # (K, n_probe, 1)
    alignment = {name: metrics.mean_alignment(metrics.alignment_matrix(reps, split_measurement(name)[0]))[0]
                 for name in exp.metrics}  # one feature: every layer's alignment is the same
    return alignment, float(np.mean((outputs - ens.y_probe[:, None]) ** 2))
