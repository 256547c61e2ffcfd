"""Fingerprints that decide whether finished work can be reused: of code, of parameters, of lineage."""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any


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
