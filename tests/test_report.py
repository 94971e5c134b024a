"""Reader-facing tables: values as a reader writes them, no index, comments as meanings."""

import dataclasses
import math

import pandas as pd

from repalign.presets import LinearConfig
from repalign.report import field_notes, format_value, reader_table, setup_table


def test_values_read_as_written():
    assert format_value(math.inf) == "∞"
    assert format_value(0.25) == "0.25"
    assert format_value(1 / 3, digits=2) == "0.33"
    assert format_value((0.5, 2.0, math.inf)) == "0.5, 2, ∞"
    assert format_value(True) == "yes" and format_value(7) == "7"
    assert format_value(None) == "—" and format_value(math.nan) == "—"


def test_field_notes_are_the_comments_of_the_fields():
    notes = field_notes(LinearConfig)
    assert notes["d"] == "input dimension D"
    assert set(notes) <= {f.name for f in dataclasses.fields(LinearConfig)}


def test_setup_table_lists_every_value_used_without_index():
    cfg = LinearConfig.from_preset("smoke")
    html = setup_table(cfg).to_html()
    for f in dataclasses.fields(cfg):
        assert f">{f.name}<" in html.replace(" >", ">")
    assert ">0.5, 2, 3<" in html.replace(" >", ">")  # the smoke alphas, formatted
    assert "row_heading" not in html and "None" not in html


def test_reader_table_keeps_and_renames_only_the_named_columns():
    frame = pd.DataFrame({"rho": [0.12345, -1.0], "n": [3, 4], "hidden": ["x", "y"]}, index=[7, 9])
    html = reader_table(frame, {"rho": "Spearman ρ", "n": "configurations"}, digits=2).to_html()
    assert "Spearman ρ" in html and "configurations" in html and "hidden" not in html
    assert ">0.12<" in html.replace(" >", ">") and "row_heading" not in html
