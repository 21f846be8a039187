"""Tables of ``trialmatch watch`` on the store's one ``metadata``.

``match_snapshots`` holds the latest state of every (workspace, patient, trial) pair that a
watch run evaluated: the verdict, the step outcomes, the missing facts, and the patient and
trial versions it was computed from. ``watch_changes`` keeps every change a run found (the
history), ``watch_runs`` one row per run.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Index, Integer, String, Table, Text

from trialmatch.store.schema import metadata

watch_runs = Table(
    "watch_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("as_of", Date, nullable=False),
    Column("store_revision", Integer, nullable=False),
    Column("compiler_version", String(40)),
    Column("workspaces", Text, nullable=False),  # JSON list
    Column("baseline", Boolean, nullable=False, default=False),
    Column("patients", Integer, nullable=False, default=0),
    Column("trials", Integer, nullable=False, default=0),
    Column("changes", Integer, nullable=False, default=0),
    Column("errors", Text),  # JSON list
    Column("webhook", Text),  # JSON object: url, ok, status code, attempts, error
)

match_snapshots = Table(
    "match_snapshots", metadata,
    Column("workspace", String(64), primary_key=True),
    Column("patient_id", String(128), primary_key=True),
    Column("trial_id", String(64), primary_key=True),
    Column("verdict", String(16), nullable=False),
    Column("steps", Text, nullable=False),  # JSON list of {number, name, verdict, reason}
    Column("missing", Text, nullable=False),  # JSON list of {fact, description}
    Column("patient_version", Integer),
    Column("trial_version", Integer),
    Column("store_revision", Integer, nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

watch_changes = Table(
    "watch_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False, index=True),
    Column("workspace", String(64), nullable=False),
    Column("patient_id", String(128), nullable=False),
    Column("trial_id", String(64), nullable=False),
    Column("change", String(32), nullable=False),
    Column("before", String(16)),
    Column("after", String(16)),
    Column("step", Integer),
    Column("fact", String(128)),
    Column("detail", Text, nullable=False),
    Column("patient_version", Integer),
    Column("trial_version", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_watch_changes_ws", watch_changes.c.workspace, watch_changes.c.run_id)

WATCH_TABLES = (watch_runs, match_snapshots, watch_changes)


def create_tables(engine) -> None:
    """Create the watch tables if missing (a store opened before this module was imported)."""
    metadata.create_all(engine, tables=list(WATCH_TABLES))
