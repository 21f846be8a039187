"""The receptor population a trial's title names, checked when no criterion states receptors
(``matching/data/title_population.json``)."""

from __future__ import annotations

import datetime as dt

from trialmatch.criteria import model as cm
from trialmatch.matching import match_trial
from trialmatch.patients import read_patient_bytes
from trialmatch.trials.model import Eligibility, Provenance, Trial

AS_OF = dt.date(2026, 11, 2)


def _trial(title: str, official: str | None = None, criteria=()) -> tuple:
    t = Trial(id="T1", title=title, official_title=official, conditions=["Breast Cancer"], status="RECRUITING",
              eligibility=Eligibility(criteria_text="x"),
              provenance=Provenance(source_format="ctgov_v2_json", file_name="x", sha256="0" * 64,
                                    ingested_at=dt.datetime(2026, 1, 1)))
    return t, cm.CompiledCriteria(trial_id="T1", compiler_version="t", criteria=list(criteria))


def _patient(receptors: str):
    note = (f"Clinic letter 2 Nov 2026\n55-year-old postmenopausal woman with metastatic breast cancer (liver), "
            f"{receptors}.\nECOG 0.\n")
    return read_patient_bytes(note.encode(), "note.txt")


def _ecog():
    return cm.Criterion(id="I1", kind="inclusion", text="ECOG 0-1", span=(0, 8), status="compiled",
                        expression=cm.PerformanceStatus(scale="ecog", range=cm.Range(low=0, high=1)))


def test_a_title_population_fails_a_patient_of_another_subtype():
    t, cc = _trial("A Study of Drug X in Combination With Palbociclib in HR+/HER2- Breast Cancer Patients",
                   criteria=[_ecog()])
    m = match_trial(t, cc, _patient("ER 70%, PR 30%, HER2 3+ (HER2-positive)"), AS_OF)
    assert m.verdict == "ineligible" and m.deciding == ["TITLE"]
    title = next(o for o in m.criteria if o.criterion_id == "TITLE")
    assert title.text == "HR+/HER2- Breast Cancer"
    ok = match_trial(t, cc, _patient("ER 90%, PR 20%, HER2 0"), AS_OF)
    assert ok.verdict == "eligible"


def test_the_official_title_is_read_when_the_brief_one_names_no_subtype():
    t, cc = _trial("A Study of Drug X", "A Phase 1 Study of Drug X in Adults With Advanced or Metastatic "
                   "HR-positive, HER2-negative Breast Cancer", criteria=[_ecog()])
    m = match_trial(t, cc, _patient("triple negative (ER 0%, PR 0%, HER2 1+)"), AS_OF)
    assert m.verdict == "ineligible" and m.deciding == ["TITLE"]


def test_no_title_check_when_a_criterion_states_receptors_or_the_title_lists_alternatives():
    her2 = cm.Criterion(id="I2", kind="inclusion", text="HER2-positive", span=(0, 13), status="compiled",
                        expression=cm.Receptor(receptor="HER2", status="positive"))
    t, cc = _trial("Drug X in HR+/HER2- Breast Cancer", criteria=[_ecog(), her2])
    m = match_trial(t, cc, _patient("ER 70%, PR 30%, HER2 3+ (HER2-positive)"), AS_OF)
    assert "TITLE" not in [o.criterion_id for o in m.criteria] and m.verdict == "eligible"
    t, cc = _trial("Drug X in HR+ or Triple-Negative Breast Cancer", criteria=[_ecog()])
    m = match_trial(t, cc, _patient("ER 70%, PR 30%, HER2 3+ (HER2-positive)"), AS_OF)
    assert "TITLE" not in [o.criterion_id for o in m.criteria]

