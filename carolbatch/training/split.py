"""The split by identity: each record's part (train, validation, test) from a salted hash of its key.

A record's part depends only on its key, `random_state`, `test_size` and `validation_size`: growing or
reordering the table never moves a record to another part, and a registry version's rule tells which
records its model never saw. The hash space is [0, 1): test is [0, test_size), validation the next
`validation_size` share of the rest, train what is left, so the test part depends on `test_size` and
`random_state` alone and a larger `test_size` holds every record of a smaller one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from carolbatch.training.fitting import Split

# v2 hashes values in a canonical form (`_column_hashes`). v1 hashed ids alike, except plain-integer text of 19
# digits or more, uint64 ids above 2**63 and fractional ids, and whole records differently (other floats by
# their float64 bits): a v1 rule keyed by one column is read as v2, one keyed by whole records is not known
# (its version is not comparable).
METHOD = "key-hash-v2"
_ID_METHODS = (METHOD, "key-hash-v1")
# The 16-byte siphash key of text ids; numbers are hashed by value (pandas' numeric hash takes no key).
STRING_HASH_KEY = "carolbatch-split"
# A string id that is a plain integer hashes as that integer: ids read as numbers from a file and as text
# from Carol then fall in the same part.
_INTEGER_TEXT = r"-?(?:0|[1-9][0-9]*)"
# Every blank hashes as a float NaN does, whatever the column's type.
_BLANK_HASH = pd.util.hash_array(np.array([np.nan]))[0]
_FRACTION_BITS = 53


@dataclass(frozen=True)
class SplitRule:
    """How a model's records were split: the method, its salt and shares, and the columns hashed
    (the id column, or every column of the record where the table has none)."""

    random_state: int
    test_size: float
    validation_size: float
    key_columns: tuple[str, ...]
    method: str = METHOD

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "key_columns": list(self.key_columns)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> SplitRule | None:
        """The rule a version's metadata records; None when it records none this code knows or can apply (a
        share outside (0, 1), NaN, a seed that is not a whole number in [0, 2**64), no key column), so a
        registry edited by hand makes its version not comparable rather than failing every deploy."""
        if not isinstance(values, Mapping) or values.get("method") not in _ID_METHODS:
            return None
        try:
            seed, test_size, validation_size = values["random_state"], values["test_size"], values["validation_size"]
            keys = values["key_columns"]
            if not (_is_seed(seed) and _is_share(test_size) and _is_share(validation_size)
                    and isinstance(keys, (list, tuple)) and keys and all(isinstance(name, str) for name in keys)):
                return None
            if values["method"] != METHOD and len(keys) != 1:
                return None
            return cls(int(seed), float(test_size), float(validation_size), tuple(keys))
        except (KeyError, TypeError, ValueError):
            return None


def _is_seed(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 64


def _is_share(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1


def identity_rule(id_column: str | None, record_columns: Sequence[str], random_state: int, test_size: float,
                  validation_size: float) -> SplitRule:
    """The rule of a table keyed by `id_column`, or by the whole record (`record_columns`) when it is empty."""
    key = (id_column,) if id_column else tuple(record_columns)
    return SplitRule(random_state, test_size, validation_size, key)


def key_hashes(frame: pd.DataFrame, rule: SplitRule) -> np.ndarray:
    """One salted uint64 hash per record of `frame`, from its key columns.

    Raises:
        KeyError: a key column is missing from `frame`.
    """
    missing = [name for name in rule.key_columns if name not in frame.columns]
    if missing:
        raise KeyError(f"no key column {', '.join(missing)}")
    # In place: at 5e7 records every uint64 array here is 400 MB, held beside the records.
    combined = np.zeros(len(frame), dtype="uint64")
    for position, name in enumerate(rule.key_columns):
        combined ^= _column_hashes(frame[name])
        combined ^= np.uint64(position)
        _mix_in_place(combined)
    salt = np.full(1, rule.random_state, dtype="uint64")
    _mix_in_place(salt)
    combined ^= salt
    _mix_in_place(combined)
    return combined


def hash_points(hashes: np.ndarray) -> np.ndarray:
    """Each hash's point of the hash space, in place: its top 53 bits, the point `top / 2**53` of [0, 1)."""
    hashes >>= np.uint64(64 - _FRACTION_BITS)
    return hashes


def share_bound(share: float) -> np.uint64:
    """The first point at or beyond `share` of the hash space: point / 2**53 < share <=> point < the bound."""
    return np.uint64(math.ceil(share * 2.0 ** _FRACTION_BITS))


def holdout_mask(frame: pd.DataFrame, rule: SplitRule) -> np.ndarray:
    """Which records of `frame` are in the test part under `rule`."""
    return hash_points(key_hashes(frame, rule)) < share_bound(rule.test_size)


