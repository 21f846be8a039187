"""Patients in the store: create, read, update (new version), delete, workspaces kept apart."""

from __future__ import annotations

import datetime as dt

from trialmatch.patients.model import Biomarker, Patient
from trialmatch.store import TrialStore


def test_patient_crud_and_workspaces(db_url):
    store = TrialStore(db_url)
    p = Patient(id="pt-1", age_years=55, sex="female", as_of=dt.date(2026, 11, 1))
    assert store.save_patient(p, workspace="clinic-a") == 1
    assert store.get_patient("pt-1", workspace="clinic-a") == p
    # another workspace does not see it
    assert store.get_patient("pt-1", workspace="clinic-b") is None
    assert store.list_patients("clinic-b") == []

    p2 = p.model_copy(update={"biomarkers": [Biomarker(name="ER", status="positive", percent=90)]})
    assert store.save_patient(p2, workspace="clinic-a") == 2
    rec = store.get_patient_record("pt-1", workspace="clinic-a")
    assert rec.version == 2 and rec.patient.biomarkers[0].percent == 90
    assert store.get_patient("pt-1", workspace="clinic-a", version=1).biomarkers == []
    assert store.list_patients("clinic-a") == ["pt-1"]
    assert store.list_workspaces() == ["clinic-a"]

    assert store.delete_patient("pt-1", workspace="clinic-a") is True
    assert store.get_patient("pt-1", workspace="clinic-a") is None
    assert store.get_patient("pt-1", workspace="clinic-a", version=1) is None  # versions erased
    assert store.list_patients("clinic-a") == []
    assert store.delete_patient("pt-1", workspace="clinic-a") is False


def test_delete_patient_erases_rows_of_other_parts(db_url):
    """Rows other parts keep about a patient (watch snapshots, changes) go with the patient."""
    from sqlalchemy import Column, MetaData, String, Table, Text, select

    from trialmatch.patients.model import Patient
    from trialmatch.store import TrialStore

    store = TrialStore(db_url)
    extra = Table("other_part_rows", MetaData(), Column("workspace", String), Column("patient_id", String),
                  Column("detail", Text))
    extra.create(store.engine)
    store.save_patient(Patient(id="p1"), workspace="w")
    store.save_patient(Patient(id="p2"), workspace="w")
    with store.engine.begin() as conn:
        conn.execute(extra.insert(), [dict(workspace="w", patient_id="p1", detail="ESR1 Y537S"),
                                      dict(workspace="w", patient_id="p2", detail="kept")])
    assert store.delete_patient("p1", workspace="w") is True
    with store.engine.connect() as conn:
        rows = conn.execute(select(extra.c.patient_id, extra.c.detail)).all()
    assert rows == [("p2", "kept")]
    assert store.get_patient("p1", workspace="w") is None and store.get_patient("p2", workspace="w") is not None
