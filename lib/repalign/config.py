"""The machinery of the chapter configurations: the base dataclass with its presets and the
coercion of parameters to their annotated types, and the checks that several chapters share
(workers, probes, bounds, grids). The configurations themselves are in ``repalign.presets``.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args, get_origin

from . import validate
from .data.registry import TASKS
from .experiment import limits_lifted, probes_needed

PRESET_NAMES = ("paper", "smoke")


def type_name(annotation: Any) -> str:
    """A short readable name for a field annotation: ``float``, ``tuple[float, ...]``."""
    if get_origin(annotation) is Literal:
        return " | ".join(repr(a) for a in get_args(annotation))
    if get_origin(annotation) is tuple:
        args = get_args(annotation)
        inner = f"{type_name(args[0])}, ..." if args[1:] == (Ellipsis,) else ", ".join(map(type_name, args))
        return f"tuple[{inner}]"
    return getattr(annotation, "__name__", str(annotation))


def coerce(name: str, value: Any, annotation: Any) -> Any:
    """Return ``value`` as the type ``annotation`` names, or raise TypeError naming ``name``.

    Only lossless conversions: an int where a float is wanted, a list where a tuple is wanted.
    A bool is never taken for a number, nor a float for an int.
    """

    def fail() -> typing.NoReturn:
        raise TypeError(
            f"parameter {name!r} must be {type_name(annotation)}, got {value!r} ({type(value).__name__})"
        )

    origin = get_origin(annotation)
    if origin is Literal:
        return value if value in get_args(annotation) else fail()
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            fail()
        args = get_args(annotation)
        item_types = [args[0]] * len(value) if args[1:] == (Ellipsis,) else list(args)
        if len(item_types) != len(value):
            fail()
        return tuple(coerce(f"{name}[{i}]", v, t) for i, (v, t) in enumerate(zip(value, item_types)))
    if annotation is float:
        return float(value) if validate.is_number(value) else fail()
    if annotation is int:
        return int(value) if validate.is_integer(value) else fail()
    if annotation in (bool, str):
        return value if isinstance(value, annotation) else fail()
    raise TypeError(f"parameter {name!r}: unsupported annotation {annotation!r}")


@dataclass(frozen=True)
class ChapterConfig:
    """Base of the chapter configurations. Field defaults are the ``paper`` preset."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"paper": {}, "smoke": {}}

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        """Field name -> type annotation, in declaration order."""
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}

    @classmethod
    def describe_parameters(cls) -> str:
        """One line per parameter: name, type, paper and smoke values."""
        smoke = cls.from_preset("smoke")
        paper = cls()
        lines = [f"  {'preset':<14} {type_name(Literal[PRESET_NAMES]):<22} paper (default) or smoke"]
        for name, annotation in cls.parameters().items():
            values = f"paper: {getattr(paper, name)!r}"
            if getattr(smoke, name) != getattr(paper, name):
                values += f", smoke: {getattr(smoke, name)!r}"
            lines.append(f"  {name:<14} {type_name(annotation):<22} {values}")
        return "\n".join(lines)

    @classmethod
    def check_overrides(cls, overrides: dict[str, Any]) -> dict[str, Any]:
        """Overrides with ``None`` dropped and values coerced; unknown names raise ValueError."""
        params = cls.parameters()
        unknown = sorted(set(overrides) - set(params))
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))}; the parameters are: "
                             f"{', '.join(['preset', *params])} (`make chapters` describes them)")
        return {k: coerce(k, v, params[k]) for k, v in overrides.items() if v is not None}

    @classmethod
    def from_preset(cls, preset: str = "paper", **overrides: Any):
        """The named preset, with every override that is not ``None`` applied."""
        if preset not in PRESET_NAMES:
            raise ValueError(f"preset must be one of {PRESET_NAMES}, got {preset!r}")
        values = {**cls.PRESETS.get(preset, {}), **cls.check_overrides(overrides)}
        return cls(**values)


def _check_snrs(snrs: tuple[float, ...]) -> None:
    # Two distinct values at least: a claim about the order of curves needs curves to order.
    validate.snrs("snrs", snrs, count=2, distinct=True)


DEFAULT_WORKERS = 2  # the paper preset's workers: allowed on any machine, so the book builds anywhere


def max_workers() -> int | None:
    """The most worker processes a chapter may start: this machine's cores (``os.cpu_count()``), or
    the book's default if that is more; None (no cap) with REPALIGN_LIMITS=off."""
    return None if limits_lifted() else max(os.cpu_count() or 1, DEFAULT_WORKERS)


def _check_workers(cfg) -> None:
    # More single-threaded workers than cores only wait on each other, each a process holding its own
    # torch: 1000 workers would start 1000 processes on two cores.
    validate.integer("workers", cfg.workers, minimum=1, maximum=max_workers(),
                     why=f"this machine has {os.cpu_count() or 1} cores; more workers only wait on each other, "
                         "each in a process of its own; REPALIGN_LIMITS=off lifts the cap")


def _check_probes(cfg, measurements, widest: int) -> None:
    """``cfg.n_probe`` at least what every measurement of the chapter needs, on layers at most
    ``widest`` features wide (``experiment.probes_needed``, which each Experiment checks too)."""
    need, why = probes_needed(measurements, widest)
    validate.integer("n_probe", cfg.n_probe, minimum=need, why=f"{why}; width = {widest}")


