"""A trial with no criteria list is read from its title and summary: "advanced" in the title where the registry
conditions name metastatic disease only leaves locally advanced disease to a person (the two disagree); where the
conditions agree (or are absent) "advanced" stays locally advanced or metastatic."""

from __future__ import annotations

import datetime as dt

import pytest

from trialmatch.criteria import compile_criteria
from trialmatch.criteria.model import iter_atoms
from trialmatch.trials.model import Provenance, Trial

PROV = Provenance(source_format="registry_text", sha256="0" * 64, ingested_at=dt.datetime(2026, 1, 1))

TITLE = "Weekly Exemestane in Advanced Hormone Receptor-Positive Breast Cancer"
SUMMARY = "Aim: to study exemestane in women whose disease is endocrine-resistant."


def extents(conditions):
    cc = compile_criteria(Trial(id="T1", title=TITLE, brief_summary=SUMMARY, conditions=conditions, provenance=PROV))
    assert cc.source == "title_and_summary"
    atoms = [a for c in cc.criteria if c.expression is not None for a in iter_atoms(c.expression)]
    return [a.allowed for a in atoms if a.kind == "disease_extent"], [a for a in atoms if a.kind == "unsupported"]


@pytest.mark.parametrize("conditions", [["Breast Cancer Metastatic"], ["Metastatic Breast Cancer", "Stage IV Breast Cancer"]])
def test_metastatic_only_conditions_leave_locally_advanced_open(conditions):
    allowed, open_ = extents(conditions)
    assert ["metastatic"] in allowed and ["locally_advanced"] in allowed and ["advanced"] not in allowed
    assert open_ and "locally advanced" in open_[0].reason


@pytest.mark.parametrize("conditions", [[], ["Breast Cancer"], ["Advanced Breast Cancer"], ["Locally Advanced or Metastatic Breast Cancer"]])
def test_agreeing_or_absent_conditions_keep_advanced(conditions):
    allowed, open_ = extents(conditions)
    assert allowed == [["advanced"]] and not open_
