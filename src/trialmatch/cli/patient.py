"""CLI command: ``trialmatch patient show FILE``: what was read from a patient record.

Every fact with its source (the note's sentence, the JSON path or the FHIR resource), every
stated absence, the as-of date and where it came from, and the sentences of a note from which
nothing was read: how a clinician checks the reader before trusting a verdict.

Exit status: 0 on success; 2 for a file that cannot be read (the message names the file and
the field) or a malformed ``--as-of``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from trialmatch.cli.common import OutputFormat, console, err_console, fail, parse_as_of, print_json

patient_app = typer.Typer(help="Patient records: what the readers take from them.", no_args_is_help=True)


def _where(src) -> str:
    if src is None:
        return ""
    if src.kind == "text":
        return src.locator
    return f"{src.kind}: {src.locator}"


@patient_app.command("show")
def show_command(
    patient_file: Path = typer.Argument(..., help="Patient record: JSON, FHIR R4 Bundle, or a free-text note."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Show the record as of this date (YYYY-MM-DD); "
                                        "default the date the record states, else today."),
) -> None:
    """Show what was read from a patient record: facts with their sources, stated absences,
    the as-of date and its source, and the sentences nothing was read from."""
    from trialmatch.patients import PatientReadError
    from trialmatch.patients.report import read_patient_with_report

    when = parse_as_of(as_of)
    if not patient_file.exists():
        fail(f"{patient_file}: no such file", code=2)
    if patient_file.is_dir():
        fail(f"{patient_file}: is a folder, not a patient file", code=2)
    try:
        report = read_patient_with_report(patient_file, as_of=when)
    except PatientReadError as exc:
        fail(escape(str(exc)), code=2)
    if fmt == OutputFormat.json:
        print_json(report.to_json())
        return
    head = (f"Patient [bold]{escape(report.patient.id)}[/] ({report.format}, {escape(report.file_name)}): "
            f"as of [bold]{report.as_of or 'today'}[/]")
    console.print(head)
    if report.as_of_source is not None:
        console.print(f"  date from: {escape(_where(report.as_of_source))}")
    if report.record_date is not None:
        console.print(f"  the record's own date: {report.record_date}"
                      + (f" ({escape(_where(report.record_date_source))})" if report.record_date_source else ""))
    table = Table(title="Facts read", show_lines=False)
    table.add_column("group", style="cyan", no_wrap=True)
    table.add_column("fact")
    table.add_column("source", style="dim")
    for f in report.facts:
        table.add_row(escape(f.group), escape(f.fact), escape(_where(f.source)))
    console.print(table)
    absent = Table(title="Stated absences", show_lines=False)
    absent.add_column("group", style="cyan", no_wrap=True)
    absent.add_column("absence")
    absent.add_column("source", style="dim")
    for f in report.absences:
        absent.add_row(escape(f.group), escape(f.fact), escape(_where(f.source)))
    if report.absences:
        console.print(absent)
    else:
        console.print("No stated absences.")
    if report.sentences:
        unread = report.unread
        console.print(f"Sentences from which nothing was read: {len(unread)} of {len(report.sentences)}")
        for s in unread:
            console.print(f"  - {escape(s.text)}", highlight=False)
    for w in report.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(report.file_name)}: {escape(w)}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(patient_app, name="patient")
