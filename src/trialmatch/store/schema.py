"""Tables of the store (SQLAlchemy Core). Other parts of the system that persist their own
data (web users, saved searches, watch snapshots) add their tables to the same ``metadata``."""

from __future__ import annotations

from sqlalchemy import (
    Boolean, Column, DateTime, Integer, MetaData, String, Table, Text, UniqueConstraint, Index,
)

metadata = MetaData()

trials = Table(
    "trials", metadata,
    Column("id", String(64), primary_key=True),
    Column("current_version", Integer, nullable=False),
    Column("title", Text),
    Column("status", String(40), index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

trial_versions = Table(
    "trial_versions", metadata,
    Column("trial_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("source_format", String(40), nullable=False),
    Column("file_name", Text),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
    Column("data", Text, nullable=False),
)
Index("ix_trial_versions_sha", trial_versions.c.sha256)

compiled_criteria = Table(
    "compiled_criteria", metadata,
    Column("trial_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("compiler_version", String(40), primary_key=True),
    Column("data", Text, nullable=False),
)

patients = Table(
    "patients", metadata,
    Column("workspace", String(64), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("current_version", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

patient_versions = Table(
    "patient_versions", metadata,
    Column("workspace", String(64), primary_key=True),
    Column("patient_id", String(128), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("data", Text, nullable=False),
    UniqueConstraint("workspace", "patient_id", "version"),
)

store_meta = Table(
    "store_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
