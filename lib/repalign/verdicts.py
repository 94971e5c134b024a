"""Verdicts as data: one tidy table per chapter run, saved beside the result cache, read back by
the conclusion, and the one place the chapters' prose takes its verdict words from.

    rows = [claim_record("snr", result, setting="linear, shared inputs", metric="cka"), ...]
    table = verdict_table("snr", rows)
    save(table, "snr", cfg)                  # <result cache>/verdicts/snr-<preset>.csv
    word(table, claim="snr", setting="linear, shared inputs")      # "holds"
    everything = load_all(chapters, preset)  # the conclusion: every chapter's latest table

A row is one decision: the claim (``claims.CLAIMS`` keys, or a chapter's own question), the
setting and metric it was tested in, the case ("all" for the claim over its family, or one
curve, S or N), the statistic with its interval and p-value, the verdict word, and the error
control that makes the p-value mean what it says.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
from pathlib import Path

import pandas as pd

from . import paths
from .inference import ALPHA, UNDECIDED
from .report import format_p
from .inference.claims import (AS_PREDICATE, CLAIMS, COUPLING_STRATA, HOLDS, VERDICTS, WINDOW_VERDICTS,
                               DecouplingClaim, MinimumClaim, SNRClaim, curve_counts, curve_family_p, family_verdict,
                               most_needed, window_family_needed, window_family_p)
from .inference.decoupling import rho_interval
from .inference.phrases import COUPLED, coupling_word, listed, share_phrase
from .inference.threshold import INSIDE, OUTSIDE, window_p
from .paths import TABLE_MARKER, VERDICT_TABLES, write_atomically

COLUMNS = ("chapter", "claim", "setting", "metric", "case", "statistic", "value", "low", "high", "p",
           "repeats_needed", "verdict", "summary", "control", "parameters")
NUMBERS = ("value", "low", "high", "p", "repeats_needed")  # the numeric columns (NaN: none)
ALL = "all"  # the case of a row that decides a claim over its whole family
# The alignment minimum of a sweep whose members stop on a step budget: its threshold is the
# budget's, so the row is kept apart from claim 2 ("min"), which converged training decides.
BUDGET_MIN = "min (budget)"


def record(claim: str, *, setting: str, metric: str, statistic: str, value: float, verdict: str, control: str,
           case: str = ALL, low: float = math.nan, high: float = math.nan, p: float = math.nan,
           repeats_needed: float = math.nan, summary: str = "") -> dict:
    """One decision as a row (``chapter`` and ``parameters`` are added by :func:`verdict_table`).

    ``statistic`` names ``value`` (with its interval ``low``, ``high`` where it has one);
    ``p`` is the p-value of the stated ``verdict`` (of the side it decided, or of the nearer side
    when undecided); ``repeats_needed``: the independent ensembles per point that a t-based power
    calculation gives for the measured effect (``inference.repeats_needed``; NaN: nothing to
    size); ``control`` says over which family and at which error it was decided; ``summary``: a
    few words a reader's table can show.
    """
    for name, text in {"claim": claim, "setting": setting, "metric": metric, "statistic": statistic,
                       "verdict": verdict, "control": control, "case": case}.items():
        if not isinstance(text, str) or not text:
            raise ValueError(f"{name} must be a non-empty string, got {text!r}")
    return {"claim": claim, "setting": setting, "metric": metric, "case": case, "statistic": statistic,
            "value": float(value), "low": float(low), "high": float(high), "p": float(p),
            "repeats_needed": float(repeats_needed), "verdict": verdict,
            "summary": summary, "control": control}


def trend_summary(trend) -> str:
    """'ρ +0.62' for a curve of alignment against S (a ``trends.Trend`` or a row of
    ``trends.family_table``), and where its mean falls, if it does."""
    falls = ", ".join(f"{a:g} to {b:g}" for a, b in trend.mean_falls)
    return f"ρ {trend.rho:+.2f}" + (f"; mean falls from S = {falls}" if falls else "")


def curve_rows(claim: str, curves: pd.DataFrame, cases, *, setting: str, metric: str, control: str) -> list[dict]:
    """Claim 1 in one setting from its curves of alignment against S: the claim over the curves
    (its verdict by ``claims.family_verdict``, with the verdict's p-value and the repeats that
    would decide every undecided curve), then one row per curve, named by ``cases``.

    ``curves``: one row per curve with its verdict in the family, e.g. part of a
    ``trends.family_table``: the columns rho, low, high, p, repeats_needed, mean_falls, verdict."""
    counts = curve_counts(curves.verdict)
    undecided = curves.repeats_needed[curves.verdict == UNDECIDED]
    summary = (f"{counts.rising}/{counts.total} rise ({counts.every_step} at every step), "
               f"median ρ {curves.rho.median():+.2f}")
    rows = [record(claim, setting=setting, metric=metric, statistic="curves rising", value=counts.rising,
                   p=curve_family_p(counts.verdict, curves.verdict, curves.p),
                   repeats_needed=most_needed(undecided), verdict=counts.verdict, control=control, summary=summary)]
    return rows + [record(claim, setting=setting, metric=metric, case=case, statistic="mean within-repeat ρ",
                          value=t.rho, low=t.low, high=t.high, p=t.p, repeats_needed=t.repeats_needed,
                          verdict=t.verdict, control=control, summary=trend_summary(t))
                   for case, t in zip(cases, curves.itertuples())]


def window_record(claim: str, ext, test, decision: str, *, scale: float, setting: str, metric: str, statistic: str,
                  control: str, case: str = ALL) -> dict:
    """The row of one extremum placed by a window test (``threshold.window_test`` or
    ``threshold_test``): its location ``ext`` divided by ``scale`` (N*, D) with its interval,
    the verdict of ``decision`` (its family's: ``claims.WINDOW_VERDICTS``) and that decision's
    p-value; an untested window (``test.reason``) is undecided with no p-value."""
    if test.reason:
        return record(claim, setting=setting, metric=metric, case=case, statistic=statistic,
                      value=ext.location / scale, low=ext.low / scale, high=ext.high / scale, verdict=UNDECIDED,
                      control="no test", summary=test.reason)
    return record(claim, setting=setting, metric=metric, case=case, statistic=statistic, value=ext.location / scale,
                  low=ext.low / scale, high=ext.high / scale, p=window_p(test, decision),
                  repeats_needed=test.repeats_needed if decision == UNDECIDED else math.nan,
                  verdict=WINDOW_VERDICTS[decision], control=control,
                  summary=f"p inside {format_p(test.p_inside)}, outside {format_p(test.p_outside)}")


def window_family_rows(claim: str, cases, tests, extrema, decisions, *, scale: float, setting: str, metric: str,
                       what: str, control: str, family: str = "SNRs", ratio: str = "N/D") -> list[dict]:
    """A family of window tests (one per case, e.g. per S): the family's row, its verdict by
    ``claims.family_verdict`` with the p-value of that verdict and the repeats that would decide
    every undecided case, then one :func:`window_record` per case (locations divided by ``scale``)."""
    decisions = list(decisions)
    inside = decisions.count(INSIDE)
    verdict = family_verdict(inside, decisions.count(OUTSIDE), len(tests))
    family_row = record(claim, setting=setting, metric=metric, statistic=f"{family} with {what} at the threshold",
                        value=inside, p=window_family_p(verdict, tests, decisions),
                        repeats_needed=window_family_needed(tests, decisions), verdict=verdict, control=control,
                        summary=f"{inside}/{len(tests)} {family}")
    return [family_row] + [window_record(claim, ext, test, decision, scale=scale, setting=setting, metric=metric,
                                         case=case, statistic=f"{what} at {ratio}", control=control)
                           for case, ext, test, decision in zip(cases, extrema, tests, decisions)]


def paired_record(claim: str, test, *, setting: str, metric: str, statistic: str, control: str) -> dict:
    """The row of a one-sided paired test (``threshold.PairedTest``): its effect, p-value, and
    *holds* when significant, else *undecided* with the repeats that would decide it."""
    return record(claim, setting=setting, metric=metric, statistic=statistic, value=test.effect, p=test.p,
                  repeats_needed=math.nan if test.significant else test.repeats_needed,
                  verdict=HOLDS if test.significant else UNDECIDED, control=control)


def fdr_control(cases: int, what: str, q: float = ALPHA) -> str:
    return f"false-discovery rate {q:.0%} (Benjamini-Hochberg) over {cases} {what}"


def claim_record(key: str, result, *, setting: str, metric: str) -> list[dict]:
    """The rows of one claim's result (``claims``): the claim over its family, then each case."""
    rows = []
    if isinstance(result, SNRClaim):
        curves = pd.DataFrame([dataclasses.asdict(t) | {"p": t.p} for t in result.trends])
        rows += curve_rows(key, curves, [f"N = {n:g}" for n in result.sizes], setting=setting, metric=metric,
                           control=fdr_control(len(result.sizes), "curves (one per N)", result.q))
    elif isinstance(result, MinimumClaim):
        rows += window_family_rows(key, [f"S = {s:g}" for s in result.snrs], result.tests, result.extrema,
                                   result.decisions, scale=result.d, setting=setting, metric=metric,
                                   what="the minimum", control=fdr_control(len(result.snrs), "SNRs", result.q))
    elif isinstance(result, DecouplingClaim):
        rows.append(record(key, setting=setting, metric=metric, statistic="counterexample pairs", value=result.pairs,
                           p=result.p, repeats_needed=result.repeats_needed, verdict=result.verdict,
                           summary=result.summary,
                           control=f"family-wise error {result.alpha:.0%} (Holm) over {result.tests} ordered pairs"))
        rows += coupling_records(key, result.coupling, setting=setting, metric=metric)
    else:
        raise ValueError(f"result must be a claims.SNRClaim, MinimumClaim or DecouplingClaim, got {type(result)}")
    return rows


ACROSS = "across configurations"  # the case of claim 3's row of the coupling across configurations
COUPLING_STATISTIC = "rank correlation of A and E across configurations"


def coupling_records(key: str, coupling, *, setting: str, metric: str,
                     symbols=COUPLING_STRATA) -> list[dict]:
    """The rows of a ``decoupling.Coupling``: across configurations (case ACROSS), within each
    stratum (case "within N", with ``symbols``: stratum column -> symbol), and across seeds;
    each verdict ``claims.coupling_word``."""
    control = f"{coupling.level:.0%} bootstrap interval over {coupling.seeds} seeds ({coupling.boot} resamples)"
    estimates = [(ACROSS, COUPLING_STATISTIC, coupling.across)]
    estimates += [(f"within {symbols.get(s, s)}", f"mean rank correlation of A and E within one {symbols.get(s, s)}",
                   r) for s, r in coupling.within.items()]
    estimates.append(("across seeds", "mean rank correlation of A and E across the seeds of one configuration",
                      coupling.across_seeds))
    return [record(key, setting=setting, metric=metric, case=case, statistic=statistic, value=r.rho, low=r.low,
                   high=r.high, verdict=coupling_word(r), control=control,
                   summary=f"ρ {rho_interval(r.rho, r.low, r.high)}")
            for case, statistic, r in estimates]


def parameters_json(cfg) -> str:
    """The chapter's configuration as JSON (infinities as strings), so a row says what it tested."""
    values = dataclasses.asdict(cfg)
    return json.dumps(values, sort_keys=True, default=str, allow_nan=True)


def verdict_table(chapter: str, rows: list[dict], cfg=None) -> pd.DataFrame:
    """The chapter's rows as one tidy table with COLUMNS (``cfg``: the chapter's configuration)."""
    if not rows:
        raise ValueError("rows must hold at least one verdict")
    table = pd.DataFrame(rows)
    missing = [c for c in COLUMNS if c not in ("chapter", "parameters") and c not in table]
    if missing:
        raise ValueError(f"rows must have the columns of verdicts.record, missing {missing}")
    table.insert(0, "chapter", chapter)
    table["parameters"] = parameters_json(cfg) if cfg is not None else ""
    return table[list(COLUMNS)]


def word(table: pd.DataFrame, *, claim: str, setting: str | None = None, metric: str | None = None,
         case: str = ALL) -> str:
    """The verdict of the one row that matches; an error naming what matched otherwise."""
    mask = (table.claim == claim) & (table.case == case)
    if setting is not None:
        mask &= table.setting == setting
    if metric is not None:
        mask &= table.metric == metric
    found = table[mask]
    if len(found) != 1:
        raise KeyError(f"{len(found)} verdict rows match claim={claim!r}, setting={setting!r}, metric={metric!r}, "
                       f"case={case!r}; the settings are {sorted(table.setting.unique())}")
    return str(found.verdict.iloc[0])


# --- on disk -----------------------------------------------------------------------------------------------


def folder() -> Path:
    """``verdicts/`` inside the result cache (``repalign.paths.result_cache_dir``); ``cache clear``
    removes it with the results it was computed from."""
    return paths.result_cache_dir() / VERDICT_TABLES


def table_path(chapter: str, preset: str) -> Path:
    return folder() / f"{chapter}-{preset}.csv"


class TableError(ValueError):
    """A verdict table that fails its checks (truncated, edited, not a table this package wrote)."""


def _header(body: bytes) -> bytes:
    """A table's first line: the marker and the SHA-256 of the csv below it, so a truncated or
    edited table is caught like a damaged cache entry."""
    return f"{TABLE_MARKER}; sha256 of the lines below: {hashlib.sha256(body).hexdigest()}\n".encode()


def save(table: pd.DataFrame, chapter: str, preset: str) -> None:
    """Write the chapter's table for ``preset`` to :func:`table_path`, whole or not at all, under
    a checksum line. Returns nothing, so that a chapter cell ending with it shows nothing."""
    if list(table.columns) != list(COLUMNS) or set(table.chapter) != {chapter}:
        raise ValueError(f"table must be verdict_table({chapter!r}, ...)'s output")
    path = table_path(chapter, preset)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = table.to_csv(index=False).encode()
    write_atomically(path, _header(body) + body)


def check_table(path: Path) -> bytes:
    """The csv body of the verdict table at ``path`` once its checksum holds; TableError otherwise,
    in one line naming the file and the fix."""
    first, _, body = path.read_bytes().partition(b"\n")
    if (first + b"\n") != _header(body):
        chapter = path.stem.rsplit("-", 1)[0]
        why = ("has no checksum line: not a table this version wrote" if not first.startswith(TABLE_MARKER.encode())
               else "fails its checksum (truncated or edited)")
        raise TableError(f"the verdict table {path} {why}; re-run its chapter (make chapter NAME={chapter})")
    return body


def load(chapter: str, preset: str) -> pd.DataFrame:
    """The chapter's latest table at ``preset``; a clear error when the chapter has not run or its
    table is damaged (TableError)."""
    path = table_path(chapter, preset)
    if not path.exists():
        raise FileNotFoundError(f"no verdicts of chapter {chapter!r} at preset {preset!r} ({path.name} in the "
                                f"result cache): run the chapter first, e.g. make chapter NAME={chapter}")
    body = check_table(path)
    table = pd.read_csv(io.BytesIO(body), keep_default_na=False,
                        na_values={c: [""] for c in NUMBERS})
    for column in NUMBERS:
        table[column] = pd.to_numeric(table[column]).astype(float)
    return table


def load_all(chapters, preset: str) -> pd.DataFrame:
    """Every chapter's latest table at ``preset``, in the order given."""
    return pd.concat([load(c, preset) for c in chapters], ignore_index=True)


def changed_parameters(table: pd.DataFrame, defaults) -> dict[str, object]:
    """The parameters a chapter's table was computed with that differ from ``defaults`` (a config)."""
    text = table.parameters.iloc[0] if len(table) else ""
    if not text:
        return {}
    used = json.loads(text)
    base = json.loads(parameters_json(defaults))
    return {k: v for k, v in used.items() if base.get(k) != v}


# --- the conclusion: every chapter's claims, side by side ------------------------------------------------

# The chapters whose verdicts the conclusion and the front page read, in reading order, by the
# short titles their tables and figure give them.
CHAPTER_TITLES = {"question": "The question", "linear": "Linear network", "snr": "SNR", "sample_size": "Sample size",
                  "dip": "Nonlinear regimes", "tracking": "Threshold tracking", "real_data": "Real data",
                  "decoupling": "Decoupling"}
ROBUSTNESS = "robustness: "  # the prefix of the robustness grid's settings (one per setup, every metric)


def _claim_rows(table: pd.DataFrame, robustness: bool) -> pd.DataFrame:
    rows = table[(table.case == ALL) & table.claim.isin(list(CLAIMS))]
    return rows[rows.setting.str.startswith(ROBUSTNESS) == robustness]


def main_metric_rows(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (chapter, setting, claim) of the three claims: the first saved, which is the
    chapter's main metric (a chapter saves its main metric's rows first), with ``agreeing``: how
    many of that cell's metrics reached the same verdict, and ``metrics``: how many were tested."""
    rows = _claim_rows(table, robustness=False)
    keys = ["chapter", "setting", "claim"]
    first = rows.groupby(keys, sort=False).head(1).set_index(keys)
    counted = rows.assign(same=rows.verdict.to_numpy() == first.verdict.reindex(
        pd.MultiIndex.from_frame(rows[keys])).to_numpy()).groupby(keys, sort=False)
    return first.assign(agreeing=counted.same.sum(), metrics=counted.size()).reset_index()


def verdict_counts(table: pd.DataFrame, claim: str, chapter_titles: dict[str, str]) -> pd.DataFrame:
    """How many settings of each chapter (rows: chapter titles, in the order given) got each
    verdict on ``claim`` (columns: ``claims.VERDICTS``), read on each setting's main metric
    (:func:`main_metric_rows`); chapters that do not test the claim are left out."""
    rows = main_metric_rows(table)
    rows = rows[rows.claim == claim]
    counts = pd.crosstab(rows.chapter, rows.verdict).reindex(columns=list(VERDICTS), fill_value=0)
    order = [c for c in chapter_titles if c in counts.index] + [c for c in counts.index if c not in chapter_titles]
    counts = counts.reindex(order)
    counts.index = [chapter_titles.get(c, c) for c in order]
    return counts.rename_axis("chapter").rename_axis(None, axis=1)


def tally(table: pd.DataFrame, claim: str, *, robustness: bool = False) -> dict[str, int]:
    """How many settings (main metric) or robustness cells (setup x metric) got each verdict."""
    rows = _claim_rows(table, robustness) if robustness else main_metric_rows(table)
    found = rows[rows.claim == claim].verdict.value_counts()
    return {v: int(found.get(v, 0)) for v in VERDICTS}


def tally_phrase(counts: dict[str, int], what: str = "settings") -> str:
    """'holds in 3 of 9 settings, holds partly in 2, fails in 1 and is undecided in 3', or
    'is undecided in all 36 settings' when every one has the same verdict."""
    total = sum(counts.values())
    parts = [f"{AS_PREDICATE[v]} in {n}" for v, n in counts.items() if n]
    if not parts:
        return f"was not tested in any of the {what}"
    if len(parts) == 1 and total > 1:
        verdict = next(v for v, n in counts.items() if n)
        return f"{AS_PREDICATE[verdict]} in {share_phrase(total, total, what)}"
    parts[0] += f" of {total} {what}"
    return listed(parts)


def settings_with(table: pd.DataFrame, claim: str, verdict: str, chapter_titles: dict[str, str]) -> str:
    """'setting (chapter title); ...' of the main-metric rows of ``claim`` with ``verdict``, or 'none'."""
    rows = main_metric_rows(table)
    rows = rows[(rows.claim == claim) & (rows.verdict == verdict)]
    return "; ".join(f"{r.setting} ({chapter_titles.get(r.chapter, r.chapter)})" for r in rows.itertuples()) or "none"


def coupling_rows(table: pd.DataFrame, *, robustness: bool = False) -> pd.DataFrame:
    """Claim 3's rows of the rank correlation across configurations (case ACROSS): of each
    setting's main metric (:func:`main_metric_rows`), or of every cell of the robustness grid."""
    rows = table[(table.claim == "dec") & (table.case == ACROSS)]
    rows = rows[rows.setting.str.startswith(ROBUSTNESS) == robustness]
    if robustness:
        return rows
    main = main_metric_rows(table)
    return rows.merge(main.loc[main.claim == "dec", ["chapter", "setting", "metric"]], on=["chapter", "setting",
                                                                                          "metric"])


def coupling_phrase(table: pd.DataFrame, chapter_titles: dict[str, str], *, robustness: bool = False) -> str:
    """How strongly alignment and test error go together across configurations, over the
    settings or the robustness cells (:func:`coupling_rows`), as the end of a sentence: 'ranges
    from ρ = −0.97 in <setting> (<chapter>) to ρ = −0.82 in ..., its interval over seeds
    excluding 0 in 5 of 6 settings'; a cell is '<setup> with <metric label>'. The intervals
    themselves are in the decoupling chapter's tables."""
    from .metrics import METRICS

    rows = coupling_rows(table, robustness=robustness).dropna(subset=["value"]).sort_values("value")
    if rows.empty:
        return "was not measured"
    what = "cells" if robustness else "settings"

    def stated(row) -> str:
        label = METRICS[row.metric].label if row.metric in METRICS else row.metric
        where = (f"{row.setting[len(ROBUSTNESS):]} with {label}" if robustness
                 else f"{row.setting} ({chapter_titles.get(row.chapter, row.chapter)})")
        return f"ρ = {rho_interval(row.value)} in {where}"  # the value alone: its interval is in the tables

    first, last = rows.iloc[0], rows.iloc[-1]
    span = f"is {stated(first)}" if len(rows) == 1 else f"ranges from {stated(first)} to {stated(last)}"
    measured = rows[rows.low.notna()]
    coupled = int((measured.verdict == COUPLED).sum())
    if measured.empty:
        return f"{span}, without an interval (too few seeds)"
    if len(rows) == 1:
        return f"{span}, its interval over seeds {'excluding' if coupled else 'including'} 0"
    missing = len(rows) - len(measured)
    return (f"{span}, its interval over seeds excluding 0 in {coupled} of {len(measured)} {what}"
            + (f" ({missing} without an interval: too few seeds)" if missing else ""))
