"""Fingerprints that decide whether finished work can be reused: of data, of code, of parameters, of lineage."""

from __future__ import annotations

import ast
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from carolbatch.records.sources import RecordsError
from carolbatch.storage.checksums import digest_file


def normalise_source(source: str) -> str:
    """Python source reduced to its syntax tree: comments, docstrings and layout do not count.

    Raises:
        SyntaxError: `source` is not valid Python.
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def fingerprint_code(sources: Iterable[str]) -> str:
    """SHA-256 over the normalised sources, in order."""
    digest = hashlib.sha256()
    for source in sources:
        digest.update(normalise_source(source).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def fingerprint_task(
    family: str, significant_params: Mapping[str, Any], code: str, upstream: Iterable[str]
) -> str:
    """Identity of one task's output: what it is, with which parameters, which code, on which inputs."""
    payload = {
        "family": family,
        "params": dict(sorted(significant_params.items())),
        "code": code,
        "upstream": sorted(upstream),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def fingerprint_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks so any size fits in memory.

    Raises:
        RecordsError: the file does not exist.
    """
    try:
        return digest_file(path).sha256
    except FileNotFoundError:
        raise RecordsError(f"data file {path} not found") from None


def file_stamp(path: Path) -> dict[str, Any]:
    """What changes whenever a file's content is rewritten: size, mtime and inode."""
    status = os.stat(path)
    return {"size": status.st_size, "mtime_ns": status.st_mtime_ns, "inode": status.st_ino}


def fingerprint_with_cache(path: Path, cache: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A file's fingerprint, rehashing only when its size, mtime or inode changed since `cache`.

    Args:
        path: the data file.
        cache: `{absolute path: {"stamp": ..., "sha256": ...}}` from an earlier call (may be empty).

    Returns:
        `("file:<sha256>", updated cache)`; the input cache is not modified.

    Raises:
        RecordsError: the file does not exist or is not a regular file (a folder, a device, a FIFO).
    """
    if not path.is_file():
        raise RecordsError(f"data file {path} {'is not a regular file' if path.exists() else 'not found'}")
    key = str(path.resolve())
    stamp = file_stamp(path)
    entry = cache.get(key)
    if isinstance(entry, dict) and entry.get("stamp") == stamp:
        return f"file:{entry['sha256']}", cache
    sha256 = fingerprint_file(path)
    return f"file:{sha256}", {**cache, key: {"stamp": stamp, "sha256": sha256}}


def fingerprint_staging(connector: str, staging: str, probe: pd.DataFrame) -> str:
    """Fingerprint of a staging table from the one-row result of its probe query."""
    if len(probe) != 1:
        raise RecordsError(f"staging {connector}/{staging}: probe returned {len(probe)} rows, expected 1")
    values = json.dumps(probe.iloc[0].astype(str).to_dict(), sort_keys=True)
    return f"staging:{connector}/{staging}:{hashlib.sha256(values.encode()).hexdigest()}"
