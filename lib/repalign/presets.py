"""Chapter configurations: one frozen dataclass per chapter, with named presets.

A chapter's papermill ``parameters`` cell holds ``preset = "paper"`` and one override per
field, ``None`` meaning "the preset's value". The preset decides the scale and nothing else
does: ``paper`` is what the rendered book shows, ``smoke`` runs in seconds for the tests.
The dataclass field annotations are the parameters' types; the command-line runner and
``from_preset`` check values against them with the same function, ``coerce``.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args, get_origin

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
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail()
        return float(value)
    if annotation is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else fail()
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
            raise ValueError(
                f"unknown parameter(s) {', '.join(map(repr, unknown))}; "
                f"the parameters are:\n{cls.describe_parameters()}"
            )
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
    if len(set(snrs)) < 2 or any(not (s > 0) for s in snrs):
        raise ValueError(f"snrs must hold at least two distinct positive numbers (inf allowed), got {snrs!r}")


@dataclass(frozen=True)
class QuestionConfig(ChapterConfig):
    """The opening chapter: closed-form alignment and test error of the linear network."""

    snrs: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)  # S = ||beta*||^2 / sigma^2 of the curves
    alpha_min: float = 0.05  # smallest N/D drawn
    alpha_max: float = 10.0  # largest N/D drawn
    n_alpha: int = 801  # points on the log-spaced N/D axis
    snr_example: float = 4.0  # SNR of the worked numbers in the text
    alpha_example: float = 0.5  # N/D compared with 2 - alpha_example in the text
    spike_d: int = 200  # D = N of the finite-size Monte Carlo at the threshold
    spike_draws: int = 200  # its draws

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {},
        "smoke": {"snrs": (1.0, 4.0), "n_alpha": 41, "spike_d": 50, "spike_draws": 10},
    }

    def __post_init__(self) -> None:
        _check_snrs(self.snrs)
        if not 0 < self.alpha_min < self.alpha_max < math.inf:
            raise ValueError(f"need 0 < alpha_min < alpha_max < inf, got {self.alpha_min} and {self.alpha_max}")
        if self.n_alpha < 2:
            raise ValueError(f"n_alpha must be at least 2, got {self.n_alpha}")
        if not (self.snr_example > 0 and math.isfinite(self.snr_example)):
            raise ValueError(f"snr_example must be a finite positive number, got {self.snr_example}")
        if self.spike_d < 10 or self.spike_draws < 2:
            raise ValueError(f"need spike_d >= 10 and spike_draws >= 2, got {self.spike_d} and {self.spike_draws}")
        if not 0 < self.alpha_example < 1:
            raise ValueError(f"alpha_example must lie in (0, 1), got {self.alpha_example}")


@dataclass(frozen=True)
class LinearConfig(ChapterConfig):
    """The linear-network chapter: trained ensembles against the closed forms."""

    d: int = 100  # input dimension D
    members: int = 8  # K
    width: int = 20  # hidden width H
    repeats: int = 3  # independent ensembles per point (the spread in the figures)
    alphas: tuple[float, ...] = (0.2, 0.35, 0.5, 0.65, 0.8, 1.25, 1.5, 2.0, 3.0, 4.0)  # N/D, never 1
    snrs: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)  # S of the label noise
    n_probe: int = 2000  # clean probe inputs
    tol: float = 1e-6  # stop at this fraction of the initial excess train loss
    steps: int = 20000  # gradient-descent budget
    seed: int = 0  # first seed of the repeats
    spike_snr: float = 2.0  # S of the sections on the spike at N = D, the ridge and the initialisation
    spike_draws: int = 200  # Monte-Carlo draws per point near N = D
    spike_inputs: int = 200  # input matrices X at N = D for the alignment conditional on X
    ridges: tuple[float, ...] = (0.01, 0.1, 1.0)  # ridge strengths lambda > 0 (the first: a small one)
    ridge_draws: int = 100  # Monte-Carlo draws per N/D and ridge
    init_scales: tuple[float, ...] = (0.1, 0.3, 1.0)  # initial std in units of 1/sqrt(fan-in), besides 1e-3

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {},
        "smoke": {"d": 30, "members": 4, "repeats": 2, "alphas": (0.5, 2.0), "snrs": (1.0, 4.0), "n_probe": 300,
                  "spike_draws": 20, "spike_inputs": 20, "ridges": (0.01, 1.0), "ridge_draws": 5,
                  "init_scales": (1.0,)},
    }

    def __post_init__(self) -> None:
        _check_snrs(self.snrs)
        if self.d < 10 or self.members < 2 or self.width < 1 or self.repeats < 2:
            raise ValueError("need d >= 10, members >= 2, width >= 1 and repeats >= 2 (a spread needs two), got "
                             f"d={self.d}, members={self.members}, width={self.width}, repeats={self.repeats}")
        counts = [a * self.d for a in self.alphas]
        if not self.alphas or any(c < 1 or abs(c - round(c)) > 1e-9 or round(c) == self.d for c in counts):
            raise ValueError(f"alphas must give whole sample counts N = alpha d >= 1 other than N = d; got {self.alphas}")
        if not (0 < self.spike_snr < math.inf):
            raise ValueError(f"spike_snr must be a finite positive number, got {self.spike_snr}")
        if self.spike_draws < 2 or self.spike_inputs < 2 or self.ridge_draws < 2:
            raise ValueError("need spike_draws, spike_inputs and ridge_draws >= 2 (a spread needs two), got "
                             f"{self.spike_draws}, {self.spike_inputs} and {self.ridge_draws}")
        for name in ("ridges", "init_scales"):
            values = getattr(self, name)
            if not values or any(not (0 < v < math.inf) for v in values):
                raise ValueError(f"{name} must hold at least one finite positive number, got {values!r}")


# Chapter file stem -> its configuration. A test checks each chapter's parameters cell against it.
CHAPTERS: dict[str, type[ChapterConfig]] = {
    "question": QuestionConfig,
    "linear": LinearConfig,
}