# A ridge beyond 1e6 is the limit X^T y / (N lambda) already (a larger one only shrinks it, which no
# metric sees), and its outputs, of size 1/lambda, would underflow in the metrics' fourth powers.
RIDGE_MAX = 1e6
_RIDGE_WHY = "beyond it the estimator is X^T y / (N lambda), only smaller, and its outputs underflow in the metrics"
# The teacher's largest / smallest singular value: the weakest output's signal is 1/spread^2 of the
# strongest, which at 1e3 meets the training tolerance (1e-6 of the initial loss); beyond, it is never fitted.
SPREAD_MAX = 1e3
_SPREAD_WHY = "beyond it the weakest output's signal, 1/spread^2 of the strongest, is below the training tolerance"
_INIT_WHY = "in units of LeCun's std; larger starts diverge or never leave their start"


def _check_maximum(name: str, value: float | tuple[float, ...], maximum: float, why: str) -> None:
    """``value`` (a number or a tuple of them, already checked positive) at most ``maximum``."""
    values = value if isinstance(value, tuple) else (value,)
    if any(v > maximum for v in values):
        what = "numbers" if isinstance(value, tuple) else "a number"
        validate.fail(name, value, f"{what} at most {maximum:g}", why=why)


def _check_minimums(cfg, why: dict[str, str] | None = None, **minimums: int) -> None:
    """Each named integer field of ``cfg`` at least its minimum (``why``: the reason, per field)."""
    for name, minimum in minimums.items():
        validate.integer(name, getattr(cfg, name), minimum=minimum, why=(why or {}).get(name))


_SPREAD = "a spread needs two"
_JACKKNIFE = "a jackknife needs three"


def _check_alphas(alphas: tuple[float, ...], d: int, *, minimum: int) -> None:
    """At least ``minimum`` distinct ratios N/D, each a whole sample count N >= 1, never N = D."""
    validate.numbers("alphas", alphas, count=minimum, distinct=True, greater_than=0)
    counts = [a * d for a in alphas]
    if any(c < 1 or abs(c - round(c)) > 1e-9 or round(c) == d for c in counts):
        validate.fail("alphas", alphas, f"ratios N/d giving whole sample counts N = alpha d >= 1 other than "
                                        f"N = d (d = {d})")


def _check_threshold_grid(alphas: tuple[float, ...]) -> None:
    """Ratios on both sides of 1 and one more beyond the two next to it: claim 2 asks whether the
    minimum lies next to N = D rather than elsewhere on the grid, so the grid needs an elsewhere."""
    below, above = [a for a in alphas if a < 1], [a for a in alphas if a > 1]
    if not below or not above or len(set(alphas)) < 3:
        validate.fail("alphas", alphas, "at least three distinct ratios, some below 1 and some above 1")


_METRIC_NAMES = Literal["cka", "cka_debiased", "cka_rbf", "procrustes", "mutual_knn",
                        "information_imbalance"]  # repalign.metrics.METRICS (a test keeps them equal)
_NETWORKS = ("linear", "mlp1", "mlp2")  # the linear network; ReLU MLPs with one and two hidden layers
_TASKS = TASKS  # "regression", "classification"
_NOISES = ("labels", "inputs")


def _check_choices(name: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    validate.names(name, values, allowed)


def _check_training(cfg) -> None:
    """Adam's learning rate, the tolerance, and the budget and bookkeeping fields."""
    validate.number("lr", cfg.lr, greater_than=0)
    validate.number("tol", cfg.tol, at_least=0)
    _check_minimums(cfg, steps=1, seed=0)
    _check_workers(cfg)


def _check_converged_sweep(cfg, ratios_needed: int) -> None:
    """Checks shared by the chapters trained to convergence: tolerance, iteration cap, seed,
    workers, label noise and the N/N_ref grid."""
    validate.number("tol", cfg.tol, greater_than=0)
    _check_minimums(cfg, steps=1, seed=0)
    _check_workers(cfg)
    validate.snr("snr", cfg.snr)
    _check_ratios("n_ratios", cfg.n_ratios, ratios_needed)


def _check_widths(widths, count: int, why: str = "") -> None:
    """At least ``count`` distinct integer widths >= 1."""
    if len(widths) < count or len(set(widths)) != len(widths) or not all(
            validate.is_integer(w) and w >= 1 for w in widths):
        words = {2: "two", 3: "three"}.get(count, str(count))
        validate.fail("widths", widths, f"at least {words} distinct integers >= 1{why}")


def _check_common(cfg) -> None:
    """Checks shared by the SNR and nonlinear-dip chapters (the fields both have)."""
    _check_minimums(cfg, {"members": _JACKKNIFE, "repeats": _SPREAD}, d=2, width=1, members=3, repeats=2,
                    n_classes=2)
    validate.integer("n_classes", cfg.n_classes, maximum=cfg.d, why="teacher-linear-class has at most d classes")
    _check_training(cfg)


def _check_ratios(name: str, ratios: tuple[float, ...], minimum: int) -> None:
    validate.numbers(name, ratios, count=minimum, distinct=True, greater_than=0)
