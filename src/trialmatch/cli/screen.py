"""CLI command: ``trialmatch screen [PATIENTS...]``, every patient against every trial on Dask.

Exit status: 0 when every partition was screened; 1 when some failed (the others are kept and
the next run redoes only the failed ones) or the store cannot be used; 2 for bad arguments or a
patient file that cannot be read.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from trialmatch.cli.common import DbOption, OutputFormat, console, err_console, fail, open_store, print_json


def screen_command(
    patients: Optional[List[Path]] = typer.Argument(
        None, help="Patient files (JSON, FHIR R4 Bundle, text summary) or folders of them; "
        "none: the stored patients (see --workspace)."),
    status: Optional[List[str]] = typer.Option(
        None, "--status", "-s", help="Only trials with this status (repeatable): recruiting, ... or open/closed."),
    out: Path = typer.Option(Path("results.parquet"), "--out", "-o",
                             help="Results: *.parquet (a dataset folder), *.csv or *.ndjson."),
    scheduler: Optional[str] = typer.Option(
        None, "--scheduler", envvar="TRIALMATCH_DASK_SCHEDULER",
        help="A Dask scheduler address (tcp://host:8786); default an embedded LocalCluster."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1,
                                          help="Worker processes of the embedded LocalCluster (default: one per core)."),
    workspace: Optional[str] = typer.Option(None, "--workspace", "-w",
                                            help="Stored patients of this workspace (default: every workspace)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Evaluate as of this date (YYYY-MM-DD)."),
    patient_block: int = typer.Option(25, "--patient-block", min=1, help="At most about this many patients per "
                                      "partition (new output)."),
    trial_block: int = typer.Option(2000, "--trial-block", min=1, help="At most about this many trials per partition "
                                    "(new output; cut finer to make at least 32 partitions)."),
    restart: bool = typer.Option(False, "--restart", help="Forget the results already in --out and screen all."),
    use_index: bool = typer.Option(
        False, "--index/--no-index", help="Skip the trials the candidate index excludes for a patient (same verdicts; "
        "their rows: the index's failed criteria, no score, no missing facts)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Summary as table (text) or json."),
    db: Optional[str] = DbOption,
) -> None:
    """Screen every patient against every stored trial on Dask; one result row per patient-trial pair.

    Restartable: a partition (patient block x trial block) already finished in --out is not redone,
    so running the same command again after an interruption completes the results without
    duplicates, and after trials or patients changed re-screens only the partitions holding them.
    """
    from trialmatch.patients import PatientReadError
    from trialmatch.screening import file_patients, run_screen, stored_patients
    from trialmatch.screening.output import output_format
    from trialmatch.screening.partitions import status_filter

    when = None
    if as_of:
        try:
            when = dt.date.fromisoformat(as_of.strip())
        except ValueError:
            fail(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)", code=2)
    try:
        output_format(out)
        status_filter(status)
    except ValueError as exc:
        fail(escape(str(exc)), code=2)
    store = open_store(db)
    if patients:
        for p in patients:
            if not p.exists():
                fail(f"{p}: no such file", code=2)
        try:
            items = file_patients(patients)
        except PatientReadError as exc:
            fail(escape(str(exc)), code=2)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            fail(escape(f"cannot read the patients ({exc.__class__.__name__}: {exc})"), code=2)
    else:
        if workspace and workspace not in store.list_workspaces():
            fail(f"no patients in workspace {workspace!r}", code=2)
        items = stored_patients(store, workspace)
    if not items:
        fail("no patients to screen: give patient files, or store patients first (watch --add-patient)", code=2)
    try:
        from trialmatch.store import ensure_compiled

        errors: list[tuple[str, str]] = []
        ensure_compiled(store, errors=errors)
        for tid, message in errors:
            err_console.print(f"[yellow]warning:[/] {tid}: criteria not compiled, left out ({escape(message)})")
    except Exception as exc:  # noqa: BLE001 - store trouble is reported, not a traceback
        fail(escape(f"store: {exc.__class__.__name__}: {exc}"), code=1)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(TextColumn("screening"), BarColumn(), MofNCompleteColumn(), TextColumn("pairs"),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=fmt == OutputFormat.json)
    task = None

    def on_progress(done: int, total: int, failed: int) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task("screen", total=total)
        progress.update(task, completed=done)

    try:
        with progress:
            result = run_screen(store, items, out, statuses=status, as_of=when, scheduler=scheduler, workers=workers,
                                patient_block=patient_block, trial_block=trial_block, restart=restart,
                                use_index=use_index, progress=on_progress)
    except (ValueError, OSError) as exc:
        fail(escape(str(exc)), code=2 if isinstance(exc, ValueError) else 1)
    for name, error in result.failed:
        err_console.print(f"[bold red]error:[/] partition {name}: {escape(error)}")
    if fmt == OutputFormat.json:
        print_json(result.to_json())
    else:
        rate = f", {result.pairs_per_second:,.0f} pairs/s on {result.workers} worker(s)" if result.ran else ""
        if result.load_seconds:
            rate += f"; trials loaded by the workers first in {result.load_seconds:.1f} s"
        console.print(
            f"screened {result.patients} patient(s) x {result.trials} trial(s) = {result.pairs:,} pairs in "
            f"{result.partitions} partition(s): {result.ran} run, {result.skipped} already done, "
            f"{len(result.failed)} failed ({result.seconds:.1f} s{rate})")
        if not result.failed:
            console.print(f"results: {escape(str(result.out))}")
    if result.failed:
        err_console.print("run the same command again to redo only the failed partitions")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``screen`` to the main app."""
    app.command("screen")(screen_command)
