"""The metric a model must win on is a setting: on the sample, decided on MAE with champion_min_improvement=0.02, a
challenger less than 2% better is refused and one more than 2% better deploys (models of the same split: the
L2 penalty and the batch size tell them apart; their test MAE in the comments, measured with the defaults)."""

from __future__ import annotations

import json

from tests.conftest import run_app, summary_of

DECIDED_ON_MAE = ("--set", "decision_metric=mae", "--set", "champion_min_improvement=0.02")
CHAMPION = ("--set", "model_l2regularization=0.12")  # test MAE 2.057
SLIGHTLY_BETTER = ("--set", "model_l2regularization=0.09")  # 2.025: 1.6% better
CLEARLY_BETTER = ("--set", "model_batch_size=250")  # 1.868: 9.2% better


def test_a_challenger_must_be_two_percent_better_in_mae(tmp_path):
    champion = summary_of(run_app(tmp_path, *DECIDED_ON_MAE, *CHAMPION))["deployed"]
    assert champion != "none"

    refused = run_app(tmp_path, *DECIDED_ON_MAE, *SLIGHTLY_BETTER)
    (line,) = [line for line in refused.stdout.splitlines() if line.startswith("not deployed:")]
    mae = [float(word) for word in line.split()[4:7:2]]
    assert line.startswith(f"not deployed: test MAE {mae[0]:.3f} vs {mae[1]:.3f} of deployed model {champion}")
    assert 0 < 1 - mae[0] / mae[1] < 0.02, line
    assert line.endswith("not better by champion_min_improvement=0.02 of the deployed model's MAE")

    deployed = run_app(tmp_path, *DECIDED_ON_MAE, *CLEARLY_BETTER)
    version = summary_of(deployed)["deployed"]
    assert version != "none", deployed.stdout
    metadata = json.loads((tmp_path / "models" / "bostonhouseonline" / version / "metadata.json").read_text())
    comparison = metadata["decision"]["comparison"]
    assert comparison["metric"] == "mae" and metadata["decision_metric"] == "mae"
    assert 1 - comparison["challenger"]["mae"] / comparison["champion"]["mae"] > 0.02
    interval = comparison["interval"]
    assert interval["low"] < interval["difference"] < interval["high"] and interval["confidence"] == 0.95
    assert "better by at least champion_min_improvement=0.02" in metadata["decision"]["reason"]
