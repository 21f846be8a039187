"""``trialmatch sync`` end to end: the CLI, the real client and the fake API on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from fake_ctgov import closed_port, ctgov_studies, fake_api  # noqa: F401 - fixtures
from trialmatch.cli import app
from trialmatch.store import TrialStore

runner = CliRunner()


def run(*args: str, env: dict | None = None):
    return runner.invoke(app, ["sync", *args], env={"COLUMNS": "200", **(env or {})}, catch_exceptions=False)


@pytest.fixture()
def db(db_url) -> str:
    return db_url


def fast(fake, db) -> list[str]:
    return ["--base-url", fake.url, "--db", db, "--rate", "0", "--no-compile"]


def test_sync_save_and_rerun_by_name(fake_api, db):
    r = run("--condition", "breast cancer", "--status", "RECRUITING", "--status", "not yet recruiting",
            "--save", "open-bc", "--page-size", "3", *fast(fake_api, db), "--format", "json")
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout)
    assert first["completed"] and first["search_name"] == "open-bc"
    n = first["counts"]["new"]
    assert n > 3 and first["counts"]["read"] == n and first["pages"] == -(-n // 3)
    assert TrialStore(db).count_trials() == n
    params = fake_api.page_requests()[0]["params"]
    assert params["filter.overallStatus"] == "RECRUITING,NOT_YET_RECRUITING"

    # re-run by name (the saved search remembers its server): nothing changed, nothing written
    rev = TrialStore(db).revision()
    r = run("open-bc", "--db", db, "--rate", "0", "--no-compile", "--page-size", "3", "--format", "json")
    assert r.exit_code == 0, r.output
    second = json.loads(r.stdout)
    assert second["counts"]["unchanged"] == n and second["counts"]["new"] == 0
    assert TrialStore(db).revision() == rev

    # one study withdrawn on the server: the table summary says so
    wid = first["new"][0]
    fake_api.set_status(wid, "WITHDRAWN")
    r = run("open-bc", "--db", db, "--rate", "0", "--no-compile", "--page-size", "3")
    assert r.exit_code == 0, r.output
    previous = [s for s in ("RECRUITING", "NOT_YET_RECRUITING") if s in json.dumps(first)]
    assert "withdrawn (1):" in r.stdout and f"{wid}  " in r.stdout
    assert any(f"{p} -> WITHDRAWN" in r.stdout for p in previous)
    assert "no longer returned by the search (re-fetched) (1):" in r.stdout  # it left a RECRUITING search

    r = run("--list", "--db", db, "--format", "json")
    listed = json.loads(r.stdout)
    assert [s["name"] for s in listed] == ["open-bc"] and listed[0]["query"]["condition"] == "breast cancer"


def test_base_url_from_environment(fake_api, db):
    r = run("--updated-since", "2000-01-01", "--page-size", "50", "--db", db, "--rate", "0", "--no-compile",
            "--format", "json", env={"TRIALMATCH_CTGOV_URL": fake_api.url})
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["counts"]["new"] == 55
    assert len(fake_api.page_requests()) == 2


def test_offline_gives_a_clear_message_and_nonzero_exit(db):
    url = f"http://127.0.0.1:{closed_port()}/api/v2"
    r = run("--condition", "breast cancer", "--base-url", url, "--db", db, "--max-attempts", "1")
    assert r.exit_code != 0
    assert f"cannot reach {url}" in r.stderr
    assert "Traceback" not in r.output


def test_interrupted_sync_says_how_to_resume(fake_api, db):
    fake_api.add_fault("503", page=2, times=None)
    args = ["--updated-since", "2000-01-01", "--page-size", "20", *fast(fake_api, db), "--max-attempts", "1"]
    r = run(*args)
    assert r.exit_code == 1
    assert "503" in r.stderr and "resume at page 2" in r.stderr and "Traceback" not in r.output
    fake_api.clear_faults()
    r = run(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["resumed_from_page"] == 2 and out["counts"]["new"] == 55


@pytest.mark.parametrize("args, message", [
    ([], "at least one filter"),
    (["--status", "OPEN"], "not an overall status"),
    (["--condition", "x", "--near", "north"], "latitude,longitude"),
    (["--condition", "x", "--near", "40,-74", "--distance", "far"], "50mi"),
    (["--condition", "x", "--updated-since", "yesterday"], "YYYY-MM-DD"),
    (["--condition", "x", "--page-size", "5000"], "between 1 and 1000"),
    (["nosuch"], "no saved search 'nosuch'"),
    (["--condition", "x", "--base-url", "clinicaltrials.gov"], "is not a URL"),
])
def test_bad_options_are_clear_errors(db, args, message):
    r = run(*args, "--db", db)
    assert r.exit_code != 0
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.output
