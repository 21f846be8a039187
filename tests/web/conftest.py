"""Fixtures of the web tests: a store holding the five seed trials, users in two workspaces."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trialmatch.store import TrialStore

PASSWORD_A = "alice-password-1"
PASSWORD_B = "bob-password-22"


def build_seed_store(seeds_dir: Path, db_path: Path) -> TrialStore:
    """A SQLite store at ``db_path`` with the five seeds read, compiled and ingested."""
    from trialmatch.trials import read_bytes
    from trialmatch.web import services

    store = TrialStore(str(db_path))
    trials = []
    for p in sorted(seeds_dir.glob("0*.txt")):
        for r in read_bytes(p.read_bytes(), p.name):
            assert r.trial is not None, f"seed {p.name} did not read: {r.error}"
            trials.append(r.trial)
    store.ingest_trials(trials, services.compile_trials(trials))
    return store


@pytest.fixture(scope="session")
def seed_db_template(seeds_dir, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A seed store with users alice (workspace A) and bob (workspace B), built once; and their tokens."""
    from trialmatch.web.auth_store import create_token, create_user

    path = tmp_path_factory.mktemp("seeddb") / "seeds.db"
    store = build_seed_store(seeds_dir, path)
    create_user(store, "alice", PASSWORD_A, "A")
    create_user(store, "bob", PASSWORD_B, "B")
    tokens = {"A": create_token(store, "alice"), "B": create_token(store, "bob")}
    store.engine.dispose()  # closes the WAL: the file alone holds everything
    return path, tokens


@pytest.fixture(scope="session")
def pg_seed_template(seed_db_template, pg_databases) -> str:
    """A PostgreSQL schema holding what the SQLite seed store holds (trials, compiled criteria,
    users, tokens, the server secret), built once; each test gets a copy of its rows."""
    from trialmatch.store import schema
    from trialmatch.web import auth_store

    url = pg_databases.create()
    src, dst = TrialStore(str(seed_db_template[0])), TrialStore(url)
    auth_store.ensure_tables(src)
    auth_store.ensure_tables(dst)
    with src.engine.connect() as rconn, dst.engine.begin() as wconn:
        for table in schema.metadata.sorted_tables:
            if not src.engine.dialect.has_table(rconn, table.name):
                continue
            rows = [dict(r._mapping) for r in rconn.execute(table.select())]
            wconn.execute(table.delete())
            if rows:
                wconn.execute(table.insert(), rows)
    dst.engine.dispose()
    src.engine.dispose()
    yield pg_databases.schema_of(url)
    pg_databases.drop(url)


@pytest.fixture()
def seed_store(seed_db_template, tmp_path, db_kind, request) -> TrialStore:
    """A fresh copy of the seed store (with the users) for one test: a SQLite file, or a
    PostgreSQL schema filled from :func:`pg_seed_template` (skipped without a server)."""
    if db_kind == "postgresql":
        from trialmatch.web import auth_store

        dbs = request.getfixturevalue("pg_databases")
        template = request.getfixturevalue("pg_seed_template")
        url = dbs.create()
        store = TrialStore(url)
        auth_store.ensure_tables(store)
        dbs.copy_rows(template, url)
        yield store
        store.engine.dispose()
        dbs.drop(url)
        return
    path = tmp_path / "store.db"
    shutil.copy(seed_db_template[0], path)
    yield TrialStore(str(path))


@pytest.fixture()
def web(seed_store, seed_db_template):
    """(app, client, tokens): the app on a fresh seed store; tokens by workspace ("A", "B")."""
    from fastapi.testclient import TestClient

    from trialmatch.web import Settings, create_app

    app = create_app(seed_store, settings=Settings(secret="test-secret-" + "x" * 20, max_body_bytes=256 * 1024))
    with TestClient(app) as client:
        yield app, client, dict(seed_db_template[1])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def seed004_patient(pid: str = "p004", name: str | None = None) -> dict:
    """A postmenopausal woman, ER 80 %, HER2 IHC 1+ / ISH negative, de novo metastatic (bone, liver),
    no therapy yet for advanced disease, good labs, ECOG 0 — modeled on seed 004's population."""
    return {
        "id": pid, "name": name, "age_years": 62, "sex": "female", "menopausal_status": "postmenopausal",
        "as_of": "2026-11-01", "pregnant": False, "breastfeeding": False, "life_expectancy_months": 24,
        "diagnoses": [{"cancer_type": "breast_cancer", "histology": "invasive_ductal", "stage": "IV",
                       "extent": "metastatic", "date": "2026-09-15", "metastatic_date": "2026-09-15",
                       "measurable_disease": True, "status": "active",
                       "metastases": [{"site": "bone"}, {"site": "liver"}]}],
        "biomarkers": [{"name": "ER", "status": "positive", "percent": 80},
                       {"name": "PR", "status": "positive", "percent": 30},
                       {"name": "HER2", "status": "negative", "ihc_score": "1+", "ish": "negative"}],
        "performance": [{"scale": "ecog", "value": 0, "date": "2026-10-20"}],
        "labs": [{"analyte": "hemoglobin", "value": 125, "unit": "g/L", "date": "2026-10-20"},
                 {"analyte": "wbc", "value": 6.1, "unit": "10^9/L", "date": "2026-10-20"},
                 {"analyte": "anc", "value": 3.8, "unit": "10^9/L", "date": "2026-10-20"},
                 {"analyte": "platelets", "value": 240, "unit": "10^9/L", "date": "2026-10-20"},
                 {"analyte": "creatinine", "value": 0.8, "unit": "mg/dL", "date": "2026-10-20", "uln": 1.1},
                 {"analyte": "alt", "value": 25, "unit": "U/L", "date": "2026-10-20", "uln": 40},
                 {"analyte": "ast", "value": 28, "unit": "U/L", "date": "2026-10-20", "uln": 40},
                 {"analyte": "total_bilirubin", "value": 0.6, "unit": "mg/dL", "date": "2026-10-20", "uln": 1.2}],
        "treatments": [],
        "sources": {"treatments": {"kind": "json", "locator": "$.treatments"}},
        "assertions": [{"subject": "metastasis:brain", "present": False},
                       {"subject": "prior_therapy:any:advanced", "present": False}],
    }
