"""Data source settings (DataFile, StagingTable): their values, and their fingerprint in a task's identity."""

from __future__ import annotations

import luigi
import pytest

from carolbatch.settings.declaration import NO_DEFAULT, Setting, declare_settings
from carolbatch.settings.kinds import DataFile, StagingTable, Text
from carolbatch.tasks import AppTask, combined_fingerprint, pipeline_params, setting_parameter

DECLARATION = declare_settings((
    Setting("connector", Text(), "crm", "connector"),
    Setting("rows", DataFile(), NO_DEFAULT, "a data file"),
    Setting("lookup", DataFile(), None, "a second data file", optional=True),
    Setting("rows_table", StagingTable("connector"), "rows", "a staging table"),
    Setting("lookup_table", StagingTable(), "other/lookup", "a staging table of another connector"),
))


class ReadsLookup(AppTask):
    lookup = setting_parameter(DECLARATION, "lookup")
    rows_table = setting_parameter(DECLARATION, "rows_table")


def test_a_data_file_is_any_non_empty_path():
    assert DataFile().parse(" data/a b.csv ") == "data/a b.csv"
    with pytest.raises(ValueError, match="a file path"):
        DataFile().parse("  ")


def test_a_staging_table_is_connector_slash_staging_or_a_name_with_its_connector_setting():
    assert StagingTable().parse("crm/people") == "crm/people"
    assert StagingTable().address("crm/people", None) == ("crm", "people")
    assert StagingTable("connector").parse("people") == "people"
    assert StagingTable("connector").address("people", "crm") == ("crm", "people")
    for wrong in ("people", "a/b/c", "crm/", "crm/peo ple", "../x"):
        with pytest.raises(ValueError, match="connector/staging"):
            StagingTable().parse(wrong)


def test_a_source_counts_by_its_fingerprint_not_its_name():
    settings = DECLARATION.settings_class(connector="crm", rows="a.csv", lookup="b.csv", rows_table="rows",
                                          lookup_table="other/lookup")
    params = pipeline_params(settings, {"lookup": "file:1"}, carol_mode=False, cloud_targets=False)
    assert (params["rows_fingerprint"], params["lookup_fingerprint"], params["rows_table_fingerprint"]) == (
        "", "file:1", "")
    task = ReadsLookup(target_dir="targets",
                       **{name: params[name] for name, _ in ReadsLookup.get_params() if name in params})
    moved = ReadsLookup(**{**task.param_kwargs, "lookup": "elsewhere/b.csv"})
    edited = ReadsLookup(**{**task.param_kwargs, "lookup_fingerprint": "file:2"})
    assert moved.identity() == task.identity() != edited.identity()
    assert "lookup_fingerprint" in task.to_str_params(only_significant=True)
    assert "lookup" not in task.to_str_params(only_significant=True)


def test_a_task_without_the_fingerprint_of_its_source_cannot_be_built():
    with pytest.raises(luigi.parameter.MissingParameterException):
        ReadsLookup(target_dir="targets", lookup="b.csv", rows_table="rows")


def test_the_runs_data_in_one_fingerprint():
    assert combined_fingerprint({"rows": "file:1", "lookup": ""}) == "file:1"
    both = combined_fingerprint({"rows": "file:1", "lookup": "file:2"})
    assert both.startswith("sources:") and both != combined_fingerprint({"rows": "file:1", "lookup": "file:3"})
