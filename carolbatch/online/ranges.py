"""Each feature's training range and known categories, kept with a model version, and the online check of a
request's values against them.

A model answers anything, but far outside its training data its answer means nothing (an MLP extrapolates
linearly: `RM=1.7e308` gave a price of 1.5e49). The range of a numeric feature is its [min, max] over the train
rows; its width is max - min (or the largest magnitude, or 1, when every train value was the same). A value is

- *out of range* beyond FLAG_WIDTHS widths from the range: answered, and reported in the answer and /metrics;
- *absurd* beyond REFUSE_WIDTHS widths: refused with a 422 naming the column (no unit mix-up or typo is that far).

A category is out of range when it was not seen in training (it is answered, as the model treats unknown ones).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

FLAG_WIDTHS = 1e3
REFUSE_WIDTHS = 1e15
# A column of more distinct categories than this (an id, a free text) keeps no list: none of its values is flagged.
MAX_KNOWN_CATEGORIES = 10_000


def training_ranges(frame: pd.DataFrame, trained: Any, categorical_columns: Sequence[str] | None
                    ) -> dict[str, Any]:
    """The `input_ranges` of a version's metadata: [min, max] of each numeric feature and the sorted known
    categories (text) of each categorical one, over the train rows of `frame` (those of `trained.split`, for
    its `feature_columns`); a column without values has no range."""
    return ranges_of_rows(frame, trained.feature_columns, categorical_columns or (), trained.split.train_rows)


def ranges_of_rows(frame: pd.DataFrame, feature_columns: Sequence[str], categorical_columns: Sequence[str],
                   rows: np.ndarray) -> dict[str, Any]:
    """The ranges (see `training_ranges`) of `rows` of `frame`."""
    numeric, categories = {}, {}
    for name in feature_columns:
        values = frame[name].to_numpy()[rows]
        if name in categorical_columns:
            known = pd.unique(values[pd.notna(values)])
            if len(known) <= MAX_KNOWN_CATEGORIES:
                categories[name] = sorted(str(value) for value in known)
            continue
        present = np.asarray(values, dtype="float64")
        present = present[np.isfinite(present)]
        if len(present):
            numeric[name] = [float(present.min()), float(present.max())]
    return {"numeric": numeric, "categories": categories}


@dataclass(frozen=True)
class RangeCheck:
    """A version's ranges, as arrays over its numeric features (in the order requests are read)."""

    numeric: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    width: np.ndarray
    categories: Mapping[str, frozenset[str]]

    @classmethod
    def from_metadata(cls, ranges: Mapping[str, Any] | None, numeric: Sequence[str]) -> RangeCheck:
        """The check of a version's `input_ranges` (a version without them flags nothing)."""
        bounds = (ranges or {}).get("numeric") or {}
        low = np.array([bounds.get(name, [-np.inf, np.inf])[0] for name in numeric], dtype="float64")
        high = np.array([bounds.get(name, [-np.inf, np.inf])[1] for name in numeric], dtype="float64")
        with np.errstate(invalid="ignore"):
            width = high - low
            width = np.where(width > 0, width, np.maximum(np.maximum(np.abs(low), np.abs(high)), 1.0))
        categories = {name: frozenset(known) for name, known in ((ranges or {}).get("categories") or {}).items()}
        return cls(tuple(numeric), low, high, np.where(np.isfinite(width), width, np.inf), categories)

    def review(self, matrix: np.ndarray, categories: Mapping[str, Sequence[Any]]
               ) -> tuple[tuple[int, str] | None, list[dict[str, Any]]]:
        """The first absurd (record, column), or None, and the values out of range (see `absurd`, `flagged`)."""
        distance = self._distance(matrix)
        return self.absurd(matrix, distance), self.flagged(matrix, categories, distance)

    def absurd(self, matrix: np.ndarray, distance: np.ndarray | None = None) -> tuple[int, str] | None:
        """The first (record, column) of a numeric value beyond REFUSE_WIDTHS widths of its range, or None."""
        far = (self._distance(matrix) if distance is None else distance) > REFUSE_WIDTHS
        if not far.any():
            return None
        record, column = np.argwhere(far)[0]
        return int(record), self.numeric[column]

    def flagged(self, matrix: np.ndarray, categories: Mapping[str, Sequence[Any]],
                distance: np.ndarray | None = None) -> list[dict[str, Any]]:
        """Each (record, field) out of range: numbers beyond FLAG_WIDTHS widths, categories never trained on."""
        far = (self._distance(matrix) if distance is None else distance) > FLAG_WIDTHS
        found = [{"record": int(record), "field": self.numeric[column], "problem": "far outside the training range "
                  f"[{self.low[column]:g}, {self.high[column]:g}]"}
                 for record, column in (np.argwhere(far) if far.any() else ())]
        for name, values in categories.items():
            known = self.categories.get(name)
            if known is not None:
                found += [{"record": record, "field": name, "problem": "a category not seen in training"}
                          for record, value in enumerate(values) if value is not None and value not in known]
        return sorted(found, key=lambda item: item["record"]) if found else found

    def _distance(self, matrix: np.ndarray) -> np.ndarray:
        """How many widths each value lies outside its range (0 inside it, and for a blank)."""
        with np.errstate(invalid="ignore", over="ignore"):
            return np.fmax(np.maximum(self.low - matrix, matrix - self.high), 0.0) / self.width
