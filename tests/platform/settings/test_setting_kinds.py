from __future__ import annotations

import math

import pytest

from carolbatch.settings.kinds import Flag, Names, Real, Text, Whole, is_unset


@pytest.mark.parametrize("value, expected", [
    ("size, kind", ("size", "kind")),
    ('["size", "kind"]', ("size", "kind")),
    (["size", "kind"], ("size", "kind")),
    (("size",), ("size",)),
])
def test_names_accept_comma_separated_text_a_json_array_or_a_list(value, expected):
    assert Names().parse(value) == expected


@pytest.mark.parametrize("value", ['["size", "size"]', '["size", ""]', "", "a,,b", '[]'])
def test_names_refuse_empty_or_repeated_names(value):
    with pytest.raises(ValueError, match="distinct, non-empty"):
        Names().parse(value)


def test_text_that_only_looks_like_json_stays_text():
    assert Names().parse("[size") == ("[size",)


@pytest.mark.parametrize("value, expected", [("5", 5), (5, 5), (5.0, 5), (" 7 ", 7)])
def test_whole_numbers_come_as_numbers_or_text(value, expected):
    assert Whole(1).parse(value) == expected


@pytest.mark.parametrize("value", [5.5, "5.5", True, "x", 0])
def test_whole_numbers_refuse_fractions_booleans_text_and_out_of_bounds(value):
    with pytest.raises(ValueError, match="whole number >= 1"):
        Whole(1).parse(value)


@pytest.mark.parametrize("kind, allowed", [
    (Real(0.0), "a number >= 0"),
    (Real(0.0, 1.0, low_open=True, high_open=True), "a number > 0 and < 1"),
    (Real(-math.inf, 1.0), "a number <= 1"),
    (Real(), "a number"),
])
def test_real_describes_its_bounds(kind, allowed):
    assert kind.allowed == allowed


def test_real_takes_numbers_and_text_and_refuses_out_of_bounds_and_nan():
    kind = Real(0.0, 1.0, low_open=True, high_open=True)
    assert kind.parse(0.5) == 0.5 and kind.parse(" 0.25 ") == 0.25
    for bad in (0, 1, "nan", "inf", True, "x"):
        with pytest.raises(ValueError):
            kind.parse(bad)


@pytest.mark.parametrize("value, expected", [(True, True), ("false", False), ("YES", True), (0, False), ("1", True)])
def test_flags_come_as_booleans_numbers_or_text(value, expected):
    assert Flag().parse(value) is expected


def test_flags_refuse_anything_else():
    with pytest.raises(ValueError, match="true or false"):
        Flag().parse("maybe")


def test_text_must_not_be_blank():
    assert Text().parse(" app ") == "app"
    with pytest.raises(ValueError, match="non-empty"):
        Text().parse("  ")


def test_unset_values():
    assert all(is_unset(value) for value in (None, "", " ", "None", "null"))
    assert not any(is_unset(value) for value in (0, "0", False, "x"))


@pytest.mark.parametrize("value", [{"a": 1}, '{"a": 1}', [["size"], "kind"], '[["size"], "kind"]', [{"a": 1}],
                                   '[true, "size"]', [None, "size"]])
def test_a_table_or_nested_list_is_not_a_column_name(value):
    with pytest.raises(ValueError, match="column names"):
        Names().parse(value)
