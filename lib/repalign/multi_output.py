"""Linear networks with C outputs, trained, against their closed form.

    res = trained_multi_output(n=150, d=300, snr=2.0, spectrum=(3, 1, 0.3), members=4)
    res.hidden, res.output   # mean pairwise linear CKA of the hidden layers and of the outputs

The teacher and the noise are those of ``repalign.theory.multi_output_alignment``: ``Y = X B*``
with the singular values of ``spectrum`` (normalised to a mean signal variance of 1 per output),
label noise of variance ``1/snr`` on every output of every member, shared clean inputs. Every
member is trained by full-batch gradient descent from a small initialisation
(``training.train_linear_gd``, a stable step per member) and measured on isotropic probes in
the limit of many probes (``theory.population_cka``): the hidden layer ``x -> W1 x`` and the
outputs ``x -> W2 W1 x``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import torch

from . import theory
from .models import Architecture, init_params
from .training import linear_gd_learning_rates, train_linear_gd


@dataclass(frozen=True)
class MultiOutputResult:
    hidden: float  # mean over member pairs of the hidden layers' linear CKA
    output: float  # ... of the outputs' linear CKA
    converged: float  # fraction of members that reached the tolerance


def trained_multi_output(n: int, d: int, snr: float, spectrum, *, members: int = 4, width: int | None = None,
                         seed: int = 0, steps: int = 20000, tol: float = 1e-6,
                         init_scale: float = 1e-3) -> MultiOutputResult:
    """Train ``members`` two-layer linear networks with C = len(spectrum) outputs and width
    ``width`` (default 2 C) on one draw of the teacher and the inputs; see the module docstring."""
    if not (n >= 1 and d >= 1 and members >= 2 and snr > 0):
        raise ValueError(f"need n, d >= 1, members >= 2 and snr > 0; got n={n}, d={d}, members={members}, snr={snr}")
    data_seed, init_seed = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(data_seed)
    teacher = theory.teacher_matrix(d, spectrum, rng)
    outputs = teacher.shape[1]
    x = rng.standard_normal((n, d))
    y = x @ teacher + rng.standard_normal((members, n, outputs)) / np.sqrt(snr)
    arch = Architecture.of("linear", d_in=d, width=width or 2 * outputs, depth=1, n_out=outputs, activation="relu")
    params = init_params(arch, init_seed.spawn(members), init_scale, dtype=torch.float64, device=torch.device("cpu"))
    x_t, y_t = torch.as_tensor(x[None]), torch.as_tensor(y)
    report = train_linear_gd(params, x_t, y_t, lr=linear_gd_learning_rates(x_t, y_t), steps=steps, tol=tol)
    w1, w2 = (p.numpy() for p in params)  # (K, H, D), (K, C, H)
    maps = w2 @ w1  # (K, C, D): x -> W2 W1 x
    pairs = list(combinations(range(members), 2))
    return MultiOutputResult(hidden=float(np.mean([theory.population_cka(w1[i], w1[j]) for i, j in pairs])),
                             output=float(np.mean([theory.population_cka(maps[i], maps[j]) for i, j in pairs])),
                             converged=float(np.mean(report.converged)))
