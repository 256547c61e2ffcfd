"""The split by identity: a record's part follows its key, whatever the table's size, order or id type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn.linear_model import SGDRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from carolbatch.training.epochs import StoppingRule
from carolbatch.training.fitting import train_model
from carolbatch.training.partial_fit import EpochModel
from carolbatch.training.split import SplitRule, holdout_mask, identity_rule, key_hashes, split_by_identity

FEATURES = ("a", "b")


def table(ids, seed: int = 0) -> pd.DataFrame:
    """Records with the given ids, a linear target and a little noise."""
    ids = np.asarray(ids)
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(len(ids), 2))
    return pd.DataFrame({"id": ids, "a": features[:, 0], "b": features[:, 1],
                         "y": features @ np.array([2.0, -1.0]) + rng.normal(scale=0.1, size=len(ids))})


def parts_by_id(frame: pd.DataFrame, rule: SplitRule) -> dict:
    split = split_by_identity(frame, rule)
    ids = frame["id"].to_numpy()
    return {part: set(ids[rows].tolist()) for part, rows in
            (("train", split.train_rows), ("validation", split.validation_rows), ("test", split.test_rows))}


RULE = identity_rule("id", (*FEATURES, "y"), 1, 0.2, 0.1)


def test_growing_a_table_keeps_every_old_record_in_its_part():
    old = table(np.arange(1000))
    grown = pd.concat([table(np.arange(1000, 1300), seed=1), old]).sample(frac=1.0, random_state=3)
    before, after = parts_by_id(old, RULE), parts_by_id(grown, RULE)
    for part in before:
        assert before[part] <= after[part]
    new_ids = set(range(1000, 1300))
    assert sum(len(after[part] & new_ids) for part in after) == 300


def test_parts_are_shares_of_the_hash_space():
    sizes = {part: len(ids) for part, ids in parts_by_id(table(np.arange(20000)), RULE).items()}
    assert sizes["test"] == pytest.approx(4000, rel=0.05)
    assert sizes["validation"] == pytest.approx(1600, rel=0.1)
    assert sum(sizes.values()) == 20000


def test_an_id_hashes_the_same_as_int_whole_float_or_text():
    ids = np.array([0, 7, -3, 10**15, 123456789])
    expected = key_hashes(pd.DataFrame({"id": ids}), RULE)
    for same in (ids.astype("float64"), ids.astype(str), ids.astype(str).astype(object)):
        np.testing.assert_array_equal(key_hashes(pd.DataFrame({"id": same}), RULE), expected)
    small = np.array([1, 2, 3])
    np.testing.assert_array_equal(key_hashes(pd.DataFrame({"id": small.astype("int32")}), RULE),
                                  key_hashes(pd.DataFrame({"id": small}), RULE))
    # Text that is not a plain integer is text: "007" is not 7.
    assert key_hashes(pd.DataFrame({"id": ["007"]}), RULE)[0] != key_hashes(pd.DataFrame({"id": [7]}), RULE)[0]


def test_the_salt_and_the_test_share_choose_the_parts():
    frame = table(np.arange(5000))
    salted = holdout_mask(frame, identity_rule("id", (), 2, 0.2, 0.1))
    assert 0.02 < np.mean(salted & holdout_mask(frame, RULE)) < 0.06  # independent draws: about 0.2 * 0.2
    larger = holdout_mask(frame, identity_rule("id", (), 1, 0.3, 0.1))
    assert np.all(larger[holdout_mask(frame, RULE)])  # a larger test share holds every record of a smaller one


def test_a_table_without_an_id_column_is_keyed_by_its_whole_records():
    frame = table(np.arange(500)).drop(columns="id")
    rule = identity_rule("", (*FEATURES, "y"), 1, 0.2, 0.1)
    assert rule.key_columns == ("a", "b", "y")
    split = split_by_identity(frame, rule)
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    again = split_by_identity(shuffled, rule)
    for rows, rows_again in zip((split.train_rows, split.test_rows), (again.train_rows, again.test_rows)):
        pd.testing.assert_frame_equal(frame.iloc[rows].reset_index(drop=True),
                                      shuffled.iloc[rows_again].reset_index(drop=True))


def test_shuffled_rows_give_the_same_parts_and_the_same_model():
    frame = table(np.arange(400))
    shuffled = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    assert parts_by_id(frame, RULE) == parts_by_id(shuffled, RULE)
    models = []
    for records in (frame, shuffled):
        linear = SGDRegressor(alpha=0.001, random_state=1)
        model = EpochModel(Pipeline([("scale", StandardScaler()), ("linear", linear)]), StoppingRule(5, 5, 0.0), 32, 1)
        models.append(train_model(records, FEATURES, "y", split_by_identity(records, RULE), model).model)
    grid = np.random.default_rng(0).normal(size=(50, 2))
    np.testing.assert_array_equal(models[0].predict(grid), models[1].predict(grid))


def test_the_rule_round_trips_through_metadata_and_refuses_what_it_does_not_know():
    assert SplitRule.from_dict(RULE.as_dict()) == RULE
    assert SplitRule.from_dict(None) is None
    assert SplitRule.from_dict({**RULE.as_dict(), "method": "row-positions"}) is None


def test_a_split_and_the_model_trained_on_it_carry_the_rule_that_drew_it():
    frame = table(np.arange(300))
    split = split_by_identity(frame, RULE)
    assert split.rule == RULE
    assert split_by_identity(frame, identity_rule(None, ["a", "b"], 9, 0.3, 0.1)).rule.random_state == 9
    model = EpochModel(Pipeline([("scale", StandardScaler()), ("linear", SGDRegressor(random_state=0))]),
                       StoppingRule(2, 2, 0.0), 16, 0)
    assert train_model(frame, ["a", "b"], "y", split, model).split.rule == RULE


def test_a_missing_key_column_or_an_empty_part_is_an_error():
    with pytest.raises(KeyError, match="no key column id"):
        split_by_identity(table(np.arange(50)).drop(columns="id"), RULE)
    with pytest.raises(ValueError, match="a part would be empty"):
        split_by_identity(table(np.arange(3)), RULE)


@settings(max_examples=30, deadline=None)
@given(ids=st.lists(st.integers(-10**12, 10**12), min_size=20, max_size=60, unique=True), seed=st.integers(0, 99))
def test_any_order_of_any_ids_gives_the_same_parts(ids, seed):
    frame = pd.DataFrame({"id": ids})
    mask = holdout_mask(frame, RULE)
    order = np.random.default_rng(seed).permutation(len(ids))
    np.testing.assert_array_equal(holdout_mask(frame.iloc[order], RULE), mask[order])


def test_the_hash_of_an_id_never_changes():
    # Registry versions record their rule; a record's hash moving would move it to another part under that rule.
    hashes = key_hashes(pd.DataFrame({"id": [0, 1, 2, 12345]}), identity_rule("id", (), 1, 0.2, 0.1))
    assert hashes.tolist() == [8841707400507832957, 1307770100151614807, 17787796986424490649, 11190268125071958540]


@settings(max_examples=40, deadline=None)
@given(test_size=st.floats(0.01, 0.9), validation_size=st.floats(0.01, 0.9), salt=st.integers(0, 10**6))
def test_each_part_is_its_share_of_the_hash_space(test_size, validation_size, salt):
    frame = table(np.arange(400))
    rule = identity_rule("id", (), salt, test_size, validation_size)
    # The hash space as the split's rule defines it: a hash's top 53 bits as a point of [0, 1).
    fractions = (key_hashes(frame, rule) >> np.uint64(11)).astype("float64") * 2.0 ** -53
    validation_end = test_size + (1.0 - test_size) * validation_size
    expected = {"test": fractions < test_size, "validation": (fractions >= test_size) & (fractions < validation_end),
                "train": fractions >= validation_end}
    if not all(mask.any() for mask in expected.values()):
        return
    split = split_by_identity(frame, rule)
    for part, rows in (("train", split.train_rows), ("validation", split.validation_rows), ("test", split.test_rows)):
        assert sorted(rows.tolist()) == np.flatnonzero(expected[part]).tolist()
        assert np.all(np.diff(key_hashes(frame, rule)[rows].astype("float64")) >= 0)  # in hash order


def test_a_whole_record_hashes_the_same_however_it_was_read():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=300), "b": rng.integers(0, 50, 300).astype("int64"),
                          "c": rng.choice(["01", "1", "24", "x"], 300), "y": rng.normal(size=300) * 100})
    rule = identity_rule("", ("a", "b", "c", "y"), 1, 0.2, 0.1)
    expected = key_hashes(frame, rule)
    as_float32 = frame.astype({"a": "float32", "b": "float32", "y": "float32"})
    np.testing.assert_array_equal(key_hashes(as_float32, rule), expected)
    # One blank elsewhere makes a column of whole numbers float when read: the other records keep their hashes.
    with_blank = frame.astype({"b": "float64"})
    with_blank.loc[0, "b"] = np.nan
    np.testing.assert_array_equal(key_hashes(with_blank, rule)[1:], expected[1:])
    np.testing.assert_array_equal(holdout_mask(as_float32, rule), holdout_mask(frame, rule))


def test_every_blank_hashes_alike_and_apart_from_the_text_nan():
    rule = identity_rule("k", (), 1, 0.2, 0.1)
    blanks = [key_hashes(pd.DataFrame({"k": column}), rule)[0] for column in
              (pd.Series([np.nan]), pd.Series([None], dtype=object), pd.Series([None], dtype="str"))]
    assert len(set(blanks)) == 1
    assert key_hashes(pd.DataFrame({"k": ["nan"]}), rule)[0] != blanks[0]


@pytest.mark.parametrize("ids", [[10**18 + number for number in range(5)], [-(2**63), 2**63 - 1],
                                 [2**63 + number for number in range(5)], [10**20 + number for number in range(5)]],
                         ids=["19-digits", "int64-ends", "above-2^63", "1e20"])
def test_an_id_of_any_size_hashes_the_same_as_number_and_as_text(ids):
    text = key_hashes(pd.DataFrame({"id": [str(value) for value in ids]}), RULE)
    assert len(set(text.tolist())) == len(ids)
    if max(ids) < 2**64 and min(ids) >= -(2**63):
        dtype = "uint64" if max(ids) >= 2**63 else "int64"
        np.testing.assert_array_equal(key_hashes(pd.DataFrame({"id": np.array(ids, dtype=dtype)}), RULE), text)


def test_a_rule_of_the_first_method_is_read_for_an_id_key_only():
    v1 = {**RULE.as_dict(), "method": "key-hash-v1"}
    assert SplitRule.from_dict(v1) == RULE
    assert SplitRule.from_dict({**v1, "key_columns": ["a", "b", "y"]}) is None


@pytest.mark.parametrize("change", [{"test_size": float("nan")}, {"test_size": 1e300}, {"test_size": 0},
                                    {"validation_size": 1.0}, {"random_state": -1}, {"random_state": 2**64},
                                    {"random_state": 1.5}, {"key_columns": []}, {"key_columns": "id"}])
def test_a_rule_out_of_range_is_not_read(change):
    assert SplitRule.from_dict({**RULE.as_dict(), **change}) is None


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(-2.0 ** 24, 2.0 ** 24) | st.just(float("nan")), min_size=1, max_size=40))
def test_any_float_hashes_the_same_read_as_float64_or_float32(values):
    rule = identity_rule("", ("a",), 1, 0.2, 0.1)
    as_float64 = pd.DataFrame({"a": np.array(values, dtype="float64")})
    np.testing.assert_array_equal(key_hashes(as_float64.astype("float32"), rule), key_hashes(as_float64, rule))
