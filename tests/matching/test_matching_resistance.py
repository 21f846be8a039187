"""Endocrine / AI resistance with no definition of the trial's own (ESO-ESMO ABC: progression on the therapy, or
relapse on or within 12 months of completing it for early disease), and the facts it is read from: a numbered line
followed by a later line, the days on a course up to its progression, the start of the first systemic treatment
bounded by the earliest start recorded; receptor "high" expression from an Allred score. Hand-built facts, wordings
written for these tests."""

from __future__ import annotations

import datetime as dt

import pytest

from trialmatch.criteria import compile_criterion_text
from trialmatch.criteria import model as cm
from trialmatch.patients import model as pm

from criterion_helpers import compiled_outcome

AS_OF = dt.date(2026, 11, 20)
SRC = pm.Source(kind="json", locator="$.x")


def patient(treatments=(), dx=dt.date(2019, 3, 1), met=dt.date(2026, 7, 10), **kw) -> pm.Patient:
    base = dict(id="p", birth_date=dt.date(1960, 5, 1), sex="female", as_of=AS_OF, menopausal_status="postmenopausal",
                diagnoses=[pm.Diagnosis(cancer_type="breast_cancer", extent="metastatic", date=dx, metastatic_date=met,
                                        source=SRC)],
                treatments=list(treatments))
    base.update(kw)
    return pm.Patient(**base)


def outcome(text: str, p: pm.Patient, kind: str = "inclusion"):
    return compiled_outcome(text, p, AS_OF, kind)


def adjuvant(drug: str, start: dt.date, end: dt.date, **kw) -> pm.Treatment:
    return pm.Treatment(drugs=[drug], setting="adjuvant", start=start, end=end, ongoing=False, progressed=False,
                        source=SRC, **kw)


# -- the compiled check ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, agent", [
    ("AI-resistant metastatic breast cancer", "aromatase_inhibitor"),
    ("Endocrine-resistant disease", "endocrine_therapy"),
    ("endocrine treatment resistance", "endocrine_therapy"),
    ("endocrine therapy resisted breast cancer", "endocrine_therapy"),
    ("disease refractory to tamoxifen", "tamoxifen"),
])
def test_resistance_wordings_compile_to_progression_or_relapse_within_12_months(text, agent):
    expr, status, _ = compile_criterion_text(text, "inclusion")
    assert status == "compiled"
    alts = [a for a in cm.iter_atoms(expr) if a.kind == "prior_therapy"]
    assert any(a.agents == [agent] and a.progressed and a.settings == ["any"] for a in alts), expr
    late = [a for a in alts if a.relapse_within_after_end is not None]
    assert len(late) == 1 and late[0].agents == [agent], expr
    assert late[0].relapse_within_after_end.days == pytest.approx(365.25, abs=1)
    assert set(late[0].settings) == {"adjuvant", "neoadjuvant"}


@pytest.mark.parametrize("text", [
    "Progressed on prior endocrine therapy",  # progression, not resistance: no relapse window
    "resistant to conventional therapies",  # not an endocrine therapy
    "Disease relapse within 12 months after at least 24 months endocrine adjuvant therapy",  # its own definition
])
def test_other_wordings_get_no_resistance_window(text):
    expr, status, _ = compile_criterion_text(text, "inclusion")
    windows = [a.relapse_within_after_end for a in cm.iter_atoms(expr) if a.kind == "prior_therapy"]
    assert windows.count(cm.Duration(value=12, unit="month")) == (1 if "within 12" in text else 0), expr


# -- evaluated -------------------------------------------------------------------------------------------
def test_relapse_8_months_after_adjuvant_ai_is_ai_resistant():
    p = patient([adjuvant("anastrozole", dt.date(2020, 11, 1), dt.date(2025, 11, 1))])
    assert outcome("AI-resistant mBC", p).outcome == "pass"
    assert outcome("endocrine treatment resistance", p).outcome == "pass"


def test_relapse_stated_months_after_adjuvant_tamoxifen_is_endocrine_resistant_not_ai_resistant():
    tam = adjuvant("tamoxifen", dt.date(2020, 1, 1), dt.date(2025, 12, 31), relapse_months_after_end=8.0)
    p = patient([tam], met=dt.date(2026, 8, 20))
    assert outcome("endocrine treatment resistance", p).outcome == "pass"
    assert outcome("AI-resistant mBC", p).outcome == "fail"


def test_relapse_years_after_adjuvant_therapy_is_not_resistance():
    p = patient([adjuvant("letrozole", dt.date(2012, 1, 1), dt.date(2017, 1, 1))])
    assert outcome("Endocrine-resistant disease", p).outcome != "pass"


