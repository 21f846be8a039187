"""The four-part intake form (About me, My health today, My cancer, My treatment) -> Patient."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from trialmatch.patients.model import (
    Assertion, Biomarker, Diagnosis, GeneResult, LabResult, Metastasis, Patient, PerformanceStatus,
    Source, Treatment,
)

#: lab fields of the form: (form name, analyte key, label, units offered)
LABS = [
    ("hemoglobin", "hemoglobin", "Hemoglobin", ["g/dL", "g/L"]),
    ("anc", "anc", "Neutrophils (ANC)", ["10^9/L", "/uL"]),
    ("wbc", "wbc", "White blood cells", ["10^9/L", "/uL"]),
    ("platelets", "platelets", "Platelets", ["10^9/L", "/uL"]),
    ("creatinine", "creatinine", "Creatinine", ["mg/dL", "umol/L"]),
    ("creatinine_clearance", "creatinine_clearance", "Creatinine clearance", ["mL/min"]),
    ("total_bilirubin", "total_bilirubin", "Total bilirubin", ["mg/dL", "umol/L"]),
    ("alt", "alt", "ALT", ["U/L"]),
    ("ast", "ast", "AST", ["U/L"]),
]
MET_SITES = ["bone", "liver", "lung", "brain", "lymph_node", "pleura", "skin", "peritoneum"]
GENES = ["ESR1", "PIK3CA", "AKT1", "PTEN", "BRCA1", "BRCA2", "PALB2", "ERBB2"]
SETTINGS = ["adjuvant", "neoadjuvant", "metastatic", "locally_advanced", "unknown"]
THERAPY_ROWS = 4


class FormError(ValueError):
    """A form value that cannot be used; ``field`` is the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _src(name: str) -> Source:
    return Source(kind="form", locator=f"form.{name}")


def _str(form: dict, name: str) -> str | None:
    v = form.get(name)
    if v is None:
        return None
    v = str(v).strip()
    return v or None


def _num(form: dict, name: str, label: str, lo: float | None = None, hi: float | None = None) -> float | None:
    v = _str(form, name)
    if v is None:
        return None
    try:
        x = float(v.replace(",", "."))
    except ValueError:
        raise FormError(name, f"{label}: {v!r} is not a number") from None
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        rng = f"{lo:g} to {hi:g}" if lo is not None and hi is not None else (f"at least {lo:g}" if lo is not None else f"at most {hi:g}")
        raise FormError(name, f"{label} must be {rng} (got {x:g})")
    return x


def _date(form: dict, name: str, label: str) -> dt.date | None:
    v = _str(form, name)
    if v is None:
        return None
    try:
        if len(v) == 7:  # YYYY-MM (a month field)
            return dt.date.fromisoformat(v + "-01")
        return dt.date.fromisoformat(v)
    except ValueError:
        raise FormError(name, f"{label}: {v!r} is not a date (YYYY-MM-DD)") from None


def _bool(form: dict, name: str) -> bool | None:
    v = _str(form, name)
    if v is None:
        return None
    if v in ("yes", "true", "on", "1"):
        return True
    if v in ("no", "false", "0"):
        return False
    raise FormError(name, f"{v!r} is not yes or no")


def _choice(form: dict, name: str, allowed, label: str):
    v = _str(form, name)
    if v is None:
        return None
    if v not in allowed:
        raise FormError(name, f"{label}: {v!r} is not one of {', '.join(allowed)}")
    return v


