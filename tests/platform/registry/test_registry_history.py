"""The registry's rules: plain names, the history log, the current chain, checksum manifests."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carolbatch.registry import RegistryError
from carolbatch.registry.checksums import parse_manifest
from carolbatch.registry.history import current_chain, history_line, parse_history
from carolbatch.registry.names import check_plain_name


def entries(*steps: tuple[str, str]) -> list[dict]:
    return [{"action": action, "version": version} for action, version in steps]


def test_a_deploy_goes_on_top_and_a_rollback_drops_what_was_above():
    assert current_chain(entries(("deploy", "a"), ("deploy", "b"), ("deploy", "c"), ("rollback", "a"))) == ["a"]
    assert current_chain(entries(("deploy", "a"), ("deploy", "b"), ("rollback", "a"), ("rollback", "b"))) == [
        "a", "b"]
    assert current_chain(entries(("deploy", "a"), ("deploy", "b"), ("remove", "a"))) == ["b"]
    assert current_chain([]) == []


@given(st.lists(st.tuples(st.sampled_from(["deploy", "rollback"]), st.sampled_from("abcd")), min_size=1))
def test_the_last_entry_is_always_current(steps):
    assert current_chain(entries(*steps))[-1] == steps[-1][1]


def test_a_line_written_twice_is_read_once_and_a_deploy_of_the_version_on_top_changes_nothing():
    first, second = history_line("deploy", "v1", None), history_line("deploy", "v2", "v1")
    assert [entry["version"] for entry in parse_history(first + second + first + second, "h")] == ["v1", "v2"]
    assert current_chain(parse_history(first + second + first, "h")) == ["v1", "v2"]
    # The same deploy written twice with two timestamps (a retried write): still one step of the chain.
    assert current_chain(entries(("deploy", "a"), ("deploy", "a"))) == ["a"]
    assert current_chain(entries(("deploy", "a"), ("deploy", "b"), ("deploy", "b"), ("rollback", "a"))) == ["a"]


def test_history_lines_parse_back():
    data = history_line("deploy", "v1", None) + history_line("rollback", "v0", "v1")
    assert [(entry["action"], entry["version"], entry["previous"]) for entry in parse_history(data, "h")] == [
        ("deploy", "v1", None), ("rollback", "v0", "v1")]


@pytest.mark.parametrize("line", ["not json", "[1]", '{"action": "deploy"}', '{"action": "x", "version": "v"}',
                                  '{"action": "deploy", "version": "../v"}'])
def test_a_wrong_shaped_history_line_names_the_file_and_line(line):
    with pytest.raises(RegistryError, match="^models/app/history.jsonl line 2 is not a registry history entry$"):
        parse_history(history_line("deploy", "v1", None) + line.encode(), "models/app/history.jsonl")


@pytest.mark.parametrize("name", ["a/b", "/a", "..", "a..b", "", ".hidden", "current", "x" * 200, 3, None])
def test_names_that_are_not_plain_are_refused(name):
    with pytest.raises(RegistryError, match="is not a plain name"):
        check_plain_name("model version", name)


def test_plain_names_pass():
    assert check_plain_name("deploy_app", "toyonline") == "toyonline"
    assert check_plain_name("model version", "20261127T082012Z-6cc72f61") == "20261127T082012Z-6cc72f61"


def test_manifests_are_checked_for_shape():
    good = {"files": {"model.pkl": {"size": 3, "sha256": "ab"}}}
    assert parse_manifest(json.dumps(good).encode(), "m") == good["files"]
    for bad in ({"files": {"../x": {"size": 3, "sha256": "ab"}}}, {"files": {"a": {"size": "3", "sha256": "ab"}}},
                {"files": []}, []):
        with pytest.raises(RegistryError, match="^m is not a checksum manifest$"):
            parse_manifest(json.dumps(bad).encode(), "m")
