"""Argument checks shared by every entry point: one wording for every refusal.

    n = validate.integer("n_train", value, minimum=1)                 # -> int
    s = validate.number("snr", value, greater_than=0, finite=False)   # -> float, inf allowed
    m = validate.choice("model", value, ("linear", "mlp"))
    validate.integer("width", 0, minimum=1, owner="Experiment")
    ValueError: Experiment.width must be an integer >= 1, got 0

Each check returns the value (as int, float, bool or tuple) or raises ValueError naming the
parameter (``owner.name`` when an ``owner`` is given), what it allows and what it got:
``<name> must be <allowed>, got <value>``; ``why`` adds the reason for a bound. ``allow_none``
accepts None as well: True, or a string saying what None means (``"full batch"``). A bool is
never taken for a number, nor a float for an integer; NaN is never a number in range.
"""

from __future__ import annotations

import math
import numbers as _abc
import re
from collections.abc import Iterable
from typing import Any, NoReturn

import numpy as np

_COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}


def label(name: str, owner: str | None = None) -> str:
    """How a parameter is named in messages: ``name``, or ``owner.name``."""
    return f"{owner}.{name}" if owner else name


def fail(name: str, value: Any, allowed: str, *, why: str | None = None, owner: str | None = None) -> NoReturn:
    """Raise the one ValueError of this module: ``<name> must be <allowed> (<why>), got <value>``."""
    reason = f" ({why})" if why else ""
    raise ValueError(f"{label(name, owner)} must be {allowed}{reason}, got {value!r}")


_YAML_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity)", re.IGNORECASE)


def yaml_number(value: Any) -> Any:
    """A YAML scalar as the number it spells: YAML 1.1 (PyYAML) reads ``1e-05`` and ``inf`` as
    strings (it wants ``1.0e-05`` and ``.inf``); every other value is returned as it is. Without a
    decimal point a whole value is an int (``1e3``: 1000), so it also fills integer parameters."""
    if isinstance(value, str) and _YAML_NUMBER.fullmatch(value.strip()):
        number = float(value)
        whole = "." not in value and math.isfinite(number) and number == int(number)
        return int(number) if whole else number  # 1e3 is the integer 1000 (a float where floats are wanted)
    return value