def patient_from_form(form: dict[str, Any], today: dt.date | None = None) -> Patient:
    """Build a patient from the intake form's fields (every fact sourced ``form.<field>``).

    Raises
    ------
    FormError
        A value that is not a number/date, or is impossible, naming the field.
    """
    today = today or dt.date.today()
    pid = _str(form, "patient_id") or ("p-" + secrets.token_hex(4))
    p: dict[str, Any] = {"id": pid, "name": _str(form, "label"), "as_of": today, "sources": {}}

    # ---- About me
    age = _num(form, "age", "Age", 0, 130)
    birth = _date(form, "birth_date", "Birth date")
    if birth and birth > today:
        raise FormError("birth_date", "Birth date is in the future")
    if age is not None:
        p["age_years"] = age
        p["sources"]["age_years"] = _src("age")
    if birth is not None:
        p["birth_date"] = birth
        p["sources"]["birth_date"] = _src("birth_date")
    sex = _choice(form, "sex", ["female", "male", "other", "unknown"], "Sex")
    if sex:
        p["sex"], p["sources"]["sex"] = sex, _src("sex")
    meno = _choice(form, "menopausal_status", ["premenopausal", "perimenopausal", "postmenopausal"], "Menopausal status")
    if meno:
        p["menopausal_status"], p["sources"]["menopausal_status"] = meno, _src("menopausal_status")
    ofs = _bool(form, "ovarian_suppression")
    if ofs is not None:
        p["ovarian_suppression"], p["sources"]["ovarian_suppression"] = ofs, _src("ovarian_suppression")

    # ---- My health today
    ecog = _str(form, "ecog")
    perf = []
    if ecog is not None:
        v = _num(form, "ecog", "ECOG", 0, 5)
        perf.append(PerformanceStatus(scale="ecog", value=v, date=today, source=_src("ecog")))
    p["performance"] = perf
    lab_date = _date(form, "lab_date", "Date of the blood tests") or today
    if lab_date > today:
        raise FormError("lab_date", "the date of the blood tests is in the future")
    labs = []
    for name, analyte, label, units in LABS:
        value = _num(form, f"lab_{name}", label, 0, None)
        if value is None:
            continue
        unit = _choice(form, f"lab_{name}_unit", units, f"{label} unit") or units[0]
        uln = _num(form, f"lab_{name}_uln", f"{label} upper limit of normal", 0, None)
        labs.append(LabResult(analyte=analyte, value=value, unit=unit, uln=uln or None, date=lab_date,
                              source=_src(f"lab_{name}")))
    p["labs"] = labs
    for name in ("pregnant", "breastfeeding"):
        b = _bool(form, name)
        if b is not None:
            p[name], p["sources"][name] = b, _src(name)
    le = _num(form, "life_expectancy_months", "Life expectancy (months)", 0, 600)
    if le is not None:
        p["life_expectancy_months"] = le
        p["sources"]["life_expectancy_months"] = _src("life_expectancy_months")

    # ---- My cancer
    assertions = []
    diagnoses = []
    ctype = _str(form, "cancer_type")
    if ctype:
        sites = [s for s in MET_SITES if _str(form, f"met_{s}")]
        brain = _choice(form, "brain_mets", ["none", "treated_stable", "untreated", "active"], "Brain metastases")
        if brain and brain != "none" and "brain" not in sites:
            sites.append("brain")
        brain_status = {"treated_stable": ["treated", "stable"], "untreated": ["untreated"],
                        "active": ["active", "untreated"]}.get(brain or "", [])
        mets = [Metastasis(site=s, status=brain_status if s == "brain" else [], source=_src(f"met_{s}"))
                for s in sites]
        if brain == "none":
            assertions.append(Assertion(subject="metastasis:brain", present=False, source=_src("brain_mets")))
        extent = _choice(form, "extent", ["early", "locally_advanced", "metastatic", "recurrent"], "Extent")
        diagnoses.append(Diagnosis(
            cancer_type=ctype, histology=_str(form, "histology"), stage=_str(form, "stage"),
            extent=extent, date=_date(form, "diagnosis_date", "Date of diagnosis"),
            metastatic_date=_date(form, "metastatic_date", "Date metastatic disease was found"),
            metastases=mets, measurable_disease=_bool(form, "measurable_disease"), status="active",
            source=_src("cancer_type")))
    p["diagnoses"] = diagnoses
    biomarkers = []
    for name in ("ER", "PR"):
        pct = _num(form, f"{name.lower()}_percent", f"{name} %", 0, 100)
        status = _choice(form, f"{name.lower()}_status", ["positive", "negative", "low"], f"{name} status")
        if status is None and pct is not None:
            status = "positive" if pct >= 1 else "negative"
        if status is not None or pct is not None:
            biomarkers.append(Biomarker(name=name, status=status, percent=pct, source=_src(f"{name.lower()}_percent")))
    ihc = _choice(form, "her2_ihc", ["0", "1+", "2+", "3+"], "HER2 IHC")
    ish = _choice(form, "her2_ish", ["positive", "negative", "equivocal"], "HER2 ISH")
    if ihc or ish:
        if ihc == "3+" or ish == "positive":
            st = "positive"
        elif ihc in ("1+",) or (ihc == "2+" and ish == "negative"):
            st = "low"
        elif ihc == "0" or ish == "negative":
            st = "negative"
        else:
            st = "equivocal"
        biomarkers.append(Biomarker(name="HER2", status=st, ihc_score=ihc, ish=ish, source=_src("her2_ihc")))
    p["biomarkers"] = biomarkers
    genes = []
    for g in GENES:
        v = _choice(form, f"gene_{g}", ["mutated", "wildtype", "amplified"], f"{g} result")
        if v:
            spec = _choice(form, f"gene_{g}_specimen", ["tissue", "ctdna", "germline", "blood"], f"{g} specimen")
            genes.append(GeneResult(gene=g, status=v, specimen=spec, source=_src(f"gene_{g}")))
    p["genes"] = genes

    # ---- My treatment
    treatments = []
    for i in range(THERAPY_ROWS):
        drugs = _str(form, f"tx{i}_drugs")
        if not drugs:
            continue
        start = _date(form, f"tx{i}_start", f"Therapy {i + 1} start")
        end = _date(form, f"tx{i}_end", f"Therapy {i + 1} end")
        if start and end and end < start:
            raise FormError(f"tx{i}_end", f"Therapy {i + 1} ends before it starts")
        treatments.append(Treatment(
            drugs=[d.strip().lower() for d in drugs.replace(";", ",").split(",") if d.strip()],
            setting=_choice(form, f"tx{i}_setting", SETTINGS, f"Therapy {i + 1} setting") or "unknown",
            start=start, end=end, ongoing=(end is None and start is not None) or None,
            progressed=_bool(form, f"tx{i}_progressed"), source=_src(f"tx{i}_drugs")))
    p["treatments"] = treatments
    if _str(form, "no_prior_any"):
        if treatments:
            raise FormError("no_prior_any", "'No cancer treatment at all' is ticked but therapies are listed")
        p["sources"]["treatments"] = _src("no_prior_any")
    if _str(form, "no_prior_advanced"):
        if any(t.setting in ("metastatic", "locally_advanced") for t in treatments):
            raise FormError("no_prior_advanced",
                            "'No treatment yet for advanced disease' is ticked but an advanced-setting therapy is listed")
        assertions.append(Assertion(subject="prior_therapy:any:advanced", present=False,
                                    source=_src("no_prior_advanced")))
    p["assertions"] = assertions
    return Patient.model_validate(p)
