"""The HTTP API: GET /, POST /predict, GET /model, GET /health; every answer, errors included, is JSON."""

from __future__ import annotations

import logging
import math
import threading
import time

from flask import Flask, Response, g, jsonify, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import ClientDisconnected, HTTPException

from carolbatch.online.follower import ModelFollower
from carolbatch.online.compiled import Records
from carolbatch.online.metrics import Metrics
from carolbatch.online.records import RequestError, body_limit, parse_body, read_records
from carolbatch.online.served import ServedModel
from carolbatch.online.worker import ERROR_CHARACTERS

logger = logging.getLogger(__name__)

ROUTES = {
    "GET /": "this list",
    "GET /health": "200 once a model is served, 503 before (the health check)",
    "GET /metrics": "requests, errors, latency, records predicted, values out of range, the served version and its "
                    "age, in Prometheus text format",
    "GET /model": "the served model version, its test metrics and feature (and categorical) columns",
    "POST /predict": "a JSON object or a list of them, one value per feature -> predictions (and a classifier's "
                     "class probabilities)",
}
# Parsing and predicting hold the GIL: more of them at once only add memory, not speed.
CONCURRENT_PREDICTIONS = 2


class PredictionError(RequestError):
    """Records the model cannot give a finite prediction for (values far outside what it was trained on)."""


def create_api(follower: ModelFollower, max_records: int) -> Flask:
    """A Flask app answering from whatever model `follower` serves at the time of each request.

    Args:
        follower: holds the current model and replaces it when a new version is deployed.
        max_records: the most records one /predict request may hold.
    """
    api = Flask("online")
    api.json.sort_keys = False
    predicting = threading.BoundedSemaphore(CONCURRENT_PREDICTIONS)
    metrics = Metrics()

    @api.get("/")
    def index() -> Response:
        return _json({"app": "online", "routes": ROUTES}, 200)

    @api.post("/predict")
    def predict() -> Response:
        return _predict(follower, max_records, predicting, metrics)

    @api.get("/model")
    def model() -> Response:
        served = follower.served
        return _unavailable(follower.problem) if served is None else _json(served.describe(), 200)

    @api.get("/health")
    def health() -> Response:
        served = follower.served
        return _unavailable(follower.problem) if served is None else _json({"status": "ok",
                                                                            "version": served.version}, 200)

    _answer_errors_in_json(api, max_records)
    _observe_requests(api, metrics, follower)
    return api


def _observe_requests(api: Flask, metrics: Metrics, follower: ModelFollower) -> None:
    """GET /metrics, and every answer counted by route and status with its latency; OPTIONS answered in JSON."""
    @api.get("/metrics")
    def scrape() -> Response:
        served = follower.served
        metrics.serving(served and served.version, served and served.metadata.get("created_at"))
        body, content_type = metrics.render()
        return Response(body, 200, content_type=content_type)

    @api.before_request
    def started() -> None:
        g.started = time.perf_counter()

    @api.after_request
    def answered(response: Response) -> Response:
        if request.method == "OPTIONS" and response.status_code == 200:  # Flask's own answer has no body
            allowed = sorted(method for method in response.allow if method != "HEAD")
            allow = response.headers.get("Allow")
            response = _json({"route": request.path[:ERROR_CHARACTERS], "methods": allowed}, 200)
            response.headers["Allow"] = allow
        route = request.url_rule.rule if request.url_rule else "other"
        metrics.observe(route, response.status_code, time.perf_counter() - g.get("started", time.perf_counter()))
        return response


def _predict(follower: ModelFollower, max_records: int, predicting: threading.BoundedSemaphore,
             metrics: Metrics) -> Response:
    """Predictions of the model served when the request came, for the records in its body."""
    served = follower.served  # read once: a swap during this request does not mix versions
    if served is None:
        return _unavailable(follower.problem)
    _check_content_type()
    request.max_content_length = body_limit(served.feature_columns, max_records)
    body = _read_body()
    with predicting:
        records = read_records(parse_body(body, max_records, len(served.feature_columns)), served.feature_columns,
                               max_records, served.categorical_columns, served.category_numbers)
        flagged = _in_range(served, records, metrics)
        if served.problem.is_classification:
            labels, probabilities = _classified(served, records)
            answer = {"version": served.version, "predictions": labels, "probabilities": probabilities}
        else:
            answer = {"version": served.version, "predictions": _finite_predictions(served, records)}
    metrics.records.inc(len(records))
    return _json({**answer, "out_of_range": flagged} if flagged else answer, 200)


