"""An anti-cancer drug she takes for another condition ("rheumatoid arthritis on methotrexate",
``non_cancer_uses`` of ``matching/data/medications.json``) is not anti-cancer therapy."""

from __future__ import annotations

from trialmatch.matching import evaluate_criterion

from criterion_helpers import compiled_criterion as _crit, note_patient

HEAD = "Clinic letter 30 Oct 2026\n58-year-old woman with metastatic breast cancer (liver), ER 85%, HER2 0.\n"


def _note(text):
    return note_patient(HEAD + text)



def test_methotrexate_for_rheumatoid_arthritis_is_not_recent_chemotherapy():
    c = _crit("Must not have received prior chemotherapy ≤ 4 weeks prior to the first dose")
    p = _note("Comorbidity: seropositive rheumatoid arthritis on methotrexate.\n")
    assert [m.name for m in p.medications] == ["methotrexate"]
    assert evaluate_criterion(c, p).outcome != "fail"


def test_methotrexate_without_such_a_condition_still_counts():
    c = _crit("Must not have received prior chemotherapy ≤ 4 weeks prior to the first dose")
    p = _note("Comorbidity: seropositive rheumatoid arthritis on methotrexate.\n")
    p = p.model_copy(update={"conditions": []})  # the same medication, no condition it is given for
    assert evaluate_criterion(c, p).outcome == "fail"


def test_a_criterion_naming_the_drug_itself_still_counts_it():
    c = _crit("Current treatment with methotrexate", "exclusion")
    p = _note("Comorbidity: seropositive rheumatoid arthritis on methotrexate.\n")
    assert evaluate_criterion(c, p).outcome == "fail"
