"""Options and helpers shared by the CLI command modules."""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import Enum
from typing import Any, Optional

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

DbOption = typer.Option(
    None, "--db", envvar="TRIALMATCH_DB",
    help="Store: a SQLite path or an SQLAlchemy URL (default ./trialmatch.db).",
)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


def open_store(db: Optional[str]):
    """Open the store, or exit with a clear message (never a traceback) when it cannot be."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from trialmatch.store import TrialStore, resolve_url

    try:
        return TrialStore(db)
    except (SQLAlchemyError, ArgumentError, OSError, ValueError) as exc:
        fail(f"cannot open the store {resolve_url(db)}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def fail(message: str, code: int = 1) -> "typer.Exit":
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def parse_as_of(value: Optional[str]) -> "dt.date | None":
    """The ``--as-of`` option as a date, or exit with a clear message (code 2)."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        fail(f"--as-of: {value!r} is not a date (YYYY-MM-DD)", code=2)
