"""CLI commands: ``serve`` (the web app and REST API), ``users add``, ``tokens create``."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from trialmatch.cli.common import DbOption, console, fail, open_store

users_app = typer.Typer(help="Web users (each belongs to one workspace).", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for the REST API.", no_args_is_help=True)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on (1-65535)."),
    db: Optional[str] = DbOption,
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="Worker processes (matching is CPU-bound: one per core helps)."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the web pages and the REST API (OpenAPI at /openapi.json, docs at /docs)."""
    import os

    import uvicorn

    from trialmatch.web import Settings, create_app
    from trialmatch.web.auth_store import server_secret

    store = open_store(db)
    console.print(f"trialmatch on http://{host}:{port}/  (store: {store.url})")
    if workers > 1:
        server_secret(store)  # created once here, so that every worker signs sessions alike
        os.environ["TRIALMATCH_DB"] = store.url
        uvicorn.run("trialmatch.web.app:create_app_from_env", factory=True, workers=workers, host=host,
                    port=port, log_level=log_level, proxy_headers=False,
                    timeout_worker_healthcheck=120)  # a long match must not get a worker killed
        return
    uvicorn.run(create_app(store, settings=Settings(preload=True)), host=host, port=port, log_level=log_level, proxy_headers=False)


@users_app.command("add")
def users_add(
    username: str = typer.Argument(..., help="User name."),
    workspace: str = typer.Option(..., "--workspace", "-w", help="The workspace the user belongs to."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    db: Optional[str] = DbOption,
) -> None:
    """Add a web user (the password is hashed with argon2)."""
    from trialmatch.web.auth_store import AuthError, create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(open_store(db), username, password, workspace)
    except AuthError as exc:
        fail(str(exc))
    console.print(f"user {user.username} added to workspace {user.workspace}")


@tokens_app.command("create")
def tokens_create(
    username: str = typer.Argument(..., help="The user the token acts for."),
    name: str = typer.Option("default", "--name", help="A label for the token."),
    db: Optional[str] = DbOption,
) -> None:
    """Create an API token and print it once (only its hash is stored)."""
    from trialmatch.web.auth_store import AuthError, create_token

    try:
        token = create_token(open_store(db), username, name)
    except AuthError as exc:
        fail(str(exc))
    sys.stdout.write(token + "\n")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
