"""Cloud Storage's generation preconditions (`ifGenerationMatch`), which gcp-storage-emulator ignores.

Real Cloud Storage creates an object with `ifGenerationMatch=0` only if it does not exist, and replaces or
deletes one with `ifGenerationMatch=G` only while its generation is G; otherwise it answers 412
(conditionNotMet). Lock objects rely on that, so the stand-in must refuse the same way.
"""

from __future__ import annotations

import threading
from http import HTTPStatus

from gcp_storage_emulator import server
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects

_CHECK = threading.Lock()


def _object_name(request) -> str | None:
    if "object_id" in request.params:
        return request.params["object_id"]
    if request.query.get("name"):
        return request.query["name"][0]
    data = request.data
    return data.get("meta", {}).get("name") if isinstance(data, dict) else None


def _guarded(handler):
    def handle(request, response, storage, *args, **kwargs):
        expected = request.query.get("ifGenerationMatch")
        if not expected:
            return handler(request, response, storage, *args, **kwargs)
        with _CHECK:  # the check and the change happen as one step, as in Cloud Storage
            try:
                current = str(storage.get_file_obj(request.params["bucket_name"], _object_name(request))["generation"])
            except NotFound:
                current = "0"
            if current != expected[0]:
                response.status = HTTPStatus.PRECONDITION_FAILED
                response.json({"error": {"code": 412, "message": "conditionNotMet",
                                         "errors": [{"reason": "conditionNotMet", "message": "conditionNotMet"}]}})
                return None
            return handler(request, response, storage, *args, **kwargs)

    return handle


def honour_generation_preconditions() -> None:
    """Wrap the emulator's object insert and delete handlers (once per process)."""
    if getattr(objects.insert, "guarded", False):
        return
    originals = {objects.insert: _guarded(objects.insert), objects.delete: _guarded(objects.delete)}
    for guarded in originals.values():
        guarded.guarded = True
    for _, handlers in server.HANDLERS:
        for method, handler in list(handlers.items()):
            if handler in originals:
                handlers[method] = originals[handler]
    objects.insert, objects.delete = originals[objects.insert], originals[objects.delete]
