"""CLI command: ``trialmatch match PATIENT_FILE`` against the trials in the store.

Exit status: 0 on success; 2 for a patient file that cannot be read (malformed, impossible
values: the message names the file and the field); 1 for other errors (e.g. the store).
Warnings about the patient (implausible or contradictory values) go to stderr and name the field.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from trialmatch.cli.common import DbOption, err_console, fail, open_store, parse_as_of, print_json


class MatchFormat(str, Enum):
    table = "table"
    json = "json"
    html = "html"
    csv = "csv"
    fhir = "fhir"


def match_command(
    patient_file: Path = typer.Argument(..., help="Patient record: JSON, FHIR R4 Bundle, or a free-text summary (.txt)."),
    trial: Optional[List[str]] = typer.Option(None, "--trial", "-t", help="Only these trial ids (repeatable)."),
    top: Optional[int] = typer.Option(None, "--top", "-n", min=1, help="Show the first N trials."),
    status: Optional[List[str]] = typer.Option(
        None, "--status", "-s", help="Only trials with this status (repeatable): recruiting, completed, ... or open/closed."),
    fmt: MatchFormat = typer.Option(MatchFormat.table, "--format", "-f", help="table, json, html (printable checklist), csv, or fhir (a FHIR R4 searchset Bundle of ResearchStudy resources)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Evaluate as of this date (YYYY-MM-DD); default the record's date or today."),
    registry: bool = typer.Option(
        False, "--registry", help="Rank with the store's compiled registry (a folder beside a SQLite store, rebuilt "
        "when the store changes): one patient against a very large store in about a second, with the same verdicts, "
        "scores and explanations; the first --top (default 20) are returned. Not with --trial."),
    db: Optional[str] = DbOption,
) -> None:
    """Match a patient against the stored trials: a verdict per trial, explained criterion by criterion."""
    from trialmatch.patients import PatientReadError, read_patient

    when = parse_as_of(as_of)
    if not patient_file.exists():
        fail(f"{patient_file}: no such file", code=2)
    if patient_file.is_dir():
        fail(f"{patient_file}: is a folder, not a patient file", code=2)
    try:
        patient = read_patient(patient_file)
    except PatientReadError as exc:
        fail(escape(str(exc)), code=2)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        fail(escape(f"{patient_file}: cannot read the patient ({exc.__class__.__name__}: {exc})"), code=2)
    for w in patient.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(patient_file.name)}: {escape(w)}")
    if registry and trial:
        fail("--registry ranks every stored trial: it does not take --trial", code=2)
    store = open_store(db)
    if registry:
        report, trial_map = _match_with_registry(store, patient, when, status, top)
        _print_report(report, fmt, trial_map)
        return
    try:
        from trialmatch.criteria import COMPILER_VERSION
        from trialmatch.store import ensure_compiled

        ensure_compiled(store)
        trials = store.load_for_matching(COMPILER_VERSION)
    except Exception as exc:  # noqa: BLE001 - store trouble is reported, not a traceback
        fail(escape(f"store: {exc.__class__.__name__}: {exc}"), code=1)
    if not trials:
        err_console.print("[yellow]warning:[/] the store holds no trials: run `trialmatch ingest PATH` first")
    from trialmatch.matching import match_patient

    try:
        report = match_patient(patient, trials, as_of=when, statuses=status, trial_ids=trial, top=top)
    except ValueError as exc:  # an unknown --status
        fail(escape(str(exc)), code=2)
    _print_report(report, fmt, lambda: {t.id: t for t, _ in trials})


def _match_with_registry(store, patient, when, status, top):
    """The report of ``match --registry``, and a function giving its trials by id (for FHIR)."""
    from trialmatch.screening import CompiledRegistry, RegistryError, rank_registry

    try:
        from trialmatch.store import ensure_compiled

        ensure_compiled(store)
        reg = CompiledRegistry.for_store(store)
    except RegistryError as exc:
        fail(escape(f"registry: {exc}"), code=2)
    except Exception as exc:  # noqa: BLE001 - store trouble is reported, not a traceback
        fail(escape(f"store: {exc.__class__.__name__}: {exc}"), code=1)
    if not len(reg):
        err_console.print("[yellow]warning:[/] the store holds no trials: run `trialmatch ingest PATH` first")
    try:
        report = rank_registry(patient, reg, store, top=top or 20, as_of=when, statuses=status)
    except ValueError as exc:  # an unknown --status
        fail(escape(str(exc)), code=2)

    def trial_map():
        return {r.trial_id: t for r in report.results if (t := store.get_trial(r.trial_id)) is not None}

    return report, trial_map


def _print_report(report, fmt: MatchFormat, trial_map) -> None:
    if fmt == MatchFormat.json:
        print_json(report.to_output_json())
    elif fmt == MatchFormat.fhir:
        from trialmatch.matching.fhir_bundle import report_to_searchset

        print_json(report_to_searchset(report, trial_map()))
    elif fmt == MatchFormat.html:
        typer.echo(report.to_html())
    elif fmt == MatchFormat.csv:
        typer.echo(report.to_csv(), nl=False)
    else:
        from trialmatch.cli.common import console

        report.print_summary(console=console)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("match")(match_command)
