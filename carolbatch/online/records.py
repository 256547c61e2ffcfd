"""The body of a /predict request turned into a DataFrame of the model's features by name, or one error naming the
field and record."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

_NUMBER_TYPES = (int, float)


class RequestError(ValueError):
    """A request the server refuses: `field` and `record` (its index) name what is wrong, when known."""

    def __init__(self, message: str, field: str | None = None, record: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.record = record

    def as_json(self) -> dict[str, Any]:
        return {"error": str(self), "field": self.field, "record": self.record}


# A record is one flat JSON object: a body holds about one container (`{` or `[`) per record and one value
# per feature. These allowances are generous (a feature name may itself hold a bracket or a comma); a body far
# beyond them is refused before it is parsed, so parsing never holds more than a few records' worth of values.
CONTAINERS_PER_RECORD = 4
VALUES_PER_FEATURE = 2
# Room per feature in a body: its name and a number written out in full, with indentation (13 features of a
# few letters take about 400 bytes written compactly).
BODY_BYTES_PER_FEATURE = 48
BODY_BYTES_PER_RECORD = 64


def body_limit(feature_columns: Sequence[str], max_records: int) -> int:
    """The most bytes a body of `max_records` records of these features may take (generously)."""
    per_record = BODY_BYTES_PER_RECORD + sum(len(name.encode()) + BODY_BYTES_PER_FEATURE for name in feature_columns)
    return max_records * per_record + 4096


def parse_body(body: bytes, max_records: int, feature_count: int) -> Any:
    """The JSON value of a request body, refused as soon as it holds more than `max_records` records.

    Integers are read as floats (a 5,000-digit one becomes infinity, refused later as not finite).

    Raises:
        RequestError: the body is empty, not JSON, nested too deeply, or holds more records or values than
            `max_records` records of `feature_count` features.
    """
    if not body.strip():
        raise RequestError("request body is empty: send a JSON object or a list of JSON objects")
    _check_size_of_parts(body, max_records, feature_count)
    objects = 0

    def count_record(record: dict) -> dict:
        nonlocal objects
        objects += 1
        if objects > max_records:
            raise _too_many_records(f"over {max_records}", max_records)
        return record

    try:
        return json.loads(body, object_hook=count_record, parse_int=float)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestError(f"request body is not JSON: {error}") from None
    except RecursionError:
        raise RequestError("request body is nested too deeply: send a list of flat JSON objects") from None


def _check_size_of_parts(body: bytes, max_records: int, feature_count: int) -> None:
    containers = body.count(b"{") + body.count(b"[")
    if containers > CONTAINERS_PER_RECORD * (max_records + 1):
        raise RequestError(f"request body holds {containers} objects or lists, more than {max_records} records "
                           f"can (setting max_request_records)", field="records")
    values = body.count(b",") + 1
    if values > VALUES_PER_FEATURE * (max_records + 1) * (feature_count + 1):
        raise RequestError(f"request body holds {values} values, more than {max_records} records of "
                           f"{feature_count} features can (setting max_request_records)", field="records")


def _too_many_records(count: str, max_records: int) -> RequestError:
    return RequestError(f"{count} records in one request, at most {max_records} allowed "
                        f"(setting max_request_records)", field="records")


def records_to_frame(payload: Any, feature_columns: Sequence[str], max_records: int,
                     categorical_columns: Sequence[str] = ()) -> pd.DataFrame:
    """The records of a request (one JSON object or a list of them) as a DataFrame of the features by name.

    A numeric feature is a number or null (a blank, which the model imputes); a categorical one is a text, a
    whole number (taken as its text) or null.

    Args:
        payload: the parsed JSON body.
        feature_columns: the model's features.
        max_records: the most records one request may hold.
        categorical_columns: the features holding categories.

    Returns:
        float64 columns for numeric features, object columns of text (NaN for null) for categorical ones.

    Raises:
        RequestError: not an object or list, no records, too many, a record not an object, a feature
            missing or unknown, a numeric value not a finite number, a category not a text.
    """
    records = [payload] if isinstance(payload, dict) else payload
    if not isinstance(records, list):
        raise RequestError(f"expected a JSON object or a list of JSON objects, got {type(payload).__name__}")
    if not records:
        raise RequestError("no records: the list is empty")
    if len(records) > max_records:
        raise _too_many_records(str(len(records)), max_records)
    expected = set(feature_columns)
    numeric = [name for name in feature_columns if name not in categorical_columns]
    matrix = np.empty((len(records), len(numeric)), dtype="float64")
    categories = {name: np.empty(len(records), dtype=object) for name in categorical_columns}
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise RequestError(f"record {index} is not a JSON object", record=index)
        if record.keys() != expected:
            _raise_key_error(record, feature_columns, index)
        matrix[index] = _record_values(record, numeric, index)
        for name, values in categories.items():
            values[index] = _category(record[name], name, index)
    columns = {**{name: matrix[:, position] for position, name in enumerate(numeric)}, **categories}
    return pd.DataFrame({name: columns[name] for name in feature_columns}, copy=False)


def _category(value: Any, name: str, index: int) -> Any:
    if value is None:
        return np.nan
    if isinstance(value, str):
        return value
    # parse_body reads integers as floats: a whole number is the text of the integer it was sent as.
    if type(value) in _NUMBER_TYPES and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    raise RequestError(f"record {index}: feature {name!r} is {json.dumps(value)[:40]}, not a category (a text)",
                       field=name, record=index)


def _record_values(record: dict, feature_columns: Sequence[str], index: int) -> list[float]:
    values = [record[name] for name in feature_columns]
    for name, value in zip(feature_columns, values):
        if value is not None and type(value) not in _NUMBER_TYPES:  # bool is an int subclass, not a number here
            raise RequestError(f"record {index}: feature {name!r} is {json.dumps(value)[:40]}, not a number",
                               field=name, record=index)
    present = [(name, value) for name, value in zip(feature_columns, values) if value is not None]
    try:
        floats = [float(value) for _, value in present]
    except OverflowError:
        floats = [math.inf]
    if not all(map(math.isfinite, floats)):
        name = next(name for name, value in present if not _finite(value))
        raise RequestError(f"record {index}: feature {name!r} is not a finite number", field=name, record=index)
    return [math.nan if value is None else float(value) for value in values]


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _raise_key_error(record: dict, feature_columns: Sequence[str], index: int) -> None:
    missing = [name for name in feature_columns if name not in record]
    if missing:
        raise RequestError(f"record {index}: feature {missing[0]!r} is missing", field=missing[0], record=index)
    extra = sorted(str(name) for name in record if name not in set(feature_columns))
    raise RequestError(f"record {index}: {extra[0]!r} is not a feature of the model (features: "
                       f"{', '.join(feature_columns)})", field=extra[0], record=index)
