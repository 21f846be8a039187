"""A patient record as it stood on a given date ("eligibility over time").

:func:`patient_as_of` drops every fact dated after the date and rolls back facts that changed
after it, so the matcher can evaluate a match as of any day. Undated facts cannot be placed in
time and are kept as they are (the record says so in ``warnings`` only when asked: see
``note_undated``).
"""

from __future__ import annotations

import datetime as dt

from trialmatch.patients.model import Patient, Source, Treatment

__all__ = ["patient_as_of"]


def _keep(d: dt.date | None, as_of: dt.date) -> bool:
    return d is None or d <= as_of


def _months(a: dt.date, b: dt.date) -> float:
    return max(0.0, (b - a).days / 30.4375)


def _truncate_treatment(t: Treatment, as_of: dt.date) -> Treatment:
    upd: dict = {}
    if t.end is not None and t.end > as_of:
        upd.update(end=None, ongoing=True)
        if t.start is not None:
            upd["duration_months"] = round(_months(t.start, as_of), 2)
    if t.progression_date is not None and t.progression_date > as_of:
        upd.update(progressed=None, progression_date=None)
        if t.best_response == "PD":
            upd["best_response"] = None
    if t.duration_months is not None and t.start is not None and "duration_months" not in upd:
        # a stated duration cannot reach past the date
        cap = _months(t.start, as_of)
        if t.duration_months > cap:
            upd.update(duration_months=round(cap, 2), ongoing=True if t.end is None else t.ongoing)
    return t.model_copy(update=upd) if upd else t


def patient_as_of(patient: Patient, as_of: dt.date, *, note_undated: bool = False) -> Patient:
    """Return the patient's record as it stood on ``as_of``.

    Parameters
    ----------
    patient : Patient
        The full record (not modified).
    as_of : datetime.date
        The day to evaluate on; facts dated on that day are kept.
    note_undated : bool
        Add a warning naming how many undated facts were kept.

    Returns
    -------
    Patient
        A copy where

        * labs, gene results, biomarkers, performance scores, procedures, metastases,
          diagnoses, conditions (by onset), medications and treatments (by start) and trial
          assignments dated after ``as_of`` are dropped;
        * a treatment that ended after ``as_of`` is ongoing (end removed, duration cut to
          ``as_of``); a progression dated after ``as_of`` is removed (``progressed=None``);
        * a condition resolved or a medication stopped after ``as_of`` is still current;
        * a metastatic date after ``as_of`` is removed;
        * ``as_of`` is set to the date.

        Undated facts are kept: nothing says they came later.
    """
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    diagnoses = []
    for d in patient.diagnoses:
        if not _keep(d.date, as_of):
            continue
        upd: dict = {"metastases": [m for m in d.metastases if _keep(m.date, as_of)]}
        if d.metastatic_date is not None and d.metastatic_date > as_of:
            upd["metastatic_date"] = None
            if d.extent == "metastatic":
                upd["extent"] = None
        diagnoses.append(d.model_copy(update=upd))
    conditions = []
    for c in patient.conditions:
        if not _keep(c.onset, as_of):
            continue
        conditions.append(c.model_copy(update={"resolved": None}) if c.resolved and c.resolved > as_of else c)
    medications = []
    for m in patient.medications:
        if not _keep(m.start, as_of):
            continue
        medications.append(m.model_copy(update={"end": None}) if m.end and m.end > as_of else m)
    undated = sum(
        1 for f in (*patient.labs, *patient.genes, *patient.biomarkers, *patient.performance, *patient.procedures)
        if f.date is None
    ) + sum(1 for t in patient.treatments if t.start is None)
    warnings = list(patient.warnings)
    if note_undated and undated:
        warnings.append(f"as of {as_of.isoformat()}: {undated} undated fact(s) kept (their date is unknown)")
    return patient.model_copy(update=dict(
        diagnoses=diagnoses,
        biomarkers=[b for b in patient.biomarkers if _keep(b.date, as_of)],
        genes=[g for g in patient.genes if _keep(g.date, as_of)],
        performance=[p for p in patient.performance if _keep(p.date, as_of)],
        labs=[lab for lab in patient.labs if _keep(lab.date, as_of)],
        treatments=[_truncate_treatment(t, as_of) for t in patient.treatments if _keep(t.start, as_of)],
        procedures=[p for p in patient.procedures if _keep(p.date, as_of)],
        conditions=conditions,
        medications=medications,
        trial_assignments=[a for a in patient.trial_assignments if _keep(a.date, as_of)],
        as_of=as_of,
        warnings=warnings,
    ))


def with_as_of_origin(patient: Patient, given: dt.date | None) -> Patient:
    """``patient`` with ``as_of_source`` saying where the matching date comes from when it is not
    the date her record states: a date given by the caller (``--as-of``), or today's."""
    if given is not None and given != patient.as_of:
        stated = patient.as_of.isoformat() if patient.as_of else "none"
        locator = f"given ({given.isoformat()}; the record's own date: {stated})"
    elif given is None and patient.as_of is None:
        locator = "today's date: the record states no date of its own"
    else:
        return patient
    return patient.model_copy(update={"as_of_source": Source(kind="derived", locator=locator)})
