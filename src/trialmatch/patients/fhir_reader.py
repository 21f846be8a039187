"""HL7 FHIR R4 Bundles (mCODE / US Core) -> :class:`Patient`.

Resources are validated with the ``fhir.resources.R4B`` models. A Bundle that R4B rejects (the
shared mCODE examples carry a Bundle id with "_", which FHIR ids forbid) is read entry by
entry; a resource R4B rejects is read from its raw JSON, and both cases leave a warning naming
the resource. Every fact's source is ``Source(kind="fhir", locator="<ResourceType>/<id>")``.

What is read
------------
- Patient: birthDate, gender, name.
- Condition: primary cancer (SNOMED code -> cancer type and histology; the mCODE histology
  extension; ``stage.summary``), secondary cancer (-> metastasis site from the code or bodySite;
  ``verificationStatus`` refuted -> an :class:`Assertion` that the site is free), menopausal state,
  pregnancy, other conditions (-> :class:`OtherCondition`).
- Observation: TNM stage group and T/N/M, tumor markers (ER/PR/HER2/...: status from the value or
  interpretation, percent from a valueQuantity, HER2 IHC score and ISH), cancer genetic variants
  (gene, variant, germline/somatic), ECOG and Karnofsky, labs (LOINC -> analyte, unit, reference
  range), weight and height, pregnancy status, and the trialmatch facts below.
- MedicationStatement / MedicationRequest / MedicationAdministration: RxNorm -> generic name;
  cancer drugs -> :class:`Treatment`, others -> :class:`Medication`.
- Procedure: surgery and radiotherapy with date and body site.

Explicit negative statements (read as :class:`Assertion` ``present=False``, the subjects the
text reader and the matcher use)
-----------------------------------------------------------------------------------------------
- ``List`` coded LOINC 10160-0 (History of Medication use) with no entries and
  ``emptyReason`` ``http://terminology.hl7.org/CodeSystem/list-empty-reason#nilknown``: her
  treatment history is known to be empty -> ``treatment:systemic_therapy`` (scoped to a setting,
  ``treatment:systemic_therapy:metastatic``, when the List carries the ``treatment-setting``
  extension below). An unscoped one also sets ``sources["treatments"]``: the explicit empty
  treatment list of a structured source, which the matcher reads as zero prior lines.
- ``List`` coded LOINC 11450-4 (Problem list) with no entries and ``emptyReason`` nilknown ->
  ``condition:any``.
- An empty List with another (or no) ``emptyReason`` (notstarted, unavailable, withheld, ...)
  says nothing about her history: a warning, nothing read.
- ``MedicationStatement.status = "not-taken"`` -> ``treatment:<drug or class>[:<setting>]`` for
  anti-cancer agents, ``medication:<drug or class>`` for others. The agent is an RxNorm drug, an
  ATC group (``codes/drug_classes.json``), or a class or drug named in the text.
- ``Condition.verificationStatus = refuted`` -> ``metastasis:<site>``, ``condition:<name>`` or
  ``cancer:<type>``.
A statement that contradicts a recorded fact (a nil-known medication history beside recorded
treatments, "not taken" beside a record that she took it) is dropped with a warning naming both.

A lone ``Patient`` resource (not a Bundle) is read when it has a birthDate, gender or name, with
a warning that only demographics were read; any other resource type, an empty Patient and an
empty Bundle are a :class:`PatientReadError`.

trialmatch extensions (for facts mCODE R4 has no element for)
-------------------------------------------------------------
``http://trialmatch.example.org/fhir/StructureDefinition/treatment-setting`` (valueCode:
adjuvant | neoadjuvant | metastatic | locally_advanced), ``.../treatment-line`` (valueInteger),
``.../progressed`` (valueBoolean), ``.../progression-date`` (valueDate), ``.../best-response``
(valueCode CR|PR|SD|PD|NE), on medication resources (``treatment-setting`` on a not-taken
MedicationStatement or a nil-known medication-history List scopes the statement to that
setting); the mCODE treatment-intent extension (palliative -> metastatic) is read too. Observations coded in
``http://trialmatch.example.org/fhir/CodeSystem/patient-facts``: ``measurable-disease``
(valueBoolean), ``life-expectancy`` (valueQuantity in months), ``disease-extent`` (valueCode),
``brain-metastasis-status`` (valueString, comma-separated qualifiers).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from trialmatch.vocab import drug_classes, normalize_analyte, normalize_drug
from trialmatch.vocab.concepts import fhir_procedure_kind, snomed_codes

from .common import finish, load_codes, normalize_unit
from .errors import PatientReadError
from .model import (Assertion, Biomarker, Diagnosis, GeneResult, LabResult, Medication, Metastasis,
                    OtherCondition, Patient, PerformanceStatus, Procedure, Source, Treatment)

TM_EXT = "http://trialmatch.example.org/fhir/StructureDefinition/"
TM_FACTS = "http://trialmatch.example.org/fhir/CodeSystem/patient-facts"
MCODE_HISTOLOGY = "mcode-histology-morphology-behavior"
MCODE_INTENT = "treatment-intent"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
LIST_EMPTY = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
SETTINGS = ("adjuvant", "neoadjuvant", "metastatic", "locally_advanced")

#: classes that make a drug anti-cancer therapy (a Treatment, not a Medication)
ANTICANCER = {"endocrine_therapy", "chemotherapy", "targeted_therapy", "immunotherapy", "systemic_therapy",
              "ovarian_function_suppression", "gnrh_agonist", "cdk46_inhibitor", "anti_her2"}
#: the Patient elements that make a lone Patient resource worth reading
PATIENT_CONTENT = ("birthDate", "gender", "name")
ROMAN = {"0": "0", "1": "I", "2": "II", "3": "III", "4": "IV"}
ECOG_LA = {"LA9622-7": 0, "LA9623-5": 1, "LA9624-3": 2, "LA9625-0": 3, "LA9626-8": 4, "LA9627-6": 5}


def _codings(cc: Any) -> list[dict]:
    if not isinstance(cc, dict):
        return []
    return [c for c in cc.get("coding") or [] if isinstance(c, dict)]


def _text(cc: Any) -> str | None:
    if not isinstance(cc, dict):
        return None
    if cc.get("text"):
        return str(cc["text"])
    for c in _codings(cc):
        if c.get("display"):
            return str(c["display"])
    return None


def _codes(cc: Any) -> list[str]:
    return [str(c.get("code")) for c in _codings(cc) if c.get("code") is not None]


def _first_map(cc: Any, table: dict) -> Any:
    for code in _codes(cc):
        if code in table:
            return table[code]
    return None


def _date(value: Any) -> dt.date | None:
    if not value or not isinstance(value, str):
        return None
    m = re.match(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", value)
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
    except ValueError:
        return None


def _effective(r: dict) -> dt.date | None:
    for key in ("effectiveDateTime", "issued", "onsetDateTime", "recordedDate", "performedDateTime",
                "authoredOn", "occurrenceDateTime"):
        d = _date(r.get(key))
        if d:
            return d
    for key in ("effectivePeriod", "onsetPeriod", "performedPeriod"):
        per = r.get(key)
        if isinstance(per, dict):
            d = _date(per.get("start"))
            if d:
                return d
    return None


def _ext(r: dict, suffix: str) -> dict | None:
    for e in r.get("extension") or []:
        if isinstance(e, dict) and str(e.get("url", "")).endswith(suffix):
            return e
    return None


def _ext_value(r: dict, name: str) -> Any:
    e = _ext(r, TM_EXT + name) if _ext(r, TM_EXT + name) else None
    if e is None:
        return None
    for k, v in e.items():
        if k.startswith("value"):
            return v
    return None


def _profiles(r: dict) -> list[str]:
    meta = r.get("meta") or {}
    return [str(p) for p in meta.get("profile") or []]


class _Reader:
    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self.p: Patient | None = None
        self.warnings: list[str] = []
        self.resources: list[dict] = []
        self.by_ref: dict[str, dict] = {}
        #: explicit "none" statements read from List / not-taken resources, checked against the
        #: recorded facts once everything is read: (assertion, agent key or None, setting or None)
        self.negations: list[tuple[Assertion, str | None, str | None]] = []

    # -- loading ---------------------------------------------------------------------------
    def load(self, raw: dict) -> None:
        from fhir.resources.R4B import get_fhir_model_class
        from fhir.resources.R4B.bundle import Bundle

        entries = raw.get("entry")
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            raise PatientReadError(self.file_name, "Bundle.entry", "expected a list of entries")
        bundle_ok = True
        try:
            Bundle.model_validate(raw)
        except Exception as exc:  # noqa: BLE001 - pydantic / fhir.resources errors
            bundle_ok = False
            self.warnings.append(f"Bundle: R4B validation failed ({_short(exc)}); entries read one by one")
        for i, entry in enumerate(entries):
            res = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(res, dict) or "resourceType" not in res:
                self.warnings.append(f"Bundle.entry[{i}]: no resource; skipped")
                continue
            rt = str(res["resourceType"])
            label = f"{rt}/{res.get('id', f'entry{i}')}"
            data = res
            if not bundle_ok:
                try:
                    cls = get_fhir_model_class(rt)
                    model = cls.model_validate(res)
                    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
                except Exception as exc:  # noqa: BLE001
                    self.warnings.append(f"{label}: R4B validation failed ({_short(exc)}); read from the raw JSON")
                    data = res
            self.resources.append(data)
            full = entry.get("fullUrl") if isinstance(entry, dict) else None
            if full:
                self.by_ref[str(full)] = data
            if res.get("id"):
                self.by_ref[f"{rt}/{res['id']}"] = data

    # -- helpers ---------------------------------------------------------------------------
    def src(self, r: dict) -> Source:
        return Source(kind="fhir", locator=f"{r.get('resourceType')}/{r.get('id', '?')}")

    def primary(self) -> Diagnosis:
        assert self.p is not None
        dx = self.p.primary_diagnosis
        if dx is None:
            dx = Diagnosis(cancer_type="cancer", source=Source(kind="derived", locator="(no primary cancer condition)"))
            self.p.diagnoses.append(dx)
        return dx

    def record_date(self, raw: dict) -> tuple[dt.date | None, Source | None]:
        """The record's own date: the Bundle's ``timestamp``; else the latest clinical date of
        its resources (``effectiveDateTime``, ``effectivePeriod``, ``recordedDate``); else
        ``meta.lastUpdated`` (of the Bundle, else the latest of its resources). A timestamp
        earlier than a clinical date gives way to that date (a warning says so)."""
        latest: tuple[dt.date, str] | None = None
        for r in self.resources:
            loc = f"{r.get('resourceType')}/{r.get('id', '?')}"
            period = r.get("effectivePeriod") if isinstance(r.get("effectivePeriod"), dict) else {}
            for field, value in (("effectiveDateTime", r.get("effectiveDateTime")), ("effectivePeriod.end", period.get("end")),
                                 ("effectivePeriod.start", period.get("start")), ("recordedDate", r.get("recordedDate"))):
                d = _date(value)
                if d is not None and (latest is None or d > latest[0]):
                    latest = (d, f"{loc}.{field}")
        stamp = _date(raw.get("timestamp"))
        if stamp is not None:
            if latest is not None and latest[0] > stamp:
                self.warnings.append(f"Bundle.timestamp {stamp} is earlier than {latest[1]} ({latest[0]}): "
                                     f"the record is taken as of {latest[0]}")
                return latest[0], Source(kind="fhir", locator=latest[1])
            return stamp, Source(kind="fhir", locator="Bundle.timestamp")
        if latest is not None:
            return latest[0], Source(kind="fhir", locator=latest[1])
        updated = _date((raw.get("meta") or {}).get("lastUpdated"))
        if updated is not None:
            return updated, Source(kind="fhir", locator="Bundle.meta.lastUpdated")
        best: tuple[dt.date, str] | None = None
        for r in self.resources:
            d = _date((r.get("meta") or {}).get("lastUpdated")) if isinstance(r.get("meta"), dict) else None
            if d is not None and (best is None or d > best[0]):
                best = (d, f"{r.get('resourceType')}/{r.get('id', '?')}.meta.lastUpdated")
        if best is not None:
            return best[0], Source(kind="fhir", locator=best[1])
        return None, None

    # -- main ------------------------------------------------------------------------------
    def build(self, raw: dict) -> Patient:
        pats = [r for r in self.resources if r.get("resourceType") == "Patient"]
        if not pats:
            raise PatientReadError(self.file_name, "Bundle.entry", "the Bundle holds no Patient resource")
        if len(pats) > 1:
            self.warnings.append(f"Bundle.entry: {len(pats)} Patient resources; the first is used")
        pr = pats[0]
        as_of, as_of_source = self.record_date(raw)
        stem = re.sub(r"(\.fhir)?\.json$", "", self.file_name.replace("\\", "/").rsplit("/", 1)[-1], flags=re.I)
        p = Patient(id=str(pr.get("id") or raw.get("id") or stem or "patient"), as_of=as_of, as_of_source=as_of_source)
        self.p = p
        src = self.src(pr)
        bd = _date(pr.get("birthDate"))
        if bd:
            p.birth_date = bd
            p.sources["birth_date"] = src
        elif pr.get("birthDate") is not None:
            self.warnings.append(f"{src.locator}: birthDate {pr.get('birthDate')!r} is not a date; not used")
        g = pr.get("gender")
        if g in ("female", "male", "other", "unknown"):
            p.sex = g
            p.sources["sex"] = src
        names = pr.get("name") or []
        if names and isinstance(names[0], dict):
            n = names[0]
            p.name = " ".join([*(n.get("given") or []), n.get("family") or ""]).strip() or None
        # conditions first (primary before secondary), then the rest
        conds = [r for r in self.resources if r.get("resourceType") == "Condition"]
        conds.sort(key=lambda r: 0 if self._is_primary(r) else 1)
        for r in conds:
            self.condition(r)
        for r in self.resources:
            rt = r.get("resourceType")
            try:
                if rt == "Observation":
                    self.observation(r)
                elif rt in ("MedicationStatement", "MedicationRequest", "MedicationAdministration"):
                    self.medication(r)
                elif rt == "Procedure":
                    self.procedure(r)
                elif rt == "List":
                    self.list_(r)
                elif rt in ("Patient", "Condition", "Medication", "Specimen", "Practitioner", "Organization",
                            "Encounter", "DiagnosticReport"):
                    pass
                else:
                    self.warnings.append(f"{rt}/{r.get('id')}: resource type not used")
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.warnings.append(f"{rt}/{r.get('id')}: could not be read ({exc}); skipped")
        self.check_negations()
        p.warnings.extend(self.warnings)
        return p

    def _is_primary(self, r: dict) -> bool:
        if any("primary-cancer-condition" in x for x in _profiles(r)):
            return True
        if any("secondary-cancer-condition" in x for x in _profiles(r)) or _ext(r, "related-primary-cancer-condition"):
            return False
        return _first_map(r.get("code"), snomed_codes()["cancer"]) is not None

    def condition(self, r: dict) -> None:
        assert self.p is not None
        sn = snomed_codes()
        code = r.get("code")
        src = self.src(r)
        refuted = "refuted" in _codes(r.get("verificationStatus")) or "entered-in-error" in _codes(r.get("verificationStatus"))
        clinical = _codes(r.get("clinicalStatus"))
        onset = _effective(r)
        profiles = _profiles(r)
        is_secondary = (any("secondary-cancer-condition" in x for x in profiles)
                        or _ext(r, "related-primary-cancer-condition") is not None
                        or _first_map(code, sn["metastasis"]) is not None)
        if is_secondary:
            site = _first_map(code, sn["metastasis"]) or _first_map((r.get("bodySite") or [None])[0], sn["body_site"])
            if site is None:
                txt = (_text(code) or "").lower()
                site = next((s for s in ("bone", "liver", "lung", "brain", "lymph", "pleura", "skin") if s in txt), None)
                site = "lymph_node" if site == "lymph" else site
            if site is None:
                self.warnings.append(f"{src.locator}: metastasis site not recognised ({_text(code)!r}); kept as 'other'")
                site = "other"
            if refuted:
                self.p.assertions.append(Assertion(subject=f"metastasis:{site}", present=False, source=src))
                return
            dx = self.primary()
            status = [s.strip() for s in str(_ext_value(r, "brain-metastasis-status") or "").split(",") if s.strip()]
            dx.metastases.append(Metastasis(site=site, date=onset, status=status, source=src))
            if dx.extent is None or dx.extent == "early":
                dx.extent = "metastatic"
            if onset and (dx.metastatic_date is None or onset < dx.metastatic_date):
                dx.metastatic_date = onset
            return
        cancer = _first_map(code, sn["cancer"])
        if cancer is not None or any("primary-cancer-condition" in x for x in profiles):
            if refuted:
                ctype = cancer[0] if cancer else _phrase_key(_text(code))
                if ctype:
                    a = Assertion(subject=f"cancer:{ctype}", present=False, source=src)
                    self.negations.append((a, ctype, None))
                    self.p.assertions.append(a)
                else:
                    self.warnings.append(f"{src.locator}: refuted cancer condition without a recognisable type; ignored")
                return
            ctype, hist = cancer if cancer else (None, None)
            if ctype is None:
                ctype = _phrase_key(_text(code)) or "cancer"
                self.warnings.append(f"{src.locator}: cancer code not in the code map; type read as {ctype!r}")
            e = _ext(r, MCODE_HISTOLOGY)
            if e is not None:
                h = _first_map(e.get("valueCodeableConcept"), sn["histology_morphology"])
                hist = h or hist
            stage = None
            for st in r.get("stage") or []:
                stage = _stage(st.get("summary")) or stage
            dx = Diagnosis(cancer_type=ctype, histology=hist, stage=stage, date=onset,
                           code=(_codes(code) or [None])[0], source=src,
                           status="resolved" if "resolved" in clinical else ("in_remission" if "remission" in clinical else ("active" if "active" in clinical else None)))
            if stage and stage.startswith("IV"):
                dx.extent = "metastatic"
            existing = self.p.primary_diagnosis
            if existing is not None and existing.source and existing.source.kind == "derived":
                dx.metastases = existing.metastases
                self.p.diagnoses.remove(existing)
            if existing is not None and existing.source and existing.source.kind != "derived":
                dx.primary = False
            self.p.diagnoses.append(dx)
            return
        meno = _first_map(code, sn["menopause"])
        if meno:
            self.p.menopausal_status = meno
            self.p.sources["menopausal_status"] = src
            return
        preg = _first_map(code, sn["pregnancy"])
        if preg is not None:
            self.p.pregnant = bool(preg) and not refuted
            self.p.sources["pregnant"] = src
            return
        name = _first_map(code, sn["conditions"]) or _phrase_key(_text(code)) or "unknown_condition"
        if refuted:
            self.p.assertions.append(Assertion(subject=f"condition:{name}", present=False, source=src))
            return
        quals = [q for q in clinical if q in ("active", "resolved", "remission", "inactive", "recurrence", "relapse")]
        for e in r.get("extension") or []:
            if str(e.get("url", "")).endswith("condition-qualifier") and e.get("valueString"):
                quals.append(str(e["valueString"]))
        self.p.conditions.append(OtherCondition(name=name, qualifiers=quals, onset=onset,
                                                resolved=_date(r.get("abatementDateTime")),
                                                code=(_codes(code) or [None])[0], source=src))

    def observation(self, r: dict) -> None:
        assert self.p is not None
        lc = load_codes("loinc")
        code = r.get("code")
        codes = _codes(code)
        src = self.src(r)
        when = _effective(r)
        if r.get("status") in ("entered-in-error", "cancelled"):
            self.warnings.append(f"{src.locator}: status {r.get('status')}; ignored")
            return
        tm = [c.get("code") for c in _codings(code) if c.get("system") == TM_FACTS]
        if tm:
            return self._tm_fact(tm[0], r, src)
        if any(c in lc["stage_group"] for c in codes):
            st = _stage(r.get("valueCodeableConcept"))
            if st:
                dx = self.primary()
                dx.stage = st
                if st.startswith("IV"):
                    dx.extent = "metastatic"
                elif st.startswith("III") and dx.extent is None:
                    dx.extent = "locally_advanced"
            return
        if any(c in lc["tnm"] for c in codes):
            part = lc["tnm"][next(c for c in codes if c in lc["tnm"])]
            val = _text(r.get("valueCodeableConcept")) or (_codes(r.get("valueCodeableConcept")) or [""])[0]
            val = re.sub(r"^(c|p|yp|yc)", "", val.strip())
            if val:
                dx = self.primary()
                dx.tnm = (dx.tnm or "") + (val if val.upper().startswith(part) else part + val)
            return
        name = _first_map(code, lc["biomarkers"])
        if name:
            return self._biomarker(name, r, src, when, any(c in lc["her2_ish"] for c in codes))
        if any(c in lc["genetic_variant"] for c in codes):
            return self._variant(r, src, when)
        scale = _first_map(code, lc["performance"])
        if scale:
            v = r.get("valueInteger")
            if v is None and isinstance(r.get("valueQuantity"), dict):
                v = r["valueQuantity"].get("value")
            if v is None:
                v = _first_map(r.get("valueCodeableConcept"), ECOG_LA)
            if v is None:
                v = _first_map((r.get("interpretation") or [None])[0], ECOG_LA) if scale == "ecog" else None
            if v is None:
                self.warnings.append(f"{src.locator}: {scale.upper()} observation without a value; ignored")
                return
            self.p.performance.append(PerformanceStatus(scale=scale, value=float(v), date=when, source=src))
            return
        if any(c in lc["pregnancy"] for c in codes):
            val = _first_map(r.get("valueCodeableConcept"), snomed_codes()["pregnancy"])
            if val is None and isinstance(r.get("valueBoolean"), bool):
                val = r["valueBoolean"]
            if val is not None:
                self.p.pregnant = bool(val)
                self.p.sources["pregnant"] = src
            return
        if any(c in lc["breastfeeding"] for c in codes):
            if isinstance(r.get("valueBoolean"), bool):
                self.p.breastfeeding = r["valueBoolean"]
                self.p.sources["breastfeeding"] = src
            return
        meno = _first_map(r.get("valueCodeableConcept"), snomed_codes()["menopause"])
        if meno or any(c in lc["menopausal_status"] for c in codes):
            if meno:
                self.p.menopausal_status = meno
                self.p.sources["menopausal_status"] = src
            return
        vital = _first_map(code, lc["vitals"])
        if vital and isinstance(r.get("valueQuantity"), dict):
            q = r["valueQuantity"]
            v = float(q.get("value"))
            unit = str(q.get("unit") or q.get("code") or "")
            if vital == "weight_kg" and unit.lower() in ("lb", "[lb_av]", "lbs"):
                v = v * 0.45359237
            if vital == "height_cm" and unit.lower() in ("m",):
                v = v * 100
            if vital == "height_cm" and unit.lower() in ("[in_i]", "in"):
                v = v * 2.54
            setattr(self.p, vital, round(v, 2))
            self.p.sources[vital] = src
            return
        analyte = _first_map(code, lc["labs"]) or (normalize_analyte(_text(code) or "") if _text(code) else None)
        if analyte and isinstance(r.get("valueQuantity"), dict):
            q = r["valueQuantity"]
            if q.get("value") is None:
                self.warnings.append(f"{src.locator}: lab without a value; ignored")
                return
            unit, warn = normalize_unit(q.get("unit") if q.get("code") is None else q.get("code"), analyte)
            if warn:
                self.warnings.append(f"{src.locator}: {warn}")
            uln = lln = None
            for rr in r.get("referenceRange") or []:
                if isinstance(rr.get("high"), dict) and rr["high"].get("value") is not None:
                    uln = float(rr["high"]["value"])
                if isinstance(rr.get("low"), dict) and rr["low"].get("value") is not None:
                    lln = float(rr["low"]["value"])
            self.p.labs.append(LabResult(analyte=analyte, value=float(q["value"]), unit=unit, date=when,
                                         uln=uln, lln=lln, source=src))
            return
        self.warnings.append(f"{src.locator}: observation {_text(code) or codes} not mapped; not used")

    def _tm_fact(self, key: str, r: dict, src: Source) -> None:
        assert self.p is not None
        if key == "measurable-disease" and isinstance(r.get("valueBoolean"), bool):
            self.primary().measurable_disease = r["valueBoolean"]
        elif key == "life-expectancy" and isinstance(r.get("valueQuantity"), dict):
            q = r["valueQuantity"]
            v = float(q.get("value"))
            unit = str(q.get("code") or q.get("unit") or "mo").lower()
            if unit in ("a", "y", "yr", "year", "years"):
                v *= 12
            elif unit in ("wk", "week", "weeks"):
                v = v * 7 / 30.4375
            self.p.life_expectancy_months = v
            self.p.sources["life_expectancy_months"] = src
        elif key == "disease-extent":
            v = r.get("valueCode") or r.get("valueString") or _text(r.get("valueCodeableConcept"))
            if v in ("early", "locally_advanced", "metastatic", "recurrent"):
                self.primary().extent = v
        else:
            self.warnings.append(f"{src.locator}: trialmatch fact {key!r} not understood")

    def _biomarker(self, name: str, r: dict, src: Source, when: dt.date | None, is_ish: bool) -> None:
        assert self.p is not None
        qual = snomed_codes()["qualifier"]
        vcc = r.get("valueCodeableConcept")
        status = _first_map(vcc, qual)
        if status is None:
            for interp in r.get("interpretation") or []:
                status = _first_map(interp, qual) or status
                if status is None:
                    t = (_text(interp) or "").lower()
                    status = "positive" if t.startswith("pos") else "negative" if t.startswith("neg") else None
        if status is None and vcc is not None:
            t = (_text(vcc) or "").lower()
            status = "positive" if t.startswith("pos") else "negative" if t.startswith("neg") else None
        status = {"present": "positive", "absent": "negative", "indeterminate": "unknown", "high": "positive"}.get(status, status)
        b = Biomarker(name=name, date=when, source=src)
        q = r.get("valueQuantity")
        if isinstance(q, dict) and q.get("value") is not None:
            unit = str(q.get("unit") or q.get("code") or "")
            if unit in ("%", "percent") or name in ("ER", "PR", "Ki67"):
                b.percent = float(q["value"])
        txt = str(r.get("valueString") or _text(vcc) or "")
        m = re.search(r"\b([0-3])\s*\+|\b(?:score|IHC)\s*([0-3])\b|^\s*([0])\s*$", txt)
        if name == "HER2" and m and not is_ish:
            b.ihc_score = {"0": "0", "1": "1+", "2": "2+", "3": "3+"}[next(g for g in m.groups() if g)]
        if name == "HER2" and is_ish and status in ("positive", "negative", "equivocal"):
            b.ish = status
        comp_status = None
        for comp in r.get("component") or []:
            ct = (_text(comp.get("code")) or "").lower()
            if "ihc" in ct or "immune stain" in ct:
                v = str(comp.get("valueString") or _text(comp.get("valueCodeableConcept")) or "")
                mm = re.search(r"([0-3])\s*\+?", v)
                if name == "HER2" and mm:
                    b.ihc_score = {"0": "0", "1": "1+", "2": "2+", "3": "3+"}[mm.group(1)]
            if "fish" in ct or "ish" in ct.split():
                comp_status = _first_map(comp.get("valueCodeableConcept"), qual)
        if comp_status in ("positive", "negative", "equivocal") and name == "HER2":
            b.ish = comp_status
        if name == "ER" and status == "positive" and b.percent is not None and 1 <= b.percent <= 10:
            status = "low"
        if status is None and name in ("ER", "PR") and b.percent is not None:
            status = "negative" if b.percent < 1 else ("low" if b.percent <= 10 and name == "ER" else "positive")
        if status is None and name == "HER2" and b.ihc_score:
            status = {"0": "negative", "1+": "negative", "3+": "positive"}.get(b.ihc_score)
            if b.ihc_score == "2+":
                status = {"positive": "positive", "negative": "negative"}.get(b.ish or "", "equivocal")
        b.status = status if status in ("positive", "negative", "low", "equivocal", "unknown") else None
        if b.status is None and b.percent is None and b.ihc_score is None and b.ish is None:
            self.warnings.append(f"{src.locator}: {name} result without a readable value")
        self.p.biomarkers.append(b)

    def _variant(self, r: dict, src: Source, when: dt.date | None) -> None:
        assert self.p is not None
        lc = load_codes("loinc")
        gc = load_codes("genes")
        gene = variant = None
        specimen = None
        for comp in r.get("component") or []:
            cc = _codes(comp.get("code"))
            vcc = comp.get("valueCodeableConcept")
            if any(c in lc["gene_studied"] for c in cc):
                gene = _first_map(vcc, gc["hgnc"]) or _text(vcc)
            elif any(c in lc["variant_protein"] for c in cc) or any(c in lc["variant_dna"] for c in cc):
                v = comp.get("valueString") or _text(vcc) or (_codes(vcc) or [None])[0]
                if v and (variant is None or any(c in lc["variant_protein"] for c in cc)):
                    variant = re.sub(r"^p\.", "", str(v))
            elif any(c in lc["allelic_state_component"] for c in cc):
                if any(c in lc["specimen_germline"] for c in _codes(vcc)):
                    specimen = "germline"
                elif any(c in lc["specimen_somatic"] for c in _codes(vcc)):
                    specimen = specimen or "tissue"
        spec_txt = (_text((r.get("specimen") or {}).get("type")) if isinstance(r.get("specimen"), dict) else None) or \
            str((r.get("specimen") or {}).get("display") or "") if isinstance(r.get("specimen"), dict) else ""
        spec_txt = (spec_txt or "").lower()
        if "ctdna" in spec_txt or "plasma" in spec_txt or "cell-free" in spec_txt:
            specimen = "ctdna"
        elif "germline" in spec_txt:
            specimen = "germline"
        elif "blood" in spec_txt and specimen != "germline":
            specimen = "blood"
        elif "tissue" in spec_txt or "tumor" in spec_txt:
            specimen = specimen or "tissue"
        if not gene:
            self.warnings.append(f"{src.locator}: genetic variant without a gene; ignored")
            return
        present = _first_map(r.get("valueCodeableConcept"), gc["interpretation"])
        status = None
        for interp in r.get("interpretation") or []:
            status = _first_map(interp, gc["interpretation"]) or status
        if present == "wildtype":
            status = "wildtype"
        status = status or present or "mutated"
        self.p.genes.append(GeneResult(gene=str(gene), status=status, variant=variant, specimen=specimen,
                                       date=when, source=src))

    def _drug(self, r: dict) -> tuple[str | None, str | None, str | None]:
        """(generic, as written, rxnorm code)."""
        cc = r.get("medicationCodeableConcept")
        if cc is None and isinstance(r.get("medicationReference"), dict):
            med = self.by_ref.get(str(r["medicationReference"].get("reference")))
            cc = med.get("code") if med else None
        if cc is None and isinstance(r.get("medication"), dict):  # R5-style
            cc = r["medication"].get("concept")
        rx = load_codes("rxnorm")["codes"]
        code = None
        for c in _codings(cc):
            if "rxnorm" in str(c.get("system", "")).lower():
                code = str(c.get("code"))
                if code in rx:
                    return rx[code], _text(cc), code
        written = _text(cc)
        return (normalize_drug(written) if written else None), written, code

    def medication(self, r: dict) -> None:
        assert self.p is not None
        src = self.src(r)
        rt = r.get("resourceType")
        status = r.get("status")
        if status == "entered-in-error" or (rt == "MedicationRequest" and status == "cancelled"):
            self.warnings.append(f"{src.locator}: status {status}; ignored")
            return
        if rt == "MedicationStatement" and status == "not-taken":
            return self.not_taken(r, src)
        if rt == "MedicationRequest" and r.get("doNotPerform") is True:
            self.warnings.append(f"{src.locator}: an order not to give a drug (doNotPerform) says nothing about "
                                 "what she took; ignored")
            return
        if rt == "MedicationAdministration" and status == "not-done":
            self.warnings.append(f"{src.locator}: an administration not done says nothing about her history; ignored")
            return
        generic, written, code = self._drug(r)
        if generic is None and not written:
            self.warnings.append(f"{src.locator}: medication without a code or name; ignored")
            return
        start = end = None
        per = r.get("effectivePeriod") or {}
        if isinstance(per, dict) and per:
            start, end = _date(per.get("start")), _date(per.get("end"))
        start = start or _date(r.get("effectiveDateTime")) or _date(r.get("authoredOn"))
        if r.get("resourceType") == "MedicationRequest":
            for di in r.get("dosageInstruction") or []:
                b = ((di.get("timing") or {}).get("repeat") or {}).get("boundsPeriod") or {}
                start = start or _date(b.get("start"))
                end = end or _date(b.get("end"))
        cancer_profile = any("cancer-related-medication" in x for x in _profiles(r))
        classes = set(drug_classes(generic)) if generic else set()
        if generic is None:
            self.warnings.append(f"{src.locator}: drug {written!r} (RxNorm {code}) not in the drug vocabulary; kept as written")
        is_cancer = bool(classes & ANTICANCER) or (generic is None and cancer_profile)
        if not is_cancer:
            self.p.medications.append(Medication(name=generic or str(written), code=code, start=start, end=end,
                                                 source=src))
            return
        setting = self._setting(r)
        progressed = _ext_value(r, "progressed")
        pd = _date(_ext_value(r, "progression-date"))
        if progressed is None and pd is not None:
            progressed = True
        best = _ext_value(r, "best-response")
        line = _ext_value(r, "treatment-line")
        self.p.treatments.append(Treatment(
            drugs=[generic or str(written)], setting=setting or "unknown", start=start, end=end,
            ongoing=True if status in ("active", "intended", "on-hold") else (False if status in ("completed", "stopped") else None),
            progressed=progressed if isinstance(progressed, bool) else None, progression_date=pd,
            best_response=best if best in ("CR", "PR", "SD", "PD", "NE") else None,
            line=int(line) if isinstance(line, int) else None, source=src))

    def _setting(self, r: dict) -> str | None:
        """The treatment-setting extension, else mCODE treatment intent (palliative -> metastatic)."""
        setting = _ext_value(r, "treatment-setting")
        if setting in SETTINGS:
            return setting
        if setting is not None:
            self.warnings.append(f"{self.src(r).locator}: treatment-setting {setting!r} not one of "
                                 f"{', '.join(SETTINGS)}; not used")
        intent = _ext(r, MCODE_INTENT)
        if intent is not None and "363675004" in _codes(intent.get("valueCodeableConcept")):  # palliative
            return "metastatic"
        return None

    def _agent(self, r: dict) -> tuple[str | None, str | None]:
        """(drug or class key, as written) of a medication resource: an RxNorm drug, an ATC group,
        a class named in the text (class vocabulary or ``codes/drug_classes.json``), a drug named
        in the text."""
        from trialmatch.vocab import class_vocabulary

        cc = r.get("medicationCodeableConcept")
        if cc is None and isinstance(r.get("medicationReference"), dict):
            med = self.by_ref.get(str(r["medicationReference"].get("reference")))
            cc = med.get("code") if med else None
        rx = load_codes("rxnorm")["codes"]
        dc = load_codes("drug_classes")
        written = _text(cc)
        for c in _codings(cc):
            system = str(c.get("system", "")).lower()
            if "rxnorm" in system and str(c.get("code")) in rx:
                return rx[str(c.get("code"))], written
            if "whocc.no/atc" in system and str(c.get("code")) in dc["atc"]:
                return dc["atc"][str(c.get("code"))], written
        texts = [t for t in [written, *(str(c.get("display")) for c in _codings(cc) if c.get("display"))] if t]
        for t in texts:
            key = re.sub(r"\s+", " ", t.strip().lower())
            if key in dc["names"]:
                return dc["names"][key], written
            for ck, entry in class_vocabulary().items():
                if key == ck.replace("_", " ") or key in (str(x).lower() for x in entry.get("synonyms", [])):
                    return ck, written
        for t in texts:
            g = normalize_drug(t)
            if g:
                return g, written
        return None, written

    def not_taken(self, r: dict, src: Source) -> None:
        """MedicationStatement.status = not-taken: she did not take the drug or class."""
        from trialmatch.vocab import class_ancestors

        assert self.p is not None
        agent, written = self._agent(r)
        if agent is None:
            self.warnings.append(f"{src.locator}: not-taken medication {written!r} not recognised as a drug or "
                                 "drug class; not used")
            return
        classes = set(drug_classes(agent)) | set(class_ancestors(agent))
        if classes & ANTICANCER:
            setting = self._setting(r)
            subject = f"treatment:{agent}" + (f":{setting}" if setting else "")
            a = Assertion(subject=subject, present=False, source=src)
            self.negations.append((a, agent, setting))
        else:
            a = Assertion(subject=f"medication:{agent}", present=False, source=src)
            self.negations.append((a, agent, None))
        self.p.assertions.append(a)

    def list_(self, r: dict) -> None:
        """A List: a nil-known medication history or problem list is an explicit "none"."""
        assert self.p is not None
        src = self.src(r)
        lc = load_codes("loinc")
        codes = _codes(r.get("code"))
        if any(c in lc["list_medication_history"] for c in codes):
            what = "medication history"
        elif any(c in lc["list_problems"] for c in codes):
            what = "problem list"
        else:
            self.warnings.append(f"{src.locator}: List coded {codes or _text(r.get('code'))!r} not used (read: LOINC "
                                 f"{', '.join(lc['list_medication_history'] + lc['list_problems'])})")
            return
        if r.get("status") in ("entered-in-error", "retired"):
            self.warnings.append(f"{src.locator}: {what} List with status {r.get('status')}; ignored")
            return
        entries = [e for e in r.get("entry") or [] if isinstance(e, dict) and not e.get("deleted")]
        if entries:
            for e in entries:
                ref = str((e.get("item") or {}).get("reference") or "")
                if ref and ref not in self.by_ref:
                    self.warnings.append(f"{src.locator}: entry {ref} is not in the Bundle; not read")
            return
        reasons = _codes(r.get("emptyReason"))
        if "nilknown" not in reasons:
            why = f"emptyReason {', '.join(reasons)}" if reasons else "no emptyReason"
            self.warnings.append(f"{src.locator}: empty {what} List with {why}: it does not say her {what} is "
                                 "empty (only emptyReason nilknown does); not used")
            return
        if what == "problem list":
            a = Assertion(subject="condition:any", present=False, source=src)
            self.negations.append((a, None, None))
            self.p.assertions.append(a)
            return
        setting = self._setting(r)
        a = Assertion(subject="treatment:systemic_therapy" + (f":{setting}" if setting else ""), present=False,
                      source=src)
        self.negations.append((a, "systemic_therapy" if setting else None, setting))
        self.p.assertions.append(a)
        if setting is None:
            self.p.sources.setdefault("treatments", src)

    def check_negations(self) -> None:
        """Drop an explicit "none" that a recorded fact contradicts, with a warning naming both."""
        from trialmatch.vocab import drug_matches

        assert self.p is not None
        p = self.p
        for a, agent, setting in self.negations:
            clash: list[str] = []
            loc = a.source.locator if a.source else "?"
            if a.subject == "treatment:systemic_therapy" and agent is None:  # whole medication history
                clash = [x.source.locator for x in [*p.treatments, *p.medications] if x.source]
            elif a.subject.startswith("cancer:"):
                clash = [d.source.locator for d in p.diagnoses if d.source and d.cancer_type == agent]
            elif a.subject == "condition:any":
                clash = [c.source.locator for c in p.conditions if c.source]
            elif a.subject.startswith("treatment:"):
                for t in p.treatments:
                    if setting is not None and t.setting != setting:
                        continue
                    if any(drug_matches(normalize_drug(d) or d, agent) for d in t.drugs) and t.source:
                        clash.append(t.source.locator)
            elif a.subject.startswith("medication:"):
                clash = [m.source.locator for m in p.medications
                         if m.source and drug_matches(normalize_drug(m.name) or m.name, agent or "")]
            if clash:
                self.warnings.append(f"{loc}: says {a.subject} is absent, but {', '.join(clash)} records it; "
                                     "the statement is not used")
                if a in p.assertions:
                    p.assertions.remove(a)
                if p.sources.get("treatments") is a.source:
                    del p.sources["treatments"]

    def procedure(self, r: dict) -> None:
        assert self.p is not None
        src = self.src(r)
        sn = snomed_codes()
        if r.get("status") in ("not-done", "entered-in-error"):
            return
        kind_name = _first_map(r.get("code"), sn["procedure"])
        txt = _text(r.get("code")) or ""
        if kind_name:
            kind, name = kind_name
        else:
            kind = fhir_procedure_kind(txt) or "surgery"  # the words of the concept registry ("radiat", "brachy", ...)
            name = txt or None
        site = None
        for bs in r.get("bodySite") or []:
            site = _first_map(bs, sn["body_site"]) or _phrase_key(_text(bs)) or site
        if any("radiation-procedure" in x for x in _profiles(r)):
            kind = "radiotherapy"
        date = _effective(r)
        self.p.procedures.append(Procedure(kind=kind, name=name, site=site, date=date, source=src))


def _has_demographics(pr: dict) -> bool:
    """True when a Patient resource states a birthDate, gender or a name with some text."""
    if isinstance(pr.get("birthDate"), str) and pr["birthDate"].strip():
        return True
    if isinstance(pr.get("gender"), str) and pr["gender"].strip():
        return True
    return any(isinstance(n, dict) and (n.get("text") or n.get("family") or n.get("given"))
               for n in (pr.get("name") if isinstance(pr.get("name"), list) else []))


def _short(exc: Exception) -> str:
    s = str(exc).replace("\n", " ")
    s = re.sub(r"\s+For further information visit \S+", "", s)
    return s[:240]


def _stage(cc: Any) -> str | None:
    if not isinstance(cc, dict):
        return None
    st = _first_map(cc, snomed_codes()["stage"])
    if st:
        return st
    for c in _codings(cc):
        for v in (c.get("display"), c.get("code")):
            if not v:
                continue
            s = re.sub(r"(?i)^(stage\s*)", "", str(v)).strip()
            m = re.fullmatch(r"([0-4])([A-C]?)", s, re.I)
            if m:
                return ROMAN[m.group(1)] + m.group(2).upper()
            m = re.fullmatch(r"(IV|III|II|I|0)([A-C]?)", s, re.I)
            if m:
                return m.group(1).upper() + m.group(2).upper()
    return None


def _phrase_key(text: str | None) -> str | None:
    if not text:
        return None
    t = re.sub(r"\s*\((disorder|finding|body structure|procedure|qualifier value)\)\s*$", "", text.strip(), flags=re.I)
    t = re.sub(r"[^a-z0-9]+", "_", t.lower()).strip("_")
    return t or None


def read_fhir_patient(data: bytes | str | dict, file_name: str, strict: bool = True) -> Patient:
    """Read an HL7 FHIR R4 Bundle (mCODE / US Core) into a :class:`Patient`.

    Parameters
    ----------
    data : bytes, str or dict
        The Bundle's JSON (or already parsed). A lone Patient resource with a birthDate, gender
        or name is read too, with a warning that only demographics were read.
    file_name : str
        For messages.
    strict : bool
        Raise on impossible values (default) instead of warning.

    Returns
    -------
    Patient
        Every fact with ``Source(kind="fhir", locator="<ResourceType>/<id>")``; what could not
        be used is listed in ``warnings``.

    Raises
    ------
    PatientReadError
        Malformed JSON; a resourceType other than Bundle or Patient (field ``resourceType``); a
        lone Patient with no demographics (field ``Patient``); an empty Bundle or one without a
        Patient (field ``Bundle.entry``); or an impossible value.
    """
    if isinstance(data, (bytes, str)):
        try:
            raw = json.loads(data.decode("utf-8-sig") if isinstance(data, bytes) else data)
        except UnicodeDecodeError as exc:
            raise PatientReadError(file_name, "json", f"not UTF-8 text ({exc.reason})")
        except json.JSONDecodeError as exc:
            raise PatientReadError(file_name, "json",
                                   f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")
        except RecursionError:
            raise PatientReadError(file_name, "json", "nested too deeply to be a FHIR Bundle") from None
    else:
        raw = data
    if not isinstance(raw, dict):
        raise PatientReadError(file_name, "resourceType", "expected a FHIR Bundle object")
    rt = raw.get("resourceType")
    lone = rt == "Patient"
    if lone:
        if not _has_demographics(raw):
            raise PatientReadError(file_name, "Patient",
                                   f"a lone Patient resource with none of {', '.join(PATIENT_CONTENT)}: "
                                   "nothing to read (send a Bundle with her clinical resources)")
        raw = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": raw}]}
    elif rt != "Bundle":
        raise PatientReadError(file_name, "resourceType",
                               f"expected 'Bundle' (or a lone 'Patient' resource), got {rt!r}")
    entries = raw.get("entry")
    if entries is None or (isinstance(entries, list) and not entries):
        raise PatientReadError(file_name, "Bundle.entry", "the Bundle is empty (no entries): no patient to read")
    reader = _Reader(file_name)
    reader.load(raw)
    p = reader.build(raw)
    if lone:
        p.warnings.append(f"Patient/{p.id}: a lone Patient resource, not a Bundle: only demographics (birth date, "
                          "sex, name) were read; no diagnoses, receptors, labs or treatments")
    return finish(p, file_name, strict=strict)
