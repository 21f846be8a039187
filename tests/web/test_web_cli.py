"""The CLI side of the web app: `trialmatch users add`, `trialmatch tokens create`, `serve --help`."""

from __future__ import annotations

from typer.testing import CliRunner

from trialmatch.cli import app
from trialmatch.store import TrialStore
from trialmatch.web import auth_store

runner = CliRunner()


def test_users_add_and_tokens_create(tmp_path):
    db = str(tmp_path / "cli.db")
    r = runner.invoke(app, ["users", "add", "carol", "--workspace", "clinic-1", "--password-stdin", "--db", db],
                      input="carol-password-9\n")
    assert r.exit_code == 0, r.output
    store = TrialStore(db)
    assert auth_store.authenticate(store, "carol", "carol-password-9").workspace == "clinic-1"
    assert auth_store.authenticate(store, "carol", "wrong-password") is None
    r = runner.invoke(app, ["tokens", "create", "carol", "--name", "ehr", "--db", db])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("tm_") and len(token) > 30
    user = auth_store.user_for_token(store, token)
    assert user is not None and user.username == "carol"
    # the same user twice, a short password, an unknown user: clear errors, non-zero exit
    r = runner.invoke(app, ["users", "add", "carol", "--workspace", "w", "--password-stdin", "--db", db],
                      input="another-password\n")
    assert r.exit_code != 0 and "exists" in r.output
    r = runner.invoke(app, ["users", "add", "dave", "--workspace", "w", "--password-stdin", "--db", db], input="short\n")
    assert r.exit_code != 0 and "8 characters" in r.output
    r = runner.invoke(app, ["tokens", "create", "nobody", "--db", db])
    assert r.exit_code != 0 and "no user" in r.output


def test_serve_help():
    r = runner.invoke(app, ["serve", "--help"])
    assert r.exit_code == 0
    for opt in ("--host", "--port", "--db"):
        assert opt in r.output
