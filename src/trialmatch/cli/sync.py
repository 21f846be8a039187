"""CLI command: ``trialmatch sync`` keeps the store current from the ClinicalTrials.gov API v2.

``trialmatch sync --condition "breast cancer" --status RECRUITING --save open-bc`` pulls the
matching studies page by page (through the same reader and versioned store as ``ingest``),
saves the query as ``open-bc``; ``trialmatch sync open-bc`` re-runs it and says what is new,
updated, closed to recruitment or withdrawn since the last run. A sync stopped half-way
resumes from its checkpoint when the same query runs again.
"""

from __future__ import annotations

from typing import List, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from trialmatch.cli.common import DbOption, OutputFormat, console, err_console, fail, open_store, print_json

#: How many ids each list of the table summary shows before "and N more".
SHOW_MAX = 20


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("sync")(sync_command)


def sync_command(
    name: Optional[str] = typer.Argument(None, help="A saved search to re-run (see --save, --list)."),
    condition: Optional[str] = typer.Option(None, "--condition", "-c", help="Condition or disease (query.cond)."),
    term: Optional[str] = typer.Option(None, "--term", "-t", help="Other terms (query.term)."),
    intervention: Optional[str] = typer.Option(None, "--intervention", "-i", help="Intervention or drug (query.intr)."),
    status: Optional[List[str]] = typer.Option(
        None, "--status", "-s", help="Overall status, repeatable or comma separated: RECRUITING, NOT_YET_RECRUITING, ..."),
    location: Optional[str] = typer.Option(None, "--location", help="Location terms: city, state, country, facility (query.locn)."),
    near: Optional[str] = typer.Option(None, "--near", help="LAT,LON: sites within --distance of this point (filter.geo)."),
    distance: str = typer.Option("50mi", "--distance", help="Radius for --near, e.g. 50mi or 80km."),
    updated_since: Optional[str] = typer.Option(None, "--updated-since", help="Only studies updated on or after this date (YYYY-MM-DD)."),
    save: Optional[str] = typer.Option(None, "--save", help="Save this query under NAME (re-run it with `trialmatch sync NAME`)."),
    page_size: int = typer.Option(100, "--page-size", help="Studies per page (1-1000)."),
    base_url: Optional[str] = typer.Option(
        None, "--base-url", envvar="TRIALMATCH_CTGOV_URL",
        help="API root, e.g. a hospital mirror (default https://clinicaltrials.gov/api/v2)."),
    rate: float = typer.Option(40.0, "--rate", min=0.0, max=50.0, help="Most requests per minute, up to 50 (the public API allows about 50); 0 = no limit, only for a mirror you run, never for the public API."),
    max_attempts: int = typer.Option(5, "--max-attempts", help="Attempts per request before giving up (429, 5xx, network errors)."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait for each answer."),
    restart: bool = typer.Option(False, "--restart", help="Ignore an unfinished sync's checkpoint and start from the first page."),
    compile_: bool = typer.Option(True, "--compile/--no-compile", help="Compile the criteria of new and changed trials."),
    list_: bool = typer.Option(False, "--list", help="List the saved searches and exit."),
    forget: bool = typer.Option(False, "--forget", help="Delete the saved search NAME and exit."),
    db: Optional[str] = DbOption,
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format."),
) -> None:
    """Pull trials from ClinicalTrials.gov (API v2) into the store, and keep them current."""
    from trialmatch.store import StoreError
    from trialmatch.sync import (
        CtgovClient, QueryError, SyncError, SyncQuery, delete_search, get_checkpoint, get_search, list_searches,
        parse_date, parse_near, resolve_base_url, run_sync, save_search,
    )

    try:
        store = open_store(db)
    except Exception as exc:  # noqa: BLE001 - a bad --db is a message, not a traceback
        fail(f"cannot open the store: {exc}")

    if list_:
        _print_searches(list_searches(store), fmt)
        return
    if forget:
        if not name:
            fail("--forget needs the NAME of a saved search")
        if not delete_search(store, name):
            fail(f"no saved search {name!r}")
        console.print(f"forgot saved search {escape(name)}")
        return

    filters_given = any([condition, term, intervention, status, location, near, updated_since])
    search_name: Optional[str] = None
    saved_base: Optional[str] = None
    try:
        if name and not filters_given:
            saved = get_search(store, name)
            if saved is None:
                names = ", ".join(s.name for s in list_searches(store)) or "none yet"
                fail(f"no saved search {name!r} (saved: {names}); create one with "
                     f"`trialmatch sync --save {name} --condition ...`")
            query, search_name, saved_base = saved.query, name, saved.base_url
            if page_size != 100:
                query = query.model_copy(update={"page_size": SyncQuery.build(page_size=page_size).page_size})
        else:
            if name and save and name != save:
                fail(f"give either a saved search NAME ({name!r}) or --save {save!r}, not both")
            if name and not save:
                fail(f"{name!r} with filters: to change a saved search run `trialmatch sync --save {name} <filters>`; "
                     f"to run a saved search give only its name")
            query = SyncQuery.build(
                condition=condition, term=term, intervention=intervention, location=location,
                statuses=list(status or []), near=parse_near(near) if near else None, distance=distance,
                updated_since=parse_date(updated_since) if updated_since else None, page_size=page_size)
            if not query.has_filter():
                fail("give at least one filter (--condition, --term, --intervention, --status, --location, "
                     "--near or --updated-since), or the NAME of a saved search (see --list)")
        url = resolve_base_url(base_url or saved_base)
        if save:
            save_search(store, save, query, base_url=url)
            search_name = save
    except QueryError as exc:
        fail(str(exc))
    except SyncError as exc:
        fail(str(exc))

    if rate <= 0 and "clinicaltrials.gov" in url.lower():
        fail("--rate 0 (no limit) is only for a mirror you run: the public API asks for about 50 requests a minute at most")
    client = CtgovClient(url, timeout=timeout, max_attempts=max_attempts, rate_per_minute=rate)
    show_progress = fmt == OutputFormat.table and err_console.is_terminal
    progress = Progress(
        SpinnerColumn(), TextColumn("[bold]sync[/]"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.description}"), TimeElapsedColumn(),
        console=err_console, disable=not show_progress, transient=True,
    )
    task = progress.add_task("starting", total=None)

    def on_page(s) -> None:
        c = s.counts()
        progress.update(task, completed=c["read"], total=s.total,
                        description=f"page {s.pages}: new {c['new']} updated {c['updated']} "
                                    f"unchanged {c['unchanged']} failed {c['failed']}")

    if not show_progress and fmt == OutputFormat.table:
        err_console.print(f"syncing {escape(query.describe())} from {escape(url)}")
    try:
        with progress, client:
            summary = run_sync(store, query, client, search_name=search_name, restart=restart,
                               compile_criteria=compile_, progress=on_page)
    except KeyboardInterrupt:
        fail(_resume_hint(store, query, url, search_name, "interrupted", get_checkpoint), code=130)
    except SyncError as exc:
        fail(_resume_hint(store, query, url, search_name, str(exc), get_checkpoint))
    except StoreError as exc:
        fail(_resume_hint(store, query, url, search_name, f"the store refused a page: {exc}", get_checkpoint))

    if fmt == OutputFormat.json:
        print_json(summary.to_json())
    else:
        _print_summary(store, summary)
    if summary.failed:
        raise typer.Exit(1)


def _resume_hint(store, query, url, search_name, message: str, get_checkpoint) -> str:
    try:
        cp = get_checkpoint(store, query, url)
    except Exception:  # noqa: BLE001 - the hint is a courtesy
        cp = None
    if cp is None:
        return message
    again = f"trialmatch sync {search_name}" if search_name else "the same command"
    return (f"{message}\n{cp.pages_done} page(s) ({len(cp.state.seen)} studies) are stored; run {again} again "
            f"to resume at page {cp.pages_done + 1}")


def _print_searches(searches, fmt: OutputFormat) -> None:
    if fmt == OutputFormat.json:
        print_json([{"name": s.name, "query": s.query.model_dump(mode="json"), "base_url": s.base_url,
                     "last_run_at": s.last_run_at, "last_counts": (s.last_summary or {}).get("counts")}
                    for s in searches])
        return
    if not searches:
        console.print("no saved searches (create one with `trialmatch sync --save NAME --condition ...`)")
        return
    table = Table(title="saved searches")
    for col in ("name", "query", "last run", "trials"):
        table.add_column(col)
    for s in searches:
        counts = (s.last_summary or {}).get("counts") or {}
        table.add_row(escape(s.name), escape(s.query.describe()),
                      s.last_run_at.strftime("%Y-%m-%d %H:%M") if s.last_run_at else "never",
                      str(counts.get("read", "")))
    console.print(table)


def _titles(store, ids: list[str]) -> dict[str, str]:
    out = {}
    for t in store.iter_trials(ids=ids[:SHOW_MAX]):
        out[t.id] = t.title or ""
    return out


def _print_summary(store, summary) -> None:
    c = summary.counts()
    head = f"synced {escape(summary.query)}"
    if summary.search_name:
        head += f" (saved search [bold]{escape(summary.search_name)}[/])"
    console.print(head)
    if summary.resumed_from_page:
        console.print(f"resumed at page {summary.resumed_from_page} from the checkpoint of an interrupted sync")
    table = Table(show_header=True)
    for col in ("read", "new", "updated", "unchanged", "failed", "closed", "withdrawn", "pages", "requests"):
        table.add_column(col, justify="right")
    table.add_row(*(str(c[k]) for k in ("read", "new", "updated", "unchanged", "failed", "closed", "withdrawn")),
                  str(summary.pages), str(summary.requests))
    console.print(table)
    if c["read"] == 0:
        console.print("no studies matched this query")

    def listing(label: str, ids: list[str], notes: dict[str, str] | None = None) -> None:
        if not ids:
            return
        titles = _titles(store, ids)
        console.print(f"[bold]{label}[/] ({len(ids)}):")
        for tid in ids[:SHOW_MAX]:
            note = f" [dim]{escape(notes[tid])}[/]" if notes and tid in notes else ""
            console.print(f"  {tid}  {escape(titles.get(tid, ''))}{note}")
        if len(ids) > SHOW_MAX:
            console.print(f"  ... and {len(ids) - SHOW_MAX} more")

    listing("new", summary.new)
    listing("updated", summary.updated)
    for label, changes in (("closed to recruitment", summary.closed), ("withdrawn", summary.withdrawn),
                           ("open again", summary.reopened)):
        listing(label, [ch.id for ch in changes], {ch.id: f"{ch.previous} -> {ch.current}" for ch in changes})
    if summary.left_search:
        listing("no longer returned by the search (re-fetched)", summary.left_search)
    for f in summary.failed[:SHOW_MAX]:
        err_console.print(f"[red]error:[/] {escape(f['error'])}")
    if summary.compile_error:
        err_console.print(f"[yellow]warning:[/] {escape(summary.compile_error)}")
    elif summary.compiled is not None:
        console.print(f"compiled criteria: {summary.compiled} trial(s)")