def is_integer(value: Any) -> bool:
    """An int or NumPy integer, and not a bool."""
    return isinstance(value, _abc.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A real number (int, float, NumPy scalar), and not a bool. NaN and inf are numbers here."""
    return isinstance(value, _abc.Real) and not isinstance(value, bool)


def _with_none(allowed: str, allow_none: bool | str) -> str:
    if allow_none is True:
        return f"None or {allowed}"
    return f"None ({allow_none}) or {allowed}" if allow_none else allowed


def _integer_phrase(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"an integer in [{minimum}, {maximum}]"
    if minimum is not None:
        return f"an integer >= {minimum}"
    return "an integer" if maximum is None else f"an integer <= {maximum}"


def integer(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None,
            allow_none: bool | str = False, why: str | None = None, owner: str | None = None) -> int | None:
    """An integer within [minimum, maximum] (either bound optional), returned as int.

    ``why`` says in the message why the bound is there ("a spread needs two").
    """
    if value is None and allow_none:
        return None
    ok = is_integer(value) and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        fail(name, value, _with_none(_integer_phrase(minimum, maximum), allow_none), why=why, owner=owner)
    return int(value)


def _bound_text(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def number_phrase(*, greater_than: float | None = None, at_least: float | None = None,
                  less_than: float | None = None, at_most: float | None = None, finite: bool = True,
                  plural: bool = False) -> str:
    """What :func:`number` allows, in words: "finite number >= 0", "number in (0, 1)",
    "positive number (inf allowed)" (no article; ``plural`` for lists)."""
    noun = "numbers" if plural else "number"
    low = (f"({_bound_text(greater_than)}" if greater_than is not None
           else f"[{_bound_text(at_least)}" if at_least is not None else None)
    high = (f"{_bound_text(less_than)})" if less_than is not None
            else f"{_bound_text(at_most)}]" if at_most is not None else None)
    if low and high:
        return f"{noun} in {low}, {high}"
    if greater_than == 0 and high is None:
        core = f"positive {noun}"
    elif low:
        core = f"{noun} {'>' if greater_than is not None else '>='} {low[1:]}"
    elif high:
        core = f"{noun} {'<' if less_than is not None else '<='} {high[:-1]}"
    else:
        core = noun
    if finite:
        return f"finite {core}"
    return f"{core} (inf allowed)" if high is None else core


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _in_range(value: Any, greater_than, at_least, less_than, at_most, finite: bool) -> bool:
    if not is_number(value) or math.isnan(value) or (finite and math.isinf(value)):
        return False
    return ((greater_than is None or value > greater_than) and (at_least is None or value >= at_least)
            and (less_than is None or value < less_than) and (at_most is None or value <= at_most))


def number(name: str, value: Any, *, greater_than: float | None = None, at_least: float | None = None,
           less_than: float | None = None, at_most: float | None = None, finite: bool = True,
           allow_none: bool | str = False, allowed: str | None = None, why: str | None = None,
           owner: str | None = None) -> float | None:
    """A real number within the given bounds (each optional), returned as float.

    ``finite=False`` lets +-inf through the bounds (an SNR of inf: no noise). ``allowed``
    replaces the generated description where a name says more ("a probability").
    """
    if value is None and allow_none:
        return None
    if not _in_range(value, greater_than, at_least, less_than, at_most, finite):
        phrase = allowed or _article(number_phrase(greater_than=greater_than, at_least=at_least,
                                                   less_than=less_than, at_most=at_most, finite=finite))
        fail(name, value, _with_none(phrase, allow_none), why=why, owner=owner)
    return float(value)


# The smallest SNR anything accepts: below it the signal's amplitude is under a millionth of the
# noise's, numerically no signal at all (and 1e-320, a subnormal, makes the noise overflow).
SNR_MIN = 1e-12
_SNR_WHY = "below it the signal's amplitude is under a millionth of the noise's: no signal that a finite sample resolves"


def snr(name: str, value: Any, *, owner: str | None = None) -> float:
    """A signal-to-noise ratio: a positive number at least ``SNR_MIN``, inf meaning no noise."""
    value = number(name, value, greater_than=0, finite=False, owner=owner)
    return number(name, value, at_least=SNR_MIN, finite=False, why=_SNR_WHY, owner=owner)


def snrs(name: str, values: Any, *, count: int = 1, distinct: bool = False, owner: str | None = None
         ) -> tuple[float, ...]:
    """A list of at least ``count`` SNRs (see :func:`snr`)."""
    values = numbers(name, values, count=count, distinct=distinct, greater_than=0, finite=False, owner=owner)
    return numbers(name, values, count=count, at_least=SNR_MIN, finite=False, why=_SNR_WHY, owner=owner)


def probability(name: str, value: Any, *, owner: str | None = None) -> float:
    """A number in [0, 1]."""
    return number(name, value, at_least=0, at_most=1, allowed="a probability in [0, 1]", owner=owner)


def flag(name: str, value: Any, *, owner: str | None = None) -> bool:
    """True or False (a NumPy bool too; 0 and 1 are not flags)."""
    if not isinstance(value, (bool, np.bool_)):
        fail(name, value, "True or False", owner=owner)
    return bool(value)


def _is_among(value: Any, allowed: tuple) -> bool:
    if all(isinstance(a, str) for a in allowed) and not isinstance(value, str):
        return False  # a name: 1 == True must not pass for a string choice
    try:
        return any(value == a for a in allowed)
    except (TypeError, ValueError):  # an array compared element-wise
        return False


def choice(name: str, value: Any, allowed: Iterable, *, why: str | None = None, owner: str | None = None) -> Any:
    """One of ``allowed`` (names are compared as strings only)."""
    allowed = tuple(allowed)
    if not _is_among(value, allowed):
        fail(name, value, f"one of {allowed}", why=why, owner=owner)
    return value


def names(name: str, values: Any, allowed: Iterable, *, distinct: bool = True,
          owner: str | None = None) -> tuple:
    """A non-empty list or tuple of names from ``allowed`` (``distinct``: none repeated)."""
    allowed = tuple(allowed)
    ok = (isinstance(values, (list, tuple)) and len(values) > 0 and all(_is_among(v, allowed) for v in values)
          and (not distinct or len(set(values)) == len(values)))
    if not ok:
        fail(name, values, f"a non-empty tuple of {'distinct ' if distinct else ''}names from {allowed}",
             owner=owner)
    return tuple(values)


def numbers(name: str, values: Any, *, count: int = 1, distinct: bool = False, greater_than: float | None = None,
            at_least: float | None = None, less_than: float | None = None, at_most: float | None = None,
            finite: bool = True, why: str | None = None, owner: str | None = None) -> tuple[float, ...]:
    """A list or tuple of at least ``count`` numbers, each within the bounds (see :func:`number`);
    ``why`` says why the bounds are there."""
    bounds = dict(greater_than=greater_than, at_least=at_least, less_than=less_than, at_most=at_most,
                  finite=finite)
    ok = (isinstance(values, (list, tuple)) and len(values) >= count
          and all(_in_range(v, **bounds) for v in values) and (not distinct or len(set(values)) == len(values)))
    if not ok:
        what = number_phrase(**bounds, plural=count > 1)
        many = _COUNT_WORDS.get(count, str(count))
        message = f"{label(name, owner)} must hold at least {many} {'distinct ' if distinct else ''}{what}"
        raise ValueError(f"{message}{f' ({why})' if why else ''}, got {values!r}")
    return tuple(float(v) for v in values)