def test_progression_on_ai_for_metastatic_disease_is_resistance():
    ai = pm.Treatment(drugs=["letrozole"], setting="metastatic", line=1, start=dt.date(2026, 1, 1), progressed=True,
                      progression_date=dt.date(2026, 6, 1), source=SRC)
    assert outcome("AI-resistant mBC", patient([ai])).outcome == "pass"


def test_numbered_line_followed_by_a_later_line_counts_as_progression_on_it():
    first = pm.Treatment(drugs=["anastrozole", "ribociclib"], setting="metastatic", line=1, source=SRC)
    second = pm.Treatment(drugs=["capecitabine"], setting="metastatic", line=2, source=SRC)
    assert outcome("AI-resistant mBC", patient([first, second])).outcome == "pass"
    # the last line, or one still given, is not made a progression
    assert outcome("AI-resistant mBC", patient([first])).outcome == "unknown"
    ongoing = first.model_copy(update={"ongoing": True})
    assert outcome("AI-resistant mBC", patient([ongoing, second])).outcome == "unknown"


def test_salvage_duration_runs_to_the_progression_not_to_today():
    # "1st line letrozole Feb 2026 -> PD at 4 months (June 2026)", then paclitaxel: 4 months on letrozole
    let = pm.Treatment(drugs=["letrozole"], setting="metastatic", line=1, start=dt.date(2026, 2, 1), ongoing=False,
                       progressed=True, progression_date=dt.date(2026, 6, 1), months_to_progression=4.0, source=SRC)
    text = "disease progress after at least 6 months endocrine salvage therapy"
    assert outcome(text, patient([let], dx=dt.date(2026, 1, 1), met=dt.date(2026, 1, 1))).outcome == "fail"
    longer = let.model_copy(update={"months_to_progression": None, "progression_date": dt.date(2026, 10, 1)})
    assert outcome(text, patient([longer], dx=dt.date(2026, 1, 1), met=dt.date(2026, 1, 1))).outcome == "pass"


def test_first_systemic_start_is_bounded_by_the_earliest_recorded_start():
    text = "The time from systemic treatment to randomization does not exceed 1 year"
    dated = pm.Treatment(drugs=["epirubicin"], setting="adjuvant", start=dt.date(2019, 3, 1), source=SRC)
    undated = pm.Treatment(drugs=["letrozole"], setting="adjuvant", source=SRC)
    assert outcome(text, patient([dated, undated])).outcome == "fail"  # began 2019 or earlier: over a year
    recent = dated.model_copy(update={"start": dt.date(2026, 8, 1)})
    assert outcome(text, patient([recent, undated])).outcome == "unknown"  # the undated one may be older


# -- receptor "high" expression from an Allred score -------------------------------------------------------
@pytest.mark.parametrize("score, want", [(8, "pass"), (6, "unknown")])
def test_allred_score_and_high_expression(score, want):
    er = pm.Biomarker(name="ER", status="positive", intensity=f"Allred {score}/8", source=SRC)
    p = patient(biomarkers=[er, pm.Biomarker(name="PR", status="negative", source=SRC)])
    assert outcome("hormone receptor-high expressed", p).outcome == want



# -- relapse while still on adjuvant therapy (helper hA) -------------------------------------------------
def test_relapse_while_on_adjuvant_endocrine_therapy_is_resistance():
    # "February 2026: while still taking adjuvant letrozole, CT showed bone metastases"
    on = pm.Treatment(drugs=["letrozole"], setting="adjuvant", start=dt.date(2021, 11, 1), ongoing=True, source=SRC)
    p = patient([on], dx=dt.date(2021, 6, 1), met=dt.date(2026, 2, 1))
    assert outcome("endocrine treatment resistance", p).outcome == "pass"
    assert outcome("AI-resistant mBC", p).outcome == "pass"
    # stopped at the relapse, setting not written: begun for her early disease
    tam = pm.Treatment(drugs=["tamoxifen"], setting="unknown", start=dt.date(2024, 6, 1), end=dt.date(2026, 9, 20),
                       ongoing=False, source=SRC)
    p = patient([tam], dx=dt.date(2024, 1, 1), met=dt.date(2026, 9, 18))
    assert outcome("endocrine treatment resistance", p).outcome == "pass"
    assert outcome("AI-resistant mBC", p).outcome == "fail"


def test_relapse_while_on_adjuvant_therapy_is_not_settled_against_a_trials_own_after_end_definition():
    on = pm.Treatment(drugs=["letrozole"], setting="adjuvant", start=dt.date(2021, 11, 1), ongoing=True, source=SRC)
    p = patient([on], dx=dt.date(2021, 6, 1), met=dt.date(2026, 2, 1))
    assert outcome("Disease relapse within 12 months after at least 24 months endocrine adjuvant therapy", p).outcome \
        != "pass"
