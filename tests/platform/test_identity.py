"""Fingerprints of data, code and tasks: what must change an output's identity and what must not."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carolbatch.identity import (
    fingerprint_code,
    fingerprint_file,
    fingerprint_staging,
    fingerprint_task,
    fingerprint_with_cache,
    normalise_source,
)
from carolbatch.records.sources import RecordsError

SOURCE = '''
"""Module docstring."""


def train(x, epochs=10):
    """Fit."""
    # a comment
    return x * epochs
'''


def test_comments_docstrings_and_layout_do_not_change_the_code_fingerprint():
    reworded = SOURCE.replace("# a comment", "# another comment\n# and more").replace('"""Fit."""', '"""Fit it."""')
    relaid = reworded.replace("return x * epochs", "return (x *\n            epochs)")
    assert fingerprint_code([SOURCE]) == fingerprint_code([reworded]) == fingerprint_code([relaid])


@pytest.mark.parametrize("edit", [("x * epochs", "x + epochs"), ("epochs=10", "epochs=11"), ("train", "fit")])
def test_a_change_in_behaviour_changes_the_code_fingerprint(edit):
    assert fingerprint_code([SOURCE]) != fingerprint_code([SOURCE.replace(*edit)])


def test_a_function_with_only_a_docstring_still_parses():
    assert "Pass" in normalise_source('def f():\n    """Only a docstring."""\n')


def test_module_order_counts_and_invalid_source_is_an_error():
    assert fingerprint_code(["a = 1", "b = 2"]) != fingerprint_code(["b = 2", "a = 1"])
    with pytest.raises(SyntaxError):
        fingerprint_code(["def broken(:"])


BASE = {"family": "TrainModel", "params": {"model_epochs": "1000", "test_size": "0.2"}, "code": "c1",
        "upstream": ["u1"]}


def identity(**changes):
    fields = {**BASE, **changes}
    return fingerprint_task(fields["family"], fields["params"], fields["code"], fields["upstream"])


@pytest.mark.parametrize("changes", [
    {"family": "EvaluateModel"},
    {"params": {"model_epochs": "50", "test_size": "0.2"}},
    {"code": "c2"},
    {"upstream": ["u2"]},
], ids=["family", "params", "code", "upstream"])
def test_each_part_of_a_task_changes_its_identity(changes):
    assert identity(**changes) != identity()


def test_identity_ignores_the_order_of_params_and_upstream():
    assert identity(params={"test_size": "0.2", "model_epochs": "1000"}) == identity()
    assert identity(upstream=["b", "a"]) == identity(upstream=["a", "b"])


@given(st.dictionaries(st.text(min_size=1), st.text()), st.dictionaries(st.text(min_size=1), st.text()))
def test_different_params_give_different_identities(first, second):
    assert (identity(params=first) == identity(params=second)) == (first == second)


def test_file_fingerprint_is_reused_until_the_file_changes(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a\n1\n")
    fingerprint, cache = fingerprint_with_cache(path, {})
    assert fingerprint == f"file:{fingerprint_file(path)}"
    key = str(path.resolve())
    planted = {key: {**cache[key], "sha256": "planted"}}
    assert fingerprint_with_cache(path, planted)[0] == "file:planted"
    path.write_text("a\n2\n")
    assert fingerprint_with_cache(path, planted)[0] == f"file:{fingerprint_file(path)}"
    with pytest.raises(RecordsError, match="not found"):
        fingerprint_with_cache(tmp_path / "gone.csv", {})


def test_staging_fingerprint_needs_exactly_one_probe_row():
    probe = pd.DataFrame({"records": [3], "counter": [7]})
    assert fingerprint_staging("c", "s", probe) != fingerprint_staging("c", "s", probe.assign(counter=8))
    with pytest.raises(RecordsError, match="2 rows"):
        fingerprint_staging("c", "s", pd.concat([probe, probe]))
