"""Items under "prior treatment with, ineligibility for, or commercial unavailability of each of the following":
the therapy she had decides; a judgement that she cannot have it is an alternative only a person can grant."""

from __future__ import annotations

from trialmatch.criteria import compile_text
from trialmatch.matching import evaluate_criterion
from trialmatch.patients import read_patient_bytes

_TEXT = ("Inclusion Criteria\n\n1. Prior treatment with, ineligibility for, or commercial unavailability of each of the "
         "following therapies:\n\n   * Anthracyclines, taxanes, and capecitabine.\n"
         "   * Ixabepilone in countries where this agent is marketed.\n   * Trastuzumab for Her-2 positive disease.\n"
         "   * All other marketed therapies, eg, gemcitabine or vinorelbine, used for the treatment of advanced breast "
         "cancer.\n2. ECOG 0-2.\n")


def _outcomes(note: str) -> dict[str, str]:
    p = read_patient_bytes(note.encode(), "n.txt", fmt="text")
    cc = compile_text(_TEXT, "T")
    head = cc.criteria[0].id
    return {c.text.split()[0]: evaluate_criterion(c, p, p.as_of).outcome for c in cc.criteria if c.parent == head}


def test_untreated_patient_fails_the_therapy_item_and_the_reason_names_the_alternative():
    p = read_patient_bytes(b"Seen 1 Nov 2026. 60-year-old woman, ER+ HER2-negative metastatic breast cancer. "
                           b"Letrozole + palbociclib 2024-2026 (PD). No chemotherapy to date.", "n.txt", fmt="text")
    cc = compile_text(_TEXT, "T")
    item = next(c for c in cc.criteria if c.text.strip().startswith("Anthracyclines"))
    out = evaluate_criterion(item, p, p.as_of)
    assert out.outcome == "fail"
    assert "stated" in out.reason and "cannot have it" in out.reason


def test_availability_and_open_ended_items_stay_with_a_person():
    got = _outcomes("Seen 1 Nov 2026. 60-year-old woman, ER+ HER2-negative metastatic breast cancer. "
                    "Letrozole + palbociclib 2024-2026 (PD). No chemotherapy to date.")
    assert got["Ixabepilone"] == "confirm"      # "in countries where this agent is marketed"
    assert got["All"] == "confirm"              # "all other marketed therapies"


def test_subtype_item_applies_to_that_subtype_only():
    neg = _outcomes("Seen 1 Nov 2026. 60-year-old woman, ER+ HER2-negative metastatic breast cancer. "
                    "No chemotherapy to date.")
    assert neg["Trastuzumab"] == "not_applicable"
    pos = _outcomes("Seen 1 Nov 2026. 60-year-old woman, ER+ HER2-positive (IHC 3+) metastatic breast cancer. "
                    "Treated with docetaxel-trastuzumab-pertuzumab 2024-2025.")
    assert pos["Trastuzumab"] == "pass"


def test_pretreated_patient_passes_the_therapy_item():
    got = _outcomes("Seen 1 Nov 2026. 55-year-old woman, ER+ HER2-negative metastatic breast cancer. "
                    "Adjuvant AC x4 then paclitaxel x12 (2019). Capecitabine 2024-2026 (PD).")
    assert got["Anthracyclines,"] == "pass"


def test_a_therapy_her_history_only_leaves_out_is_a_persons_call():
    # AC and paclitaxel had; capecitabine not listed (not stated absent): she may have been unable to have it
    got = _outcomes("Seen 1 Nov 2026. 55-year-old woman, ER+ HER2-negative metastatic breast cancer. "
                    "Adjuvant AC x4 then paclitaxel x12 (2019). Letrozole + palbociclib 2021-2026 (PD).")
    assert got["Anthracyclines,"] == "confirm"
    # stated: "never had an anthracycline" settles it
    got = _outcomes("Seen 1 Nov 2026. 55-year-old woman, ER+ HER2-negative metastatic breast cancer. "
                    "Paclitaxel 2023-24, capecitabine 2024-26 (PD). Never had an anthracycline.")
    assert got["Anthracyclines,"] == "fail"
