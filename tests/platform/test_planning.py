"""Plan reasons and clean-up selection, from task facts and earlier run records."""

from __future__ import annotations

import pytest

from carolbatch.planning import (
    Decision,
    TaskFacts,
    explain_rerun,
    format_plan,
    format_target_name,
    identities_to_keep,
    own_parameters,
    parse_target_name,
    select_garbage,
)

ID = {name: name[0] * 64 for name in ("abc", "def", "fed", "cab")}
TRAIN = TaskFacts(
    family="TrainModel", identity=ID["abc"], params={"data_path_fingerprint": "file:1", "model_epochs": "1000"},
    code="code1", upstream={"IngestRecords": "i1"}, own_params=("model_epochs",),
)
INGEST = TaskFacts(family="IngestRecords", identity="i1",
                   params={"data_path_fingerprint": "file:1", "scores_fingerprint": "file:2", "test_size": "0.2"},
                   code="c", own_params=("data_path_fingerprint", "scores_fingerprint", "test_size"))


def entry(facts: TaskFacts, **changes) -> dict:
    fields = {"params": dict(facts.params), "code": facts.code, "upstream": dict(facts.upstream)}
    return {**fields, **changes}


def reason(facts, previous, output="missing", upstream_reruns=False, forced=False):
    return explain_rerun(facts, previous, output, upstream_reruns, forced)


def test_forced_and_corrupt_come_first():
    assert reason(TRAIN, entry(TRAIN), output="valid", forced=True) == "forced"
    assert reason(TRAIN, entry(TRAIN), output="corrupt", upstream_reruns=True) == "output corrupt"


def test_no_history_means_no_output():
    assert reason(TRAIN, None) == "no output"
    assert reason(TRAIN, None, upstream_reruns=True) == "no output"


def test_a_changed_own_setting_is_named():
    previous = entry(TRAIN, params={**TRAIN.params, "model_epochs": "50"})
    assert reason(TRAIN, previous) == "settings changed: model_epochs"


def test_new_data_is_data_changed_at_ingestion_and_upstream_reruns_below():
    changed = entry(INGEST, params={**INGEST.params, "data_path_fingerprint": "file:0", "test_size": "0.3"})
    assert reason(INGEST, changed) == "data changed: data_path"
    both = entry(INGEST, params={**INGEST.params, "data_path_fingerprint": "file:0", "scores_fingerprint": "file:0"})
    assert reason(INGEST, both) == "data changed: data_path, scores"
    # The inherited data fingerprint differs too, but TrainModel is not where it entered.
    previous = entry(TRAIN, params={**TRAIN.params, "data_path_fingerprint": "file:0"}, upstream={"IngestRecords": "i0"})
    assert reason(TRAIN, previous, upstream_reruns=True) == "upstream reruns"


def test_changed_code_is_named_with_its_task():
    assert reason(TRAIN, entry(TRAIN, code="code0"), upstream_reruns=True) == "code changed: TrainModel"


def test_upstream_reused_from_another_run_is_upstream_changed():
    assert reason(TRAIN, entry(TRAIN, upstream={"IngestRecords": "i0"})) == "upstream changed"


def test_valid_output_runs_only_because_upstream_reruns():
    assert reason(TRAIN, entry(TRAIN), output="valid", upstream_reruns=True) == "upstream reruns"
    assert reason(TRAIN, entry(TRAIN), output="valid") == "deployed model changed"


def test_same_facts_with_output_gone_is_no_output():
    assert reason(TRAIN, entry(TRAIN)) == "no output"


def test_own_parameters_exclude_inherited_ones():
    assert own_parameters(["model_epochs", "data_fingerprint", "test_size"], ["data_fingerprint"]) == (
        "model_epochs", "test_size")


def test_format_plan_aligns_families():
    lines = format_plan([Decision("IngestRecords", False, "output exists"), Decision("Train", True, "forced")])
    assert lines == ["SKIP  IngestRecords  output exists", "RUN   Train          forced"]


@pytest.mark.parametrize("name, parsed", [
    (f"TrainModel/{ID['abc']}.pkl", ("TrainModel", ID["abc"])),
    (f"TrainModel/{ID['abc']}.pkl.sha256", ("TrainModel", ID["abc"])),
    (f"DeployModel/{ID['abc']}.report.html", ("DeployModel", ID["abc"])),
    (f"data/TrainModel/{ID['abc']}.pkl", None),
    (f"pipeline/TrainModel/{ID['abc']}.pkl", None),
    ("runs.jsonl", None),
    (".data-fingerprints.json", None),
    (f"TrainModel/{ID['abc']}.pkl.part", None),
    ("TrainModel/short.pkl", None),
])
def test_parse_target_name(name, parsed):
    assert parse_target_name(name) == parsed


def test_parse_target_name_with_the_cloud_prefix():
    assert parse_target_name(f"pipeline/TrainModel/{ID['abc']}.pkl.sha256", "pipeline/") == ("TrainModel", ID["abc"])
    assert parse_target_name(f"pipeline/x/TrainModel/{ID['abc']}.pkl", "pipeline/") is None


@pytest.mark.parametrize("prefix", ["", "pipeline/"])
def test_target_names_parse_back_to_what_made_them(prefix):
    name = format_target_name(prefix, "EvaluateModel", ID["abc"])
    assert parse_target_name(name, prefix) == ("EvaluateModel", ID["abc"])
    assert parse_target_name(name + ".sha256", prefix) == ("EvaluateModel", ID["abc"])


def test_keep_covers_current_recent_runs_and_deployed_lineage():
    runs = [{"tasks": [{"identity": "r1"}, {"identity": None}]}, {"tasks": [{"identity": "r2"}]}]
    assert identities_to_keep(["c1"], runs, ["d1"]) == {"c1", "r1", "r2", "d1"}


def test_select_garbage_touches_only_unkept_targets_of_known_families():
    names = [f"TrainModel/{ID['abc']}.pkl", f"TrainModel/{ID['abc']}.pkl.sha256", f"TrainModel/{ID['def']}.pkl",
             f"Other/{ID['fed']}.pkl", "runs.jsonl", f"EvaluateModel/{ID['cab']}.pkl"]
    selected = select_garbage(names, ["TrainModel", "EvaluateModel"], keep={ID["def"]})
    assert selected == [f"EvaluateModel/{ID['cab']}.pkl", f"TrainModel/{ID['abc']}.pkl",
                        f"TrainModel/{ID['abc']}.pkl.sha256"]
