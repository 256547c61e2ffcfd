"""run.py and the deploy decision: the report people open (in headless Chromium), a champion that is not
comparable, and `--replace-champion`."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from app.functions.settings import BOSTON_FEATURES
from carolbatch.gate import REMEDY
from tests.app.test_visualiser import chromium
from tests.conftest import SAMPLE_DATA, run_app, summary_of

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
APP = "bostonhouseonline"


def succeed(workdir, *args) -> dict[str, str]:
    result = run_app(workdir, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    report = next((line.removeprefix("report: ") for line in lines if line.startswith("report: ")), None)
    return {**summary_of(result), "lines": lines, "report": report}


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)")
def test_the_report_opens_with_the_decision_for_a_deployed_and_a_refused_challenger(tmp_path):
    first = succeed(tmp_path, "--set", "model_epochs=40")["deployed"]
    deployed = succeed(tmp_path, "--set", "champion_tolerance=1000")
    refused = succeed(tmp_path, "--set", "model_epochs=20")  # worse than the champion (early stopping ends at 94)
    assert deployed["deployed"] != "none" and refused["deployed"] == "none"
    assert refused["lines"][-3].startswith("not deployed: test RMSE ") and "common test records" in refused["lines"][-3]

    for run, heading, champion in ((deployed, f"Model version {deployed['deployed']}", first),
                                   (refused, "Model not deployed", deployed["deployed"])):
        page = chromium(tmp_path / f"profile-{champion}", "--dump-dom", f"file://{run['report']}")
        assert page.returncode == 0, page.stderr
        body = page.stdout.split("<body>")[1]
        assert body.startswith(f"<h1>{heading}</h1>")
        decision = body.split('<p id="decision">')[1].split("</p>")[0]
        assert decision.startswith("Decided 20") and f"of deployed model {champion} on " in decision
        comparison = body.split("<h2>Champion vs challenger</h2>")[1].split("<h2>")[0]
        assert "<th>challenger</th>" in comparison and f"<th>champion {champion}</th>" in comparison
        assert "<th>baseline (train mean)</th>" in comparison and "test records held out by both models" in comparison
        assert body.index("Champion vs challenger") < body.index("Learning curve") < body.index("<h2>Metrics</h2>")
        settings = body.split("<h2>Settings</h2>")[1]
        assert "<th>model_hidden_layers</th><td style=\"text-align:left\">128, 64</td>" in settings
        assert "carol_mode" not in settings and "data_fingerprint" not in settings and "target_lineage" not in settings
    runs = [json.loads(line) for line in (tmp_path / "luigi_targets" / "runs.jsonl").read_text().splitlines()]
    assert runs[-1]["decision"]["reason"] == refused["lines"][-3].removeprefix("not deployed: ")
    assert runs[-1]["decision"]["report"] == refused["report"]


def test_a_champion_on_other_columns_is_not_comparable_until_replace_champion(tmp_path):
    champion = succeed(tmp_path)["deployed"]
    other_table = tmp_path / "without_crim.csv"
    pd.read_csv(SAMPLE_DATA).drop(columns="CRIM").to_csv(other_table, index=False)
    features = ",".join(name for name in BOSTON_FEATURES if name != "CRIM")
    settings = ["--set", f"data_path={other_table}", "--set", f"feature_columns={features}"]

    blocked = succeed(tmp_path, *settings)
    assert blocked["deployed"] == "none"
    assert blocked["lines"][-3] == (f"not deployed: not comparable with deployed model {champion}: the records have "
                                    f"no usable column CRIM; {REMEDY}")

    replaced = succeed(tmp_path, *settings, "--replace-champion")
    assert replaced["deployed"] not in ("none", champion)
    history = [json.loads(line) for line in (tmp_path / "models" / APP / "history.jsonl").read_text().splitlines()]
    assert history[-1]["version"] == replaced["deployed"] and history[-1]["previous"] == champion
    assert history[-1]["reason"].startswith(f"replaces deployed model {champion} (--replace-champion): not comparable")

    again = succeed(tmp_path, *settings)  # the flag held for its run only
    assert again["deployed"] == "none"
    assert again["lines"][-3].startswith(f"not deployed: identical to deployed model {replaced['deployed']}")
