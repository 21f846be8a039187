"""The flat public API re-exported by ``trialmatch`` resolves to real objects, and the core
packages never import the CLI or the web app (data flows one way)."""

from __future__ import annotations

import ast
from pathlib import Path

import trialmatch

SRC = Path(trialmatch.__file__).resolve().parent
CORE = ("trials", "criteria", "vocab", "patients", "matching", "store", "evidence", "sync", "watch")


def test_every_exported_name_resolves():
    for name in trialmatch.__all__:
        assert getattr(trialmatch, name) is not None, name


def test_unknown_name_is_an_attribute_error():
    try:
        trialmatch.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_core_never_imports_cli_or_web():
    offenders = []
    for package in CORE:
        for path in (SRC / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for n in names:
                    if n.startswith(("trialmatch.cli", "trialmatch.web")):
                        offenders.append(f"{path.relative_to(SRC)} imports {n}")
    assert offenders == []
