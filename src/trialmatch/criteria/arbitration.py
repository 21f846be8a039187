"""The order the extractors run in and the one table of rules that arbitrate between them.

:data:`ORDER` lists every registered extractor once: guards first (a result of theirs is the clause's
result), then the main extractors, then the fallbacks. :data:`RULES` is the arbitration table; each rule
is named and documented and acts at one step (``target``, an extractor name):

* ``skip``: the extractor does not run when the rule holds ("sex yields to men_or_menopausal_women");
* ``input``: the text the extractor reads is rewritten;
* ``output``: the extractor's own atoms are rewritten before they join the clause's atoms;
* ``after``: applied to the clause's atoms once the step is done (whether or not the extractor ran); it
  may end the clause with a result of its own.

Rules of one step apply in table order. :func:`pipeline` joins both into the steps that
:func:`trialmatch.criteria.clause.compile_clause` loops over.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from trialmatch.criteria.extractors.common import _any
from trialmatch.criteria.extractors.conditions import _condition_list
from trialmatch.criteria.extractors.disease import _SETTING_PHRASE, _diagnosis
from trialmatch.criteria.extractors.labs import _weight_change as _rename_weight_change
from trialmatch.criteria.extractors.therapy import _DOSE_ABOVE, _drop_treating_drugs, _is_ofs_agent
from trialmatch.criteria.extractors.therapy import _dose_above as _at_dose
from trialmatch.criteria.extractors.registry import Gate, registered
from trialmatch.criteria.model import (
    AllOf, AnyOf, ConcomitantMedication, Condition, Diagnosis, DiseaseExtent, Except, IfThen, Measurement,
    MenopausalStatus, Metastasis, OvarianSuppression, PriorTherapy, RecentEvent, Receptor, iter_atoms,
)

__all__ = ["ORDER", "RULES", "Rule", "pipeline", "yields_to"]

#: every extractor, in the order it runs
ORDER = (
    # guards
    "local_rule", "paren_permission", "cns_progression_after_local_therapy", "therapy_response", "event_interval", "marrow_radiotherapy", "cumulative_dose", "unsupported_pattern", "start_window", "protocol_defined", "vague_function",
    "since_window", "confirm",
    # main
    "age", "men_or_menopausal_women", "men_or_nonpregnant_women", "sex", "menopause", "pregnancy", "performance",
    "life_expectancy", "receptors", "genes", "labs", "other_malignancy", "diagnosis", "metastasis", "measurable",
    "infections", "conmeds", "events", "fitness", "concurrent_medication", "prior_therapy", "measurements",
    "conditions", "allergy",
    # fallbacks
    "concurrent_medication_fallback", "use_within", "generic_condition", "condition_list", "vague_comorbidity",
)


class Rule:
    """One arbitration rule: ``name``, the ``stage`` it acts at ("skip", "input", "output", "after"), the
    ``target`` extractor, ``doc`` (why), ``fn`` (skip: ``fn(clause) -> bool``; input: ``fn(clause, text) ->
    text``; output: ``fn(clause, atoms) -> atoms``; after: ``fn(clause) -> result or None``), ``by``: the
    extractors a skip rule yields to (documentation and :func:`yields_to`), ``gate``: an after rule's
    pre-check, ``needs``: an after rule applies only when that extractor produced atoms; ``inline``: a skip
    rule's test written as a Python expression over the clause ``c`` and ``P`` (``c.produced``), the same
    test as ``fn``, which the clause function is generated with (see ``clause.clause_source``)."""

    STAGES = ("skip", "input", "output", "after")
    __slots__ = ("name", "stage", "target", "doc", "fn", "by", "gate", "needs", "inline")

    def __init__(self, name: str, stage: str, target: str, doc: str, fn: Callable, by: tuple[str, ...] = (),
                 gate: Gate | None = None, needs: str | None = None, inline: str | None = None):
        if stage not in self.STAGES:
            raise ValueError(f"rule {name!r}: stage {stage!r} is not one of {list(self.STAGES)}")
        if (gate is not None or needs is not None) and stage != "after":
            raise ValueError(f"rule {name!r}: only an after rule takes a gate or needs")
        self.name, self.stage, self.target, self.doc, self.fn, self.by = name, stage, target, doc, fn, by
        self.gate, self.needs, self.inline = gate, needs, inline

    def __repr__(self) -> str:
        return f"Rule({self.name!r}, {self.stage!r}, target={self.target!r})"


def skip_when_produced(name: str, target: str, by: tuple[str, ...], doc: str) -> Rule:
    """``target`` is skipped when any of ``by`` produced atoms."""
    def fn(c) -> bool:
        for b in by:
            if c.produced.get(b):
                return True
        return False
    return Rule(name, "skip", target, doc, fn, by=by, inline=" or ".join(f"P.get({b!r})" for b in by))


def skip_when_kinds(name: str, target: str, kinds: tuple[str, ...], doc: str, unless_words: tuple[str, ...] = ()) -> Rule:
    """``target`` is skipped when the clause's atoms include one of ``kinds`` at the top level (and the clause
    holds none of ``unless_words``)."""
    kset = frozenset(kinds)

    def fn(c) -> bool:
        if unless_words and c.has(*unless_words):
            return False
        for a in c.atoms:
            if a.kind in kset:
                return True
        return False
    return Rule(name, "skip", target, doc, fn)


def _skip_when_any_atoms(c) -> bool:
    return bool(c.atoms)


def _keep_fitness_out_of_therapy(c, t: str) -> str:
    fit = c.fit
    return t if fit is None else t[:fit.start()] + " " + t[fit.end():]


def _receptor_without_therapy_word(c) -> bool:
    return bool(c.produced.get("receptors")) and not _any(r"prior|previous|treat|therap", c.t)


def _bone_only_evaluable(c):
    meas = c.produced.get("measurable")
    if meas and meas[0].allow_bone_only_evaluable and c.has("bone"):
        c.atoms = [a for a in c.atoms if not (isinstance(a, Metastasis) and a.site == "bone" and a.only)]


def _weight_change(c):
    _rename_weight_change(c.t, c.atoms)


def _her2_scores(c):
    rec = c.produced.get("receptors")
    if rec and any(isinstance(x, Receptor) and x.receptor == "HER2" for a in rec for x in iter_atoms(a)):
        c.atoms = [a for a in c.atoms if not (isinstance(a, (Measurement, AllOf, AnyOf)) and all(
            isinstance(x, Measurement) and re.search(r"(?i)\b(?:ihc|her-?2|ish|fish|score)\b", x.name)
            for x in iter_atoms(a)))]


def _receptor_percent(c):
    pct = {a.min_percent for a in c.atoms if isinstance(a, Receptor) and a.min_percent is not None}
    if pct:
        c.atoms = [a for a in c.atoms if not (isinstance(a, Measurement) and a.value in pct
                                              and (a.unit or "").lower() in ("%", "percent"))]


_EVENT_NOT_CONDITION = ("myocardial_infarction", "coronary_revascularization")  # a recent event, read once as the event


def _mi_event_not_condition(c, out: list) -> list:
    events = {a.event for a in c.atoms if isinstance(a, RecentEvent) and a.event in _EVENT_NOT_CONDITION}
    if events:
        return [x for x in out if x.condition not in events]
    return out


def _whole_condition_list(c, out: list) -> list:
    if out and not c.atoms:
        listed = _condition_list(c.t, c.kind)
        if listed and sum(1 for _ in iter_atoms(listed[0])) > len(out):
            return listed
    return out


def _treating_drugs(c):
    c.atoms = _drop_treating_drugs(c.t, c.atoms)


def _lab_condition_site(c):
    sites = {a.condition.site for a in c.atoms if isinstance(a, IfThen) and isinstance(a.condition, Metastasis)}
    if sites:
        c.atoms = [a for a in c.atoms if not (isinstance(a, Metastasis) and a.site in sites)]
    # "bilirubin ≤ 1.5 × ULN unless Gilbert's disease, in which case ...": the condition is the lab's, likewise
    conds = {a.condition.condition for a in c.atoms if isinstance(a, IfThen) and isinstance(a.condition, Condition)}
    if conds:
        c.atoms = [a for a in c.atoms if not (isinstance(a, Condition) and a.condition in conds)]


def _ofs_status_not_therapy(c):
    atoms = c.atoms
    if any(isinstance(x, OvarianSuppression) for a in atoms for x in iter_atoms(a)) and \
            any(isinstance(x, MenopausalStatus) for a in atoms for x in iter_atoms(a)):
        c.atoms = [a for a in atoms if not (isinstance(a, PriorTherapy) and all(_is_ofs_agent(g) for g in a.agents))]


def _setting_not_extent(c):
    atoms = c.atoms
    therapies = [a.main if isinstance(a, Except) else a for a in atoms]
    therapies = [a for a in therapies if isinstance(a, PriorTherapy)]
    if any(a.settings != ["any"] for a in therapies) and any(isinstance(a, (Diagnosis, DiseaseExtent)) for a in atoms):
        rest = _diagnosis(_SETTING_PHRASE.sub(" ", c.t), c.kind)
        keep = {type(a) for a in rest}
        c.atoms = [a for a in atoms if not isinstance(a, (Diagnosis, DiseaseExtent)) or type(a) in keep]


def _excepted_ofs_not_status(c):
    if any(isinstance(a, Except) and isinstance(a.main, PriorTherapy) and any(
            isinstance(x, PriorTherapy) and "ovarian_function_suppression" in x.agents for x in iter_atoms(a.exception))
           for a in c.atoms):
        c.atoms = [a for a in c.atoms if not isinstance(a, OvarianSuppression)]


def _reaction_not_use(c):
    if c.produced.get("allergy"):
        c.atoms = [a for a in c.atoms if not isinstance(a, PriorTherapy)]


def _dose_above(c):
    if any(isinstance(a, (ConcomitantMedication, PriorTherapy)) for a in c.atoms):
        dm = _DOSE_ABOVE.search(c.t)
        if dm is not None:
            c.atoms = [_at_dose(a, dm) for a in c.atoms]


def _confirm_merge(c):
    conf, atoms = c.conf, c.atoms
    if conf is not None and (not atoms or conf.category in ("investigator_judgement", "contraception")):
        if not atoms or all(isinstance(a, (Condition,)) and a.condition in ("comorbidity",) for a in atoms):
            return [conf]
        atoms.append(conf)
    return None


# "unresolved toxicity from previous anticancer therapy", "adverse events due to prior chemotherapy": the therapy is
# the cause of what is checked, not a therapy history the clause requires or excludes
_TOXICITY_CAUSE = re.compile(
    r"(?i)\b(?P<head>toxicit(?:y|ies)|adverse\s+(?:events?|effects?|reactions?)|side[- ]effects?|AEs?)\b(?P<gap>[^.;()]{0,60}?)"
    r"\b(?:from|due\s+to|related\s+to|attributed\s+to|attributable\s+to|caused\s+by|of|following|after)\s+(?:any\s+|the\s+)?"
    r"(?:previous|prior|earlier|preceding)\s+[^.;,()]{0,60}?(?:therap(?:y|ies)|treatments?|chemotherap(?:y|ies)|agents?|"
    r"radiotherap(?:y|ies)|radiation|surgery|interventions?)\b")


_RESOLVED = re.compile(r"(?<!un)resol")


def _therapy_as_cause(c, t: str) -> str:
    if "tox" not in c.tl and "advers" not in c.tl and "side" not in c.tl and "AE" not in t:
        return t
    if c.conf is not None or "recover" in c.tl or _RESOLVED.search(c.tl):
        # "recovered from (not resolved) toxicities of prior therapy to grade 1": a recovery, not a toxicity she has
        return _TOXICITY_CAUSE.sub(lambda m: m.group("head") + m.group("gap"), t)
    # the cause is kept as "therapy-related": the toxicity itself is the requirement (a treatment-related toxicity)
    return _TOXICITY_CAUSE.sub(lambda m: "therapy-related " + m.group("head") + m.group("gap"), t)


# "eligible for T-DXd treatment", "suitable for treatment with epirubicin and cyclophosphamide", "scheduled for
# T-DXd treatment": the treatment the trial plans, not one she has had
_PLANNED_TREATMENT = re.compile(
    r"(?i)\b(?:eligible|suitable|candidates?|scheduled|planned|fit|appropriate|indicated|selected)\s+(?:for|to\s+receive)\s+"
    r"(?:(?:treatment|therapy)\s+with\s+)?(?:[\w/+-]+(?:\s*(?:,|and|or|\+|/)\s*[\w/+-]+){0,4})"
    r"(?:\s+(?:treatment|therapy|chemotherapy|regimen|combination))?")


# "in line with the specifications mentioned in the ENHERTU® SmPC", "according to the drug label": the product's label
# named as the standard, not a drug she has had
_LABEL_REFERENCE = re.compile(
    r"(?i)\b(?:in\s+line\s+with|according\s+to|as\s+per|per|as\s+described\s+in|consistent\s+with)\s+(?:the\s+)?"
    r"(?:(?:specifications?|recommendations?|conditions?)\s+(?:mentioned\s+|given\s+|stated\s+)?in\s+the\s+)?[\w®™/-]+(?:\s+[\w®™/-]+)?"
    r"\s+(?:SmPC|label(?:l?ing)?|prescribing\s+information|package\s+insert|product\s+information|summary\s+of\s+product\s+"
    r"characteristics)\b")


def _planned_treatment_not_history(c, t: str) -> str:
    tl = c.tl
    if "smpc" in tl or "label" in tl or "prescribing" in tl or "package" in tl or "product" in tl:
        t = _LABEL_REFERENCE.sub(lambda m: " " * len(m.group(0)), t)
    if "for" not in tl and "receive" not in tl:
        return t
    return _PLANNED_TREATMENT.sub(lambda m: " " * len(m.group(0)), t)  # same length: the fitness span still fits


_FALLBACK_DOC = "a fallback: it reads only a clause that no other extractor read"

#: the arbitration table
RULES: tuple[Rule, ...] = (
    skip_when_produced("sex_yields_to_joint_sex_rules", "sex", ("men_or_menopausal_women", "men_or_nonpregnant_women"),
                       "\"Men, or postmenopausal women\" / \"men or non-pregnant women\": the joint rule states the sexes"),
    skip_when_produced("menopause_yields_to_men_or_menopausal_women", "menopause", ("men_or_menopausal_women",),
                       "the menopausal status applies to the women of \"men or postmenopausal women\" only"),
    skip_when_produced("pregnancy_yields_to_men_or_nonpregnant_women", "pregnancy", ("men_or_nonpregnant_women",),
                       "\"men or non-pregnant women\" already holds the pregnancy atoms"),
    skip_when_kinds("score_is_not_a_lab", "labs", ("performance_status", "life_expectancy"),
                    "a clause with a performance status or a life expectancy: its numbers are theirs, not lab values "
                    "(unless it says \"normal\", as in \"normal organ function\")", unless_words=("normal",)),
    skip_when_produced("other_malignancy_is_not_a_diagnosis", "diagnosis", ("other_malignancy",),
                       "\"other malignancy\": the cancer named is the other one, not her diagnosis"),
    Rule("bone_only_evaluable_is_an_alternative", "after", "measurable",
         "\"Measurable disease, or bone-only disease with an evaluable lesion\": the bone-only case is the alternative "
         "the MeasurableDisease atom allows, not a second requirement (drop Metastasis(bone, only))", _bone_only_evaluable,
         needs="measurable"),
    Rule("concurrent_medication_only_alone", "skip", "concurrent_medication",
         "\"No concurrent fluconazole or lithium\": read only when nothing else was found", _skip_when_any_atoms,
         inline="c.atoms"),
    skip_when_produced("therapy_history_yields_to_concurrent_medication", "prior_therapy", ("concurrent_medication",),
                       "drugs taken now are not a therapy history"),
    skip_when_kinds("therapy_history_yields_to_medication_or_malignancy", "prior_therapy",
                    ("concomitant_medication", "other_malignancy"),
                    "a current medication or another malignancy already names what the drugs are about"),
    Rule("receptor_status_is_not_a_therapy", "skip", "prior_therapy",
         "\"HER2-positive\", \"hormone receptor-positive\": a receptor with no therapy word is not a therapy "
         "(\"HER2-directed\" agents)", _receptor_without_therapy_word, by=("receptors",)),
    Rule("planned_treatment_is_not_history", "input", "prior_therapy",
         "\"eligible for T-DXd treatment\", \"suitable for treatment with epirubicin and cyclophosphamide\": the "
         "treatment the trial plans for her, not a therapy she has had; \"in line with the ENHERTU SmPC\": the product's "
         "label named as the standard (read without them)", _planned_treatment_not_history),
    Rule("fitness_is_not_therapy_history", "input", "prior_therapy",
         "\"unfit for chemotherapy\": the fitness phrase is a judgement, not a therapy she had (read without it)",
         _keep_fitness_out_of_therapy),
    Rule("therapy_causing_toxicity_is_not_history", "input", "prior_therapy",
         "\"unresolved toxicity Grade >= 2 from previous anticancer therapy\": the therapy is the toxicity's cause, not a "
         "therapy history that is required or excluded (read without the cause phrase)", _therapy_as_cause),
    Rule("weight_change_is_not_weight", "after", "measurements",
         "\"Weight gain or loss of greater than 5 kg\": a change in weight, not her weight (renames the measurement)",
         _weight_change, gate=Gate(any=("weight",), and_any=("gain", "loss", "lost", "chang", "reduc"))),
    Rule("her2_scores_are_not_measurements", "after", "measurements",
         "\"IHC 1+, or IHC 2+ with negative ISH\": the scores belong to the HER2 atom", _her2_scores,
         needs="receptors"),
    Rule("receptor_percent_is_not_a_measurement", "after", "measurements",
         "\"at least 10% of cancer cells show positive ER staining\": the 10% is the receptor's", _receptor_percent),
    skip_when_kinds("infection_is_not_a_condition", "conditions", ("infection",),
                    "an infection clause: its words are the infection's"),
    Rule("myocardial_infarction_event_is_not_a_condition", "output", "conditions",
         "\"myocardial infarction (or coronary angioplasty) within 6 months\": the recent event, not also the condition", _mi_event_not_condition),
    Rule("whole_condition_list", "output", "conditions",
         "\"History of asthma, COPD or chronic bronchitis\": the whole list, not only its vocabulary items (when "
         "nothing else was found and the list names more conditions)", _whole_condition_list),
    Rule("treating_drug_is_not_a_medication", "after", "conditions",
         "\"Asthma exacerbation requiring oral corticosteroids\": the condition's episode, not a medication she takes",
         _treating_drugs, gate=Gate(any=("requir",))),
    Rule("lab_condition_site_is_not_a_metastasis", "after", "conditions",
         "\"ALT <= 5 x ULN if liver metastases\" (\"unless Gilbert's disease\"): the metastasis (condition) is the lab's "
         "condition, not a requirement",
         _lab_condition_site),
    Rule("ovarian_suppression_status_is_not_a_therapy_count", "after", "conditions",
         "\"must receive ovarian function suppression (e.g. goserelin)\": her OFS status, not a therapy count",
         _ofs_status_not_therapy),
    Rule("therapy_setting_is_not_disease_extent", "after", "conditions",
         "\"treatment for advanced disease\": the extent is the therapy's setting; only what the rest of the clause "
         "says about her disease is kept", _setting_not_extent),
    Rule("excepted_ovarian_suppression_is_not_status", "after", "conditions",
         "\"(except hormone therapy for ovarian suppression)\": OFS is the excused therapy class, not her status",
         _excepted_ofs_not_status),
    Rule("adverse_reaction_is_not_use", "after", "allergy",
         "\"history of any adverse reaction to corticosteroid therapy\": a reaction to the drug, not its use",
         _reaction_not_use, needs="allergy"),
    Rule("drug_only_at_dose", "after", "allergy",
         "\"prednisone > 10 mg/day or equivalent\": the drug checks hold only at that dose",
         _dose_above, gate=Gate(any=("mg", "mcg"))),
    Rule("confirmation_joins_or_replaces", "after", "allergy",
         "a confirmation cue: the clause's only check when nothing else was found (or only a vague comorbidity), "
         "else added beside the atoms when it is a judgement or contraception", _confirm_merge),
    *(Rule(f"{name}_is_a_fallback", "skip", name, _FALLBACK_DOC, _skip_when_any_atoms, inline="c.atoms")
      for name in ("concurrent_medication_fallback", "use_within", "generic_condition", "condition_list",
                   "vague_comorbidity")),
)


def yields_to(name: str) -> tuple[str, ...]:
    """The extractors whose atoms make ``name`` skip (its skip rules' ``by``)."""
    out: list[str] = []
    for r in RULES:
        if r.target == name and r.stage == "skip":
            out.extend(b for b in r.by if b not in out)
    return tuple(out)


@lru_cache(maxsize=1)
def pipeline() -> tuple:
    """The steps of :func:`trialmatch.criteria.clause.compile_clause`, in :data:`ORDER`: per extractor ``(name,
    function, how it is called (0 text, 1 text and kind, 2 clause and text), guard?, gate or None, skip rules,
    input rules, output rules, after rules)``.

    Raises ``ValueError`` when the order, the registry and the table disagree (an extractor registered but
    not ordered, ordered twice or not registered, a rule for an unknown extractor)."""
    reg = registered()
    if len(set(ORDER)) != len(ORDER):
        raise ValueError(f"ORDER names an extractor twice: {sorted(n for n in ORDER if ORDER.count(n) > 1)}")
    missing = sorted(set(reg) - set(ORDER))
    unknown = sorted(set(ORDER) - set(reg))
    if missing or unknown:
        raise ValueError(f"extractors registered but not in ORDER: {missing}; in ORDER but not registered: {unknown}")
    for r in RULES:
        if r.target not in reg or any(b not in reg for b in r.by):
            raise ValueError(f"rule {r.name!r} names an unknown extractor ({r.target!r}, {list(r.by)})")
    takes = {"text": 0, "text_kind": 1, "clause": 2}
    steps = []
    for name in ORDER:
        ex = reg[name]
        rules = [r for r in RULES if r.target == name]
        for r in rules:
            if r.needs is not None and r.needs not in reg:
                raise ValueError(f"rule {r.name!r} needs an unknown extractor {r.needs!r}")
        steps.append((name, ex.fn, takes[ex.takes], ex.phase == "guard", ex.gate,
                      tuple(r for r in rules if r.stage == "skip"), tuple(r for r in rules if r.stage == "input"),
                      tuple(r for r in rules if r.stage == "output"), tuple(r for r in rules if r.stage == "after")))
    return tuple(steps)
