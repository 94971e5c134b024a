"""Argument checks (repalign.validate): what each accepts; refusals name the parameter and what it allows."""

import math

import numpy as np
import pytest

from repalign import validate


def refusal(check, *args, **kwargs) -> str:
    with pytest.raises(ValueError) as err:
        check(*args, **kwargs)
    return str(err.value)


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_integer_accepts_ints_and_returns_a_python_int(value):
    result = validate.integer("n", value, minimum=1)
    assert result == 3 and type(result) is int


@pytest.mark.parametrize("value", [True, 2.0, 2.5, "2", None, np.float64(2.0)])
def test_integer_refuses_what_is_not_an_integer(value):
    assert refusal(validate.integer, "n", value) == f"n must be an integer, got {value!r}"


def test_integer_bounds_and_none():
    assert refusal(validate.integer, "width", 0, minimum=1) == "width must be an integer >= 1, got 0"
    assert refusal(validate.integer, "k", 20, minimum=1, maximum=19) == "k must be an integer in [1, 19], got 20"
    assert refusal(validate.integer, "c", 9, maximum=8) == "c must be an integer <= 8, got 9"
    assert validate.integer("batch_size", None, minimum=1, allow_none="full batch") is None
    assert refusal(validate.integer, "batch_size", 0, minimum=1, allow_none="full batch") == \
        "batch_size must be None (full batch) or an integer >= 1, got 0"
    assert refusal(validate.integer, "d", None, minimum=1) == "d must be an integer >= 1, got None"


def test_owner_and_reason_appear_in_the_message():
    assert refusal(validate.integer, "members", 1, minimum=2, owner="Experiment") == \
        "Experiment.members must be an integer >= 2, got 1"
    assert refusal(validate.integer, "repeats", 1, minimum=2, why="a spread needs two") == \
        "repeats must be an integer >= 2 (a spread needs two), got 1"


@pytest.mark.parametrize("kwargs, phrase", [
    ({}, "a finite number"),
    ({"greater_than": 0}, "a finite positive number"),
    ({"greater_than": 0, "finite": False}, "a positive number (inf allowed)"),
    ({"at_least": 0}, "a finite number >= 0"),
    ({"greater_than": 2.5}, "a finite number > 2.5"),
    ({"at_most": 1}, "a finite number <= 1"),
    ({"greater_than": 0, "less_than": 1}, "a number in (0, 1)"),
    ({"at_least": 0, "less_than": 2 / 3}, "a number in [0, 0.6667)"),
])
def test_number_describes_its_range(kwargs, phrase):
    assert refusal(validate.number, "x", "?", **kwargs) == f"x must be {phrase}, got '?'"


def test_number_accepts_numbers_in_range_and_returns_a_float():
    assert validate.number("lr", 1, greater_than=0) == 1.0 and type(validate.number("lr", 1)) is float
    assert validate.number("x", np.float32(0.5), greater_than=0, less_than=1) == 0.5
    assert validate.number("snr", math.inf, greater_than=0, finite=False) == math.inf
    assert validate.number("scale", None, greater_than=0, allow_none=True) is None
    for bad in (math.nan, math.inf, True, "1", None):
        with pytest.raises(ValueError, match="lr must be a finite positive number"):
            validate.number("lr", bad, greater_than=0)
    with pytest.raises(ValueError, match=r"x must be a number in \(0, 1\), got 1"):
        validate.number("x", 1, greater_than=0, less_than=1)  # open bounds exclude the ends
    assert validate.number("x", 1, at_least=0, at_most=1) == 1.0  # closed bounds include them


def test_snr_and_probability():
    assert validate.snr("snr", math.inf) == math.inf and validate.snr("snr", 0.1) == 0.1
    for bad in (0, -1.0, math.nan, -math.inf):
        assert refusal(validate.snr, "snr", bad) == f"snr must be a positive number (inf allowed), got {bad!r}"
    assert validate.probability("flip", 0) == 0.0 and validate.probability("flip", 1) == 1.0
    assert refusal(validate.probability, "flip", 1.5) == "flip must be a probability in [0, 1], got 1.5"


def test_flag():
    assert validate.flag("shared", np.bool_(True)) is True and validate.flag("shared", False) is False
    for bad in (1, 0, "yes", None):
        assert refusal(validate.flag, "shared", bad) == f"shared must be True or False, got {bad!r}"


def test_choice_lists_the_allowed_values():
    assert validate.choice("model", "mlp", ("linear", "mlp")) == "mlp"
    assert refusal(validate.choice, "model", "cnn", ("linear", "mlp")) == \
        "model must be one of ('linear', 'mlp'), got 'cnn'"
    with pytest.raises(ValueError, match="model must be one of"):
        validate.choice("model", np.array(["mlp"]), ("linear", "mlp"))  # an array is not a name
    assert refusal(validate.choice, "kind", 1, ("1", "2")).startswith("kind must be one of")  # names compare as strings
    assert validate.choice("depth", 2, (1, 2)) == 2


def test_names_are_a_non_empty_tuple_from_the_allowed_ones():
    allowed = ("labels", "inputs")
    assert validate.names("noises", ["inputs", "labels"], allowed) == ("inputs", "labels")
    message = "noises must be a non-empty tuple of distinct names from ('labels', 'inputs'), got"
    for bad in ((), ("labels", "labels"), ("labels", "weights"), "labels"):
        assert refusal(validate.names, "noises", bad, allowed).startswith(message)
    assert validate.names("metrics", ("cka", "cka"), ("cka",), distinct=False) == ("cka", "cka")


def test_numbers_counts_and_bounds_every_entry():
    assert validate.numbers("snrs", [1, math.inf], count=2, distinct=True, greater_than=0, finite=False) == \
        (1.0, math.inf)
    assert refusal(validate.numbers, "snrs", (1.0, 1.0), count=2, distinct=True, greater_than=0, finite=False) == \
        "snrs must hold at least two distinct positive numbers (inf allowed), got (1.0, 1.0)"
    assert refusal(validate.numbers, "ridges", (), greater_than=0) == \
        "ridges must hold at least one finite positive number, got ()"
    assert refusal(validate.numbers, "ratios", (1.0, -1.0, 2.0), count=3, greater_than=0).startswith(
        "ratios must hold at least three finite positive numbers")
    with pytest.raises(ValueError, match="at least 7"):
        validate.numbers("x", (1.0,), count=7)


def test_predicates():
    assert validate.is_integer(np.int32(1)) and not validate.is_integer(True) and not validate.is_integer(1.0)
    assert validate.is_number(np.float16(1)) and validate.is_number(math.nan) and not validate.is_number(np.bool_(1))
    assert validate.label("snr") == "snr" and validate.label("snr", "Experiment") == "Experiment.snr"
