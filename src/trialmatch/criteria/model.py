"""Compiled eligibility criteria: typed, checkable expressions over patient facts.

Semantics
---------
Every atom is a *predicate about the patient* ("she is aged 18 or more", "she has received a
CDK4/6 inhibitor", "her platelet count is >= 100 x 10^9/L"). A criterion keeps its
``kind`` (inclusion or exclusion) separately:

* inclusion: predicate true -> pass, false -> fail, unknown -> unknown;
* exclusion: predicate true -> fail, false -> pass, unknown -> unknown.

Atoms of kind ``confirm`` (consent, investigator judgement, ...) evaluate to ``confirm`` and
``unsupported`` atoms to ``unknown`` with the reason "could not compile". Boolean nodes
(:class:`AllOf`, :class:`AnyOf`, :class:`Not`, :class:`Except`, :class:`IfThen`) combine atoms
in Kleene three-valued logic.

Every node serialises with ``to_dict`` and is rebuilt with :func:`expression_from_dict`, so
compiled criteria are data that can be stored and reloaded without re-parsing text.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from trialmatch.criteria.kinds import (
    CMP_SYMBOL, atom_kind, atom_kinds, class_label, describe, fmt_dur, fmt_num, fmt_range, node_kinds, paren,
)


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)

    def to_dict(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)

    def describe(self) -> str:
        """This node as one readable line (its kind's registered renderer)."""
        return describe(self)


class Range(BaseModel):
    """A numeric interval; either end may be open. ``None`` means unbounded."""

    model_config = ConfigDict(extra="forbid")
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def contains(self, x: float) -> bool:
        if self.low is not None and (x < self.low or (x == self.low and not self.low_inclusive)):
            return False
        if self.high is not None and (x > self.high or (x == self.high and not self.high_inclusive)):
            return False
        return True


class Duration(BaseModel):
    """A span of time as written ("4 weeks", "12 months")."""

    model_config = ConfigDict(extra="forbid")
    value: float
    unit: Literal["day", "week", "month", "year"]

    @property
    def days(self) -> float:
        return self.value * {"day": 1.0, "week": 7.0, "month": 30.4375, "year": 365.25}[self.unit]


# ----------------------------------------------------------------------------- atoms
@atom_kind(lambda a: f"age {fmt_range(a.years, 'y')}")
class Age(_Node):
    """Age within ``years``. ``unit_as_written`` keeps the time unit the criterion used when it
    was not years ("hour", "day", "week", "month"): "age 1-12 months" is
    ``Range(low=1/12, high=1)`` with ``unit_as_written="month"``."""

    kind: Literal["age"] = "age"
    years: Range
    unit_as_written: str | None = None


@atom_kind(lambda a: "sex " + " or ".join(a.allowed))
class Sex(_Node):
    kind: Literal["sex"] = "sex"
    allowed: list[Literal["female", "male"]]


@atom_kind(lambda a: " or ".join(a.allowed))
class MenopausalStatus(_Node):
    kind: Literal["menopausal_status"] = "menopausal_status"
    allowed: list[Literal["premenopausal", "perimenopausal", "postmenopausal"]]


@atom_kind(lambda a: "ovarian function suppressed")
class OvarianSuppression(_Node):
    """She is on ovarian function suppression (GnRH agonist) or had oophorectomy / ovarian ablation."""

    kind: Literal["ovarian_suppression"] = "ovarian_suppression"


@atom_kind(lambda a: a.state)
class Pregnancy(_Node):
    """She is pregnant (``state='pregnant'``) or breastfeeding (``state='breastfeeding'``)."""

    kind: Literal["pregnancy"] = "pregnancy"
    state: Literal["pregnant", "breastfeeding"]


@atom_kind(lambda a: f"{a.scale.upper() if a.scale != 'karnofsky' else 'Karnofsky'} {fmt_range(a.range)}")
class PerformanceStatus(_Node):
    """Performance status within ``range`` on ``scale``; the matcher converts ECOG <-> Karnofsky."""

    kind: Literal["performance_status"] = "performance_status"
    scale: Literal["ecog", "who", "karnofsky", "lansky"]
    range: Range


@atom_kind(lambda a: f"life expectancy {'>' if a.strict else '≥'} {fmt_dur(a.minimum)}")
class LifeExpectancy(_Node):
    kind: Literal["life_expectancy"] = "life_expectancy"
    minimum: Duration
    strict: bool = False  # "more than 3 months" -> strict



def _describe_diagnosis(a) -> str:
    h = f" ({', '.join(a.histology)})" if a.histology else ""
    c = f", confirmed by {a.confirmed_by.replace('_', ' ')}" if a.confirmed_by else ""
    return f"diagnosis {a.cancer_type.replace('_', ' ')}{h}{c}"


@atom_kind(_describe_diagnosis)
class Diagnosis(_Node):
    """She has (or had) a cancer of ``cancer_type`` (vocabulary key, e.g. "breast_cancer").

    ``histology`` narrows it (e.g. "invasive_ductal", "adenocarcinoma"); ``confirmed_by`` records
    "histology" / "cytology" where the criterion requires it.
    """

    kind: Literal["diagnosis"] = "diagnosis"
    cancer_type: str
    histology: list[str] = Field(default_factory=list)
    confirmed_by: Literal["histology", "cytology", "histology_or_cytology"] | None = None


@atom_kind(lambda a: "disease " + " or ".join([x.replace("_", " ") for x in a.allowed] + [f"stage {s}" for s in a.stages]))
class DiseaseExtent(_Node):
    """Her disease is at one of ``allowed`` extents.

    ``allowed`` values: "early", "locally_advanced", "advanced", "metastatic", "recurrent",
    "inoperable"; ``stages`` lists AJCC stage groups ("IV", "IIIB", ...). The matcher treats
    "advanced" as locally advanced or metastatic.
    """

    kind: Literal["disease_extent"] = "disease_extent"
    allowed: list[str] = Field(default_factory=list)
    stages: list[str] = Field(default_factory=list)



def _describe_metastasis(a) -> str:
    q = f"{' / '.join(a.qualifiers)} " if a.qualifiers else ""
    return f"{q}{a.site.replace('_', ' ')} metastases{' only' if a.only else ''}"


@atom_kind(_describe_metastasis)
class Metastasis(_Node):
    """She has metastases at ``site`` ("brain", "liver", "bone", "lung", "visceral", "cns", ...).

    ``qualifiers`` restrict which count: for brain metastases any of "active", "untreated",
    "unstable", "symptomatic", "progressing", "uncontrolled", "leptomeningeal"; the predicate is
    true only if she has such metastases *and* they have (any of) the qualifiers. An empty list
    means any metastasis at the site.
    """

    kind: Literal["metastasis"] = "metastasis"
    site: str
    qualifiers: list[str] = Field(default_factory=list)
    only: bool = False  # "bone-only disease"


@atom_kind(lambda a: f"measurable disease{' (' + a.standard + ')' if a.standard else ''}")
class MeasurableDisease(_Node):
    kind: Literal["measurable_disease"] = "measurable_disease"
    standard: str | None = "RECIST 1.1"
    allow_bone_only_evaluable: bool = False



def _describe_other_malignancy(a) -> str:
    w = f" within {fmt_dur(a.within)}" if a.within else ""
    act = "active " if a.active_only else ""
    e = f" except {', '.join(x.replace('_', ' ') for x in a.exceptions)}" if a.exceptions else ""
    return f"{act}other malignancy{w}{e}"


@atom_kind(_describe_other_malignancy)
class OtherMalignancy(_Node):
    """She had another cancer (not the trial's index cancer) within ``within`` (None: ever).

    ``exceptions`` are vocabulary keys of cancers that do not count (e.g.
    "non_melanoma_skin_cancer", "cervical_carcinoma_in_situ").
    """

    kind: Literal["other_malignancy"] = "other_malignancy"
    within: Duration | None = None
    exceptions: list[str] = Field(default_factory=list)
    active_only: bool = False



def _describe_receptor(a) -> str:
    s = f"{a.receptor} {a.status}"
    if a.min_percent is not None:
        s += f" (≥ {fmt_num(a.min_percent)}% cells)"
    if a.her2_ihc:
        s += f" (IHC {'/'.join(a.her2_ihc)})"
    if a.ish:
        s += f" (ISH {a.ish})"
    return s


@atom_kind(_describe_receptor)
class Receptor(_Node):
    """Receptor status.

    ``receptor``: "ER", "PR", "HR" (ER or PR positive), "HER2". ``status``: "positive",
    "negative", "low" (HER2-low: IHC 1+ or 2+/ISH-), "ultralow" (HER2-ultralow: IHC 0 with faint staining in
    ≤ 10% of cells), "known" (status has been tested).
    ``min_percent``: minimum share of stained cells ("at least 10%"). ``her2_ihc``: allowed IHC
    scores ("0", "1+", "2+", "3+") when stated; ``ish``: required ISH result.
    """

    kind: Literal["receptor"] = "receptor"
    receptor: Literal["ER", "PR", "HR", "HER2", "AR"]
    status: Literal["positive", "negative", "low", "ultralow", "high", "known"]
    min_percent: float | None = None
    her2_ihc: list[Literal["0", "1+", "2+", "3+"]] = Field(default_factory=list)
    ish: Literal["positive", "negative"] | None = None


@atom_kind(lambda a: f"{a.gene} {a.status}" + (f" in {'/'.join(a.sources)}" if a.sources else ""))
class GeneAlteration(_Node):
    """A gene alteration: ``gene`` ("ESR1", "PIK3CA", "BRCA1", ...) is ``status`` ("mutated",
    "wildtype", "amplified", "fusion") in ``sources`` ("tissue", "ctdna", "germline"; empty = any)."""

    kind: Literal["gene_alteration"] = "gene_alteration"
    gene: str
    status: Literal["mutated", "wildtype", "amplified", "fusion", "known"] = "mutated"
    variants: list[str] = Field(default_factory=list)
    sources: list[Literal["tissue", "ctdna", "germline", "blood"]] = Field(default_factory=list)



def _lab_rhs(a) -> str:
    if a.uln_multiple is not None:
        return f"{CMP_SYMBOL[a.comparator]} {fmt_num(a.uln_multiple)} × ULN"
    if a.lln_multiple is not None:
        return f"{CMP_SYMBOL[a.comparator]} {fmt_num(a.lln_multiple)} × LLN"
    unit = f" {a.unit}" if a.unit else ""
    return f"{CMP_SYMBOL[a.comparator]} {fmt_num(a.value)}{unit}"


def _describe_lab(a) -> str:
    meth = f" ({a.method.replace('_', '-')})" if a.method else ""
    return f"{a.analyte.replace('_', ' ')}{meth} {_lab_rhs(a)}"


@atom_kind(_describe_lab)
class LabThreshold(_Node):
    """A laboratory value compared with a threshold.

    ``analyte`` is a key of the analyte vocabulary ("hemoglobin", "anc", "platelets", "alt",
    "ast", "total_bilirubin", "creatinine", "creatinine_clearance", "wbc", ...). Either
    ``value`` + ``unit`` (a pint-parsable unit string, e.g. "g/L", "10**9/L", "mL/min") or
    ``uln_multiple`` (× upper limit of normal) or ``lln_multiple`` is set. ``comparator`` is one
    of ">=", ">", "<=", "<", "==".
    """

    kind: Literal["lab"] = "lab"
    analyte: str
    comparator: Literal[">=", ">", "<=", "<", "=="]
    value: float | None = None
    unit: str | None = None
    uln_multiple: float | None = None
    lln_multiple: float | None = None
    method: str | None = None  # e.g. "cockcroft_gault" for creatinine clearance
    max_age_days: int | None = None  # a stated window for the lab ("within 14 days")



def _describe_prior_therapy(a) -> str:
    s = "prior " + " or ".join(class_label(x) for x in a.agents)
    if a.settings and a.settings != ["any"]:
        s += " (" + "/".join(a.settings) + ")"
    if a.lines != Range(low=1):
        s += f", lines {fmt_range(a.lines)}"
    if a.min_duration:
        s += f", for ≥ {fmt_dur(a.min_duration)}"
    if a.progressed:
        s += ", with progression"
    if a.most_recent:
        s += ", the most recent therapy"
    if a.relapse_within_after_end:
        s += f", relapse within {fmt_dur(a.relapse_within_after_end)} after end"
    if a.within:
        s += f", within {fmt_dur(a.within)}"
    if a.ongoing:
        s += ", ongoing"
    return s


@atom_kind(_describe_prior_therapy)
class PriorTherapy(_Node):
    """Her treatment history contains therapy matching the filters, counted in lines.

    ``agents`` are drug or class vocabulary keys ("cdk46_inhibitor", "aromatase_inhibitor",
    "fulvestrant", "chemotherapy", "endocrine_therapy", "mtor_inhibitor", "serd", ...). A drug that is
    not in the vocabulary is kept as its normalised name as written (lower case, e.g. "sns-595",
    "tipifarnib"; only drug-like names: INN stems or code names): the matcher compares it with the
    names of the patient's drugs (no class roll-up is possible for such a name).
    ``settings``: "adjuvant", "neoadjuvant", "advanced" (= metastatic or locally advanced),
    "metastatic", "any". ``lines`` restricts how many matching lines she must have had (default:
    at least one). ``min_duration``: each counted line lasted at least this long.
    ``progressed``: True -> she progressed on it; ``relapse_within_after_end``: the disease
    recurred within this time after the therapy ended. ``within``: therapy given within this time
    before today (washout windows). ``most_recent``: only her latest line counts.
    """

    kind: Literal["prior_therapy"] = "prior_therapy"
    agents: list[str]
    settings: list[Literal["adjuvant", "neoadjuvant", "advanced", "metastatic", "any"]] = Field(
        default_factory=lambda: ["any"]
    )
    lines: Range = Field(default_factory=lambda: Range(low=1))
    min_duration: Duration | None = None
    progressed: bool | None = None
    relapse_within_after_end: Duration | None = None
    within: Duration | None = None
    ongoing: bool | None = None
    #: only her most recent line counts ("progressed on or after the last anti-cancer therapy")
    most_recent: bool | None = None



_RESPONSE_WORDS = {"CR": "complete response", "PR": "partial response", "SD": "stable disease", "PD": "progression"}


def _describe_therapy_response(a) -> str:
    what = " or ".join(class_label(x) for x in a.agents) if a.agents else "anti-cancer therapy"
    s = " or ".join(_RESPONSE_WORDS[r] for r in a.responses) + f" on {what}"
    if a.settings and a.settings != ["any"]:
        s += " (" + "/".join(a.settings) + ")"
    if a.lines is not None:
        s += f", line {fmt_range(a.lines)}"
    if a.most_recent:
        s += ", the most recent therapy"
    if a.min_duration:
        s += f", for ≥ {fmt_dur(a.min_duration)}"
    if a.min_cycles is not None:
        s += f", ≥ {a.min_cycles} cycles"
    if a.ongoing:
        s += ", ongoing"
    return s


@atom_kind(_describe_therapy_response)
class TherapyResponse(_Node):
    """Her disease responded to, or was stable on, a therapy she has had.

    Parameters
    ----------
    agents : list of str
        Drug or class vocabulary keys of the therapy ("endocrine_therapy", "chemotherapy",
        "cdk46_inhibitor", ...), as in :class:`PriorTherapy`; empty: any anti-cancer therapy.
    responses : list of {"CR", "PR", "SD", "PD"}
        The best responses that satisfy it (RECIST): "responding or stable" is CR, PR and SD;
        "responding" CR and PR; "documented progression during or after the most recent therapy" PD
        (a course that progressed, whatever its best response before).
    settings : list of str
        As in :class:`PriorTherapy` ("adjuvant", "neoadjuvant", "advanced", "metastatic", "any").
    lines : Range or None
        The line of therapy in the advanced setting ("first-line": low=1, high=1); None: any.
    most_recent : bool or None
        True: the response is to her most recent (last) therapy.
    min_duration : Duration or None
        The therapy (with that response) lasted at least this long ("for ≥ 6 months").
    min_cycles : int or None
        At least this many cycles were given ("≥ 4 cycles").
    ongoing : bool or None
        True: the response is still ongoing (she is still on the therapy, without progression).
    """

    kind: Literal["therapy_response"] = "therapy_response"
    agents: list[str] = Field(default_factory=list)
    responses: list[Literal["CR", "PR", "SD", "PD"]]
    settings: list[Literal["adjuvant", "neoadjuvant", "advanced", "metastatic", "any"]] = Field(
        default_factory=lambda: ["any"]
    )
    lines: Range | None = None
    most_recent: bool | None = None
    min_duration: Duration | None = None
    min_cycles: int | None = None
    ongoing: bool | None = None


_INTERVAL_EVENTS = {"diagnosis": "diagnosis", "metastatic_diagnosis": "diagnosis of metastatic disease",
                    "systemic_treatment_start": "start of systemic treatment",
                    "primary_treatment_end": "end of primary (curative) treatment",
                    "recurrence": "recurrence", "enrolment": "enrolment"}


@atom_kind(lambda a: f"time from {_INTERVAL_EVENTS[a.start]} to {_INTERVAL_EVENTS[a.end]} "
                     f"{CMP_SYMBOL[a.comparator]} {fmt_dur(a.duration)}")
class EventInterval(_Node):
    """The time between two events of her history compares with a duration.

    Parameters
    ----------
    start : {"diagnosis", "metastatic_diagnosis", "systemic_treatment_start", "primary_treatment_end"}
        The first event: the diagnosis of her cancer (``Diagnosis.date``), of its metastatic
        disease (``Diagnosis.metastatic_date``), the start of her first systemic treatment (the
        earliest ``Treatment.start``), the end of her (neo)adjuvant / curative treatment (the latest
        ``Treatment.end`` in those settings).
    end : {"recurrence", "metastatic_diagnosis", "enrolment"}
        The second event: recurrence (``Diagnosis.metastatic_date``), the diagnosis of metastatic
        disease, or enrolment in the trial (the matching date: "to randomisation", "to study entry").
    comparator : {"<=", "<", ">=", ">"}
        How the interval compares with ``duration``.
    duration : Duration
        The duration as written ("1 year", "36 months").

    A "disease-free interval" is the time from diagnosis (or, when written so, from the end of
    primary treatment) to recurrence.
    """

    kind: Literal["event_interval"] = "event_interval"
    start: Literal["diagnosis", "metastatic_diagnosis", "systemic_treatment_start", "primary_treatment_end"]
    end: Literal["recurrence", "metastatic_diagnosis", "enrolment"]
    comparator: Literal["<=", "<", ">=", ">"]
    duration: Duration


def _describe_marrow_radiotherapy(a) -> str:
    return f"prior radiotherapy to more than {a.min_percent:g}% of the bone marrow"


@atom_kind(_describe_marrow_radiotherapy)
class MarrowRadiotherapy(_Node):
    """She has had radiotherapy to more than a share of her bone marrow.

    Parameters
    ----------
    min_percent : float
        The share of the bone marrow the criterion names, in percent ("prior radiotherapy to
        > 25% of the bone marrow": 25): true when her irradiated share exceeds it.
    """

    kind: Literal["marrow_radiotherapy"] = "marrow_radiotherapy"
    min_percent: float


def _describe_cumulative_dose(a) -> str:
    return f"cumulative {a.agent.replace('_', ' ')} dose {a.comparator} {a.value:g} {a.unit}"


@atom_kind(_describe_cumulative_dose)
class CumulativeDose(_Node):
    """Her lifetime (cumulative) dose of one drug compared with a limit ("Doxorubicin > 450 mg/m^2" listed
    under prior anthracyclines): true when her cumulative dose is on that side of the limit."""

    kind: Literal["cumulative_dose"] = "cumulative_dose"
    agent: str  # a drug key of the drug vocabulary
    comparator: Literal[">=", ">", "<=", "<"]
    value: float
    unit: str = "mg/m2"


def _describe_recent_event(a) -> str:
    s = a.event.replace("_", " ")
    if a.site:
        s = f"{a.site} {s}"
    if a.within:
        s += f" within {fmt_dur(a.within)}"
    if a.after:
        s += f" after {a.after}"
    return s


@atom_kind(_describe_recent_event)
class RecentEvent(_Node):
    """An event happened within ``within`` before today (None: ever).

    ``event`` is a vocabulary key: "major_surgery", "surgery", "myocardial_infarction", "stroke",
    "radiotherapy", "chemotherapy", "investigational_drug", "transfusion", ...
    ``after`` restricts to events after another anchor ("diagnosis").
    """

    kind: Literal["recent_event"] = "recent_event"
    event: str
    within: Duration | None = None
    after: str | None = None
    site: str | None = None  # e.g. radiotherapy "breast"


@atom_kind(lambda a: "current " + " or ".join(class_label(c) for c in a.classes))
class ConcomitantMedication(_Node):
    """She currently takes a medication of ``classes`` ("strong_cyp3a4_inhibitor", ...;
    "investigational_drug": she is receiving an investigational agent now)."""

    kind: Literal["concomitant_medication"] = "concomitant_medication"
    classes: list[str]


@atom_kind(lambda a: (f"{'/'.join(a.qualifiers)} " if a.qualifiers else "") + f"{a.pathogen.upper() if len(a.pathogen) <= 3 else a.pathogen} infection")
class Infection(_Node):
    """She has an infection (``pathogen``: "hbv", "hcv", "hiv", "tuberculosis", "covid19", ...)
    with any of ``qualifiers`` ("active", "chronic", "uncontrolled", "known")."""

    kind: Literal["infection"] = "infection"
    pathogen: str
    qualifiers: list[str] = Field(default_factory=list)



def _describe_condition(a) -> str:
    q = f"{'/'.join(x.replace('_', ' ') for x in a.qualifiers)} " if a.qualifiers else ""
    w = f" within {fmt_dur(a.within)}" if a.within else ""
    return f"{q}{a.condition.replace('_', ' ')}{w}"


@atom_kind(_describe_condition)
class Condition(_Node):
    """She has a (non-cancer) condition: ``condition`` is a vocabulary key ("hypertension",
    "arrhythmia", "heart_failure", "interstitial_lung_disease", ...) or the phrase as written,
    ``qualifiers`` e.g. "uncontrolled", "severe", "symptomatic", "active", "clinically_significant"
    (the criterion said "clinically significant X": whether hers is significant is a clinician's call)."""

    kind: Literal["condition"] = "condition"
    condition: str
    qualifiers: list[str] = Field(default_factory=list)
    within: Duration | None = None


@atom_kind(lambda a: "allergy to " + ", ".join(s.replace("_", " ") for s in a.substances))
class Allergy(_Node):
    kind: Literal["allergy"] = "allergy"
    substances: list[str]



def _describe_measurement(a) -> str:
    unit = " " + a.unit if a.unit else ""
    if a.comparator == "between":
        return f"{a.name} {fmt_num(a.value)}–{fmt_num(a.value_high)}{unit}"
    return f"{a.name} {CMP_SYMBOL[a.comparator]} {fmt_num(a.value)}{unit}"


@atom_kind(_describe_measurement)
class Measurement(_Node):
    """A measurement or score without an analyte-vocabulary entry (BMI, ASA class, NYHA class,
    MMSE, a questionnaire score, weight, ...), compared with a threshold.

    ``name`` is a key of the analyte vocabulary when known, else the cleaned name as written
    (lower case); the matcher fuzzy-matches it against the patient's observations.
    ``comparator`` "between" uses ``value`` (low) and ``value_high``.
    """

    kind: Literal["measurement"] = "measurement"
    name: str
    comparator: Literal[">=", ">", "<=", "<", "==", "between"]
    value: float
    value_high: float | None = None
    unit: str | None = None


@atom_kind(lambda a: f"needs confirmation ({a.category.replace('_', ' ')})")
class NeedsConfirmation(_Node):
    """A criterion only a person can settle: never ``pass``.

    ``category``: one of ``cues.categories`` in ``criteria/extractors/data/confirm.json`` (each with its
    doc): "consent", "compliance", "investigator_judgement", "social_security", "tissue_available",
    "recovered_from_toxicity", "swallow", "contraception", "withdrawal", "trial_participation",
    "language", "device_access", "logistics", "study_procedure", "legal_status", "other".
    """

    kind: Literal["confirm"] = "confirm"
    category: str
    reason: str | None = None
    #: therapy keys this judgement is an alternative to ("prior treatment with, *or ineligibility for*, each of
    #: the following"): where the record states she had none of one of them ("never had an anthracycline",
    #: "no chemotherapy to date"), the statement settles it and the judgement does not hold; where her history
    #: only leaves it out, a person judges
    alternative_to: list[str] = Field(default_factory=list)


@atom_kind(lambda a: f"unsupported: {a.reason}")
class Unsupported(_Node):
    """Text the compiler could not turn into a check, kept with the reason."""

    kind: Literal["unsupported"] = "unsupported"
    reason: str


# ----------------------------------------------------------------------------- boolean nodes
@atom_kind(lambda a: " AND ".join(paren(i) for i in a.items), boolean=True)
class AllOf(_Node):
    kind: Literal["all_of"] = "all_of"
    items: list["Expression"]


@atom_kind(lambda a: " OR ".join(paren(i) for i in a.items), boolean=True)
class AnyOf(_Node):
    kind: Literal["any_of"] = "any_of"
    items: list["Expression"]


@atom_kind(lambda a: f"NOT ({describe(a.item)})", boolean=True)
class Not(_Node):
    kind: Literal["not"] = "not"
    item: "Expression"


@atom_kind(lambda a: f"{paren(a.main)} EXCEPT {paren(a.exception)}", boolean=True)
class Except(_Node):
    """``main`` holds unless ``exception`` holds ("other malignancy, except treated skin cancer")."""

    kind: Literal["except"] = "except"
    main: "Expression"
    exception: "Expression"



def _describe_if_then(a) -> str:
    if a.otherwise is not None and getattr(a.then, "kind", None) == "lab" and getattr(a.otherwise, "kind", None) == "lab":
        return f"{describe(a.otherwise)}; {_lab_rhs(a.then)} if {describe(a.condition)}"
    s = f"IF {describe(a.condition)} THEN {paren(a.then)}"
    if a.otherwise is not None:
        s += f" ELSE {paren(a.otherwise)}"
    return s


@atom_kind(_describe_if_then, boolean=True)
class IfThen(_Node):
    """A conditional: when ``condition`` holds, ``then`` must hold, else ``otherwise`` (if given).

    "ALT <= 2.5 x ULN (<= 5 x ULN if liver metastases)" becomes
    ``IfThen(condition=Metastasis(site="liver"), then=Lab(alt <= 5 ULN), otherwise=Lab(alt <= 2.5 ULN))``.
    """

    kind: Literal["if_then"] = "if_then"
    condition: "Expression"
    then: "Expression"
    otherwise: "Expression | None" = None


#: the atom classes and every expression class, from the registrations (``criteria.kinds``)
Atom = Union[atom_kinds()]
Expression = Annotated[Union[node_kinds()], Field(discriminator="kind")]

for _cls in (AllOf, AnyOf, Not, Except, IfThen):
    _cls.model_rebuild()

_EXPRESSION_ADAPTER: TypeAdapter = TypeAdapter(Expression)

#: every atom kind, for documentation and validation messages
ATOM_KINDS: tuple[str, ...] = tuple(c.model_fields["kind"].default for c in atom_kinds())


def expression_from_dict(data: dict) -> "Expression":
    """Rebuild an expression from :meth:`_Node.to_dict` output (validates every field)."""
    return _EXPRESSION_ADAPTER.validate_python(data)


def iter_atoms(expr: "Expression"):
    """Yield every atom of an expression tree, depth first."""
    if isinstance(expr, (AllOf, AnyOf)):
        for item in expr.items:
            yield from iter_atoms(item)
    elif isinstance(expr, Not):
        yield from iter_atoms(expr.item)
    elif isinstance(expr, Except):
        yield from iter_atoms(expr.main)
        yield from iter_atoms(expr.exception)
    elif isinstance(expr, IfThen):
        yield from iter_atoms(expr.condition)
        yield from iter_atoms(expr.then)
        if expr.otherwise is not None:
            yield from iter_atoms(expr.otherwise)
    else:
        yield expr


# ----------------------------------------------------------------------------- criteria
CriterionKind = Literal["inclusion", "exclusion"]
CompileStatus = Literal["compiled", "needs_confirmation", "unsupported"]


class Criterion(BaseModel):
    """One eligibility requirement as written, and what it compiled to.

    ``span`` is the [start, end) character range of ``text`` in the trial's criteria text (or
    in the document it was read from, see ``CompiledCriteria.source``). ``parent`` is the id of
    the enclosing criterion for nested bullets ("Breast cancer meets the following criteria:").
    """

    model_config = ConfigDict(extra="forbid")

    id: str  # "I1", "I1.2", "E3", ...
    kind: CriterionKind
    text: str
    span: tuple[int, int]
    parent: str | None = None
    expression: Expression | None = None
    status: CompileStatus
    reason: str | None = None  # why unsupported / why confirmation is needed
    step: int | None = None  # protocol step this criterion belongs to (None: entry to the trial)

    @property
    def is_header(self) -> bool:
        """A criterion that only introduces its children ("must meet the following:")."""
        return self.expression is None and self.status == "compiled"


class CompiledCriteria(BaseModel):
    """All criteria of one trial, in source order."""

    model_config = ConfigDict(extra="forbid")

    trial_id: str
    compiler_version: str
    source: Literal["criteria_text", "document_prose", "title_and_summary", "none"] = "criteria_text"
    criteria: list[Criterion] = Field(default_factory=list)
    #: the exact text the criteria spans index into (the criteria text, the prose sentence's
    #: document text, or "title\n\nsummary" for ``title_and_summary``); None when not kept
    source_text: str | None = None

    @property
    def inclusion(self) -> list[Criterion]:
        return [c for c in self.criteria if c.kind == "inclusion"]

    @property
    def exclusion(self) -> list[Criterion]:
        return [c for c in self.criteria if c.kind == "exclusion"]

    def counts(self) -> dict[str, int]:
        out = {"compiled": 0, "needs_confirmation": 0, "unsupported": 0}
        for c in self.criteria:
            out[c.status] += 1
        return out
