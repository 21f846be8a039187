"""The sync's own tables, on the store's ``schema.metadata``: saved searches and checkpoints."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Engine, Integer, String, Table, Text

from trialmatch.store.schema import metadata

saved_searches = Table(
    "sync_saved_searches", metadata,
    Column("name", String(128), primary_key=True),
    Column("query", Text, nullable=False),          # SyncQuery as JSON
    Column("base_url", Text),                        # the server it last ran against
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_run_at", DateTime(timezone=True)),
    Column("last_summary", Text),                    # SyncSummary as JSON
    Column("last_ids", Text),                        # JSON list: the ids the last full run returned
)

#: One row per unfinished sync (query against a server). Written in the same transaction as the
#: page it follows; deleted in the transaction of the last page.
checkpoints = Table(
    "sync_checkpoints", metadata,
    Column("query_key", String(64), primary_key=True),
    Column("base_url", Text, nullable=False),
    Column("query", Text, nullable=False),
    Column("search_name", String(128)),
    Column("next_page_token", Text, nullable=False),
    Column("pages_done", Integer, nullable=False),
    Column("state", Text, nullable=False),           # the running summary as JSON
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def ensure_tables(engine: Engine) -> None:
    """Create the sync tables if a store was opened before this module was imported."""
    metadata.create_all(engine, tables=[saved_searches, checkpoints])
