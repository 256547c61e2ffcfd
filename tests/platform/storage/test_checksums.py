from __future__ import annotations

import joblib
import numpy as np

from carolbatch.storage.checksums import ArtifactRecord, digest_file, dump_with_digest


def test_digest_while_writing_matches_a_digest_of_the_file(tmp_path):
    value = {"frame": np.arange(3_000_000, dtype="float64"), "name": "records"}
    path = tmp_path / "artifact.pkl"
    with open(path, "wb") as handle:
        record = dump_with_digest(value, handle)
    assert record == digest_file(path)
    assert record.size == path.stat().st_size > 24_000_000
    loaded = joblib.load(path)
    assert np.array_equal(loaded["frame"], value["frame"]) and loaded["name"] == "records"


def test_digest_of_a_small_file():
    import hashlib
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x"
        path.write_bytes(b"abc")
        assert digest_file(path) == ArtifactRecord(size=3, sha256=hashlib.sha256(b"abc").hexdigest())
