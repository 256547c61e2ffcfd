"""The run record (runs.jsonl) of a finished run, and the lineage the deployed model keeps."""

from __future__ import annotations

import json

from tests.app.conftest import DEPLOY_APP
from tests.app.reuse.conftest import FAMILIES, run_log


def test_run_record_describes_every_task(workdir):
    (record,) = run_log(workdir)
    assert record["status"] == "SUCCESS" and record["data_fingerprint"].startswith("file:")
    assert record["settings"]["model_epochs"] == 1000 and record["deployed"]
    assert [task["family"] for task in record["tasks"]] == list(FAMILIES)
    for task in record["tasks"]:
        assert task["outcome"] == "ran" and task["reason"] == "no output" and task["seconds"] > 0
        assert task["output_bytes"] == (workdir / "luigi_targets" / task["target"]).stat().st_size
    metadata = json.loads((workdir / "models" / DEPLOY_APP / record["deployed"] / "metadata.json").read_text())
    assert metadata["settings"]["target_lineage"] == {task["family"]: task["identity"] for task in record["tasks"]}
    # How training went is in the trained model's entry (its role in the app's pipeline), as in the registry metadata.
    assert record["roles"] == {"records": "IngestRecords", "model": "TrainModel", "evaluation": "EvaluateModel",
                               "deployment": "DeployModel"}
    training = next(task["training"] for task in record["tasks"] if task["family"] == record["roles"]["model"])
    assert training == metadata["metrics"]["training"] and training["epochs_run"] > training["best_epoch"] > 0
