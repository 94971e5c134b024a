"""Chapter configurations: presets, overrides and the type checks shared with the CLI."""

import math
from typing import Literal

import numpy as np
import pytest

from repalign import book, paths
from repalign.config import coerce
from repalign.presets import (CHAPTERS, PRESET_NAMES, DecouplingConfig, LinearConfig, QuestionConfig,
                              RealDataConfig, SampleSizeConfig, SNRConfig)


def test_paper_is_the_default_and_smoke_is_smaller():
    assert QuestionConfig.from_preset("paper") == QuestionConfig()
    smoke = QuestionConfig.from_preset("smoke")
    assert smoke.n_alpha < QuestionConfig().n_alpha


def test_none_overrides_keep_the_preset():
    assert QuestionConfig.from_preset("smoke", snrs=None) == QuestionConfig.from_preset("smoke")
    assert QuestionConfig.from_preset("smoke", snrs=[2, 8]).snrs == (2.0, 8.0)


def test_unknown_preset_and_parameter_are_named():
    with pytest.raises(ValueError, match="preset must be one of"):
        QuestionConfig.from_preset("huge")
    with pytest.raises(ValueError, match="(?s)'snr'.*the parameters are.*snrs"):
        QuestionConfig.from_preset("paper", snr=[1.0])


@pytest.mark.parametrize("value, annotation, expected", [
    (3, float, 3.0), (2.5, float, 2.5), (float("inf"), float, float("inf")), (3, int, 3),
    ([1, 2.5], tuple[float, ...], (1.0, 2.5)), ("smoke", Literal["paper", "smoke"], "smoke"),
    (True, bool, True), ("x", str, "x"), (np.int64(3), int, 3), (np.float32(0.5), float, 0.5),
])
def test_coerce_accepts_lossless_conversions(value, annotation, expected):
    assert coerce("p", value, annotation) == expected


@pytest.mark.parametrize("value, annotation", [
    ("3", float), (True, float), (2.5, int), (True, int), ("abc", tuple[float, ...]),
    ([1, "a"], tuple[float, ...]), ("huge", Literal["paper", "smoke"]), (1, bool), (None, float),
])
def test_coerce_rejects_and_names_the_parameter(value, annotation):
    with pytest.raises(TypeError, match=r"parameter 'p(\[\d\])?' must be"):
        coerce("p", value, annotation)


@pytest.mark.parametrize("name, kwargs", [
    ("snrs", {"snrs": ()}), ("snrs", {"snrs": (1.0, -2.0)}), ("snrs", {"snrs": (2.0, 2.0)}),
    ("alpha_min", {"alpha_min": 0.0}), ("alpha_max", {"alpha_max": float("inf")}), ("spike_d", {"spike_d": 3}),
    ("alpha_min", {"alpha_min": 5.0, "alpha_max": 2.0}), ("n_alpha", {"n_alpha": 1}),
    ("snr_example", {"snr_example": float("inf")}), ("alpha_example", {"alpha_example": 1.5}),
])
def test_bad_values_are_refused(name, kwargs):
    with pytest.raises(ValueError, match=name):
        QuestionConfig.from_preset("paper", **kwargs)


def test_every_chapter_is_registered_in_the_toc_and_matches_its_parameters_cell():
    """The chapter's parameters cell lists exactly `preset` and its configuration's fields."""
    toc = (paths.book_root() / "_toc.yml").read_text()
    files = book.chapter_files()
    assert set(files) == set(CHAPTERS)
    for name, path in files.items():
        assert f"file: chapters/{name}" in toc
        names = book.parameters_cell_names(book.read_chapter(path))
        assert names == ["preset", *CHAPTERS[name].parameters()], name


def test_every_preset_of_every_chapter_builds():
    for config in CHAPTERS.values():
        for preset in PRESET_NAMES:
            config.from_preset(preset)


@pytest.mark.parametrize("config, kwargs, message", [
    (LinearConfig, {"repeats": 1}, "repeats must be an integer >= 2 (a spread needs two), got 1"),
    (SNRConfig, {"members": 2}, "members must be an integer >= 3 (a jackknife needs three), got 2"),
    (SNRConfig, {"n_classes": 17}, "n_classes must be an integer <= 16"),
    (SNRConfig, {"networks": ("linear", "cnn")}, "networks must be a non-empty tuple of distinct names from"),
    (SampleSizeConfig, {"widths": (4, 4)}, "widths must be at least two distinct integers >= 1"),
    (SampleSizeConfig, {"n_ratios": (1.0, 2.0)}, "n_ratios must hold at least three distinct finite positive"),
    (DecouplingConfig, {"alphas": (0.5, 1.0, 2.0)}, "other than N = d (d = 40)"),
    (DecouplingConfig, {"alphas": (0.5, 0.8, 0.9)}, "some below 1 and some above 1"),
    (LinearConfig, {"alphas": (0.5, 2.0)}, "alphas must hold at least three"),
    (DecouplingConfig, {"ridge": math.inf}, "ridge must be a finite positive number, got inf"),
    (LinearConfig, {"ridges": ()}, "ridges must hold at least one finite positive number, got ()"),
])
def test_refusals_name_the_field_and_what_it_allows(config, kwargs, message):
    with pytest.raises(ValueError) as err:
        config.from_preset("paper", **kwargs)
    assert message in str(err.value)


# --- the real-data chapter -----------------------------------------------------------------------


def test_real_data_is_registered_and_smoke_uses_the_scikit_learn_sets():
    assert CHAPTERS["real_data"] is RealDataConfig
    smoke = RealDataConfig.from_preset("smoke")
    assert (smoke.class_sets, smoke.reg_sets) == (("digits",), ("diabetes",))
    assert RealDataConfig.from_preset("paper") == RealDataConfig()
    assert (RealDataConfig().class_sets, RealDataConfig().reg_sets) == (("mnist-3-5",), ("concrete", "diamonds"))


@pytest.mark.parametrize("kwargs, name", [
    ({"class_d": 1}, "class_d"), ({"class_d": 785}, "class_d"), ({"class_sets": ("digits",), "class_d": 65}, "class_d"),
    ({"members": 2}, "members"), ({"repeats": 1}, "repeats"), ({"reg_width": 0}, "reg_width"),
    ({"n_ratios": (0.5, 1.0)}, "n_ratios"), ({"snr_ratios": ()}, "snr_ratios"), ({"snrs": (1.0,)}, "snrs"),
    ({"noises": ("labels", "labels")}, "noises"), ({"snr": 0.0}, "snr"), ({"boot": 5}, "boot"),
    ({"flip": 0.5}, "flip"), ({"snr_repeats": 1}, "snr_repeats"), ({"tol": 0.0}, "tol"), ({"n_probe": 5}, "n_probe"),
    ({"class_sets": ()}, "class_sets"), ({"reg_sets": ("concrete", "concrete")}, "reg_sets"),
])
def test_real_data_bad_values_are_refused(kwargs, name):
    with pytest.raises(ValueError, match=name):
        RealDataConfig.from_preset("paper", **kwargs)


def test_an_unknown_real_data_set_is_a_type_error():
    with pytest.raises(TypeError, match="class_sets"):
        RealDataConfig.from_preset("paper", class_sets=("cifar10",))


def test_the_chapters_metric_parameter_allows_every_registered_metric():
    import typing

    from repalign.metrics import METRICS
    from repalign.presets import _METRIC_NAMES

    assert set(typing.get_args(_METRIC_NAMES)) == set(METRICS)
    assert SampleSizeConfig.from_preset("smoke", metric="information_imbalance").metric == "information_imbalance"
