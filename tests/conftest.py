"""Shared fixtures: where the real documents live (``../shared`` beside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TRIALMATCH_SHARED", REPO.parent / "shared"))


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs the shared data at {path} (absent in this checkout)")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _need(SHARED)


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return _need(SHARED / "seeds")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _need(SHARED / "data")


# ----------------------------------------------------------------------------- databases
#: an SQLAlchemy URL of a PostgreSQL server where this user may CREATE DATABASE (``.ci/run`` sets
#: it after starting Debian's postgresql); unset: the PostgreSQL param of ``db_url`` is skipped
PG_URL_ENV = "TRIALMATCH_TEST_PG_URL"
DB_KINDS = ["sqlite", "postgresql"]


def pg_admin_url() -> str:
    """The PostgreSQL URL of ``$TRIALMATCH_TEST_PG_URL``, or a skip saying why there is none."""
    url = os.environ.get(PG_URL_ENV, "").strip()
    if not url:
        pytest.skip(f"PostgreSQL: ${PG_URL_ENV} is unset (no server to test against; .ci/run starts one)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("PostgreSQL: the psycopg driver is not installed (pip install -e '.[test]')")
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is a skip, with the reason
        pytest.skip(f"PostgreSQL: no server reachable at ${PG_URL_ENV} ({exc.__class__.__name__}: "
                    f"{str(exc).splitlines()[0][:200]})")
    finally:
        engine.dispose()
    return url


class PgSchemas:
    """Throw-away schemas on the server of ``$TRIALMATCH_TEST_PG_URL``: each test gets a schema
    of its own (``search_path`` and ``application_name`` set in its URL), dropped after it. A
    schema is created in milliseconds where a database takes a second."""

    def __init__(self, admin_url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.base_url = make_url(admin_url)
        self.engine = create_engine(self.base_url, isolation_level="AUTOCOMMIT")

    def create(self) -> str:
        """A new empty schema; the URL whose connections use it."""
        import secrets

        from sqlalchemy import text

        name = "tm_test_" + secrets.token_hex(6)
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        url = self.base_url.update_query_dict({"options": f"-csearch_path={name}", "application_name": name})
        return url.render_as_string(hide_password=False)

    @staticmethod
    def schema_of(url: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(url).query["application_name"]

    def copy_rows(self, source_schema: str, url: str) -> None:
        """Copy every table of ``source_schema`` that the store's metadata knows into the
        (already created) tables of ``url``'s schema, and move their id sequences past the rows."""
        from sqlalchemy import text

        from trialmatch.store import schema as store_schema

        target = self.schema_of(url)
        with self.engine.connect() as conn:
            present = {r[0] for r in conn.execute(text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"), {"s": source_schema})}
            for table in store_schema.metadata.sorted_tables:
                if table.name not in present:
                    continue
                cols = ", ".join(f'"{c.name}"' for c in table.columns)
                conn.execute(text(f'INSERT INTO "{target}"."{table.name}" ({cols}) '
                                  f'SELECT {cols} FROM "{source_schema}"."{table.name}"'))
                for c in table.primary_key.columns:
                    if c.autoincrement is True or (c.autoincrement == "auto" and len(table.primary_key.columns) == 1
                                                   and c.type.python_type is int):
                        conn.execute(text(
                            f"SELECT setval(pg_get_serial_sequence('\"{target}\".\"{table.name}\"', '{c.name}'), "
                            f'COALESCE((SELECT max("{c.name}") FROM "{target}"."{table.name}"), 0) + 1, false)'))

    def drop(self, url: str) -> None:
        """End the connections still open on the schema (by their application_name) and drop it."""
        from sqlalchemy import text

        name = self.schema_of(url)
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE application_name = :n AND pid <> pg_backend_pid()"), {"n": name})
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


@pytest.fixture(scope="session")
def pg_databases():
    dbs = PgSchemas(pg_admin_url())
    yield dbs
    dbs.engine.dispose()


@pytest.fixture(params=DB_KINDS)
def db_kind(request) -> str:
    """``sqlite`` or ``postgresql``: the store/web/sync tests run on both."""
    return request.param


@pytest.fixture()
def db_url(db_kind, tmp_path, request) -> str:
    """The database of one test: a SQLite file under ``tmp_path``, or a fresh PostgreSQL database
    (dropped after the test) on the server of ``$TRIALMATCH_TEST_PG_URL`` (skipped when unset)."""
    if db_kind == "sqlite":
        yield str(tmp_path / "store.db")
        return
    dbs = request.getfixturevalue("pg_databases")
    url = dbs.create()
    yield url
    dbs.drop(url)