def _check_content_type() -> None:
    """A body must be sent as JSON (a client sending no content type is taken at its word that it is)."""
    kind = request.mimetype
    if kind and kind != "application/json" and not kind.endswith("+json"):
        raise UnsupportedContentType(f"content type {kind[:60]!r} is not JSON: send application/json")


def _in_range(served: ServedModel, records: Records, metrics: Metrics) -> list[dict]:
    """The values far outside the training data (counted in /metrics); 422 naming the column of an absurd one."""
    if served.ranges is None:
        return []
    absurd, flagged = served.ranges.review(records.numeric, records.categories)
    if absurd:
        record, name = absurd
        metrics.refused_absurd.labels(name).inc()
        column = served.ranges.numeric.index(name)
        raise PredictionError(f"record {record}: feature {name!r} is {records.numeric[record, column]:g}, absurdly "
                              f"far outside its training range [{served.ranges.low[column]:g}, "
                              f"{served.ranges.high[column]:g}] (see the README, 'Inputs out of range')",
                              field=name, record=record)
    for item in flagged:
        metrics.out_of_range.labels(item["field"]).inc()
    return flagged


def _read_body() -> bytes:
    """The request body; 408 when the client did not send it within the server's request deadline."""
    try:
        body = request.get_data(cache=False)
    except ClientDisconnected:
        body = b""
    except ParseException as error:  # gunicorn's reader of a chunked body: a malformed chunk
        raise RequestError(f"request body is not valid chunked encoding: {str(error)[:ERROR_CHARACTERS]}") from None
    # gunicorn hands over a body cut short by the deadline as if the client had stopped sending
    if getattr(request.environ.get("gunicorn.socket"), "expired", False):
        raise RequestTimeout()
    return body


class UnsupportedContentType(RequestError):
    """A body sent as something other than JSON (415)."""


class RequestTimeout(RequestError):
    def __init__(self) -> None:
        super().__init__("request body not received in time: send it at once, or in smaller requests")


def _finite_predictions(served: ServedModel, records: Records) -> list[float]:
    try:
        predictions = served.predict_records(records)
    except (ArithmeticError, ValueError) as error:
        raise PredictionError(f"the model cannot predict these records: {type(error).__name__}: "
                              f"{str(error).splitlines()[0] if str(error) else ''}") from None
    for index, value in enumerate(predictions):
        if not math.isfinite(value):
            raise PredictionError(f"record {index}: the model predicts {value} (not a finite number): "
                                  f"its values are far outside what it was trained on", record=index)
    return predictions


def _classified(served: ServedModel, records: Records) -> tuple[list, list[dict[str, float]]]:
    """A classifier's labels and class probabilities; 422 when they are not finite probabilities."""
    try:
        labels, probabilities = served.classify_records(records)
    except (ArithmeticError, ValueError) as error:
        raise PredictionError(f"the model cannot predict these records: {type(error).__name__}: "
                              f"{str(error).splitlines()[0] if str(error) else ''}") from None
    for index, row in enumerate(probabilities):
        if not all(math.isfinite(value) for value in row.values()):
            raise PredictionError(f"record {index}: the model gives class probabilities {row} (not finite): its "
                                  "values are far outside what it was trained on", record=index)
    return labels, probabilities


def _answer_errors_in_json(api: Flask, max_records: int) -> None:
    statuses = {RequestTimeout: 408, PredictionError: 422, UnsupportedContentType: 415, RequestError: 400}

    @api.errorhandler(RequestError)
    def refused(error: RequestError) -> Response:
        return _json(error.as_json(), next(code for kind, code in statuses.items() if isinstance(error, kind)))

    @api.errorhandler(413)
    def too_large(_error) -> Response:
        return _json(RequestError(f"request body over {request.max_content_length} bytes "
                                  f"(at most {max_records} records)", field="records").as_json(), 413)

    @api.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return _json({"error": f"{error.code} {error.name}: {error.description}", "field": None,
                      "record": None}, error.code or 500)

    @api.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        logger.exception("request failed: %s %s", request.method, request.path)
        return _json({"error": f"internal error: {type(error).__name__}", "field": None, "record": None}, 500)


def _unavailable(reason: str) -> Response:
    return _json({"status": "unavailable", "error": reason}, 503)


def _json(body: dict, status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
