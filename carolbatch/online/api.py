"""The HTTP API: GET /, POST /predict, GET /model, GET /health; every answer, errors included, is JSON."""

from __future__ import annotations

import logging
import math
import threading

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import ClientDisconnected, HTTPException

from carolbatch.online.follower import ModelFollower
from carolbatch.online.records import RequestError, body_limit, parse_body, records_to_frame
from carolbatch.online.served import ServedModel

logger = logging.getLogger(__name__)

ROUTES = {
    "GET /": "this list",
    "GET /health": "200 once a model is served, 503 before (the health check)",
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

    @api.get("/")
    def index() -> Response:
        return _json({"app": "online", "routes": ROUTES}, 200)

    @api.post("/predict")
    def predict() -> Response:
        return _predict(follower, max_records, predicting)

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
    return api


def _predict(follower: ModelFollower, max_records: int, predicting: threading.BoundedSemaphore) -> Response:
    """Predictions of the model served when the request came, for the records in its body."""
    served = follower.served  # read once: a swap during this request does not mix versions
    if served is None:
        return _unavailable(follower.problem)
    request.max_content_length = body_limit(served.feature_columns, max_records)
    body = _read_body()
    with predicting:
        frame = records_to_frame(parse_body(body, max_records, len(served.feature_columns)),
                                 served.feature_columns, max_records, served.categorical_columns)
        if served.problem.is_classification:
            labels, probabilities = _classified(served, frame)
            return _json({"version": served.version, "predictions": labels, "probabilities": probabilities}, 200)
        predictions = _finite_predictions(served, frame)
    return _json({"version": served.version, "predictions": predictions}, 200)


def _read_body() -> bytes:
    """The request body; 408 when the client did not send it within the server's request deadline."""
    try:
        body = request.get_data(cache=False)
    except ClientDisconnected:
        body = b""
    # gunicorn hands over a body cut short by the deadline as if the client had stopped sending
    if getattr(request.environ.get("gunicorn.socket"), "expired", False):
        raise RequestTimeout()
    return body


class RequestTimeout(RequestError):
    def __init__(self) -> None:
        super().__init__("request body not received in time: send it at once, or in smaller requests")


def _finite_predictions(served: ServedModel, frame) -> list[float]:
    try:
        predictions = served.predict(frame)
    except (ArithmeticError, ValueError) as error:
        raise PredictionError(f"the model cannot predict these records: {type(error).__name__}: "
                              f"{str(error).splitlines()[0] if str(error) else ''}") from None
    for index, value in enumerate(predictions):
        if not math.isfinite(value):
            raise PredictionError(f"record {index}: the model predicts {value} (not a finite number): "
                                  f"its values are far outside what it was trained on", record=index)
    return predictions


def _classified(served: ServedModel, frame) -> tuple[list, list[dict[str, float]]]:
    """A classifier's labels and class probabilities; 422 when they are not finite probabilities."""
    try:
        labels, probabilities = served.classify(frame)
    except (ArithmeticError, ValueError) as error:
        raise PredictionError(f"the model cannot predict these records: {type(error).__name__}: "
                              f"{str(error).splitlines()[0] if str(error) else ''}") from None
    for index, row in enumerate(probabilities):
        if not all(math.isfinite(value) for value in row.values()):
            raise PredictionError(f"record {index}: the model gives class probabilities {row} (not finite): its "
                                  "values are far outside what it was trained on", record=index)
    return labels, probabilities


def _answer_errors_in_json(api: Flask, max_records: int) -> None:
    statuses = {RequestTimeout: 408, PredictionError: 422, RequestError: 400}

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
