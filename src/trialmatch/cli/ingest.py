"""CLI commands: ``trialmatch ingest`` and ``trialmatch trials list|show``.

``ingest`` reads files, folders (recursively) and NDJSON with the trial readers and stores each
FILE in one transaction: a file whose store write fails is rolled back whole, a bad record or
file is reported (``error: <file>[:line]: <message>``) and skipped while the rest still ingest.
The ingest loop itself is :func:`ingest_files`, which the demo command and the ingest benchmark
use too, so all three go through the same code path.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
)
from rich.table import Table

from trialmatch.cli.common import DbOption, OutputFormat, console, err_console, fail, open_store, print_json

#: Runs with at least this many estimated records show a progress bar (on a terminal).
PROGRESS_MIN_RECORDS = 50


# --------------------------------------------------------------------------- the ingest loop


@dataclass
class IngestSummary:
    """What one ingest run did. ``read`` counts records read into trials; ``failed`` counts
    records or files that could not be read plus the records of files whose store write failed.
    """

    files: int = 0
    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    compiled: int | None = None
    errors: list[str] = field(default_factory=list)
    #: trial id -> new / updated / unchanged (the last status seen in this run)
    statuses: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.errors

    def as_dict(self) -> dict:
        return {
            "files": self.files, "read": self.read, "new": self.new, "updated": self.updated,
            "unchanged": self.unchanged, "failed": self.failed, "compiled": self.compiled,
            "errors": list(self.errors), "seconds": round(self.seconds, 3),
        }


def iter_documents(path: Path) -> list[Path]:
    """The files to read for one PATH argument: the file itself, or every regular file under a
    folder (recursively, sorted, hidden files and folders left out)."""
    if path.is_dir():
        out = []
        for p in sorted(path.rglob("*")):
            rel = p.relative_to(path).parts
            if any(part.startswith(".") for part in rel) or not p.is_file():
                continue
            out.append(p)
        return out
    return [path]


def estimate_records(path: Path) -> int:
    """A cheap estimate of the records in a file (NDJSON lines), for the progress bar."""
    try:
        with path.open("rb") as fh:
            data = fh.read()
    except OSError:
        return 1
    if not data.lstrip()[:1] == b"{":
        return 1
    return max(1, data.count(b"\n{") + (1 if data[:1] == b"{" else 0))


def ingest_files(
    store,
    paths: Iterable[Path],
    id_override: str | None = None,
    on_record: Callable[[int], None] | None = None,
    on_error: Callable[[str], None] | None = None,
) -> IngestSummary:
    """Read every document under ``paths`` and store each file in one transaction.

    Parameters
    ----------
    store : TrialStore
        The store to write to.
    paths : iterable of Path
        Files or folders (read recursively).
    id_override : str, optional
        The trial id to use instead of the one the document states (one document only).
    on_record : callable, optional
        Called with the number of records just handled (for a progress bar).
    on_error : callable, optional
        Called with each error line (``"<file>[:line]: <message>"``) as it happens.

    Returns
    -------
    IngestSummary
        Counts of records read, new, updated, unchanged and failed, and the error lines.
    """
    from trialmatch.store import StoreError
    from trialmatch.trials import read_path

    summary = IngestSummary()
    started = time.perf_counter()

    def error(line: str, n: int = 1) -> None:
        summary.failed += n
        summary.errors.append(line)
        if on_error:
            on_error(line)

    for arg in paths:
        arg = Path(arg)
        if not arg.exists():
            error(f"{arg}: no such file or folder")
            continue
        files = iter_documents(arg)
        if arg.is_dir() and not files:
            error(f"{arg}: folder holds no documents")
            continue
        for file in files:
            summary.files += 1
            trials = []
            name, display = file.name, str(file)
            try:
                for res in read_path(file, id_override=id_override):
                    if res.trial is not None and res.error is None:
                        trials.append(res.trial)
                    else:
                        # the reader names the file by its base name; show the path as given,
                        # keeping the record's place in it (":line" for NDJSON, "#n" in a page)
                        loc = res.locator
                        where = display + (loc[len(name):] if loc.startswith(name) else "")
                        msg = res.error.message if res.error is not None else "no trial read"
                        error(f"{where}: {msg}")
                    if on_record:
                        on_record(1)
            except Exception as exc:  # noqa: BLE001 - a reader bug must not stop the other files
                error(f"{file}: could not read ({exc.__class__.__name__}: {exc})", 1)
                trials = []
                continue
            if not trials:
                continue
            summary.read += len(trials)
            try:
                statuses = store.ingest_trials(trials)
            except StoreError as exc:
                error(f"{file}: {exc}", len(trials))
                continue
            for tid, st in statuses.items():
                summary.statuses[tid] = st
                if st == "new":
                    summary.new += 1
                elif st == "updated":
                    summary.updated += 1
                else:
                    summary.unchanged += 1
    summary.seconds = time.perf_counter() - started
    return summary


def _progress(transient: bool = True) -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
        MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console, transient=transient, disable=not err_console.is_terminal,
    )


def run_ingest(store, paths: list[Path], id_override: str | None = None, compile_: bool = True,
               quiet_errors: bool = False) -> IngestSummary:
    """``ingest_files`` with progress bars and error lines on stderr, then compile (optional)."""
    estimate = 0
    if err_console.is_terminal:  # the progress bar's total: only worth reading files for on a TTY
        files = [f for p in paths if p.exists() for f in iter_documents(p)]
        estimate = sum(estimate_records(f) for f in files)

    def print_error(line: str) -> None:
        if not quiet_errors:
            err_console.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)

    if estimate >= PROGRESS_MIN_RECORDS:
        with _progress() as progress:
            task = progress.add_task("reading records", total=estimate)

            def on_record(n: int) -> None:
                t = progress.tasks[0]
                if t.completed + n > (t.total or 0):
                    progress.update(task, total=t.completed + n)
                progress.advance(task, n)

            summary = ingest_files(store, paths, id_override, on_record, print_error)
    else:
        summary = ingest_files(store, paths, id_override, None, print_error)
    if compile_:
        compile_store(store, summary, print_error)
    return summary


def compile_store(store, summary: IngestSummary | None = None,
                  on_error: Callable[[str], None] | None = None) -> int | None:
    """Compile the criteria of every stored trial version that lacks them (with a progress bar).

    Returns the number compiled, or None when the criteria compiler is not available.
    """
    from trialmatch.store import ensure_compiled

    errors: list[tuple[str, str]] = []
    try:
        with _progress() as progress:
            task = progress.add_task("compiling criteria", total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            n = ensure_compiled(store, on_progress, errors=errors)
    except ImportError as exc:
        msg = f"criteria not compiled: the criteria compiler is not available ({exc})"
        err_console.print(f"[yellow]warning:[/] {escape(msg)}")
        return None
    for trial_id, message in errors:
        line = f"{trial_id}: criteria compiler failed: {message}"
        if summary is not None:
            summary.errors.append(line)
            summary.failed += 1
        if on_error:
            on_error(line)
    if summary is not None:
        summary.compiled = n
    return n


def print_summary(summary: IngestSummary) -> None:
    """The one-line summary: read, new, updated, unchanged, failed (+ compiled)."""
    parts = [
        f"read [bold]{summary.read}[/]",
        f"new [green]{summary.new}[/]",
        f"updated [cyan]{summary.updated}[/]",
        f"unchanged {summary.unchanged}",
        f"failed [{'bold red' if summary.failed else 'green'}]{summary.failed}[/]",
    ]
    if summary.compiled is not None:
        parts.append(f"compiled {summary.compiled}")
    console.print(", ".join(parts) + f"  ({summary.files} file(s), {summary.seconds:.1f} s)",
                  highlight=False)


# --------------------------------------------------------------------------- trials list / show

_STATUS_VALUES = (
    "NOT_YET_RECRUITING", "RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING",
    "SUSPENDED", "TERMINATED", "COMPLETED", "WITHDRAWN", "UNKNOWN", "AVAILABLE",
    "NO_LONGER_AVAILABLE", "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD",
)


def normalise_statuses(values: list[str] | None) -> list[str] | None:
    """``recruiting``, ``not-yet-recruiting``, ``"Active, not recruiting"`` -> API v2 values.

    Raises typer.Exit (code 2) on an unknown status, naming the valid ones.
    """
    if not values:
        return None
    out = []
    for v in values:
        for part in v.split(",") if "," in v and " " not in v else [v]:
            key = re.sub(r"[^A-Z]+", "_", part.strip().upper()).strip("_")
            if key not in _STATUS_VALUES:
                fail(f"unknown status {part!r}; use one of: "
                     + ", ".join(s.lower() for s in _STATUS_VALUES), code=2)
            out.append(key)
    return out


def _phases(trial) -> str:
    return "/".join(p.replace("EARLY_PHASE1", "early 1").replace("PHASE", "") for p in trial.phases) or "—"


def _status_style(status: str | None) -> str:
    if status in ("RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION", "AVAILABLE"):
        return "green"
    if status in ("WITHDRAWN", "TERMINATED", "COMPLETED", "SUSPENDED"):
        return "red"
    return "yellow"


def _fmt_age(lo, hi) -> str:
    def one(v):
        return "—" if v is None else (f"{v:g}")
    if lo is None and hi is None:
        return "not stated"
    return f"{one(lo)} to {one(hi)} years"


trials_app = typer.Typer(help="List and show the trials in the store.", no_args_is_help=True)


@trials_app.command("list")
def trials_list(
    status: Optional[list[str]] = typer.Option(
        None, "--status", "-s", help="Only trials with this overall status (repeatable), e.g. recruiting."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="Show at most N trials."),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json."),
    db: Optional[str] = DbOption,
) -> None:
    """List the current version of every stored trial (ordered by id)."""
    statuses = normalise_statuses(status)
    store = open_store(db)
    trials = store.list_trials(status=statuses, limit=limit)
    if format == OutputFormat.json:
        print_json([t.to_summary_json() for t in trials])
        return
    if not trials:
        console.print("no trials in the store" + (" with that status" if statuses else "")
                      + " — add some with [bold]trialmatch ingest PATH[/]")
        return
    table = Table(title=f"{len(trials)} trial(s)", show_lines=False, expand=False)
    table.add_column("id", style="bold", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("phase", no_wrap=True)
    table.add_column("title", ratio=3)
    table.add_column("conditions", ratio=2)
    for t in trials:
        st = t.status or "—"
        conds = ", ".join(t.conditions[:3]) + (f" (+{len(t.conditions) - 3})" if len(t.conditions) > 3 else "")
        table.add_row(t.id, f"[{_status_style(t.status)}]{st.lower().replace('_', ' ')}[/]", _phases(t),
                      escape(t.title or "—"), escape(conds or "—"))
    console.print(table)


@trials_app.command("show")
def trials_show(
    trial_id: str = typer.Argument(..., metavar="ID", help="The trial id (e.g. NCT04199520)."),
    version: Optional[int] = typer.Option(None, "--version", "-v", min=1, help="Show this stored version."),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json."),
    db: Optional[str] = DbOption,
) -> None:
    """Show one trial (its current version, or --version N) with its stored versions."""
    store = open_store(db)
    versions = store.versions(trial_id)
    if not versions:
        fail(f"no trial {trial_id!r} in the store ({store.url}); see `trialmatch trials list`")
    current = store.current_version(trial_id)
    shown = version or current
    trial = store.get_trial(trial_id, shown)
    if trial is None:
        fail(f"trial {trial_id!r} has no version {shown}; stored versions: "
             + ", ".join(str(v.version) for v in versions))
    version_rows = [
        {"version": v.version, "current": v.version == current, "sha256": v.sha256,
         "source_format": v.source_format, "file_name": v.file_name,
         "ingested_at": v.ingested_at.isoformat() if v.ingested_at else None}
        for v in versions
    ]
    if format == OutputFormat.json:
        data = trial.to_summary_json()
        data["version"] = shown
        data["versions"] = version_rows
        print_json(data)
        return
    _print_trial(trial, shown, version_rows)


def _print_trial(trial, shown: int, version_rows: list[dict]) -> None:
    from rich.panel import Panel

    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold dim", no_wrap=True)
    head.add_column()
    e = trial.eligibility

    def row(label: str, value) -> None:
        if value not in (None, "", []):
            head.add_row(label, escape(str(value)))

    row("status", (trial.status or "").lower().replace("_", " ") + (f" — {trial.why_stopped}" if trial.why_stopped else ""))
    row("phase", _phases(trial) if trial.phases else None)
    row("study type", (trial.study_type or "").lower() or None)
    row("acronym", trial.acronym)
    row("other ids", ", ".join(trial.other_ids))
    row("conditions", "; ".join(trial.conditions))
    row("keywords", "; ".join(trial.keywords))
    row("sponsor", trial.sponsor.name if trial.sponsor else None)
    row("ages", _fmt_age(e.min_age_years, e.max_age_years))
    row("sex", (e.sex or "not stated").lower())
    row("healthy volunteers", {True: "yes", False: "no"}.get(e.healthy_volunteers))
    row("start", trial.start_date)
    row("source", f"{trial.provenance.source_format} {trial.provenance.file_name or ''}".strip())
    row("version", f"{shown} of {len(version_rows)}")
    console.print(Panel(head, title=f"[bold]{escape(trial.id)}[/] {escape(trial.title or '')}",
                        title_align="left", expand=False))

    if trial.interventions:
        t = Table(title="interventions", title_justify="left", expand=False)
        for c in ("type", "name", "other names"):
            t.add_column(c)
        for iv in trial.interventions:
            t.add_row((iv.type or "—").lower(), escape(iv.name), escape(", ".join(iv.other_names)))
        console.print(t)
    if trial.arms:
        t = Table(title="arms", title_justify="left", expand=False)
        for c in ("label", "type", "size", "interventions"):
            t.add_column(c)
        for a in trial.arms:
            t.add_row(escape(a.label), (a.type or "—").lower(), "" if a.size is None else str(a.size),
                      escape("; ".join(a.interventions)))
        console.print(t)
    if trial.outcomes:
        t = Table(title="outcomes", title_justify="left", expand=False)
        for c in ("", "measure", "time frame"):
            t.add_column(c)
        for o in trial.primary_outcomes:
            t.add_row("primary", escape(o.measure), escape(o.time_frame or ""))
        for o in trial.secondary_outcomes:
            t.add_row("secondary", escape(o.measure), escape(o.time_frame or ""))
        console.print(t)
    if e.criteria_text:
        console.print(Panel(escape(e.criteria_text.strip()), title="eligibility criteria", title_align="left"))
    if trial.locations:
        t = Table(title=f"locations ({len(trial.locations)})", title_justify="left", expand=False)
        for c in ("facility", "city", "country", "status"):
            t.add_column(c)
        for loc in trial.locations[:20]:
            t.add_row(escape(loc.facility or ""), escape(loc.city or ""), escape(loc.country or ""),
                      (loc.status or "").lower())
        console.print(t)
        if len(trial.locations) > 20:
            console.print(f"… and {len(trial.locations) - 20} more locations (use --format json)")
    if trial.results:
        console.print(f"[bold]results[/]: {len(trial.results.statistics)} reported statistic(s) "
                      f"from {trial.results.source.replace('_', ' ')}")
    t = Table(title="versions", title_justify="left", expand=False)
    for c in ("version", "ingested", "format", "file", "sha256"):
        t.add_column(c)
    for v in version_rows:
        mark = " (current)" if v["current"] else ""
        t.add_row(f"{v['version']}{mark}", (v["ingested_at"] or "")[:19], v["source_format"],
                  escape(v["file_name"] or ""), v["sha256"][:12])
    console.print(t)


# --------------------------------------------------------------------------- ingest command


def ingest(
    paths: list[Path] = typer.Argument(..., metavar="PATH...", help="Files or folders (read recursively); NDJSON too."),
    id_override: Optional[str] = typer.Option(
        None, "--id", help="Use this trial id instead of the one the document states (one document only)."),
    no_compile: bool = typer.Option(False, "--no-compile", help="Do not compile eligibility criteria."),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f",
                                        help="Summary as a line (table) or as JSON."),
    db: Optional[str] = DbOption,
) -> None:
    """Read trial documents into the store (one transaction per file), then compile criteria.

    Formats (chosen by content): ClinicalTrials.gov API v2 JSON, pages and NDJSON; legacy
    ClinicalTrials.gov XML; registry, mirror, PubMed and plain-language pages. Bad records and files are reported as ``error: <file>[:line]: <message>`` and skipped; the
    exit status is 1 when anything failed.
    """
    if id_override is not None:
        if len(paths) != 1 or paths[0].is_dir():
            fail("--id needs exactly one document (a single file), not several or a folder", code=2)
    store = open_store(db)
    summary = run_ingest(store, paths, id_override, compile_=not no_compile)
    if format == OutputFormat.json:
        print_json(summary.as_dict())
    else:
        print_summary(summary)
    if not summary.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``ingest`` and the ``trials`` group to the main app."""
    app.command("ingest")(ingest)
    app.add_typer(trials_app, name="trials")


__all__ = ["IngestSummary", "ingest_files", "run_ingest", "compile_store", "iter_documents", "register"]
