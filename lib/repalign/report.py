"""Tables for readers: a chapter's setup and its result tables, formatted for the page.

    display(setup_table(cfg))                                   # parameter, value, meaning
    display(reader_table(frame, {"rho": "Spearman ρ"}, digits=2))

Both return a pandas ``Styler`` without the index column, so that the rendered book shows a
small table with readable headers instead of a dataclass repr or a raw data frame.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import math
import numbers
import re
import tokenize
from collections.abc import Mapping

import pandas as pd


P_FLOOR = 1e-3  # smaller p-values read "< 0.001": more digits would claim a precision no test here has
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_value(value, digits: int = 3) -> str:
    """A value as a reader writes it: ``∞`` for inf, ``0.25`` not ``0.25000``, tuples as lists,
    never e-notation (``43,035``, ``1.2×10⁻⁵``)."""
    if isinstance(value, (bool,)):
        return "yes" if value else "no"
    if isinstance(value, (tuple, list)):
        return ", ".join(format_value(v, digits) for v in value)
    if isinstance(value, numbers.Integral):
        return f"{value:d}"
    if isinstance(value, numbers.Real):
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if math.isnan(value):
            return "—"
        text = f"{value:.{digits}g}"
        if "e" not in text:
            return text
        if abs(value) >= 1:
            return f"{value:,.0f}"
        mantissa, exponent = text.split("e")
        return f"{mantissa}×10{str(int(exponent)).translate(_SUPERSCRIPT)}"
    return "—" if value is None else str(value)


def format_p(p) -> str:
    """A p-value as a paper prints it: ``< 0.001`` below P_FLOOR, else two significant digits
    (text, such as a note in place of a p-value, is kept)."""
    if isinstance(p, str):
        return p
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or math.isnan(p):
        return "—"
    return f"< {P_FLOOR:g}" if p < P_FLOOR else f"{p:.2g}"


def p_equals(p) -> str:
    """A p-value in a sentence: 'p = 0.026', 'p < 0.001' (``format_p``)."""
    text = format_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def field_notes(cls) -> dict[str, str]:
    """The comment after each field of a dataclass, read from its source (written once, there)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):  # no source file (an interactive class): no notes
        return {}
    fields = {f.name for f in dataclasses.fields(cls)}
    notes, line_start = {}, None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NEWLINE or tok.type == tokenize.NL:
            line_start = None
        elif line_start is None and tok.type == tokenize.NAME:
            line_start = tok.string
        elif tok.type == tokenize.COMMENT and line_start in fields and line_start not in notes:
            notes[line_start] = tok.string.lstrip("# ").strip()
    return notes


# How a run is carried out rather than what it computes: kept out of the setup tables (the
# parameters cell of every chapter and its downloaded notebook still show them).
RUNNER_SETTINGS = ("workers", "seed", "boot")


def setup_table(cfg, *, digits: int = 4) -> "pd.io.formats.style.Styler":
    """The values a chapter actually uses: one row per parameter, with what it means; the
    runner's settings (RUNNER_SETTINGS) left out."""
    notes = field_notes(type(cfg))
    rows = [{"parameter": f.name, "value": format_value(getattr(cfg, f.name), digits),
             "meaning": as_symbols(notes.get(f.name, ""))} for f in dataclasses.fields(cfg)
            if f.name not in RUNNER_SETTINGS]
    return _styled(pd.DataFrame(rows))


def as_symbols(text: str) -> str:
    """A table's text with the book's symbols as the Notation page writes them: N_ref, N_min and
    N_peak as N with a subscript (HTML), not as the code's names."""
    return SUBSCRIPTED.sub(r"N<sub>\1</sub>", text)


SUBSCRIPTED = re.compile(r"\bN_(ref|min|peak)\b")  # the book's subscripted sample sizes


def reader_table(frame: pd.DataFrame, headers: Mapping[str, str] | None = None, *,
                 digits: int = 3) -> "pd.io.formats.style.Styler":
    """``frame`` for the page: only the columns named in ``headers`` (all if None), renamed,
    numbers to ``digits`` significant digits, p-values (a column named ``p`` or ``p_...``) by
    :func:`format_p`, the book's symbols by :func:`as_symbols`, no index column."""
    shown = (frame if headers is None else frame[list(headers)]).reset_index(drop=True)
    p_columns = [name for name in shown.columns if name == "p" or str(name).startswith("p_")]
    formatted = pd.DataFrame({name: [format_p(v) if name in p_columns else as_symbols(format_value(v, digits))
                                     for v in shown[name]] for name in shown.columns}, columns=shown.columns)
    renamed = {name: as_symbols(str(header)) for name, header in (headers or {}).items()}
    styled = _styled(formatted.rename(columns=renamed))
    # "< 0.001" as text, not the start of a tag (other cells may hold deliberate markup such as <br>)
    return styled.format(subset=[renamed.get(name, name) for name in p_columns], escape="html")


def _styled(frame: pd.DataFrame):
    return frame.style.hide(axis="index").set_table_styles(
        [{"selector": "th, td", "props": [("text-align", "left"), ("padding", "0.15em 0.5em")]}])
