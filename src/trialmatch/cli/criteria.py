"""CLI: ``trialmatch criteria ID [--format table|json] [--db]`` shows a trial's compiled criteria."""

from __future__ import annotations

from typing import Optional

import typer

from trialmatch.cli.common import DbOption, OutputFormat, console, err_console, fail, open_store, print_json

_STATUS_STYLE = {"compiled": "green", "needs_confirmation": "yellow", "unsupported": "red"}
_STATUS_LABEL = {"compiled": "compiled", "needs_confirmation": "needs confirmation", "unsupported": "unsupported"}


def register(app: typer.Typer) -> None:
    """Add the ``criteria`` command to the main app."""

    @app.command("criteria")
    def criteria_cmd(
        trial_id: str = typer.Argument(..., help="Trial id (NCT number or the id shown by `trials list`)."),
        fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json"),
        db: Optional[str] = DbOption,
    ) -> None:
        """Each criterion of a trial: kind, text as written, compiled expression, status and reason."""
        from trialmatch.criteria.compile import compile_criteria

        store = open_store(db)
        trial = store.get_trial(trial_id)
        if trial is None:
            fail(f"no trial {trial_id!r} in the store (ingest it first: trialmatch ingest PATH)")
        compiled = store.get_compiled(trial_id)
        on_the_fly = compiled is None
        if compiled is None:
            compiled = compile_criteria(trial)
        if fmt == OutputFormat.json:
            print_json({
                "trial_id": compiled.trial_id, "compiler_version": compiled.compiler_version,
                "source": compiled.source, "compiled_on_the_fly": on_the_fly, "counts": compiled.counts(),
                "criteria": [{
                    "id": c.id, "kind": c.kind, "parent": c.parent, "text": c.text, "span": list(c.span),
                    "status": c.status, "reason": c.reason,
                    "expression": c.expression.to_dict() if c.expression is not None else None,
                    "readable": c.expression.describe() if c.expression is not None else None,
                } for c in compiled.criteria],
            })
            return
        from rich.table import Table

        if on_the_fly:
            err_console.print("[yellow]no stored compiled criteria for this trial: compiled on the fly[/]")
        title = f"{trial.id}: {trial.title or ''}".strip(": ")
        table = Table(title=title, show_lines=True, caption=(
            f"source: {compiled.source} · compiler {compiled.compiler_version} · "
            + ", ".join(f"{_STATUS_LABEL[k]} {v}" for k, v in compiled.counts().items())))
        table.add_column("id", no_wrap=True)
        table.add_column("kind", no_wrap=True)
        table.add_column("criterion as written", ratio=3)
        table.add_column("compiled", ratio=3)
        table.add_column("status", no_wrap=True)
        table.add_column("reason", ratio=2)
        for c in compiled.criteria:
            indent = "  " * c.id.count(".")
            readable = (c.expression.describe() if c.expression is not None
                        else "(no check)" if c.reason else "(introduces sub-criteria)")
            style = _STATUS_STYLE.get(c.status, "")
            table.add_row(indent + c.id, c.kind, c.text, readable,
                          f"[{style}]{_STATUS_LABEL.get(c.status, c.status)}[/]", c.reason or "")
        console.print(table)
        if not compiled.criteria:
            console.print("[yellow]this trial states no eligibility criteria the compiler could read[/]")
