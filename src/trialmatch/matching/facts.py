"""Per-patient indexes, built once per patient and reused for every trial.

:class:`PatientIndex` holds what the evaluator looks up again and again: the latest lab result
per analyte, the treatments with their normalised drugs and drug classes, metastatic sites,
explicit assertions, the latest receptor results and performance status. Facts dated after
``as_of`` are left out, so a match can be evaluated as of any date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache

from trialmatch.patients.model import (
    Assertion, Biomarker, Diagnosis, LabResult, LabStatement, Patient, PerformanceStatus, Source, Treatment,
)
from trialmatch.vocab.concepts import site_groups_for_matcher


@lru_cache(maxsize=1)
def _medication_data() -> dict:
    import json
    from importlib import resources

    with resources.files("trialmatch.matching").joinpath("data", "medications.json").open("r", encoding="utf-8") as fh:
        return json.load(fh)


def medication_classes(name: str | None) -> frozenset[str]:
    """Classes of a non-oncology medication name or class phrase (``matching/data/medications.json``),
    for names the shared drug vocabulary does not classify (empty when unknown)."""
    if not name:
        return frozenset()
    names = _medication_data()["names"]
    k = " ".join(name.strip().lower().split())
    hit = names.get(k)
    if hit is None and k.endswith("s"):
        hit = names.get(k[:-1])
    return frozenset(hit or ())


def non_cancer_uses(generic: str) -> list[str]:
    """The conditions (patient condition names) an anti-cancer drug is also given for, at other doses
    (``non_cancer_uses`` of ``matching/data/medications.json``; empty when none)."""
    return _medication_data().get("non_cancer_uses", {}).get(generic, [])


def partial_class_match(classes: frozenset[str], key: str) -> bool:
    """A medication of one of ``classes`` is only possibly what a criterion on ``key`` means (an
    inhaled corticosteroid against "corticosteroids": trials often mean systemic ones)."""
    partial = _medication_data()["partial"]
    return any(key in partial.get(c, ()) for c in classes)


def norm_key(text: str | None) -> str:
    """Lower-case, underscores for spaces and dashes: "Lymph node" -> "lymph_node"."""
    if not text:
        return ""
    return _norm_key(text)


_NORM_RE = re.compile(r"[\s\-/]+")


@lru_cache(maxsize=65536)
def _norm_key(text: str) -> str:
    return _NORM_RE.sub("_", text.strip().lower())


def site_members(site: str) -> frozenset[str]:
    """The patient site keys a criterion's site word covers (the concept registry's site groups,
    :func:`~trialmatch.vocab.concepts.site_groups_for_matcher`; a word not grouped covers itself)."""
    key = norm_key(site)
    return site_groups_for_matcher().get(key, frozenset({key}))


@dataclass
class TreatmentInfo:
    """A treatment with its drugs normalised once."""

    index: int
    treatment: Treatment
    generics: list[str]  # normalised generic names (or the lower-cased text when unknown)
    classes: frozenset[str]  # every class of every drug, ancestors included
    known: bool  # every drug was found in the drug vocabulary


@dataclass
class PatientIndex:
    """Everything the evaluator needs about one patient, precomputed once."""

    patient: Patient
    as_of: dt.date
    age: float | None
    labs: dict[str, list[LabResult]] = field(default_factory=dict)  # newest first
    #: qualitative lab statements ("creatinine normal") per analyte, newest first
    lab_statements: dict[str, list[LabStatement]] = field(default_factory=dict)
    biomarkers: dict[str, Biomarker] = field(default_factory=dict)  # latest per name
    performance: PerformanceStatus | None = None
    primary: Diagnosis | None = None
    others: list[Diagnosis] = field(default_factory=list)
    metastases: list = field(default_factory=list)  # patients.model.Metastasis, dated <= as_of
    met_sites: set[str] = field(default_factory=set)
    assertions: dict[str, Assertion] = field(default_factory=dict)
    treatments: list[TreatmentInfo] = field(default_factory=list)
    medication_generics: list[tuple[object, str | None, frozenset[str]]] = field(default_factory=list)
    cache: dict = field(default_factory=dict)
    #: memoised results for this patient, per options (see :meth:`memo`): atom results, decided
    #: criteria and outcomes, keyed on their content
    crit_cache: dict = field(default_factory=dict)

    def source_of(self, name: str) -> Source | None:
        return self.patient.sources.get(name)

    def memo(self, name: str, options, factory=dict):
        """This patient's memo ``name`` under ``options`` (made by ``factory`` on first use; a
        memo belongs to the options object it was made for)."""
        key = (name, id(options))
        cc = self.crit_cache.get(key)
        if cc is None or cc[0] is not options:
            cc = self.crit_cache[key] = (options, factory())
        return cc[1]

    def clear(self) -> None:
        """Forget the memoised results (the index itself stays usable)."""
        self.cache.clear()
        self.crit_cache.clear()


def _on_or_before(d: dt.date | None, as_of: dt.date) -> bool:
    return d is None or d <= as_of


def build_index(patient: Patient, as_of: dt.date) -> PatientIndex:
    """Index a patient's facts as of ``as_of`` (facts dated later are left out)."""
    from trialmatch.vocab import drug_classes, normalize_drug

    idx = PatientIndex(patient=patient, as_of=as_of, age=patient.age_on(as_of))
    labs: dict[str, list[LabResult]] = {}
    for lab in patient.labs:
        if not _on_or_before(lab.date, as_of):
            continue
        labs.setdefault(lab.analyte, []).append(lab)
    undated_at = patient.as_of or as_of
    for key, items in labs.items():
        items.sort(key=lambda r: r.date or undated_at, reverse=True)
    idx.labs = labs
    for st in patient.lab_statements:
        if _on_or_before(st.date, as_of):
            idx.lab_statements.setdefault(st.analyte, []).append(st)
    for items in idx.lab_statements.values():
        items.sort(key=lambda r: r.date or undated_at, reverse=True)
    for bm in patient.biomarkers:
        if not _on_or_before(bm.date, as_of):
            continue
        prev = idx.biomarkers.get(bm.name)
        if prev is None or (bm.date or dt.date.min) >= (prev.date or dt.date.min):
            idx.biomarkers[bm.name] = bm
    perf = [p for p in patient.performance if _on_or_before(p.date, as_of)]
    if perf:
        idx.performance = max(perf, key=lambda p: p.date or dt.date.min)
    for d in patient.diagnoses:
        if d.date is not None and d.date > as_of:
            continue
        if d.primary and idx.primary is None:
            idx.primary = d
        elif not d.primary:
            idx.others.append(d)
    if idx.primary is not None:
        idx.metastases = [m for m in idx.primary.metastases if _on_or_before(m.date, as_of)]
        idx.met_sites = {norm_key(m.site) for m in idx.metastases}
    for a in patient.assertions:
        idx.assertions[norm_key(a.subject).replace("__", "_")] = a
        idx.assertions.setdefault(a.subject.strip().lower(), a)
    for i, t in enumerate(patient.treatments):
        if t.start is not None and t.start > as_of:
            continue
        generics, classes, known = [], set(), True
        for name in t.drugs:
            g = normalize_drug(name)
            if g is None:
                known = False
                generics.append(name.strip().lower())
            else:
                generics.append(g)
                classes |= drug_classes(g)
        idx.treatments.append(TreatmentInfo(i, t, generics, frozenset(classes), known))
    for m in patient.medications:
        if not _on_or_before(m.start, as_of) or (m.end is not None and m.end < as_of):
            continue
        g = normalize_drug(m.name)
        classes = drug_classes(g) if g else frozenset()
        extra = medication_classes(m.name)
        if extra:
            g = g or m.name.strip().lower()
            classes = frozenset(classes | extra)
        idx.medication_generics.append((m, g, classes))
    return idx
