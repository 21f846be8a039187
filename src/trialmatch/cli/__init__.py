"""The ``trialmatch`` command line. Each command group lives in its own module and registers
itself on the one Typer app here; the core packages never import this one."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="trialmatch",
    help="Find the clinical trials a cancer patient can join, explained criterion by criterion.",
    no_args_is_help=True,
    add_completion=False,
)


def _register_all() -> None:
    from trialmatch.cli import criteria, demo, ingest, match, patient, screen, serve, sync, watch

    for module in (ingest, criteria, match, patient, demo, serve, sync, watch, screen):
        module.register(app)


_register_all()


def main() -> None:  # console-script entry point
    app()
