"""CLI: ``trialmatch watch`` - re-match stored patients and report what changed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from trialmatch.cli.common import DbOption, OutputFormat, console, err_console, fail, open_store, print_json

_SYMBOL = {
    "new": "new", "newly_eligible": "[green]newly eligible[/]", "no_longer_eligible": "[red]no longer eligible[/]",
    "verdict_changed": "[yellow]verdict changed[/]", "step_opened": "[cyan]step opened[/]",
    "missing_fact_known": "missing fact known", "removed": "[dim]removed[/]",
}


def watch(
    db: Optional[str] = DbOption,
    workspace: Optional[str] = typer.Option(None, "--workspace", "-w", help="Watch one workspace (default: all)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Evaluate as of this date (YYYY-MM-DD; default today)."),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json."),
    webhook: Optional[str] = typer.Option(
        None, "--webhook", envvar="TRIALMATCH_WEBHOOK",
        help="POST the report as JSON to this URL when something changed (3 retries with backoff)."),
    add_patient: Optional[list[Path]] = typer.Option(
        None, "--add-patient", help="Store this patient file (JSON, FHIR Bundle or text summary) in the workspace "
        "first, as a new version if it changed. Repeatable."),
    screen_out: Optional[Path] = typer.Option(
        None, "--screen-out", help="Keep the screening results (one folder per workspace choice) under this folder "
        "(default: STORE.watch beside a SQLite store file; other stores: a temporary folder, every pair re-screened)."),
    workers: int = typer.Option(0, "--workers", "-j", min=0,
                                help="Screen on an embedded Dask LocalCluster of N worker processes (0: in this process)."),
    scheduler: Optional[str] = typer.Option(
        None, "--scheduler", envvar="TRIALMATCH_DASK_SCHEDULER",
        help="Screen on this Dask scheduler (tcp://host:8786; --screen-out on a shared path)."),
) -> None:
    """Re-screen the stored patients where trials or patients changed and report what changed since the last run.

    Screening goes through the batch screening of `trialmatch screen` (partitions keyed on the patients' records,
    the trials' versions, the compiler version and the --as-of date): a run after a sync or an ingest re-screens
    only the partitions holding a changed trial or patient. The first run records a baseline (every patient-trial
    pair is reported as new). Exit status: 0; 1 when a --add-patient file could not be read (the others are stored
    and watched); 3 when the webhook could not be reached (the changes are recorded all the same).
    """
    when: dt.date | None = None
    if as_of:
        try:
            when = dt.date.fromisoformat(as_of)
        except ValueError:
            fail(f"--as-of: {as_of!r} is not a date (expected YYYY-MM-DD)", 2)
    from trialmatch.store import StoreError
    from trialmatch.watch import run_watch

    bad_files = 0
    try:
        store = open_store(db)
        for path in add_patient or []:
            bad_files += not _store_patient(store, path, workspace or "default")
        if workspace and workspace not in store.list_workspaces():
            fail(f"no patients in workspace {workspace!r}", 2)
        report = run_watch(store, workspace=workspace, as_of=when, webhook=webhook, screen_out=screen_out,
                           workers=workers, scheduler=scheduler)
    except StoreError as exc:
        fail(str(exc))
    except (ValueError, OSError) as exc:  # a results folder or a store the workers cannot use
        fail(escape(str(exc)), 2 if isinstance(exc, ValueError) else 1)
    if format == OutputFormat.json:
        print_json(report.to_json_dict())
    else:
        from rich.table import Table

        kind = "baseline" if report.baseline else "since the last run"
        ws = ", ".join(report.workspaces) or "none"
        console.print(f"watch run {report.run_id} as of {report.as_of.isoformat()} (workspace {ws}): "
                      f"{report.patients} patient(s) x "
                      f"{report.trials} trial(s), {len(report.changes)} change(s) ({kind})")
        if report.changes:
            many = len({c.workspace for c in report.changes}) > 1
            table = Table(show_lines=False)
            cols = (["workspace"] if many else []) + ["patient", "trial", "change", "verdict", "detail"]
            for col in cols:
                table.add_column(col, overflow="fold", no_wrap=col in ("trial", "change", "verdict"),
                                 ratio=3 if col == "detail" else None)
            for c in report.changes:
                verdict = f"{c.before} -> {c.after}" if c.before and c.after and c.before != c.after else (c.after or c.before or "")
                row = [c.patient_id, c.trial_id, _SYMBOL.get(c.change, c.change), verdict, c.detail]
                table.add_row(*([c.workspace] if many else []), *row)
            console.print(table)
        for e in report.errors:
            err_console.print(f"[yellow]warning:[/] {escape(e)}")
        sc = report.screen or {}
        if sc:
            err_console.print(f"screened {sc['ran']} of {sc['partitions']} partition(s) ({sc['pairs_screened']:,} pairs), "
                              f"{sc['reused']} reused, {sc['failed']} failed; {sc['pairs_compared']:,} pair(s) compared")
    if bad_files:
        err_console.print(f"[bold red]error:[/] {bad_files} patient file(s) could not be read")
    if report.webhook is not None:
        if report.webhook.ok:
            err_console.print(f"webhook: delivered to {report.webhook.url} (HTTP {report.webhook.status_code})")
        else:
            err_console.print(f"[bold red]webhook:[/] {report.webhook.error} ({report.webhook.url}); "
                              "the changes are recorded in the store")
            raise typer.Exit(3)
    if bad_files:
        raise typer.Exit(1)


def _store_patient(store, path: Path, workspace: str) -> bool:
    """Read a patient file and save it (a new version only when its content changed)."""
    from trialmatch.patients import read_patient

    try:
        patient = read_patient(path)
    except Exception as exc:  # noqa: BLE001 - reported with the file name, the others go on
        err_console.print(f"[bold red]error:[/] {path}: {exc}")
        return False
    current = store.get_patient(patient.id, workspace)
    if current is not None and current.model_dump(exclude={"sources"}) == patient.model_dump(exclude={"sources"}):
        err_console.print(f"{path}: patient {patient.id!r} unchanged in workspace {workspace!r}")
        return True
    version = store.save_patient(patient, workspace)
    err_console.print(f"{path}: patient {patient.id!r} stored in workspace {workspace!r} (version {version})")
    return True


def register(app: typer.Typer) -> None:
    """Add ``watch`` to the main app."""
    app.command("watch")(watch)
