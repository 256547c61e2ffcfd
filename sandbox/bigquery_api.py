"""The part of the BigQuery v2 REST API google-cloud-bigquery uses to run a query and read its rows.

As in BigQuery, a query's result is an anonymous destination table, reported in the job's
`configuration.query.destinationTable`, which the Storage Read API (sandbox/storage_read.py) can read.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from pathlib import Path

from sandbox.carol_api import AccessTokens
from sandbox.https_server import Reply, Request, Route
from sandbox.results import rest_rows
from sandbox.staging import QueryError, QueryResult, run_query

PAGE_ROWS = 10_000
# BigQuery puts anonymous result tables in a hidden dataset of the project.
RESULTS_DATASET = "_sandbox_query_results"
_PROJECT = r"/bigquery/v2/projects/(?P<project>[^/]+)"


class BigQueryStandIn:
    """Runs each query when its job is created (jobs finish at once) and keeps results for paging."""

    def __init__(self, folder: Path, tokens: AccessTokens) -> None:
        self.folder = folder
        self.tokens = tokens
        self._jobs: dict[str, dict] = {}
        self._results: dict[str, QueryResult] = {}
        self._lock = threading.Lock()

    def routes(self) -> list[Route]:
        return [
            Route("POST", _PROJECT + r"/jobs", self._authorized(self.insert_job)),
            Route("GET", _PROJECT + r"/jobs/(?P<job>[^/]+)", self._authorized(self.get_job)),
            Route("GET", _PROJECT + r"/queries/(?P<job>[^/]+)", self._authorized(self.query_results)),
            Route("POST", _PROJECT + r"/queries", self._authorized(self.query)),
        ]

    def _authorized(self, answer):
        def checked(request: Request) -> Reply:
            if not self.tokens.valid(request.headers.get("authorization", "")):
                return Reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "invalid token"}})
            return answer(request)
        return checked

    def insert_job(self, request: Request) -> Reply:
        body = request.json() or {}
        reference = body.get("jobReference") or {}
        job_id = reference.get("jobId") or uuid.uuid4().hex
        sql = ((body.get("configuration") or {}).get("query") or {}).get("query", "")
        job = self._run(request.match["project"], job_id, reference.get("location") or "US", sql,
                        body.get("configuration") or {})
        return Reply(200, job)

    def get_job(self, request: Request) -> Reply:
        job = self._jobs.get(request.match["job"])
        return Reply(200, job) if job else _not_found(request.match["job"])

    def query_results(self, request: Request) -> Reply:
        job_id = request.match["job"]
        job = self._jobs.get(job_id)
        if job is None:
            return _not_found(job_id)
        if "errorResult" in job["status"]:
            code = _error_code(job["status"]["errorResult"])
            return Reply(code, {"error": {"code": code, "message": job["status"]["errorResult"]["message"],
                                          "errors": job["status"]["errors"]}})
        if job["jobReference"]["jobId"] not in self._results:
            return _not_found(job_id)
        return Reply(200, self._page(job, request.query))

    def query(self, request: Request) -> Reply:
        """`jobs.query`: run and answer with the first page at once."""
        body = request.json() or {}
        job = self._run(request.match["project"], uuid.uuid4().hex, body.get("location") or "US", body.get("query", ""),
                        {"query": {"query": body.get("query", "")}})
        if "errorResult" in job["status"]:
            code = _error_code(job["status"]["errorResult"])
            return Reply(code, {"error": {"code": code, "message": job["status"]["errorResult"]["message"],
                                          "errors": job["status"]["errors"]}})
        return Reply(200, self._page(job, {"maxResults": str(body.get("maxResults", PAGE_ROWS))}))

    def _run(self, project: str, job_id: str, location: str, sql: str, configuration: dict) -> dict:
        now = str(int(time.time() * 1000))
        job = {
            "kind": "bigquery#job", "id": f"{project}:{location}.{job_id}",
            "jobReference": {"projectId": project, "jobId": job_id, "location": location},
            "configuration": configuration, "status": {"state": "DONE"},
            "statistics": {"creationTime": now, "startTime": now, "endTime": now,
                           "query": {"statementType": "SELECT", "totalBytesProcessed": "0"}},
        }
        table_id = f"anon{job_id.replace('-', '_')}"
        try:
            result = run_query(self.folder, sql, table_id)
        except QueryError as error:
            problem = _problem(str(error), project, location)
            job["status"].update(errorResult=problem, errors=[problem])
        else:
            destination = {"projectId": project, "datasetId": RESULTS_DATASET, "tableId": table_id}
            job["configuration"] = {**configuration, "query": {**configuration.get("query", {}),
                                                               "destinationTable": destination}}
            with self._lock:
                self._results[job_id] = result
        with self._lock:
            self._jobs[job_id] = job
            # Results expire (sandbox/results.py keeps the newest few tables): so do their jobs' pages.
            for expired in [key for key, kept in self._results.items() if not kept.path.exists()]:
                del self._results[expired]
        return job

    def _page(self, job: dict, query: dict[str, str]) -> dict:
        """A `getQueryResults` page; `maxResults=0` only waits for the job, as BigQuery's does."""
        result = self._results[job["jobReference"]["jobId"]]
        total = result.table.num_rows
        start = int(query.get("pageToken") or query.get("startIndex") or 0)
        size = int(query.get("maxResults") or PAGE_ROWS) if query.get("maxResults") != "0" else 0
        page = {"kind": "bigquery#getQueryResultsResponse", "jobReference": job["jobReference"], "jobComplete": True,
                "schema": {"fields": result.fields}, "totalRows": str(total)}
        if size:
            int64_timestamps = query.get("formatOptions.useInt64Timestamp", "false").lower() == "true"
            rows = rest_rows(result.table, start, size, int64_timestamps)
            if rows:  # BigQuery leaves out an empty list
                page["rows"] = rows
            if start + size < total:
                page["pageToken"] = str(start + size)
        return page


def _not_found(job_id: str) -> Reply:
    return Reply(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": f"job {job_id} not found"}})


_MISSING_TABLE = re.compile(r"Table with name (\w+) does not exist")


def _problem(message: str, project: str, location: str) -> dict:
    """A query error as BigQuery words it: a table that does not exist is `notFound` (HTTP 404)."""
    missing = _MISSING_TABLE.search(message)
    if missing:
        return {"reason": "notFound", "message": f"Not found: Table {project}:{missing[1]} was not found in "
                                                 f"location {location}"}
    return {"reason": "invalidQuery", "location": "query", "message": message}


def _error_code(problem: dict) -> int:
    return 404 if problem.get("reason") == "notFound" else 400
