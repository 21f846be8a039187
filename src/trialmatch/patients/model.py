"""The patient model: one record, whatever it was read from (JSON, FHIR R4/mCODE, free text).

Every fact carries a :class:`Source` saying where it came from (a JSON path, a FHIR resource
id, or the sentence of a note), so a match can show its evidence. Facts are dated where the
source dates them, so a match can be evaluated as of any date.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Model):
    """Where a patient fact came from."""

    kind: Literal["json", "fhir", "text", "form", "derived"]
    #: JSON path ("$.labs[2]"), FHIR resource ("Observation/abc123"), or the note's sentence
    locator: str
    #: for text sources, the character span of the sentence in the note
    span: tuple[int, int] | None = None


class _Fact(_Model):
    source: Source | None = None


class Biomarker(_Fact):
    """A receptor or protein marker: ER, PR, HER2, AR, Ki67, PD-L1."""

    name: Literal["ER", "PR", "HER2", "AR", "Ki67", "PD-L1"]
    status: Literal["positive", "negative", "low", "equivocal", "unknown"] | None = None
    percent: float | None = None  # share of stained cells
    intensity: str | None = None
    ihc_score: Literal["0", "1+", "2+", "3+"] | None = None  # HER2 IHC
    ish: Literal["positive", "negative", "equivocal"] | None = None  # HER2 ISH/FISH
    date: dt.date | None = None


class GeneResult(_Fact):
    gene: str  # HGNC symbol: ESR1, PIK3CA, BRCA1, ...
    status: Literal["mutated", "wildtype", "amplified", "fusion"]
    variant: str | None = None  # e.g. "Y537S", "H1047R"
    specimen: Literal["tissue", "ctdna", "germline", "blood"] | None = None
    date: dt.date | None = None


class Metastasis(_Fact):
    site: str  # "brain", "liver", "bone", "lung", "lymph_node", "pleura", ...
    date: dt.date | None = None
    #: brain metastases qualifiers: "treated", "untreated", "stable", "active", "progressing",
    #: "symptomatic", "asymptomatic", "leptomeningeal"
    status: list[str] = Field(default_factory=list)


class Diagnosis(_Fact):
    """A cancer diagnosis. ``cancer_type`` is a vocabulary key ("breast_cancer", ...)."""

    cancer_type: str
    histology: str | None = None  # "invasive_ductal", "invasive_lobular", "adenocarcinoma", ...
    primary: bool = True  # the index cancer (False: another malignancy)
    stage: str | None = None  # AJCC group: "IV", "IIIB", ...
    tnm: str | None = None  # "T2N1M1"
    extent: Literal["early", "locally_advanced", "metastatic", "recurrent"] | None = None
    date: dt.date | None = None  # date of diagnosis
    metastatic_date: dt.date | None = None
    metastases: list[Metastasis] = Field(default_factory=list)
    measurable_disease: bool | None = None  # per RECIST 1.1
    status: Literal["active", "in_remission", "resolved"] | None = None
    code: str | None = None  # SNOMED / ICD code as given
    #: further sentences of a note this diagnosis was completed from ("Relapse 2023." giving the
    #: metastatic date, "Liver lesions measurable")
    also_from: list[Source] = Field(default_factory=list)


class PerformanceStatus(_Fact):
    scale: Literal["ecog", "karnofsky", "who", "lansky"]
    value: float
    date: dt.date | None = None


class LabResult(_Fact):
    """A lab value as measured. ``analyte`` is a key of the analyte vocabulary; ``unit`` as
    written (pint-parsable after normalisation, e.g. "g/L", "10^9/L", "mg/dL", "U/L")."""

    analyte: str
    value: float = None  # type: ignore[assignment]  # required unless ``uln_multiple`` gives it
    unit: str | None = None
    date: dt.date | None = None
    uln: float | None = None  # the lab's own upper limit of normal, in ``unit``
    lln: float | None = None
    #: the result as written in multiples of the upper limit of normal ("ALT 4.0 x ULN"): then
    #: ``value`` equals it, ``uln`` is 1.0 and ``unit`` is "x ULN" (not a physical unit, so an
    #: absolute threshold in U/L stays unknown while a "≤ k × ULN" threshold is decided)
    uln_multiple: float | None = None
    #: how the unit was obtained when the source wrote none ("Bloods: plt 190"): a sentence
    #: naming the usual unit assumed; None when the unit was written
    unit_note: str | None = None

    @model_validator(mode="after")
    def _value_or_multiple(self) -> "LabResult":
        if self.value is None:
            if self.uln_multiple is None:
                raise ValueError("a lab result needs 'value' (or 'uln_multiple' for a result in multiples of the ULN)")
            self.value, self.uln = self.uln_multiple, 1.0
            self.unit = self.unit or "x ULN"
        return self


class LabStatement(_Fact):
    """A qualitative lab statement without a number: "creatinine normal", "LFTs normal",
    "CBC within normal limits". One per analyte the statement covers.

    ``finding`` "normal": the value lies within the analyte's normal range (LLN..ULN), so it
    satisfies a threshold the whole normal range satisfies (e.g. "≤ 1.5 × ULN", "platelets
    ≥ 100 × 10^9/L") and says nothing about a stricter one. "abnormal": outside the range,
    direction unknown. ``phrase`` is the words that named the analyte or panel ("liver function").
    """

    analyte: str
    finding: Literal["normal", "abnormal"]
    phrase: str | None = None
    date: dt.date | None = None


class Treatment(_Fact):
    """One line or course of anti-cancer therapy (or a single drug of it).

    ``drugs`` are as written or normalised generic names ("letrozole", "palbociclib");
    ``setting`` as in the criteria model.
    """

    drugs: list[str]
    setting: Literal["adjuvant", "neoadjuvant", "metastatic", "locally_advanced", "unknown"] = "unknown"
    line: int | None = None  # line of therapy in the advanced setting
    start: dt.date | None = None
    end: dt.date | None = None
    duration_months: float | None = None  # when only a duration is stated
    ongoing: bool | None = None
    best_response: Literal["CR", "PR", "SD", "PD", "NE"] | None = None
    #: the response is said to go on ("partial response to letrozole ongoing")
    response_ongoing: bool | None = None
    #: the day her response on it was assessed ("partial response after 4 cycles on CT 27/10/2026"): she was
    #: still on it then
    response_date: dt.date | None = None
    cycles: int | None = None  # cycles given ("6 cycles of paclitaxel")
    progressed: bool | None = None
    progression_date: dt.date | None = None
    #: months from the end of this therapy to relapse ("relapsed 8 months after finishing 5 years
    #: of adjuvant tamoxifen" -> 8.0), when the note gives the interval rather than dates
    relapse_months_after_end: float | None = None
    #: months on this therapy before progression ("progressed on anastrozole after 21 months")
    months_to_progression: float | None = None
    #: further sentences of a note this course was completed from ("Partial response to letrozole
    #: ongoing at 8 months" after "Started letrozole + ribociclib 2 February 2026")
    also_from: list[Source] = Field(default_factory=list)


class HistoryStatement(_Fact):
    """A stated closure of the anti-cancer treatment history, by therapy class and setting.

    ``received`` "none": she had no ``therapy`` in ``setting`` ("treatment-naive", "no prior
    chemotherapy", "no systemic therapy yet for metastatic disease"); "only_listed": the
    treatments recorded are all she had in ``setting`` ("no other treatment"). ``therapy`` is
    "any" or a drug-class / drug key of the vocabulary ("chemotherapy", "cdk46_inhibitor");
    ``setting`` "any", "adjuvant", "neoadjuvant" (early disease) or "advanced" (metastatic or
    locally advanced). A "none" statement is mirrored by an :class:`Assertion`
    ``prior_therapy:<therapy>:<setting>`` present=False, which the matcher reads.
    """

    therapy: str = "any"
    setting: Literal["any", "adjuvant", "neoadjuvant", "early", "advanced"] = "any"
    received: Literal["none", "only_listed"] = "none"


class Procedure(_Fact):
    """A surgery or radiotherapy. ``kind``: "surgery", "major_surgery", "radiotherapy", ..."""

    kind: str
    name: str | None = None
    site: str | None = None
    date: dt.date | None = None


class OtherCondition(_Fact):
    """A non-index condition: comorbidity, infection, another (past) malignancy, cardiac event.

    ``name`` is a vocabulary key ("hypertension", "hbv", "myocardial_infarction", ...) or text;
    ``qualifiers`` e.g. "uncontrolled", "active", "controlled".
    """

    name: str
    qualifiers: list[str] = Field(default_factory=list)
    onset: dt.date | None = None
    resolved: dt.date | None = None
    code: str | None = None


class Medication(_Fact):
    """A current (non-cancer or cancer) medication."""

    name: str
    code: str | None = None  # RxNorm
    start: dt.date | None = None
    end: dt.date | None = None


class Assertion(_Fact):
    """An explicit negative or positive statement about something not otherwise modelled:
    "no brain metastases" -> Assertion(subject="metastasis:brain", present=False)."""

    subject: str
    present: bool


class TrialAssignment(_Fact):
    """Her registration in a trial, a step of it, or an arm (multi-step protocols).

    ``trial_id`` is the trial's id (NCT number or other); ``step`` the protocol step entered;
    ``arm`` the arm label as the protocol writes it ("A", "Arm B"); ``date`` when it happened.
    """

    trial_id: str
    step: int | None = None
    arm: str | None = None
    date: dt.date | None = None


class Patient(_Model):
    """One patient, as of ``as_of``."""

    id: str
    name: str | None = None  # never logged
    birth_date: dt.date | None = None
    age_years: float | None = None  # when no birth date is given
    sex: Literal["female", "male", "other", "unknown"] | None = None
    menopausal_status: Literal["premenopausal", "perimenopausal", "postmenopausal"] | None = None
    ovarian_suppression: bool | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    diagnoses: list[Diagnosis] = Field(default_factory=list)
    biomarkers: list[Biomarker] = Field(default_factory=list)
    genes: list[GeneResult] = Field(default_factory=list)
    performance: list[PerformanceStatus] = Field(default_factory=list)
    labs: list[LabResult] = Field(default_factory=list)
    treatments: list[Treatment] = Field(default_factory=list)
    procedures: list[Procedure] = Field(default_factory=list)
    conditions: list[OtherCondition] = Field(default_factory=list)
    medications: list[Medication] = Field(default_factory=list)
    assertions: list[Assertion] = Field(default_factory=list)
    #: registrations / step entries / arm assignments in trials (optional; see TrialAssignment)
    trial_assignments: list[TrialAssignment] = Field(default_factory=list)
    life_expectancy_months: float | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    #: qualitative lab statements ("creatinine normal"); see LabStatement
    lab_statements: list[LabStatement] = Field(default_factory=list)
    #: stated closures of the treatment history ("treatment-naive"); see HistoryStatement
    history_statements: list[HistoryStatement] = Field(default_factory=list)
    as_of: dt.date | None = None
    #: where ``as_of`` came from: the note's sentence ("Summary date: 2026-11-01."), the FHIR
    #: element ("Bundle.timestamp", "Observation/x.effectiveDateTime"), the JSON path
    #: ("$.as_of"), or kind "derived" for the --as-of option or today's date
    as_of_source: Source | None = None
    #: where each scalar field above came from: field name -> Source
    sources: dict[str, Source] = Field(default_factory=dict)
    #: warnings raised while reading (impossible or contradictory values), naming the field
    warnings: list[str] = Field(default_factory=list)

    def age_on(self, when: dt.date) -> float | None:
        """Age in years on ``when`` (from birth date, else the stated age)."""
        if self.birth_date is not None:
            years = when.year - self.birth_date.year
            if (when.month, when.day) < (self.birth_date.month, self.birth_date.day):
                years -= 1
            return float(years)
        return self.age_years

    @property
    def primary_diagnosis(self) -> Diagnosis | None:
        for d in self.diagnoses:
            if d.primary:
                return d
        return None
