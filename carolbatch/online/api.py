"""The HTTP API: POST /predict, GET /model, GET /health."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request

from carolbatch.online.follower import ModelFollower
from carolbatch.online.records import RequestError, parse_body, records_to_matrix

logger = logging.getLogger(__name__)

# Room per record in a request body (13 features written out in full take about 400 bytes).
BODY_BYTES_PER_RECORD = 4096


def create_api(follower: ModelFollower, max_records: int) -> Flask:
    """A Flask app answering from whatever model `follower` serves at the time of each request.

    Args:
        follower: holds the current model and replaces it when a new version is deployed.
        max_records: the most records one /predict request may hold.
    """
    api = Flask("online")
    api.config["MAX_CONTENT_LENGTH"] = max_records * BODY_BYTES_PER_RECORD + 65536
    api.json.sort_keys = False

    @api.post("/predict")
    def predict() -> Response:
        served = follower.served  # read once: a swap during this request does not mix versions
        if served is None:
            return _unavailable(follower.problem)
        try:
            matrix = records_to_matrix(parse_body(request.get_data()), served.feature_columns, max_records)
        except RequestError as error:
            return _json(error.as_json(), 400)
        return _json({"version": served.version, "predictions": served.predict(matrix)}, 200)

    @api.get("/model")
    def model() -> Response:
        served = follower.served
        return _unavailable(follower.problem) if served is None else _json(served.describe(), 200)

    @api.get("/health")
    def health() -> Response:
        served = follower.served
        return _unavailable(follower.problem) if served is None else _json({"status": "ok",
                                                                            "version": served.version}, 200)

    @api.errorhandler(413)
    def too_large(_error) -> Response:
        return _json(RequestError(f"request body over {api.config['MAX_CONTENT_LENGTH']} bytes "
                                  f"(at most {max_records} records)", field="records").as_json(), 413)

    return api


def _unavailable(reason: str) -> Response:
    return _json({"status": "unavailable", "error": reason}, 503)


def _json(body: dict, status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
