"""The body of a /predict request turned into a DataFrame of the model's features by name, or one error naming the
field and record."""

from __future__ import annotations

import itertools
import json
import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from carolbatch.online.compiled import Records

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
    """The records of a request as a DataFrame of the features by name (see `read_records`)."""
    return read_records(payload, feature_columns, max_records, categorical_columns).frame()


def read_records(payload: Any, feature_columns: Sequence[str], max_records: int,
                 categorical_columns: Sequence[str] = (),
                 category_numbers: Mapping[str, Mapping[float, str]] | None = None) -> Records:
    """The records of a request (one JSON object or a list of them) as arrays of the features.

    A numeric feature is a number or null (a blank, which the model imputes); a categorical one is a text (kept
    exactly as written), a number or null. A number is the known category it equals (`1` and `1.0` are the
    trained category "1", or "1.0" if that is the one trained; `category_numbers` maps a column's numbers to its
    known categories), else the text of the number (`24` is "24").

    Args:
        payload: the parsed JSON body.
        feature_columns: the model's features.
        max_records: the most records one request may hold.
        categorical_columns: the features holding categories.
        category_numbers: by categorical column, each known category that is a number, by its value.

    Returns:
        float64 numeric features (NaN for null), in feature order; categories as text (None for null).

    Raises:
        RequestError: not an object or list, no records, too many, a record not an object, a feature
            missing or unknown, a numeric value not a finite number, a category neither a text nor a number.
    """
    records = [payload] if isinstance(payload, dict) else payload
    if not isinstance(records, list):
        raise RequestError(f"expected a JSON object or a list of JSON objects, got {type(payload).__name__}")
    if not records:
        raise RequestError("no records: the list is empty")
    if len(records) > max_records:
        raise _too_many_records(str(len(records)), max_records)
    expected = set(feature_columns)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise RequestError(f"record {index} is not a JSON object", record=index)
        if record.keys() != expected:
            _raise_key_error(record, feature_columns, index)
    numeric = [name for name in feature_columns if name not in categorical_columns]
    numbers = category_numbers or {}
    categories = {name: [_category(record[name], name, index, numbers.get(name))
                         for index, record in enumerate(records)] for name in categorical_columns}
    return Records(_numeric_matrix(records, numeric), categories, tuple(feature_columns))


def _numeric_matrix(records: list[dict], numeric: list[str]) -> np.ndarray:
    """The numeric features of `records` as a float64 matrix (NaN for null), read at once when every value is a
    float (as parse_body reads numbers) or null and finite, else record by record to name the one refused."""
    if not numeric:
        return np.empty((len(records), 0), dtype="float64")
    get = operator.itemgetter(*numeric)
    rows = [get(record) for record in records] if len(numeric) > 1 else [(record[numeric[0]],) for record in records]
    if set(map(type, itertools.chain.from_iterable(rows))) <= {float, type(None)}:
        matrix = np.array(rows, dtype="float64")  # null becomes NaN
        blanks = sum(row.count(None) for row in rows)
        if int(np.isfinite(matrix).sum()) + blanks == matrix.size:
            return matrix
    matrix = np.empty((len(records), len(numeric)), dtype="float64")
    for index, record in enumerate(records):
        matrix[index] = _record_values(record, numeric, index)
    return matrix


def category_numbers(known: Sequence[str]) -> dict[float, str]:
    """Each known category that reads as one finite number, by that number (two that read as the same number,
    "01" and "1", are both left out: a number sent for them is taken as the text of the number)."""
    found: dict[float, str] = {}
    ambiguous = set()
    for category in known:
        try:
            value = float(category)
        except ValueError:
            continue
        if math.isfinite(value):
            ambiguous.update([value] if value in found else [])
            found[value] = category
    return {value: category for value, category in found.items() if value not in ambiguous}


def _category(value: Any, name: str, index: int, numbers: Mapping[float, str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if type(value) in _NUMBER_TYPES and math.isfinite(value):
        known = numbers.get(float(value)) if numbers else None
        # parse_body reads integers as floats: a whole number is the text of the integer it was sent as.
        return known if known is not None else str(int(value)) if float(value).is_integer() else repr(float(value))
    raise RequestError(f"record {index}: feature {name!r} is {json.dumps(value)[:40]}, not a category "
                       f"(a text or a number)", field=name, record=index)


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
    extra = min((str(name) for name in record if name not in set(feature_columns)), key=len)
    raise RequestError(f"record {index}: {_shown(extra)} is not a feature of the model (features: "
                       f"{', '.join(feature_columns)})", field=_shown_field(extra), record=index)


# An error names what the client sent, cut to this many characters: an answer never echoes unbounded input.
SHOWN_CHARACTERS = 60


def _shown(name: str) -> str:
    """A client's name as an error quotes it: repr, cut short with an ellipsis."""
    return repr(name) if len(name) <= SHOWN_CHARACTERS else f"{name[:SHOWN_CHARACTERS]!r}... ({len(name)} characters)"


def _shown_field(name: str) -> str:
    return name if len(name) <= SHOWN_CHARACTERS else name[:SHOWN_CHARACTERS] + "..."
