"""One experiment: an ensemble of K members, each trained on its own noisy copy of a data set.

    from repalign import Experiment, run_experiment
    res = run_experiment(Experiment(data="teacher-linear", d=50, n_train=25, snr=4.0))
    res.alignment["cka"], res.test_error, res.converged

``Experiment`` is the full, validated description of the run (the result cache will key on
it); ``run_experiment`` draws the data, initialises and trains every member at once, and
measures alignment on the common clean probe set. ``run_stack`` does the same for several
experiments whose training has the same shapes (``stack_key``), as one stack of all their
members, with the numbers each gets alone. The same Experiment gives the same numbers
on the same machine: all randomness is spawned from ``seed``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import os
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from . import data as datasets
from . import metrics, validate
from .models import ACTIVATIONS, MODELS, Architecture, end_to_end, forward, init_params, layer_outputs
from .training import (LM_PLATEAU, LOSSES, OPTIMIZERS, TrainingReport, linear_gd_learning_rates, train_backprop,
                       train_levenberg_marquardt, train_linear_gd)

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float32", "float64")
DEFAULT_INIT_SCALE = {"linear": 1e-3, "mlp": 1.0}  # small for the linear network: min-norm limit
MEMORY_LIMIT = 16 * 2**30  # bytes of one experiment's arrays, estimated (``resources``) and refused above
WORK_LIMIT = 1e15  # multiply-adds of one experiment's training (days on a few cores), refused above
LIMITS_VARIABLE = "REPALIGN_LIMITS"  # set to "off" to lift every size limit on a big machine
# Its only values, and whether each lifts the limits: a typo ("of", "0", " off") must not pass for one.
LIMITS_VALUES = {"": False, "on": False, "off": True}
# The largest init_scale (in units of LeCun's 1/sqrt(fan_in)): the initial outputs grow as
# init_scale^(layers), so at 100 they start 10^4 times or more above the targets, where every
# member either diverges or never leaves its start within any budget the book uses.
INIT_SCALE_MAX = 100.0
# lr='auto' is a stable step near the minimum-norm solution, which a small start reaches; from
# LeCun's scale on, gradient descent can diverge (measured: some members at 1 when H = D, every
# member at 3), so an explicit start is at most 1 with it.
AUTO_LR_INIT_MAX = 1.0
AUTO_LR_INIT_WHY = ("lr='auto' is a stable step for a start near the minimum-norm solution; from larger starts "
                    "gradient descent diverges")


def limits_lifted() -> bool:
    """Whether ``REPALIGN_LIMITS=off`` lifts the size limits (unset, empty or ``on``: they hold);
    any other value is a ValueError naming the variable and its values, wherever limits are read."""
    value = os.environ.get(LIMITS_VARIABLE, "")
    validate.choice(LIMITS_VARIABLE, value, tuple(LIMITS_VALUES),
                    why="unset, empty or 'on': the size limits hold; 'off': lifted on a machine that has more")
    return LIMITS_VALUES[value]


_OWNER = "Experiment"  # messages name the field as Experiment.<field>
OUTPUT = "output"  # the layer of the members' outputs: their functional alignment


def layers_of(model: str, depth: int) -> tuple[str, ...]:
    """The layers a measurement may name after ``@``: each hidden layer, then the outputs."""
    return (*(f"hidden{i}" for i in range(1, (1 if model == "linear" else depth) + 1)), OUTPUT)


def split_measurement(name: str) -> tuple[str, str | None]:
    """``"cka@output"`` -> ("cka", "output"); ``"cka"`` -> ("cka", None): the last hidden layer."""
    metric, at, layer = name.partition("@")
    return metric, layer if at else None


class UnfinishedTraining(RuntimeWarning):
    """Some members stopped on the step budget before reaching the tolerance."""


class EnsembleDiverged(RuntimeWarning):
    """Every member of an ensemble diverged: nothing of it can be measured."""


def divergence_message(exp: "Experiment") -> str:
    """One line saying that every member of ``exp`` diverged, naming the fields that drive it."""
    step = ("lr='auto' (a stable step for a start near the minimum-norm solution)" if exp.lr == "auto"
            else f"lr={exp.lr:g}")
    start = f"init_scale={exp.resolved_init_scale:g}" + (" (the default)" if exp.init_scale is None else "")
    extra = f", weight_decay={exp.weight_decay:g}" if exp.weight_decay else ""
    return (f"every member ({exp.members} of {exp.members}) diverged, its training loss NaN or inf: "
            f"optimizer {exp.optimizer!r} with {step}{extra} is unstable from {start} at n_train={exp.n_train}; "
            "lower lr or init_scale")


@contextlib.contextmanager
def budget_stops_expected():
    """Inside this block, members stopped by the step budget are not announced: the caller
    counts them (``converged``, ``converged_fraction``) and reports them. Divergence still warns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnfinishedTraining)
        yield


