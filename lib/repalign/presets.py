"""Chapter configurations: one frozen dataclass per chapter, with named presets.

A chapter's papermill ``parameters`` cell holds ``preset = "paper"`` and one override per
field, ``None`` meaning "the preset's value". The preset decides the scale and nothing else
does: ``paper`` is what the rendered book shows, ``smoke`` runs in seconds for the tests.
The dataclass field annotations are the parameters' types; the command-line runner and
``from_preset`` check values against them with the same function, ``config.coerce``. The base
class and the checks the chapters share live in ``repalign.config``; the names other modules
read (``PRESET_NAMES``, ``DEFAULT_WORKERS``, ``max_workers``, the bounds) are re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from . import validate
from .config import (DEFAULT_WORKERS, PRESET_NAMES, RIDGE_MAX, SPREAD_MAX, ChapterConfig, _check_alphas,  # noqa: F401
                     _check_choices, _check_common, _check_converged_sweep, _check_maximum, _check_minimums,
                     _check_probes, _check_ratios, _check_snrs, _check_threshold_grid, _check_training, _check_widths,
                     _check_workers, _INIT_WHY, _JACKKNIFE, _METRIC_NAMES, _NETWORKS, _NOISES, _RIDGE_WHY, _SPREAD,
                     _SPREAD_WHY, _TASKS, max_workers)
from .data.registry import dataset, names
from .experiment import AUTO_LR_INIT_MAX, AUTO_LR_INIT_WHY, INIT_SCALE_MAX
from .metrics import METRICS
from .training import LM_PLATEAU


@dataclass(frozen=True)
class QuestionConfig(ChapterConfig):
    """The opening chapter: closed-form alignment and test error of the linear network."""

    snrs: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)  # SNRs S = ‖β*‖²/σ² of the curves
    alpha_min: float = 0.05  # smallest sample ratio N/D drawn
    alpha_max: float = 10.0  # largest sample ratio N/D drawn
    n_alpha: int = 801  # points of the log-spaced N/D grid
    snr_example: float = 4.0  # SNR S of the worked numbers in the text
    alpha_example: float = 0.5  # N/D < 1 compared with its mirror 2 − N/D in the text
    spike_d: int = 200  # D = N of the finite-size Monte Carlo at the threshold
    spike_draws: int = 200  # Monte-Carlo draws at the threshold

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {},
        "smoke": {"snrs": (1.0, 4.0), "n_alpha": 41, "spike_d": 50, "spike_draws": 10},
    }

    def __post_init__(self) -> None:
        _check_snrs(self.snrs)
        validate.number("alpha_min", self.alpha_min, greater_than=0)
        validate.number("alpha_max", self.alpha_max, greater_than=self.alpha_min,
                        allowed=f"a finite number > alpha_min = {self.alpha_min:g}")
        _check_minimums(self, n_alpha=2, spike_d=10, spike_draws=2, why={"spike_draws": _SPREAD})
        # The claim-3 check compares every pair of grid points: n_alpha^2 of them, 0.3 GB at 10^4.
        validate.integer("n_alpha", self.n_alpha, maximum=10**4, why="the claim-3 check compares all n_alpha^2 "
                                                                      "pairs of grid points")
        validate.integer("spike_d", self.spike_d, maximum=2000, why="each draw solves a D x D system; D = 2000 "
                                                                      "takes minutes")
        validate.number("snr_example", self.snr_example, greater_than=0)
        validate.number("alpha_example", self.alpha_example, greater_than=0, less_than=1)


@dataclass(frozen=True)
class LinearConfig(ChapterConfig):
    """The linear-network chapter: trained ensembles against the closed forms."""

    d: int = 100  # input dimension D
    members: int = 8  # ensemble size K
    width: int = 20  # hidden width H
    repeats: int = 10  # independent ensembles per point (the error bars)
    alphas: tuple[float, ...] = (0.2, 0.35, 0.5, 0.65, 0.8, 1.25, 1.5, 2.0, 3.0, 4.0)  # sample ratios N/D (never 1)
    snrs: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)  # SNRs S = 1/σ² of the label noise
    n_probe: int = 2000  # clean probe inputs n
    tol: float = 1e-6  # stop at this fraction of the initial excess training loss
    steps: int = 20000  # gradient-descent step budget
    seed: int = 0  # seed of the first ensemble
    spike_snr: float = 2.0  # S of the spike, ridge and initialisation sections
    spike_draws: int = 200  # Monte-Carlo draws per point near N = D
    spike_inputs: int = 200  # input matrices X at N = D (alignment given X)
    ridges: tuple[float, ...] = (0.01, 0.1, 1.0)  # ridge strengths λ > 0 (the first a small one)
    ridge_draws: int = 100  # Monte-Carlo draws per N/D and ridge
    init_scales: tuple[float, ...] = (0.1, 0.3, 1.0)  # initial std × √fan-in, besides the default 10⁻³
    outputs: int = 3  # outputs C of the multi-output section
    spreads: tuple[float, ...] = (1.0, 3.0, 10.0)  # teacher's largest / smallest singular value (1: flat)
    multi_d: int = 300  # input dimension D of the trained multi-output networks
    multi_draws: int = 2  # teachers and inputs drawn per point of the multi-output section
    workers: int = 2  # worker processes of the sweeps (1: serial)

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {},
        "smoke": {"d": 30, "members": 4, "repeats": 2, "alphas": (0.5, 2.0, 3.0), "snrs": (1.0, 4.0), "n_probe": 300,
                  "spike_draws": 20, "spike_inputs": 20, "ridges": (0.01, 1.0), "ridge_draws": 5,
                  "init_scales": (1.0,), "spreads": (1.0, 10.0), "multi_d": 40, "workers": 1},
    }

    def __post_init__(self) -> None:
        _check_snrs(self.snrs)
        spread = dict.fromkeys(("repeats", "spike_draws", "spike_inputs", "ridge_draws"), _SPREAD)
        _check_minimums(self, spread, d=10, members=2, width=1, repeats=2, spike_draws=2, spike_inputs=2,
                        ridge_draws=2, steps=1, seed=0)
        _check_workers(self)
        _check_probes(self, ("cka",), self.width)
        _check_alphas(self.alphas, self.d, minimum=3)
        _check_threshold_grid(self.alphas)
        validate.number("spike_snr", self.spike_snr, greater_than=0)
        validate.number("tol", self.tol, at_least=0)
        for name in ("ridges", "init_scales"):
            validate.numbers(name, getattr(self, name), count=1, greater_than=0)
        validate.numbers("spreads", self.spreads, count=1, distinct=True, at_least=1)
        _check_maximum("ridges", self.ridges, RIDGE_MAX, _RIDGE_WHY)
        _check_maximum("init_scales", self.init_scales, AUTO_LR_INIT_MAX, AUTO_LR_INIT_WHY)  # trained with lr='auto'
        _check_maximum("spreads", self.spreads, SPREAD_MAX, _SPREAD_WHY)
        _check_minimums(self, {"multi_draws": _SPREAD}, outputs=2, multi_draws=2)
        validate.integer("multi_d", self.multi_d, minimum=max(10, self.outputs),
                         why="the trained multi-output networks need D >= 10 and D >= C")


@dataclass(frozen=True)
class SNRConfig(ChapterConfig):
    """The SNR chapter: alignment against S for linear and ReLU networks, every task and noise location.

    Sample sizes are ``n_ratios`` times each network's reference size N_ref: D for the linear
    network, P for an MLP on regression, P / C for an MLP on C-class classification.
    """

    d: int = 16  # input dimension D
    width: int = 8  # hidden width H (every hidden layer)
    members: int = 6  # ensemble size K (members per ensemble)
    n_classes: int = 3  # classes C of the classification teacher
    networks: tuple[str, ...] = _NETWORKS  # networks: linear; ReLU MLPs with 1 (mlp1) or 2 (mlp2) hidden layers
    tasks: tuple[str, ...] = _TASKS  # tasks on the synthetic linear teacher
    noises: tuple[str, ...] = _NOISES  # where the noise enters: the labels or the inputs
    n_ratios: tuple[float, ...] = (0.3, 0.9, 3.0)  # sample sizes N/N_ref: below, near and above the threshold
    snrs: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, math.inf)  # SNRs S (inf: no noise; flips at the equivalent S)
    metric: _METRIC_NAMES = "cka"  # alignment metric of the main figure (every metric is computed)
    repeats: int = 10  # independent ensembles per point
    steps: int = 1000  # full-batch Adam steps of the MLPs (the budget)
    lr: float = 0.01  # Adam's learning rate (constant)
    linear_steps: int = 20000  # gradient-descent steps of the linear network (stable step per member)
    tol: float = 1e-5  # stop at this fraction of the initial train loss (excess loss, linear network)
    n_probe: int = 300  # clean probe inputs on which alignment is measured
    workers: int = 2  # worker processes of the sweep (1: serial)
    seed: int = 0  # seed of the first repeat (then seed + 1, ...)

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {},
        "smoke": {"d": 8, "width": 4, "members": 3, "networks": ("linear", "mlp1"), "noises": ("labels",),
                  "n_ratios": (0.5, 3.0), "snrs": (1.0, math.inf), "repeats": 2, "steps": 60,
                  "linear_steps": 300, "n_probe": 60, "workers": 1},
    }

    def __post_init__(self) -> None:
        _check_snrs(self.snrs)
        _check_common(self)
        _check_choices("networks", self.networks, _NETWORKS)
        _check_choices("tasks", self.tasks, _TASKS)
        _check_choices("noises", self.noises, _NOISES)
        _check_ratios("n_ratios", self.n_ratios, 1)
        _check_minimums(self, linear_steps=1)
        _check_probes(self, tuple(METRICS), self.width)  # every metric is measured


@dataclass(frozen=True)
class SampleSizeConfig(ChapterConfig):
    """The sample-size chapter: a tanh MLP trained to convergence by Levenberg-Marquardt, swept in
    N through its interpolation threshold, and in width. Sample sizes are ``n_ratios`` times N_ref:
    P for regression, (P - H - 1) / (C - 1) for classification (``sizes.one_hot_reference_size``)."""

    d: int = 16  # input dimension D
    width: int = 8  # hidden width H of the sample-wise sweep
    depth: int = 1  # hidden layers of the MLP
    members: int = 6  # ensemble size K (members per ensemble)
    n_classes: int = 3  # classes C of the classification teacher
    snr: float = 2.0  # SNR S of the label noise (classification: flips at the equivalent S)
    # sample sizes N/N_ref; 5.0 would cost 1.4 times the rest (N C P^2 per iteration) and decided nothing more
    n_ratios: tuple[float, ...] = (0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 1.0, 1.2, 1.5, 2.5)
    widths: tuple[int, ...] = (2, 3, 4, 5, 6, 8, 11, 16, 24)  # hidden widths H of the model-wise sweep
    width_sweep_n: int = 100  # sample size N of the model-wise sweep (regression)
    metric: _METRIC_NAMES = "cka"  # alignment metric, on the hidden layer and on the outputs
    repeats: int = 8  # independent ensembles per point (a pilot's 2, seeds 100-101, said 4 to 7 decide)
    steps: int = 100000  # Levenberg-Marquardt iterations at most (members that reach it are reported)
    tol: float = 1e-10  # a member interpolated: train loss below tol times its initial value
    # the stopping rule checked: the regression N sweep again with the plateau rule looser, and
    # the point N/N_ref = stricter_ratio with it stricter (the book's rule: the training module's)
    plateaus: tuple[float, float] = (1e-2, 1e-4)  # (looser, stricter) relative fall over 50 iterations
    stricter_ratio: float = 1.2  # N/N_ref of the stricter check, one of n_ratios (just above the threshold)
    n_probe: int = 500  # clean probe inputs on which alignment is measured
    boot: int = 2000  # bootstrap resamples of the ensembles (intervals of the extrema)
    workers: int = 2  # worker processes of the sweep (1: serial)
    seed: int = 0  # seed of the first repeat (then seed + 1, ...)

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {},
        "smoke": {"d": 8, "width": 4, "members": 3, "n_ratios": (0.3, 1.0, 3.0), "stricter_ratio": 1.0,
                  "widths": (2, 8), "width_sweep_n": 30, "repeats": 2, "n_probe": 60, "boot": 100, "workers": 1},
    }

    def __post_init__(self) -> None:
        _check_minimums(self, {"members": _JACKKNIFE, "repeats": _SPREAD}, d=2, width=1, members=3, repeats=2,
                        n_classes=2, depth=1, boot=10, width_sweep_n=1)
        validate.integer("n_classes", self.n_classes, maximum=self.d, why="teacher-linear-class has at most d classes")
        _check_converged_sweep(self, 3)
        _check_widths(self.widths, 2)
        _check_probes(self, (self.metric, f"{self.metric}@output"), max(self.width, *self.widths, self.n_classes))
        looser_and_stricter = (len(self.plateaus) == 2 and all(validate.is_number(p) for p in self.plateaus)
                               and 1 > self.plateaus[0] > LM_PLATEAU > self.plateaus[1] > 0)
        if not looser_and_stricter:
            validate.fail("plateaus", self.plateaus, f"two numbers (looser, stricter) with 1 > looser > {LM_PLATEAU:g} "
                                                     "(the book's plateau rule) > stricter > 0")
        if self.stricter_ratio not in self.n_ratios:
            validate.fail("stricter_ratio", self.stricter_ratio, f"one of n_ratios {self.n_ratios}")


@dataclass(frozen=True)
class DipConfig(ChapterConfig):
    """What the nonlinear dip needs: ReLU MLPs swept in N through their threshold, in several
    training regimes (initialisation, optimiser and budget, shared or independent inputs, the
    loss of classification), with the hidden layers' and the outputs' alignment.

    Sample sizes are ``n_ratios`` times N_ref: P for regression, P / C for classification.
    """

    d: int = 16  # input dimension D
    width: int = 8  # hidden width H (every hidden layer)
    members: int = 6  # ensemble size K
    n_classes: int = 3  # classes C of the classification teacher
    snr: float = 2.0  # SNR S of the label noise (classification: flips at the equivalent S)
    n_ratios: tuple[float, ...] = (0.25, 0.5, 0.8, 1.0, 1.25, 2.0, 4.0)  # sample sizes N/N_ref
    init_scales: tuple[float, ...] = (0.1, 0.01)  # initial std in units of LeCun's, besides 1
    metric: _METRIC_NAMES = "cka"  # alignment metric, on the hidden layers and on the outputs
    repeats: int = 10  # independent ensembles per point
    steps: int = 4000  # full-batch Adam steps (the book's budget)
    lr: float = 0.01  # Adam's learning rate (constant)
    budgets: tuple[int, ...] = (30, 100, 300, 1000)  # shorter Adam budgets of the epoch-wise view
    gd_lr: float = 0.5  # gradient descent's step size
    gd_steps: int = 20000  # gradient descent's step budget
    tol: float = 1e-5  # a member interpolated: train loss below tol times its initial value
    n_probe: int = 500  # clean probe inputs on which alignment is measured
    boot: int = 1000  # bootstrap resamples of the repeats (intervals of the extrema)
    workers: int = 2  # worker processes of the sweep (1: serial)
    seed: int = 0  # seed of the first repeat (then seed + 1, ...)

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {},
        "smoke": {"d": 6, "width": 4, "members": 3, "n_ratios": (0.3, 1.0, 3.0), "init_scales": (0.1,),
                  "repeats": 2, "steps": 80, "budgets": (20,), "gd_steps": 100, "n_probe": 60, "boot": 100,
                  "workers": 1},
    }

    def __post_init__(self) -> None:
        _check_common(self)
        _check_ratios("n_ratios", self.n_ratios, 3)
        validate.numbers("init_scales", self.init_scales, count=1, distinct=True, greater_than=0)
        _check_maximum("init_scales", self.init_scales, INIT_SCALE_MAX, _INIT_WHY)
        validate.snr("snr", self.snr)
        validate.number("gd_lr", self.gd_lr, greater_than=0)
        # the metric on every hidden layer and on the outputs (C of them for classification)
        _check_probes(self, (self.metric,), max(self.width, self.n_classes))
        _check_minimums(self, gd_steps=1, boot=10)
        budgets_ok = len(self.budgets) >= 1 and all(validate.is_integer(b) and 1 <= b < self.steps
                                                     for b in self.budgets)
        if not budgets_ok or len(set(self.budgets)) != len(self.budgets):
            validate.fail("budgets", self.budgets, f"at least one distinct integer in [1, steps = {self.steps})")


_CLASSIFICATION_SETS = Literal[names(task="classification", synthetic=False)]  # from the data-set registry
_REGRESSION_SETS = Literal[names(task="regression", synthetic=False)]


@dataclass(frozen=True)
class RealDataConfig(ChapterConfig):
    """The real-data chapter: image classification sets and tabular regression sets, each fitted by the
    tanh MLP of the sample-size chapter trained to convergence, swept in N through its measured
    threshold (label noise: flipped labels, or Gaussian noise on the target) and in S below and
    above it.

    Sample sizes are ``n_ratios`` (and ``snr_ratios``) times N_ref: P for regression,
    (P - H - 1) / (C - 1) for one-hot classification. Regression sets keep their native
    features (standardised); images are projected on their first ``class_d`` principal components.
    """

    class_sets: tuple[_CLASSIFICATION_SETS, ...] = ("mnist-3-5",)  # image classification sets
    reg_sets: tuple[_REGRESSION_SETS, ...] = ("concrete", "diamonds")  # regression sets (native features)
    class_d: int = 10  # input dimension D of the images (principal components kept)
    class_width: int = 8  # hidden width H, classification
    reg_width: int = 8  # hidden width H, regression
    members: int = 4  # ensemble size K
    flip: float = 0.2  # fraction of flipped training labels in the images' sample-size sweep
    snr: float = 2.0  # SNR S of the regression targets' noise in the sample-size sweep
    # sample sizes N/N_ref of the N sweep: dense around the threshold, which a pilot put near 0.9
    n_ratios: tuple[float, ...] = (0.25, 0.5, 0.75, 0.9, 1.0, 1.25, 1.5, 2.0, 3.0)
    snrs: tuple[float, ...] = (0.5, 2.0, 8.0, math.inf)  # SNRs S of the SNR sweep (∞: no noise)
    snr_ratios: tuple[float, ...] = (0.5, 2.0)  # sample sizes N/N_ref of the SNR sweep (both sides of N*)
    noises: tuple[str, ...] = _NOISES  # where the SNR sweep adds noise: labels, inputs
    metric: _METRIC_NAMES = "cka"  # alignment metric, on the hidden layer and on the outputs
    repeats: int = 12  # independent ensembles per point of the N sweep (a pilot's 4 said about 10 decide)
    snr_repeats: int = 10  # ensembles per point of the SNR sweep (its sign-flip test needs 8 or more to reach 1%)
    steps: int = 100000  # Levenberg-Marquardt iterations at most (members that reach it are reported)
    tol: float = 1e-10  # a member interpolated: train loss below tol times its initial value
    n_probe: int = 1000  # held-out probes (at most the held-out split)
    boot: int = 2000  # bootstrap resamples over the ensembles
    workers: int = 2  # worker processes of the sweep (1: serial)
    seed: int = 0  # first seed of the repeats

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {},
        "smoke": {"class_sets": ("digits",), "reg_sets": ("diabetes",), "class_d": 10, "class_width": 8,
                  "reg_width": 4, "members": 3, "n_ratios": (0.3, 1.0, 3.0), "snrs": (1.0, math.inf),
                  "snr_ratios": (0.5,), "noises": ("labels",), "repeats": 2, "snr_repeats": 2, "n_probe": 60,
                  "boot": 100, "workers": 1},
    }

    def __post_init__(self) -> None:
        _check_choices("class_sets", self.class_sets, names(task="classification", synthetic=False))
        _check_choices("reg_sets", self.reg_sets, names(task="regression", synthetic=False))
        _check_snrs(self.snrs)
        _check_choices("noises", self.noises, _NOISES)
        _check_converged_sweep(self, 3)
        _check_ratios("snr_ratios", self.snr_ratios, 1)
        _check_minimums(self, {"members": _JACKKNIFE, "repeats": _SPREAD, "snr_repeats": _SPREAD}, members=3,
                        repeats=2, snr_repeats=2, class_width=1, reg_width=1, boot=10)
        smallest = min(dataset(name).input_dim for name in self.class_sets)
        if not 2 <= self.class_d <= smallest:
            raise ValueError(f"class_d must lie in [2, {smallest}] for {self.class_sets}, got {self.class_d}")
        validate.number("flip", self.flip, at_least=0, less_than=0.5,
                        why="a flip fraction of 1/2 or more leaves two classes no signal")
        _check_probes(self, (self.metric, f"{self.metric}@output"),
                      max(self.class_width, self.reg_width, *(dataset(n).n_classes for n in self.class_sets)))

@dataclass(frozen=True)
class DecouplingConfig(ChapterConfig):
    """The decoupling chapter: every configuration of the book, and a robustness grid on the linear network."""

    d: int = 40  # input dimension D of the robustness grid
    members: int = 8  # ensemble size K
    width: int = 20  # hidden width H of the linear network
    alphas: tuple[float, ...] = (0.25, 0.5, 0.8, 1.25, 2.0, 4.0)  # sample ratios N/D of the grid (never 1)
    snrs: tuple[float, ...] = (0.5, 2.0, 8.0, math.inf)  # signal-to-noise ratios S of the grid
    repeats: int = 10  # independent ensembles (seeds) per grid point
    n_probe: int = 500  # clean probe inputs for alignment and test error
    large_init: float = 0.3  # initial weight std of the init setups, in units of 1/√fan-in
    ridge: float = 0.1  # penalty λ of the ridge setup
    boot: int = 1000  # bootstrap resamples per interval
    workers: int = 2  # worker processes of the sweeps (1: serial)
    seed: int = 0  # seed of the first repeat

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {},
        "smoke": {"d": 20, "members": 4, "alphas": (0.25, 0.5, 2.0), "snrs": (1.0, math.inf), "repeats": 2,
                  "n_probe": 100, "boot": 100, "workers": 1},
    }

    def __post_init__(self) -> None:
        _check_snrs(self.snrs)
        _check_minimums(self, {"members": _JACKKNIFE, "repeats": _SPREAD}, d=10, members=3, width=1, repeats=2,
                        boot=10, seed=0)
        _check_workers(self)
        _check_probes(self, tuple(METRICS), self.width)  # the robustness grid measures every metric
        _check_alphas(self.alphas, self.d, minimum=3)
        _check_threshold_grid(self.alphas)
        for name in ("large_init", "ridge"):
            validate.number(name, getattr(self, name), greater_than=0)
        _check_maximum("large_init", self.large_init, AUTO_LR_INIT_MAX, AUTO_LR_INIT_WHY)  # trained with lr='auto'
        _check_maximum("ridge", self.ridge, RIDGE_MAX, _RIDGE_WHY)


TRACKING_SETTINGS = ("linear teacher", "two-layer teacher", "classification")  # the chapter's three settings


@dataclass(frozen=True)
class TrackingConfig(ChapterConfig):
    """The threshold-tracking chapter: tanh MLPs of several widths, each trained to convergence by
    Levenberg-Marquardt and swept in N through its own threshold. Sample sizes are ``n_ratios``
    times N_ref of each width: P for regression, (P - H - 1) / (C - 1) for classification."""

    d: int = 2  # input dimension D
    widths: tuple[int, ...] = (2, 4, 8, 16, 32)  # hidden widths H
    settings: tuple[str, ...] = TRACKING_SETTINGS[:2]  # teachers and tasks swept
    members: int = 4  # ensemble size K
    n_classes: int = 2  # classes C of the classification teacher
    snr: float = 4.0  # SNR S of the label noise (classification: flips at the equivalent S)
    n_ratios: tuple[float, ...] = (0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.6, 2.5)  # sample sizes N/N_ref
    repeats: int = 10  # independent ensembles per point (a pilot's 4 said about 10 decide the minima)
    steps: int = 100000  # Levenberg-Marquardt iterations at most (members that reach it are reported)
    tol: float = 1e-10  # a member interpolated: train loss below tol times its initial value
    n_probe: int = 300  # clean probe inputs on which alignment is measured
    workers: int = 2  # worker processes of the sweep (1: serial)
    seed: int = 4  # seed of the first repeat (then seed + 1, ...); seeds 0-3 were the pilot

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {},
        "smoke": {"widths": (2, 4, 8), "settings": ("two-layer teacher", "classification"), "members": 3,
                  "repeats": 2, "n_ratios": (0.5, 1.0, 2.0), "n_probe": 60, "workers": 1},
    }

    def __post_init__(self) -> None:
        _check_minimums(self, {"members": _JACKKNIFE, "repeats": _SPREAD}, d=1, members=3, repeats=2, n_classes=2)
        _check_converged_sweep(self, 3)
        _check_choices("settings", self.settings, TRACKING_SETTINGS)
        _check_widths(self.widths, 3, " (a slope across widths)")
        _check_probes(self, ("cka", "cka@output"), max(*self.widths, self.n_classes))


@dataclass(frozen=True)
class ConclusionConfig(ChapterConfig):
    """The conclusion: reads the verdict tables the other chapters saved at the same preset; no parameters."""


# Chapter file stem -> its configuration. A test checks each chapter's parameters cell against it.
CHAPTERS: dict[str, type[ChapterConfig]] = {
    "question": QuestionConfig,
    "linear": LinearConfig,
    "snr": SNRConfig,
    "sample_size": SampleSizeConfig,
    "dip": DipConfig,
    "decoupling": DecouplingConfig,
    "real_data": RealDataConfig,
    "tracking": TrackingConfig,
    "verdicts": ConclusionConfig,
}
CONCLUSION = "verdicts"  # the chapter that reads every other chapter's verdict table (same preset)
CONCLUSION_READS = tuple(name for name in CHAPTERS if name != CONCLUSION)
