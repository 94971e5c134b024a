"""The alignment floor: how aligned an ensemble's members are before any training.

    floor = untrained_alignment(Experiment(model="mlp", width=8, metrics=("cka",)))

Two independently initialised ReLU layers already share structure (both are functions of
the same probe inputs), so their CKA is far from 0. This is the reference line the figures
draw: trained alignment below it means training made members *less* alike.

The members start from exactly the weights ``run_experiment`` would train (same seed
streams), and are measured on the same probe set.
"""

from __future__ import annotations

import numpy as np
import torch

from . import metrics
from .experiment import Experiment, alignment_matrices, experiment_data
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
