"""Request bodies to DataFrames of the features by name: every refusal names the field and the record."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carolbatch.online.records import (RequestError, body_limit, category_numbers, parse_body, read_records,
                                        records_to_frame)

COLUMNS = ("b", "a", "c")


def record(**values) -> dict:
    return {"a": 1.0, "b": 2, "c": -3.5, **values}


def refusal(payload, max_records: int = 10) -> RequestError:
    with pytest.raises(RequestError) as caught:
        records_to_frame(payload, COLUMNS, max_records)
    return caught.value


def test_one_record_or_a_list_become_rows_of_named_features():
    assert records_to_frame(record(), COLUMNS, 10).to_numpy().tolist() == [[2.0, 1.0, -3.5]]
    frame = records_to_frame([record(), record(a=7)], COLUMNS, 10)
    assert list(frame.columns) == list(COLUMNS) and (frame.dtypes == np.float64).all()
    assert frame.to_numpy().tolist() == [[2.0, 1.0, -3.5], [2.0, 7.0, -3.5]]


def test_a_null_is_a_blank_and_categories_are_text():
    frame = records_to_frame([record(c=None, b="north"), record(b=None), record(b=3.0)], COLUMNS, 10, ("b",))
    assert np.isnan(frame["c"][0]) and frame["c"].dtype == np.float64
    assert frame["b"][0] == "north" and pd.isna(frame["b"][1]) and frame["b"][2] == "3"
    assert records_to_frame([record(b=2.5)], COLUMNS, 10, ("b",))["b"][0] == "2.5"
    for value in (True, [1], {"x": 1}):
        error = refusal_with([record(), record(b=value)], ("b",))
        assert (error.field, error.record) == ("b", 1) and "not a category" in str(error)


def test_a_category_sent_as_a_number_is_the_known_category_it_equals():
    known = {"b": category_numbers(["1", "24.0", "north", "007", "7", "1e400"])}
    values = [1, 1.0, "1", 24, 24.0, "24", 7, "7", "007", "01", 3, "north"]
    records = read_records([record(b=value) for value in values], COLUMNS, 20, ("b",), known)
    # Numbers meet the known text equal to them; text stays exactly as written; "007" and "7" are both numbers 7,
    # so a 7 sent as a number is the text "7", and "01" is not "1".
    assert list(records.categories["b"]) == ["1", "1", "1", "24.0", "24.0", "24", "7", "7", "007", "01", "3", "north"]


def test_an_unknown_key_is_never_echoed_in_full():
    error = refusal_with([{**record(), "x" * 3_000_000: 1}], ())
    assert len(str(error)) < 400 and len(error.field) < 100 and "3000000 characters" in str(error)


def refusal_with(payload, categorical_columns) -> RequestError:
    with pytest.raises(RequestError) as caught:
        records_to_frame(payload, COLUMNS, 10, categorical_columns)
    return caught.value


@pytest.mark.parametrize("payload, field, index, words", [
    ([record(), {"a": 1, "b": 2}], "c", 1, "'c' is missing"),
    ([record(d=1)], "d", 0, "'d' is not a feature"),
    ([record(), record(), record(b="2.5")], "b", 2, "not a number"),
    ([record(a=True)], "a", 0, "not a number"),
    ([record(c="")], "c", 0, "not a number"),
    ([record(a=float("nan"))], "a", 0, "not a finite number"),
    ([record(), record(c=float("inf"))], "c", 1, "not a finite number"),
    ([record(b=10 ** 400)], "b", 0, "not a finite number"),
    ([record(), [1, 2, 3]], None, 1, "not a JSON object"),
])
def test_bad_records_are_refused_naming_field_and_index(payload, field, index, words):
    error = refusal(payload)
    assert (error.field, error.record) == (field, index) and words in str(error)
    assert f"record {index}" in str(error) and "\n" not in str(error)
    assert error.as_json() == {"error": str(error), "field": field, "record": index}


def test_too_many_records_names_the_limit_and_the_setting():
    error = refusal([record()] * 4, max_records=3)
    assert error.field == "records" and "4 records" in str(error) and "at most 3" in str(error)
    assert "max_request_records" in str(error)
    assert records_to_frame([record()] * 3, COLUMNS, 3).shape == (3, 3)


@pytest.mark.parametrize("payload, words", [([], "empty"), ("text", "got str"), (3, "got int"), (None, "NoneType")])
def test_bodies_that_are_not_records_are_refused(payload, words):
    assert words in str(refusal(payload))


@pytest.mark.parametrize("body", [b"", b"  \n", b"{not json", b'{"a": 1', b"\xff\xfe"])
def test_bodies_that_are_not_json_are_refused(body):
    with pytest.raises(RequestError) as caught:
        parse_body(body, 10, 3)
    assert caught.value.field is None and "\n" not in str(caught.value)


def test_json_nan_literal_parses_and_is_then_refused_as_not_finite():
    payload = parse_body(b'{"a": NaN, "b": 1, "c": 2}', 10, 3)
    assert refusal(payload).field == "a"


@given(st.lists(st.fixed_dictionaries({name: st.floats(allow_nan=False, allow_infinity=False, width=64)
                                       for name in COLUMNS}), min_size=1, max_size=20))
def test_any_finite_records_round_trip_through_json_exactly(records):
    frame = records_to_frame(json.loads(json.dumps(records)), COLUMNS, 20)
    assert frame.to_numpy().tolist() == [[float(item[name]) for name in COLUMNS] for item in records]


def parse_refusal(body: bytes, max_records: int = 10) -> RequestError:
    with pytest.raises(RequestError) as caught:
        parse_body(body, max_records, len(COLUMNS))
    assert "\n" not in str(caught.value)
    return caught.value


def test_records_over_the_limit_are_refused_while_parsing():
    assert len(parse_body(json.dumps([record()] * 10).encode(), 10, 3)) == 10
    assert "over 10 records" in str(parse_refusal(json.dumps([record()] * 11).encode()))
    error = parse_refusal(b"[" + b",".join([b"{}"] * 2_000_000) + b"]", max_records=10_000)
    assert error.field == "records" and "more than 10000 records" in str(error)


@pytest.mark.parametrize("body, words", [
    (b"[" * 100_000 + b"]" * 100_000, "objects or lists"),
    (b'{"a": ' + b"[" * 30 + b"]" * 30 + b"}", None),  # few containers: parsed, refused as not a number later
    (b"[" + b"1," * 200 + b"1]", "values"),
])
def test_nesting_and_scalars_are_bounded_before_parsing(body, words):
    if words is None:
        assert isinstance(parse_body(body, 10, 3)["a"], list)
    else:
        assert words in str(parse_refusal(body))


def test_deep_nesting_within_the_container_allowance_is_refused_as_nested_too_deeply():
    assert "nested too deeply" in str(parse_refusal(b"[" * 5000 + b"]" * 5000, max_records=2000))


def test_integers_become_floats_and_a_5000_digit_one_is_not_finite():
    payload = parse_body(b'{"a": 1, "b": 2, "c": ' + b"9" * 5000 + b"}", 10, 3)
    assert payload["a"] == 1.0 and type(payload["a"]) is float
    assert refusal(payload).field == "c"


def test_body_limit_grows_with_records_and_feature_names():
    assert body_limit(COLUMNS, 10) < body_limit(COLUMNS, 20) < body_limit(COLUMNS + ("a_long_name" * 5,), 20)
    assert len(json.dumps([record(a=-1.2345678901234567e-300)] * 100, indent=4).encode()) < body_limit(COLUMNS, 100)
