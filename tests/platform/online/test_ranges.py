"""Training ranges kept with a version and the online check against them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from carolbatch.online.ranges import RangeCheck, ranges_of_rows


def test_ranges_come_from_the_train_rows_only():
    frame = pd.DataFrame({"x": [1.0, 5.0, np.nan, 1e9], "k": ["a", None, "b", "zzz"], "c": [2.0, 2.0, 2.0, 2.0]})
    ranges = ranges_of_rows(frame, ["x", "k", "c"], ["k"], np.array([0, 1, 2]))
    assert ranges == {"numeric": {"x": [1.0, 5.0], "c": [2.0, 2.0]}, "categories": {"k": ["a", "b"]}}


def test_flagged_beyond_a_thousand_widths_and_refused_beyond_1e15():
    check = RangeCheck.from_metadata({"numeric": {"x": [1.0, 5.0], "c": [2.0, 2.0]},
                                      "categories": {"k": ["a", "b"]}}, ["x", "c"])
    inside = np.array([[5.0 + 3999.0, 2.0 + 1999.0], [np.nan, np.nan]])
    assert check.flagged(inside, {"k": ["a", None]}) == [] and check.absurd(inside) is None
    # x's width is 4; c's range is one value, so its width is its magnitude (2).
    outside = np.array([[1.0, 2.0], [5.0 + 4001.0, 2.0], [1.0, 2.0 - 2001.0]])
    flagged = check.flagged(outside, {"k": ["a", "b", "new"]})
    assert [(item["record"], item["field"]) for item in flagged] == [(1, "x"), (2, "c"), (2, "k")]
    assert check.absurd(outside) is None
    assert check.absurd(np.array([[1.0, 2.0], [1.0, 1.7e308]])) == (1, "c")
    assert check.absurd(np.array([[-4.1e15, 2.0]])) == (0, "x")


def test_a_version_without_ranges_flags_nothing():
    check = RangeCheck.from_metadata(None, ["x"])
    assert check.flagged(np.array([[1e300]]), {"k": ["anything"]}) == [] and check.absurd(np.array([[1e300]])) is None
