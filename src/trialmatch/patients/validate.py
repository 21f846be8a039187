"""Checks of a patient record: impossible values (errors) and implausible or contradictory
ones (warnings). Every message names the field it is about."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from .model import Patient

#: analytes that are counts or concentrations: a negative value is impossible
_PERCENT_MAX = 100.0
_ECOG_MAX = 5
_KARNOFSKY_MAX = 100
_AGE_MAX = 130


def _path(prefix: str, i: int, field: str | None = None) -> str:
    return f"{prefix}[{i}]" + (f".{field}" if field else "")


def impossible_values(p: Patient, today: dt.date | None = None) -> list[tuple[str, str]]:
    """Values that cannot be true, as ``(field, message)`` pairs.

    Parameters
    ----------
    p : Patient
        The record.
    today : date, optional
        The reference date for "in the future" (default: ``p.as_of`` else today).

    Returns
    -------
    list of (str, str)
        The field path (``"age_years"``, ``"labs[2].value"``) and why it is impossible.
    """
    out: list[tuple[str, str]] = []
    ref = today or p.as_of or dt.date.today()
    if p.age_years is not None and not (0 <= p.age_years <= _AGE_MAX):
        out.append(("age_years", f"age {p.age_years:g} is impossible (must be 0-{_AGE_MAX})"))
    if p.birth_date is not None:
        if p.birth_date > ref:
            out.append(("birth_date", f"birth date {p.birth_date} is after the record date {ref}"))
        elif (ref - p.birth_date).days / 365.25 > _AGE_MAX:
            out.append(("birth_date", f"birth date {p.birth_date} gives an age over {_AGE_MAX}"))
    for name in ("weight_kg", "height_cm", "life_expectancy_months"):
        v = getattr(p, name)
        if v is not None and v < 0:
            out.append((name, f"{name} {v:g} is negative"))
    for i, b in enumerate(p.biomarkers):
        if b.percent is not None and not (0 <= b.percent <= _PERCENT_MAX):
            out.append((_path("biomarkers", i, "percent"), f"{b.name} {b.percent:g}% is outside 0-100%"))
    for i, ps in enumerate(p.performance):
        hi = _ECOG_MAX if ps.scale in ("ecog", "who") else _KARNOFSKY_MAX
        if not (0 <= ps.value <= hi):
            out.append((_path("performance", i, "value"), f"{ps.scale.upper()} {ps.value:g} is outside 0-{hi}"))
    for i, lab in enumerate(p.labs):
        if lab.value < 0:
            out.append((_path("labs", i, "value"), f"{lab.analyte} value {lab.value:g} is negative"))
        if lab.uln is not None and lab.uln <= 0:
            out.append((_path("labs", i, "uln"), f"{lab.analyte} ULN {lab.uln:g} is not positive"))
    for i, t in enumerate(p.treatments):
        if t.duration_months is not None and t.duration_months < 0:
            out.append((_path("treatments", i, "duration_months"), "negative duration"))
        if t.start and t.end and t.end < t.start:
            out.append((_path("treatments", i, "end"), f"treatment ends ({t.end}) before it starts ({t.start})"))
    # dates in the future
    for path, d in _all_dates(p):
        if d > ref:
            out.append((path, f"date {d} is in the future (record as of {ref})"))
    # birth after diagnosis
    if p.birth_date is not None:
        for i, dx in enumerate(p.diagnoses):
            if dx.date is not None and dx.date < p.birth_date:
                out.append((_path("diagnoses", i, "date"),
                            f"diagnosis date {dx.date} is before the birth date {p.birth_date}"))
    return out


def _all_dates(p: Patient):
    for i, dx in enumerate(p.diagnoses):
        for f in ("date", "metastatic_date"):
            if getattr(dx, f):
                yield _path("diagnoses", i, f), getattr(dx, f)
        for j, m in enumerate(dx.metastases):
            if m.date:
                yield f"diagnoses[{i}].metastases[{j}].date", m.date
    for coll in ("biomarkers", "genes", "performance", "labs", "lab_statements", "procedures"):
        for i, item in enumerate(getattr(p, coll)):
            if item.date:
                yield _path(coll, i, "date"), item.date
    for i, t in enumerate(p.treatments):
        for f in ("start", "end", "progression_date"):
            if getattr(t, f):
                yield _path("treatments", i, f), getattr(t, f)
    for i, c in enumerate(p.conditions):
        if c.onset:
            yield _path("conditions", i, "onset"), c.onset
    for i, m in enumerate(p.medications):
        if m.start:
            yield _path("medications", i, "start"), m.start


def validate_patient(p: Patient, today: dt.date | None = None) -> list[str]:
    """Warnings about a patient record: implausible values and contradictions.

    Impossible values are reported here too (prefixed ``impossible:``) so a caller holding a
    record that was built in code still learns of them; the readers raise
    :class:`PatientReadError` for those instead.

    Parameters
    ----------
    p : Patient
        The record.
    today : date, optional
        Reference date (default ``p.as_of`` else today).

    Returns
    -------
    list of str
        ``"<field>: <message>"`` strings, empty when nothing looks wrong.
    """
    w: list[str] = [f"{f}: impossible: {m}" for f, m in impossible_values(p, today)]
    ref = today or p.as_of or dt.date.today()
    age = p.age_on(ref)
    if age is not None and 0 <= age < 18:
        w.append(f"age_years: age {age:g} is below 18 (paediatric record?)")
    if age is not None and 105 < age <= _AGE_MAX:
        w.append(f"age_years: age {age:g} is implausible")
    if p.weight_kg is not None and p.weight_kg > 0 and not (25 <= p.weight_kg <= 300):
        w.append(f"weight_kg: {p.weight_kg:g} kg is implausible")
    if p.height_cm is not None and p.height_cm > 0 and not (100 <= p.height_cm <= 230):
        w.append(f"height_cm: {p.height_cm:g} cm is implausible")
    # ER/PR positive with 0% staining, negative with >= 10 %
    for i, b in enumerate(p.biomarkers):
        if b.percent is None or b.name not in ("ER", "PR"):
            continue
        if b.status == "positive" and b.percent < 1:
            w.append(f"biomarkers[{i}]: {b.name} is 'positive' but {b.percent:g}% of cells stain")
        if b.status == "negative" and b.percent >= 10:
            w.append(f"biomarkers[{i}]: {b.name} is 'negative' but {b.percent:g}% of cells stain")
        if b.status == "low" and b.percent > 10:
            w.append(f"biomarkers[{i}]: {b.name} is 'low' but {b.percent:g}% of cells stain")
    for i, b in enumerate(p.biomarkers):
        if b.name == "HER2" and b.ihc_score == "3+" and b.status == "negative":
            w.append(f"biomarkers[{i}]: HER2 IHC 3+ recorded as negative")
        if b.name == "HER2" and b.ihc_score in ("0", "1+") and b.status == "positive" and b.ish != "positive":
            w.append(f"biomarkers[{i}]: HER2 IHC {b.ihc_score} recorded as positive without a positive ISH")
    # two results for the same marker on the same date that disagree
    by_key: dict[tuple[str, dt.date], list[tuple[int, str]]] = defaultdict(list)
    for i, b in enumerate(p.biomarkers):
        st = _polarity(b.status)
        if b.date is not None and st is not None:
            by_key[(b.name, b.date)].append((i, st))
    for (name, d), items in by_key.items():
        if len({s for _, s in items}) > 1:
            idx = ", ".join(f"biomarkers[{i}]" for i, _ in items)
            w.append(f"{idx}: {name} results of {d} disagree ({', '.join(s for _, s in items)})")
    if p.pregnant and p.menopausal_status == "postmenopausal":
        w.append("pregnant: pregnant and postmenopausal at once")
    if p.pregnant and p.sex == "male":
        w.append("pregnant: a male patient recorded as pregnant")
    if p.breastfeeding and p.sex == "male":
        w.append("breastfeeding: a male patient recorded as breastfeeding")
    if p.menopausal_status and p.sex == "male":
        w.append("menopausal_status: menopausal status recorded for a male patient")
    for i, ps in enumerate(p.performance):
        if ps.scale == "karnofsky" and ps.value % 10 != 0 and 0 <= ps.value <= 100:
            w.append(f"performance[{i}].value: Karnofsky {ps.value:g} is not a multiple of 10")
        if ps.scale in ("ecog", "who") and ps.value != int(ps.value):
            w.append(f"performance[{i}].value: ECOG {ps.value:g} is not a whole number")
    for i, lab in enumerate(p.labs):
        if lab.uln is not None and lab.lln is not None and lab.lln > lab.uln:
            w.append(f"labs[{i}].lln: lower limit {lab.lln:g} above upper limit {lab.uln:g}")
        if lab.unit is None:
            w.append(f"labs[{i}].unit: {lab.analyte} has no unit")
        if lab.uln_multiple is not None and (lab.uln != 1.0 or abs(lab.value - lab.uln_multiple) > 1e-9):
            w.append(f"labs[{i}].uln_multiple: {lab.analyte} {lab.uln_multiple:g} x ULN disagrees with value {lab.value:g} "
                     f"and ULN {lab.uln}")
    for a in p.assertions:
        if a.subject.startswith("metastasis:") and not a.present:
            site = a.subject.split(":", 1)[1]
            for i, dx in enumerate(p.diagnoses):
                if any(m.site == site for m in dx.metastases):
                    w.append(f"diagnoses[{i}].metastases: {site} metastases recorded and also denied")
    return w


def _polarity(status: str | None) -> str | None:
    if status in ("positive", "low"):
        return "positive"
    if status == "negative":
        return "negative"
    return None
