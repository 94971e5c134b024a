"""Reader-facing tables: values as a reader writes them, no index, comments as meanings."""

import dataclasses
import math

import pandas as pd

from repalign.presets import LinearConfig
from repalign.report import RUNNER_SETTINGS, field_notes, format_p, format_value, p_equals, reader_table, setup_table


def test_values_read_as_written():
    assert format_value(math.inf) == "∞"
    assert format_value(0.25) == "0.25"
    assert format_value(1 / 3, digits=2) == "0.33"
    assert format_value((0.5, 2.0, math.inf)) == "0.5, 2, ∞"
    assert format_value(True) == "yes" and format_value(7) == "7"
    assert format_value(None) == "—" and format_value(math.nan) == "—"
    # never e-notation: large numbers in full, small ones with a power of ten
    assert format_value(43035.0) == "43,035" and format_value(1.234e-5, digits=2) == "1.2×10⁻⁵"
    assert format_value(-2.5e-7) == "-2.5×10⁻⁷" and format_value(0.00123) == "0.00123"


def test_p_values_read_as_a_paper_prints_them():
    assert format_p(8.4e-05) == "< 0.001" and format_p(0.001) == "0.001" and format_p(0.0263) == "0.026"
    assert format_p(1.0) == "1" and format_p(math.nan) == "—" and format_p(None) == "—" and format_p("n/a") == "n/a"
    frame = pd.DataFrame({"p": [3.9e-09, 0.62], "p_inside": [0.5, 1e-6], "rho": [1e-6, 0.5]})
    html = reader_table(frame, {"p": "p", "p_inside": "p near", "rho": "ρ"}).to_html().replace(" >", ">")
    assert html.count(">&lt; 0.001<") == 2 and ">0.62<" in html and ">1×10⁻⁶<" in html
    assert ">a<br>b<" in reader_table(pd.DataFrame({"cell": ["a<br>b"]})).to_html().replace(" >", ">")
    assert p_equals(0.0263) == "p = 0.026" and p_equals(8.4e-05) == "p < 0.001"


def test_tables_write_symbols_as_the_notation_page_does():
    frame = pd.DataFrame({"ratio": [0.5], "where": ["N = 0.9 N_ref"]})
    html = reader_table(frame, {"ratio": "N/N_ref", "where": "at"}).to_html().replace(" >", ">")
    assert ">N/N<sub>ref</sub><" in html and ">N = 0.9 N<sub>ref</sub><" in html and "N_ref" not in html


def test_field_notes_are_the_comments_of_the_fields():
    notes = field_notes(LinearConfig)
    assert notes["d"] == "input dimension D"
    assert set(notes) <= {f.name for f in dataclasses.fields(LinearConfig)}


def test_setup_table_lists_every_value_used_but_the_runners_without_index():
    cfg = LinearConfig.from_preset("smoke")
    html = setup_table(cfg).to_html()
    for f in dataclasses.fields(cfg):
        assert (f">{f.name}<" in html.replace(" >", ">")) == (f.name not in RUNNER_SETTINGS), f.name
    assert ">0.5, 2, 3<" in html.replace(" >", ">")  # the smoke alphas, formatted
    assert "row_heading" not in html and "None" not in html


def test_reader_table_keeps_and_renames_only_the_named_columns():
    frame = pd.DataFrame({"rho": [0.12345, -1.0], "n": [3, 4], "hidden": ["x", "y"]}, index=[7, 9])
    html = reader_table(frame, {"rho": "Spearman ρ", "n": "configurations"}, digits=2).to_html()
    assert "Spearman ρ" in html and "configurations" in html and "hidden" not in html
    assert ">0.12<" in html.replace(" >", ">") and "row_heading" not in html
