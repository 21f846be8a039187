"""CLI command: ``trialmatch demo``, the main job on bundled demo data.

Ingests the demo trials shipped in ``trialmatch/demo/trials`` (fictional records written for the
project in three source formats: CT.gov API v2 JSON, legacy XML and a plain-language page) into
the store, compiles their criteria, and matches each demo patient of ``trialmatch/demo/patients``
against them, printing the ranked results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.rule import Rule
from rich.table import Table

from trialmatch.cli.common import DbOption, console, err_console, open_store

DEMO_DIR = Path(__file__).resolve().parents[1] / "demo"
DEMO_TRIALS = DEMO_DIR / "trials"
DEMO_PATIENTS = DEMO_DIR / "patients"


def demo_patient_files() -> list[Path]:
    """The bundled demo patients (JSON patient format), sorted by name."""
    return sorted(DEMO_PATIENTS.glob("*.json"))


def _print_trials(store, ids: list[str]) -> None:
    from trialmatch.cli.ingest import _phases, _status_style

    table = Table(title=f"{len(ids)} demo trial(s) in the store", expand=False)
    table.add_column("id", style="bold", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("phase", no_wrap=True)
    table.add_column("source format", no_wrap=True)
    table.add_column("title")
    for trial in store.iter_trials(ids=ids):
        table.add_row(trial.id, f"[{_status_style(trial.status)}]{(trial.status or '—').lower().replace('_', ' ')}[/]",
                      _phases(trial), trial.provenance.source_format, escape(trial.title or "—"))
    console.print(table)


def _match_all(store, trial_ids: list[str]) -> int:
    """Match every demo patient against the demo trials; returns the number of errors."""
    try:
        from trialmatch.criteria import COMPILER_VERSION
        from trialmatch.matching import match_patient
    except ImportError as exc:
        console.print(f"[yellow]matching is not available in this build ({escape(str(exc))}):[/] the "
                      "trials are ingested; run [bold]trialmatch match PATIENT_FILE[/] once it is.")
        return 0
    from trialmatch.patients.json_reader import read_json_patient

    pairs = store.load_for_matching(COMPILER_VERSION)
    compiled_ids = {t.id for t, _ in pairs}
    missing = sorted(set(trial_ids) - compiled_ids)
    if missing:
        err_console.print(f"[bold red]error:[/] no compiled criteria for {', '.join(missing)}")
    errors = len(missing)
    for path in demo_patient_files():
        console.print(Rule(f"[bold]{path.stem}[/]"))
        try:
            patient = read_json_patient(path.read_bytes(), path.name)
            report = match_patient(patient, pairs, trial_ids=trial_ids)
        except Exception as exc:  # noqa: BLE001 - reported, the other patients still run
            err_console.print(f"[bold red]error:[/] {escape(path.name)}: {escape(str(exc))}")
            errors += 1
            continue
        _print_report(report)
    return errors


def _print_report(report) -> None:
    """The ranked results table (the matcher's own rendering)."""
    from trialmatch.matching.render import print_summary

    print_summary(report, console=console)


def demo(db: Optional[str] = DbOption) -> None:
    """Run the main job on bundled demo data: ingest the demo trials, compile, match 3 patients.

    The demo trials and patients are fictional records written for trialmatch (ids NCT9000000x),
    modeled on the designs of real HR+/HER2- metastatic breast cancer trials.
    """
    from trialmatch.cli.ingest import print_summary, run_ingest

    store = open_store(db)
    console.print(f"[bold]trialmatch demo[/]: store {escape(store.url)}")
    console.print(Rule("ingest and compile the demo trials"))
    summary = run_ingest(store, [DEMO_TRIALS], compile_=True)
    print_summary(summary)
    ids = sorted(summary.statuses)
    _print_trials(store, ids)
    console.print(Rule("match the demo patients"))
    errors = _match_all(store, ids)
    if not summary.ok or errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the main app."""
    app.command("demo")(demo)