def split_by_identity(frame: pd.DataFrame, rule: SplitRule) -> Split:
    """Row positions of the three parts of `frame` under `rule`, each in hash order.

    Hash order, not row order, is what training sees: the same table in any order trains the same model.

    Raises:
        KeyError: a key column is missing.
        ValueError: a part would be empty.
    """
    hashes = key_hashes(frame, rule)
    validation_end = rule.test_size + (1.0 - rule.test_size) * rule.validation_size
    # Equal hashes are equal keys: under a whole-record key, identical records, whose order changes nothing.
    order = np.argsort(hashes)
    # A hash's point grows with it, so in hash order each part is one run of rows: slices, no masks.
    points = hash_points(hashes[order])
    del hashes
    test_end, train_start = np.searchsorted(points, [share_bound(rule.test_size), share_bound(validation_end)])
    del points
    parts = (order[train_start:], order[test_end:train_start], order[:test_end])
    if min(len(part) for part in parts) < 1:
        raise ValueError(f"cannot split {len(frame)} records with test_size={rule.test_size} and "
                         f"validation_size={rule.validation_size}: a part would be empty")
    return Split(train_rows=parts[0], validation_rows=parts[1], test_rows=parts[2], rule=rule)


def _column_hashes(column: pd.Series) -> np.ndarray:
    """Unsalted uint64 hashes of a column's values in a canonical form, which how they were read cannot change.

    An integer hashes alike as an int of any width, a whole float or its plain text (`17`, `17.0`, `"17"`), as
    int64 where it fits one and as its decimal text beyond (ids above 2**63 alike as number and as text); other
    numbers by their float32 value (a table read with `float32` hashes the same); other text as text; every
    blank (NaN, None) alike.
    """
    values = column.to_numpy()
    if values.dtype.kind == "i":
        return pd.util.hash_array(values.astype("int64", copy=False))
    if values.dtype.kind == "u":
        fits = values <= np.iinfo(np.int64).max
        return _mixed_hashes(fits, values, lambda rest: _text_hashes(rest.astype(str).astype(object)))
    if values.dtype.kind == "f":
        return _float_hashes(values)
    return _text_column_hashes(column)


def _float_hashes(values: np.ndarray, rounded: bool = False) -> np.ndarray:
    """Whole floats as int64; the rest rounded to float32 once (then whole ones as int64 too), NaN as one blank."""
    whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2.0 ** 62)
    if rounded:
        return _mixed_hashes(whole, values, lambda rest: pd.util.hash_array(np.where(np.isnan(rest), np.nan, rest)))
    with np.errstate(over="ignore"):
        return _mixed_hashes(whole, values, lambda rest: _float_hashes(rest.astype("float32").astype("float64"), True))


def _text_column_hashes(column: pd.Series) -> np.ndarray:
    """Text: a plain integer (`-?(0|[1-9][0-9]*)`) as the integer, other text as text, a blank as NaN."""
    blank = column.isna().to_numpy()
    text = column.astype("str").to_numpy(dtype=object)
    series = pd.Series(text, dtype="str")
    integer = ~blank & series.str.fullmatch(_INTEGER_TEXT).to_numpy(dtype=bool, na_value=False)
    hashes = _mixed_hashes(integer & _fits_int64(series), text, _text_hashes)
    hashes[blank] = _BLANK_HASH
    return hashes


def _fits_int64(integers: pd.Series) -> np.ndarray:
    """Which plain-integer texts fit an int64: fewer than 19 digits, or 19 digits up to 2**63 - 1 (2**63 when
    negative); digit strings of one length compare as their numbers do."""
    negative = integers.str.startswith("-").to_numpy(dtype=bool, na_value=False)
    digits = integers.str.removeprefix("-")
    length = digits.str.len().to_numpy(dtype="float64", na_value=np.nan)
    within = ((digits <= str(2 ** 63 - 1)) | (negative & (digits == str(2 ** 63)))).to_numpy(dtype=bool,
                                                                                           na_value=False)
    return (length < 19) | ((length == 19) & within)


def _text_hashes(text: np.ndarray) -> np.ndarray:
    return pd.util.hash_array(text, hash_key=STRING_HASH_KEY)


def _mixed_hashes(whole: np.ndarray, values: np.ndarray, hash_rest) -> np.ndarray:
    """Whole numbers hashed as int64, the rest by `hash_rest`."""
    hashes = np.empty(len(values), dtype="uint64")
    if whole.any():
        hashes[whole] = pd.util.hash_array(values[whole].astype("int64"))
    if not whole.all():
        hashes[~whole] = hash_rest(values[~whole])
    return hashes


def _mix_in_place(values: np.ndarray) -> None:
    """splitmix64's finaliser, applied to `values` (uint64): every input bit moves about half the output bits."""
    shifted = np.empty_like(values)
    with np.errstate(over="ignore"):
        for shift, multiplier in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB), (31, None)):
            np.right_shift(values, np.uint64(shift), out=shifted)
            values ^= shifted
            if multiplier is not None:
                values *= np.uint64(multiplier)
