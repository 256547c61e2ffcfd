"""The HTTP API on Flask's test client, answering from a real registry."""

from __future__ import annotations

import dataclasses
import json

import pytest

from carolbatch.registry import load_current_model
from carolbatch.online.api import create_api
from carolbatch.online.records import body_limit
from tests.conftest import FEATURES
from tests.platform.online.conftest import APP, deploy


@pytest.fixture
def client(follower):
    return create_api(follower, max_records=5).test_client()


@pytest.fixture
def served(follower, registry, tiny_frame):
    deploy(registry, "v1", tiny_frame)
    follower.poll()
    return follower


def test_without_a_model_every_route_answers_503_with_the_reason(client, follower):
    follower.poll()
    for response in (client.get("/health"), client.get("/model"), client.post("/predict", json={"a": 1})):
        assert response.status_code == 503 and "no model deployed yet" in response.json["error"]


def test_predict_one_record_and_a_list_as_the_current_model_does(client, served, registry, tiny_frame):
    records = tiny_frame[list(FEATURES)].head(4).to_dict(orient="records")
    expected = load_current_model(registry, APP).predict(tiny_frame[list(FEATURES)].head(4)).tolist()
    response = client.post("/predict", data=json.dumps(records))
    # The served model is the pipeline compiled to array steps: the same arithmetic, to the last bits.
    assert response.status_code == 200 and response.json["version"] == "v1"
    assert response.json["predictions"] == pytest.approx(expected, rel=1e-9)
    assert client.post("/predict", json=records[0]).json["predictions"] == pytest.approx(expected[:1], rel=1e-9)


def test_model_and_health_describe_the_served_version(client, served):
    health, model = client.get("/health"), client.get("/model")
    assert health.status_code == 200 and health.json == {"status": "ok", "version": "v1"}
    assert model.json["version"] == "v1" and model.json["feature_columns"] == list(FEATURES)
    assert set(model.json["test_metrics"]) >= {"rmse", "r2"} and model.json["created_at"]
    assert model.json["data_fingerprint"] == "file:tiny"
    assert model.json["decision"]["version"] == "v1" and "no model is deployed yet" in model.json["decision"]["reason"]


@pytest.mark.parametrize("body, field, index", [
    (b"{oops", None, None),
    (json.dumps([{"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2}]).encode(), "c", 1),
    (json.dumps({"a": 1, "b": 2, "c": 3, "x": 0}).encode(), "x", 0),
    (json.dumps({"a": 1, "b": "2", "c": 3}).encode(), "b", 0),
    (b'{"a": 1, "b": 2, "c": Infinity}', "c", 0),
    (json.dumps([{"a": 1, "b": 2, "c": 3}] * 6).encode(), "records", None),
])
def test_bad_requests_get_400_with_one_line_naming_field_and_record(client, served, body, field, index):
    response = client.post("/predict", data=body)
    assert response.status_code == 400
    assert (response.json["field"], response.json["record"]) == (field, index)
    assert response.json["error"] and "\n" not in response.json["error"]
    assert response.data.count(b"\n") <= 1


def test_a_body_far_over_the_limit_is_refused_before_parsing(client, served):
    response = client.post("/predict", data=b"[" + b" " * body_limit(FEATURES, 5) + b"]")
    assert response.status_code == 413 and response.json["field"] == "records"


def test_root_lists_the_routes_with_and_without_a_model(client, served, follower):
    answer = client.get("/")
    assert answer.status_code == 200 and "POST /predict" in answer.json["routes"]


@pytest.mark.parametrize("value", ["1.7e308", "-1.7e308"])
def test_absurd_values_get_422_naming_the_column_never_nan(client, served, value):
    body = json.dumps({**dict.fromkeys(FEATURES, 0.5), FEATURES[1]: float(value)})
    response = client.post("/predict", data=body)
    assert response.status_code == 422 and response.json["field"] == FEATURES[1]
    assert f"feature {FEATURES[1]!r}" in response.json["error"] and "training range" in response.json["error"]
    assert b"NaN" not in response.data and b"Infinity" not in response.data


@pytest.mark.parametrize("value", ["1.7e308", "-1.7e308"])
def test_a_version_without_ranges_still_never_answers_nan(client, served, value):
    served.served = dataclasses.replace(served.served, ranges=None)
    body = json.dumps(dict.fromkeys(FEATURES, 0.5)).replace("0.5", value)
    response = client.post("/predict", data=body)
    assert response.status_code == 422 and "the model" in response.json["error"]
    assert b"NaN" not in response.data and b"Infinity" not in response.data


def test_unknown_routes_and_methods_answer_json(client, served):
    assert client.get("/nothing").status_code == 404 and client.get("/nothing").json["error"].startswith("404")
    assert client.get("/predict").status_code == 405 and client.get("/predict").json["error"].startswith("405")


def test_the_served_version_is_compiled_and_answers_as_its_pipeline(client, served, registry, tiny_frame):
    assert served.served.compiled is not None
    rows = tiny_frame[list(FEATURES)].tail(5)
    expected = load_current_model(registry, APP).predict(rows)
    answer = client.post("/predict", json=rows.to_dict(orient="records")).json["predictions"]
    assert answer == pytest.approx(expected.tolist(), rel=1e-9)


def test_values_far_outside_the_training_range_are_answered_and_flagged(client, served):
    low, high = served.served.ranges.low[1], served.served.ranges.high[1]
    far = high + 2000 * (high - low)
    records = [dict.fromkeys(FEATURES, 0.5), {**dict.fromkeys(FEATURES, 0.5), FEATURES[1]: far}]
    answer = client.post("/predict", json=records)
    assert answer.status_code == 200 and len(answer.json["predictions"]) == 2
    assert [(item["record"], item["field"]) for item in answer.json["out_of_range"]] == [(1, FEATURES[1])]
    assert "out_of_range" not in client.post("/predict", json=records[0]).json  # inside: nothing flagged
    scraped = client.get("/metrics").data.decode()
    assert f'online_out_of_range_values_total{{field="{FEATURES[1]}"}} 1.0' in scraped


def test_metrics_scrape_in_prometheus_text_format(client, served):
    for _ in range(3):
        client.post("/predict", json=dict.fromkeys(FEATURES, 0.5))
    client.post("/predict", json={"nothing": 1})
    response = client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    scraped = response.data.decode()
    assert 'online_requests_total{route="/predict",status="200"} 3.0' in scraped
    assert 'online_requests_total{route="/predict",status="400"} 1.0' in scraped
    assert 'online_request_seconds_count{route="/predict"} 4.0' in scraped
    assert "online_records_predicted_total 3.0" in scraped
    assert 'online_model_version{version="v1"} 1.0' in scraped
    age = float(next(line.split()[1] for line in scraped.splitlines() if line.startswith("online_model_age_seconds ")))
    assert 0 <= age < 600


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_body_not_sent_as_json_is_refused_with_415(client, served, content_type):
    response = client.post("/predict", data=json.dumps(dict.fromkeys(FEATURES, 0.5)), content_type=content_type)
    assert response.status_code == 415 and "not JSON" in response.json["error"]
    assert client.post("/predict", data=json.dumps(dict.fromkeys(FEATURES, 0.5)),
                       content_type="application/json; charset=utf-8").status_code == 200


def test_options_answers_json_with_the_allowed_methods(client, served):
    response = client.options("/predict")
    assert response.status_code == 200 and response.json["methods"] == ["OPTIONS", "POST"]
    assert "POST" in response.headers["Allow"]