def _fail(name: str, value, allowed: str):
    validate.fail(name, value, allowed, owner=_OWNER)


@dataclass(frozen=True)
class Experiment:
    """An ensemble experiment. Every field is part of the result's identity.

    Data: ``data`` names a synthetic teacher or a real data set (``repalign.data.DATASETS``);
    ``d`` is the input dimension (synthetic; for real data None keeps the native one, a smaller
    int projects on the leading principal components); ``n_train`` samples per member.
    Noise: ``noise`` in labels / inputs / both; ``snr`` = signal variance / noise variance
    (inf: none); ``flip`` = label-flip probability (classification). ``shared_inputs``: one
    clean training set for all members, or one each. Model: ``model`` linear or mlp, ``width``
    H, ``depth`` hidden layers (mlp), ``activation``; ``init_scale`` multiplies LeCun's
    standard deviation 1/sqrt(fan_in) (None: 1e-3 for the linear network, 1 for the MLP);
    ``shared_init``: all members start from the same weights. Training: ``optimizer`` gd, sgd,
    adam or lm (Levenberg-Marquardt: full batch, squared loss, float64, to a minimum of the
    training loss), ``lr`` (``"auto"``: a stable step per member for the linear network with
    gd; lm sets its own),
    ``loss`` (auto: mse for regression, cross_entropy for classification), ``batch_size``
    (None: full batch), ``weight_decay``, ``steps`` (budget of updates), ``tol`` (stop when the
    excess train loss is below tol times its initial value), ``plateau`` (lm: a member that
    does not interpolate stops once its loss fell by less than this fraction over the last 50
    iterations). Measurement: ``n_probe`` clean probe inputs, ``metrics`` (names in
    ``repalign.metrics.METRICS``).
    """

    data: str = "teacher-linear"
    d: int | None = 50
    n_train: int = 25
    noise: str = "labels"
    snr: float = math.inf
    flip: float = 0.0
    shared_inputs: bool = True
    n_classes: int = 10
    teacher_width: int = 100
    model: str = "linear"
    width: int = 20
    depth: int = 1
    activation: str = "relu"
    members: int = 8
    init_scale: float | None = None
    shared_init: bool = False
    optimizer: str = "gd"
    lr: float | str = "auto"
    loss: str = "auto"
    batch_size: int | None = None
    weight_decay: float = 0.0
    steps: int = 20000
    tol: float = 1e-6
    n_probe: int = 2000
    metrics: tuple[str, ...] = ("cka",)
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"
    plateau: float = LM_PLATEAU

    def __post_init__(self) -> None:
        if isinstance(self.metrics, (list, str)):
            object.__setattr__(self, "metrics", tuple([self.metrics] if isinstance(self.metrics, str) else self.metrics))
        self._canonical_numbers()
        self._validate()

    def _canonical_numbers(self) -> None:
        """NumPy scalars as Python numbers, and an int where a float is meant as that float: equal
        experiments then have one dict, one JSON and one cache key (``snr=3`` is ``snr=3.0``).
        Nothing else is converted: a float for an int field stays, and validation names it."""
        for name, kind in _NUMBER_FIELDS.items():
            value = getattr(self, name)
            if kind is float and validate.is_number(value):
                object.__setattr__(self, name, float(value))
            elif kind is int and validate.is_integer(value):
                object.__setattr__(self, name, int(value))
            elif isinstance(value, np.bool_):
                object.__setattr__(self, name, bool(value))

    def _validate(self) -> None:
        choices = {"data": datasets.DATASETS, "noise": datasets.NOISE_LOCATIONS, "model": MODELS,
                   "optimizer": OPTIMIZERS, "loss": ("auto", *LOSSES), "device": DEVICES, "dtype": DTYPES,
                   "activation": tuple(a for a in ACTIVATIONS if a != "identity")}
        for name, allowed in choices.items():
            validate.choice(name, getattr(self, name), allowed, owner=_OWNER)
        for name in ("shared_inputs", "shared_init"):
            validate.flag(name, getattr(self, name), owner=_OWNER)
        for name, minimum in {"n_train": 1, "width": 1, "depth": 1, "members": 2, "steps": 1, "n_probe": 4,
                              "teacher_width": 1, "n_classes": 2, "seed": 0}.items():
            validate.integer(name, getattr(self, name), minimum=minimum, owner=_OWNER)
        validate.integer("d", self.d, minimum=1, allow_none=True, owner=_OWNER)
        validate.integer("batch_size", self.batch_size, minimum=1, allow_none="full batch", owner=_OWNER)
        if self.optimizer == "gd" and self.batch_size is not None:
            _fail("batch_size", self.batch_size, "None with optimizer='gd' (use 'sgd' or 'adam' for minibatches)")
        validate.snr("snr", self.snr, owner=_OWNER)
        validate.number("tol", self.tol, at_least=0, owner=_OWNER)
        validate.number("weight_decay", self.weight_decay, at_least=0, owner=_OWNER)
        validate.probability("flip", self.flip, owner=_OWNER)
        validate.number("init_scale", self.init_scale, greater_than=0, allow_none=True, owner=_OWNER)
        validate.number("init_scale", self.init_scale, at_most=INIT_SCALE_MAX, allow_none=True,
                        why="in units of LeCun's 1/sqrt(fan_in); larger starts put the initial outputs 10^4 times "
                            "or more above the targets, and every member diverges or never leaves its start",
                        owner=_OWNER)
        if self.loss == "cross_entropy" and self.task == "regression":
            _fail("loss", self.loss, f"'mse' or 'auto' for the regression data set {self.data!r}")
        validate.number("plateau", self.plateau, greater_than=0, less_than=1, owner=_OWNER)
        if self.optimizer == "lm":
            self._validate_levenberg_marquardt()
        elif self.plateau != LM_PLATEAU:
            _fail("plateau", self.plateau,
                  f"{LM_PLATEAU:g} (the plateau rule is Levenberg-Marquardt's: optimizer='lm')")
        elif self.lr == "auto":
            if not (self.model == "linear" and self.optimizer == "gd" and self.resolved_loss == "mse"):
                _fail("lr", self.lr, "a positive number ('auto' needs model='linear', optimizer='gd' and squared loss, "
                                     "or optimizer='lm')")
            validate.number("init_scale", self.init_scale, at_most=AUTO_LR_INIT_MAX, allow_none=True,
                            why=AUTO_LR_INIT_WHY, owner=_OWNER)
        else:
            validate.number("lr", self.lr, greater_than=0, allowed="a positive number or 'auto'", owner=_OWNER)
        if self.model == "linear" and self.depth != 1:
            _fail("depth", self.depth, "1 for model='linear' (one hidden layer)")
        self._validate_data()
        self._validate_metrics()
        self._validate_probes()
        self._validate_size()

    def _validate_levenberg_marquardt(self) -> None:
        """Levenberg-Marquardt solves full-batch least squares in float64 and sets its own steps."""
        why = {"loss": ("mse", "'mse' (Levenberg-Marquardt minimises a sum of squares; for classification "
                               "it fits one-hot targets)"),
               "lr": ("auto", "'auto' with optimizer='lm' (its damping sets the step)"),
               "batch_size": (None, "None with optimizer='lm' (full batch)"),
               "weight_decay": (0.0, "0 with optimizer='lm'"),
               "dtype": ("float64", "'float64' with optimizer='lm' (interpolation is resolved to 1e-12 and "
                                    "float32 cannot hold it)")}
        for name, (wanted, allowed) in why.items():
            value = self.resolved_loss if name == "loss" else getattr(self, name)
            if value != wanted:
                _fail(name, getattr(self, name), allowed)

    def _validate_probes(self) -> None:
        """Enough probes for every measurement: more than the widest layer measured has features
        (with no more probes than features, independent representations look aligned) and what
        each metric needs (``probes_needed``)."""
        widest = max(self.layer_width(split_measurement(m)[1]) for m in self.metrics)
        need, why = probes_needed(self.metrics, widest)
        if self.n_probe < need:  # the message names n_probe, the width and what is needed
            _fail("n_probe", self.n_probe, f"an integer >= {need} ({why}; width = {self.width})")

    def layer_width(self, layer: str | None) -> int:
        """Features of a measured layer: ``width`` for a hidden layer (None: the last), the number
        of outputs for ``"output"``."""
        if layer != OUTPUT:
            return self.width
        return datasets.native_shape(self.data, self.n_classes)[1] if self.task == "classification" else 1

    def _validate_size(self) -> None:
        if limits_lifted():
            return
        memory, work = resources(self)
        if memory > MEMORY_LIMIT:
            raise ValueError(f"Experiment would need about {memory / 2**30:.3g} GiB of memory (limit "
                             f"{MEMORY_LIMIT / 2**30:.0f} GiB): reduce n_train, members, d, width or n_probe, "
                             f"or set {LIMITS_VARIABLE}=off on a machine that has it")
        if work > WORK_LIMIT:
            raise ValueError(f"Experiment would take about {work:.2g} multiply-adds to train (limit {WORK_LIMIT:.0e}): "
                             f"reduce steps, n_train, members or width, or set {LIMITS_VARIABLE}=off")

    def _validate_metrics(self) -> None:
        layers = layers_of(self.model, self.depth)
        parts = [split_measurement(m) if isinstance(m, str) else (m, None) for m in self.metrics]
        known = all(metric in metrics.METRICS and layer in (None, *layers) for metric, layer in parts)
        if not parts or not known or len(set(self.metrics)) != len(self.metrics):
            _fail("metrics", self.metrics, f"a non-empty tuple of distinct names 'metric' (the last hidden layer) or "
                                           f"'metric@layer', metric from {tuple(metrics.METRICS)} and layer from "
                                           f"{layers}")

    def _validate_data(self) -> None:
        """The dimension, and only noise that will really be applied (so results record it truly)."""
        native_d, classes = datasets.native_shape(self.data, self.n_classes)
        if native_d is None and self.d is None:
            _fail("d", self.d, f"an integer >= 1 for the synthetic data set {self.data!r}")
        if native_d is not None and self.d is not None and self.d > native_d:
            _fail("d", self.d, f"None or at most {native_d} (the dimension of {self.data!r})")
        if self.data == "teacher-linear-class" and self.n_classes > self.d:
            _fail("n_classes", self.n_classes, f"at most d = {self.d} for 'teacher-linear-class'")
        if self.data == "teacher-mlp-class":
            validate.integer("n_classes", self.n_classes, maximum=datasets.MAX_BALANCED_CLASSES,
                             why=datasets.BALANCE_WHY, owner=_OWNER)
        labels = self.noise in ("labels", "both")
        if self.flip and (self.task == "regression" or not labels):
            _fail("flip", self.flip, "0 unless noise is on the labels of a classification data set")
        if self.flip > 1 - 1 / classes:
            _fail("flip", self.flip, f"a probability in [0, 1 - 1/C] = [0, {1 - 1 / classes:.3g}]")
        if math.isfinite(self.snr) and self.task == "classification" and self.noise == "labels":
            _fail("snr", self.snr, "inf for classification with label noise (its knob is flip)")

    @property
    def task(self) -> str:
        return datasets.task_of(self.data)

    @property
    def resolved_loss(self) -> str:
        if self.loss != "auto":
            return self.loss
        return "mse" if self.task == "regression" else "cross_entropy"

    @property
    def resolved_init_scale(self) -> float:
        return DEFAULT_INIT_SCALE[self.model] if self.init_scale is None else self.init_scale

    def replace(self, **changes) -> "Experiment":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _metric_option(metric: str, option: str):
    """A metric's option as ``alignment_matrix`` applies it: the registry's, else its function's default."""
    entry = metrics.METRICS[metric]
    if option in entry.options:
        return entry.options[option]
    return inspect.signature(entry.function).parameters[option].default


def metric_probes(metric: str) -> int:
    """The fewest probes ``metric`` is defined on (``repalign.metrics``' own checks): mutual k-NN
    needs k neighbours besides each point, the information imbalance's score k + 1 of them
    (k = n - 1 scores every pair alike), debiased CKA four points."""
    entry = metrics.METRICS[metric]
    if entry.function is metrics.mutual_knn:
        return _metric_option(metric, "k") + 1
    if entry.function is metrics.information_imbalance_alignment:
        return _metric_option(metric, "k") + 2
    return 4 if entry.options.get("debiased") else 2


def probes_needed(measurements, widest: int) -> tuple[int, str]:
    """(the fewest probes, why) for ``measurements`` ("metric" or "metric@layer") of layers at most
    ``widest`` features wide: more probes than features, and each metric's own need."""
    need, why = widest + 1, f"more probes than the {widest} features of the widest layer measured"
    for name in measurements:
        metric = split_measurement(name)[0]
        if metric_probes(metric) > need:
            need, why = metric_probes(metric), f"{metric} needs {metric_probes(metric)}"
    return need, why


def resources(exp: Experiment) -> tuple[float, float]:
    """(bytes, multiply-adds): a generous estimate of one experiment's memory (training inputs,
    targets, weights with optimiser state, activations and gradients, probe representations and
    the metrics' Gram matrices) and of its training work (a forward and a backward pass per step)."""
    native_d, classes = datasets.native_shape(exp.data, exp.n_classes)
    d, k, n = (exp.d or native_d), exp.members, exp.n_train
    n_out = classes if exp.task == "classification" else 1
    depth = 1 if exp.model == "linear" else exp.depth
    per_sample = d * exp.width + exp.width**2 * (depth - 1) + exp.width * n_out  # weights = MACs per sample
    inputs = (k // input_group(exp)) * n * d + k * n * n_out
    activations = 3 * k * n * (exp.width * depth + n_out)
    probes = exp.n_probe * d + k * exp.n_probe * (exp.width + n_out) + min(k * exp.n_probe**2, 2**26)
    if exp.optimizer == "lm":  # a Jacobian of n n_out x P, and J^T J or J J^T, per member and iteration
        p, rows = per_sample + exp.width * depth + n_out, n * n_out
        activations += k * rows * p + k * min(rows, p) ** 2
        memory = 8.0 * (inputs + activations + 4 * k * per_sample + probes)
        return memory, exp.steps * k * (rows * p * min(rows, p) + min(rows, p) ** 3 / 3)
    memory = 8.0 * (inputs + activations + 4 * k * per_sample + probes)
    return memory, 3.0 * exp.steps * k * n * per_sample


def _number_kind(annotation: str) -> type | None:
    """float for fields annotated with float (alone or with None or str), int likewise, else None."""
    kinds = set(annotation.replace(" ", "").split("|")) - {"None", "str"}
    return {"float": float, "int": int, "bool": bool}.get(kinds.pop()) if len(kinds) == 1 else None


_NUMBER_FIELDS = {f.name: _number_kind(f.type) for f in dataclasses.fields(Experiment) if _number_kind(f.type)}


@dataclass(frozen=True)
class ExperimentResult:
    """What one experiment measured. Per-member arrays have length K."""

    experiment: Experiment
    alignment: dict[str, float]  # mean over member pairs (NaN if a member diverged)
    alignment_stderr: dict[str, float]  # jackknife over members
    alignment_matrix: dict[str, np.ndarray]  # (K, K)
    train_error: np.ndarray  # own noisy training set: MSE, or error rate
    test_error: np.ndarray  # clean probe set: MSE against clean targets, or error rate
    train_loss: np.ndarray  # final training objective
    steps: np.ndarray
    converged: np.ndarray
    diverged: np.ndarray
    n_parameters: int  # P of one member
    end_to_end: np.ndarray | None  # (K, D, n_out) for the linear network, else None
    wall_time: float  # seconds: drawing and measuring, plus its members' share of their stack's training


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("Experiment.device='cuda' but no CUDA device is available")
    return torch.device(device)


def _errors(out: torch.Tensor, y: np.ndarray, task: str) -> np.ndarray:
    """Per member (K,): MSE for regression, error rate for classification."""
    out = out.detach().double().cpu().numpy()
    if task == "classification":
        return (out.argmax(axis=-1) != y).mean(axis=-1)
    return ((out[..., 0] - y) ** 2).mean(axis=-1)


def _seeds(exp: Experiment) -> list[np.random.SeedSequence]:
    """Data, initialisation and minibatch order: three streams spawned from the one seed."""
    return np.random.SeedSequence(exp.seed).spawn(3)


def experiment_data(exp: Experiment) -> datasets.EnsembleData:
    """The members' noisy training sets and the probe set that ``run_experiment(exp)`` uses."""
    return datasets.make_ensemble_data(
        exp.data, members=exp.members, n_train=exp.n_train, d=exp.d, noise=exp.noise, snr=exp.snr,
        flip=exp.flip, shared_inputs=exp.shared_inputs, n_probe=exp.n_probe, n_classes=exp.n_classes,
        teacher_width=exp.teacher_width, seed=_seeds(exp)[0])


def _linear_gd(exp: Experiment) -> bool:
    """Trained by the linear network's own gradient-descent engine (``train_linear_gd``)."""
    return exp.model == "linear" and exp.optimizer == "gd" and exp.resolved_loss == "mse" and exp.weight_decay == 0


def input_group(exp: Experiment) -> int:
    """How many consecutive members share one training input matrix in training: all of them
    when their clean inputs are shared, no input noise is drawn and batches are full (their
    first layer, or the linear network's ``X^T X``, is then one product), else 1."""
    clean = exp.noise == "labels" or math.isinf(exp.snr)
    full_batch = exp.batch_size is None or exp.batch_size >= exp.n_train
    return exp.members if exp.shared_inputs and clean and full_batch else 1


def stack_key(exp: Experiment) -> tuple:
    """Experiments with equal keys can train as one stack: the same shapes and the same update
    rule. SNR, noise, flips, seed, data draw, initialisation, tolerance and member count may
    differ (they are per member); Adam's learning rate may not (one fused optimiser per stack),
    nor the member count of points whose members share their inputs (``input_group``)."""
    native_d, classes = datasets.native_shape(exp.data, exp.n_classes)
    n_out = classes if exp.task == "classification" else 1
    labels = exp.task == "classification" and exp.resolved_loss == "cross_entropy"  # targets are class indices
    return (exp.model, exp.d or native_d, exp.width, exp.depth, exp.activation, n_out, exp.n_train, labels,
            exp.resolved_loss, exp.optimizer, exp.lr if exp.optimizer == "adam" else None, exp.batch_size,
            exp.weight_decay, exp.steps, exp.plateau, exp.dtype, resolve_device(exp.device).type, input_group(exp))


@dataclass(frozen=True)
class _Drawn:
    """One experiment's data, drawn, and its members' initial weights: its share of a stack."""

    exp: Experiment
    ens: datasets.EnsembleData
    arch: Architecture
    params: list[torch.Tensor]
    x: torch.Tensor  # (K / input_group, N, D) training inputs
    y: torch.Tensor  # (K, N) targets or labels, or (K, N, C) one-hot targets
    lr: torch.Tensor  # (K,) float64
    batch_seeds: list[np.random.SeedSequence]
    seconds: float  # spent drawing


def _draw(exp: Experiment) -> _Drawn:
    start = time.perf_counter()
    _, init_seed, batch_seed = _seeds(exp)
    ens = experiment_data(exp)
    device, dtype = resolve_device(exp.device), getattr(torch, exp.dtype)
    n_out = ens.n_classes if ens.task == "classification" else 1
    arch = Architecture.of(exp.model, d_in=ens.x_train.shape[-1], width=exp.width, depth=exp.depth,
                           n_out=n_out, activation=exp.activation)
    init_seeds = [init_seed] * exp.members if exp.shared_init else init_seed.spawn(exp.members)
    params = init_params(arch, init_seeds, exp.resolved_init_scale, dtype=dtype, device=device)
    x = torch.as_tensor(ens.x_train[::input_group(exp)], dtype=dtype, device=device)
    if ens.task == "classification" and exp.resolved_loss == "mse":  # squared loss on one-hot targets
        y = torch.nn.functional.one_hot(torch.as_tensor(ens.y_train, device=device), ens.n_classes).to(dtype)
    else:
        y = torch.as_tensor(ens.y_train, device=device)
        y = y.to(dtype) if ens.task == "regression" else y
    if exp.lr == "auto" and exp.optimizer != "lm":
        lr = linear_gd_learning_rates(x, y)
    else:
        lr = torch.full((exp.members,), math.nan if exp.lr == "auto" else float(exp.lr), dtype=torch.float64,
                        device=device)  # Levenberg-Marquardt has none
    return _Drawn(exp, ens, arch, params, x, y, lr, batch_seed.spawn(exp.members), time.perf_counter() - start)


def _train_stack(drawn: list[_Drawn]) -> list[tuple[list[torch.Tensor], TrainingReport]]:
    """Train the members of every drawn experiment as one stack; each one's weights and report."""
    first = drawn[0].exp
    params = [torch.cat(layer) for layer in zip(*(d.params for d in drawn))]
    x, y, lr = (torch.cat([getattr(d, name) for d in drawn]) for name in ("x", "y", "lr"))
    tol = torch.cat([torch.full((d.exp.members,), d.exp.tol, dtype=torch.float64) for d in drawn]).to(x.device)
    if _linear_gd(first):
        report = train_linear_gd(params, x, y, lr=lr, steps=first.steps, tol=tol)
    elif first.optimizer == "lm":
        report = train_levenberg_marquardt(drawn[0].arch, params, x, y, steps=first.steps, tol=tol,
                                           plateau=first.plateau)
    else:
        report = train_backprop(drawn[0].arch, params, x, y, loss=first.resolved_loss, optimizer=first.optimizer,
                                lr=lr.to(x.dtype), steps=first.steps, tol=tol, weight_decay=first.weight_decay,
                                batch_size=first.batch_size,
                                batch_rngs=[np.random.default_rng(s) for d in drawn for s in d.batch_seeds])
    bounds = np.cumsum([0] + [d.exp.members for d in drawn])
    return [([p[a:b] for p in params], _report_slice(report, a, b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _report_slice(report: TrainingReport, start: int, stop: int) -> TrainingReport:
    return TrainingReport(*(getattr(report, f.name)[start:stop] for f in dataclasses.fields(TrainingReport)))


def run_stack(experiments: list[Experiment]) -> list[ExperimentResult]:
    """Run several experiments with the same ``stack_key`` as one stack of all their members.

    Each experiment's results are those of ``run_experiment`` on it alone: its members draw
    the same data and initial weights, and members never interact. Each result's
    ``wall_time`` is its own drawing and measuring plus its members' share of the training.
    """
    if not experiments:
        return []
    keys = {stack_key(exp) for exp in experiments}
    if len(keys) > 1:
        raise ValueError("run_stack needs experiments with one stack_key (the same shapes and update rule); "
                         f"got {len(keys)} different keys")
    drawn = [_draw(exp) for exp in experiments]
    start = time.perf_counter()
    trained = _train_stack(drawn)
    training = time.perf_counter() - start
    total = sum(exp.members for exp in experiments)
    return [_measure(d, params, report, d.seconds + training * d.exp.members / total)
            for d, (params, report) in zip(drawn, trained)]


def run_experiment(exp: Experiment) -> ExperimentResult:
    """Draw the data, train all members at once, and measure alignment and errors."""
    return run_stack([exp])[0]


def alignment_matrices(layers: list[torch.Tensor], names: tuple[str, ...], alive: np.ndarray) -> dict[str, np.ndarray]:
    """Each measurement (K, K) of ``names`` on the probe outputs ``layers`` of every layer
    (``models.layer_outputs``); the rows and columns of members not ``alive`` stay NaN."""
    index = {None: -2, OUTPUT: -1, **{f"hidden{i}": i for i in range(1, len(layers) - 1)}}
    alive = np.flatnonzero(alive)
    matrices = {}
    for name in names:
        metric, layer = split_measurement(name)
        reps = layers[index[layer]].transpose(1, 2).double().contiguous().cpu().numpy()  # (K, n, width)
        matrix = np.full((len(reps), len(reps)), np.nan)
        if len(alive) >= 2:
            matrix[np.ix_(alive, alive)] = metrics.alignment_matrix(reps[alive], metric)
        matrices[name] = matrix
    return matrices


def _measure(drawn: _Drawn, params: list[torch.Tensor], report: TrainingReport, seconds: float) -> ExperimentResult:
    """Alignment on the probe set and errors of one trained experiment; warns about its members
    that diverged or stopped on the step budget."""
    start = time.perf_counter()
    exp, ens, arch, x = drawn.exp, drawn.ens, drawn.arch, drawn.x
    with torch.no_grad():
        out_train, _ = forward(arch, params, x)
        probe_layers = layer_outputs(arch, params, torch.as_tensor(ens.x_probe, dtype=x.dtype, device=x.device))
    out_probe = probe_layers[-1].transpose(1, 2)
    diverged = report.diverged
    if diverged.all():
        warnings.warn(f"{divergence_message(exp)}: its errors and alignments are NaN", EnsembleDiverged, stacklevel=3)
    elif diverged.any():
        warnings.warn(f"{int(diverged.sum())} of {exp.members} members diverged: their errors and "
                      "alignments are NaN", RuntimeWarning, stacklevel=3)
    unfinished = ~report.converged & ~diverged
    if unfinished.any():  # reported, not hidden: near a threshold the budget acts as a regulariser
        warnings.warn(f"{int(unfinished.sum())} of {exp.members} members did not reach tol={exp.tol:g} "
                      f"within {exp.steps} steps (see result.converged and result.train_loss)",
                      UnfinishedTraining, stacklevel=3)
    matrices = alignment_matrices(probe_layers, exp.metrics, alive=~diverged)  # diverged members stay NaN
    means, stderrs = {}, {}
    for name, matrix in matrices.items():
        means[name], stderrs[name] = metrics.mean_alignment(matrix)
    nan_if_diverged = lambda v: np.where(diverged, np.nan, v)  # noqa: E731
    return ExperimentResult(
        experiment=exp, alignment=means, alignment_stderr=stderrs, alignment_matrix=matrices,
        train_error=nan_if_diverged(_errors(out_train, ens.y_train, ens.task)),
        test_error=nan_if_diverged(_errors(out_probe, ens.y_probe, ens.task)),
        train_loss=report.train_loss, steps=report.steps, converged=report.converged, diverged=diverged,
        n_parameters=arch.n_parameters,
        end_to_end=end_to_end(arch, params).double().cpu().numpy() if exp.model == "linear" else None,
        wall_time=seconds + time.perf_counter() - start)
