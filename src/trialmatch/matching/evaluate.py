"""Evaluate compiled criteria against a patient in three-valued (Kleene) logic.

Truth values: ``True``, ``False``, ``None`` (unknown: the record does not say), plus two
markers: ``CONFIRM`` (only a person can settle it) and ``NA`` (a conditional whose condition
does not hold and that has no ``otherwise``).

Documented rules
----------------
* Lab results: the most recent result for the analyte on or before ``as_of``; older than the
  atom's ``max_age_days`` (else :attr:`MatchOptions.lab_max_age_days`, 28 days) -> unknown. An
  undated result is taken as of the record's ``as_of`` date (said in the reason).
* ULN multiples use the result's own ULN, else the analyte vocabulary's normal range (the
  reason says which).
* Creatinine clearance, when not measured, is computed by Cockcroft-Gault from age, weight, sex
  and serum creatinine; a missing weight makes it unknown and names the weight.
* Treatment history: a patient whose record lists treatments is taken to list all of them. A
  record with no treatment at all is *unknown* (not "zero lines") unless an assertion says so
  ("prior_therapy:<agent>[:<setting>]" present=False, or "prior_therapy:any" present=False) or
  the structured source stated an explicit empty list (``patient.sources["treatments"]``).
* Metastases at a site: true when recorded; false only after an explicit negative assertion
  ("metastasis:<site>" or "metastasis:any" present=False) or for a patient whose disease is
  recorded as early (non-metastatic); otherwise unknown.
* Comorbidities, infections, other malignancies, current medications, allergies and recent
  events follow :attr:`MatchOptions.closed_world_history`.
* Pregnancy and breastfeeding: false for a postmenopausal woman or a man when not stated.
"""

from __future__ import annotations

import datetime as dt
import re
import weakref
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from pydantic import BaseModel

from trialmatch.criteria import model as cm
from trialmatch.matching.facts import PatientIndex, build_index, norm_key, partial_class_match, site_members
from trialmatch.matching.model import CriterionOutcome, Evidence, MissingFact
from trialmatch.matching.options import MatchOptions
from trialmatch.patients.model import Patient
from trialmatch.vocab import (
    analyte_vocabulary, class_ancestors, drug_classes, drug_matches, normalize_analyte, normalize_drug,
)

CONFIRM = "confirm"
NA = "na"

DEFAULT_OPTIONS = MatchOptions()


@dataclass
class Result:
    """What evaluating one node found."""

    value: Any  # True / False / None / CONFIRM / NA
    reasons: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    missing: list[MissingFact] = field(default_factory=list)


_new = object.__new__
_oset = object.__setattr__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


_ALL_FIELDS: dict[type, set] = {}


def fast_model(cls, fields: dict):
    """Build a pydantic model from already-valid ``fields`` (every field given) without
    validation (what ``model_construct`` does, minus its per-field default handling): the hot
    matching loop builds hundreds of thousands of these from values it made itself.

    Every field is set, so the objects of a class share one "fields set" (pydantic only ever
    adds a field name to it on assignment, which is already there): one object less per model
    for the garbage collector to scan.
    """
    obj = _new(cls)
    _oset(obj, "__dict__", fields)
    fs = _ALL_FIELDS.get(cls)
    if fs is None or len(fs) != len(fields):
        fs = set(fields)
        if len(fs) == len(cls.model_fields):
            _ALL_FIELDS[cls] = fs
    _set_fields_set(obj, fs)
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj


def _ev(fact: str, source=None, value=None) -> Evidence:
    return fast_model(Evidence, {"fact": fact, "value": value, "source": source})


def _mf(key: str, description: str) -> MissingFact:
    return fast_model(MissingFact, {"fact": key, "description": description})


#: id(node) -> (weak reference to the node, canonical JSON): a compiled node's content key,
#: computed once per process; the entry goes when the node does
_NODE_KEYS: dict[int, tuple[Any, str]] = {}


def node_key(node) -> str:
    """Canonical content key of a compiled expression node (cached per node object).

    Equal keys mean equal checks, so results can be shared between trials for one patient.
    Compiled criteria are treated as immutable once matched.
    """
    i = id(node)
    e = _NODE_KEYS.get(i)
    if e is not None and e[0]() is node:
        return e[1]
    k = f"{getattr(node, 'kind', '')}|{node.model_dump_json(warnings=False)}"
    try:
        ref = weakref.ref(node, lambda _r, i=i: _NODE_KEYS.pop(i, None))
    except TypeError:  # not weak-referenceable: not cached
        return k
    _NODE_KEYS[i] = (ref, k)
    return k


def _fmt(x: float) -> str:
    return f"{x:g}" if abs(x) < 1e6 else f"{x:.3g}"


def _label(key: str) -> str:
    return key.replace("_", " ")


# ============================================================================ Kleene logic
def _and(values: list) -> Any:
    vals = [v for v in values if v is not NA and v != NA]
    if not vals:
        return NA
    if any(v is False for v in vals):
        return False
    if any(v is None for v in vals):
        return None
    if any(v == CONFIRM for v in vals):
        return CONFIRM
    return True


def _or(values: list) -> Any:
    vals = [v for v in values if v != NA]
    if not vals:
        return NA
    if any(v is True for v in vals):
        return True
    if any(v is None for v in vals):
        return None
    if any(v == CONFIRM for v in vals):
        return CONFIRM
    return False


def _not(v: Any) -> Any:
    if v is True:
        return False
    if v is False:
        return True
    return v  # None, CONFIRM, NA stay


def _merge(value, parts: list[Result], pick: Callable[[Result], bool] | None = None) -> Result:
    """Combine children's explanation: the children that decided ``value`` give the reasons."""
    chosen = [p for p in parts if pick(p)] if pick else parts
    if not chosen:
        chosen = parts
    out = Result(value)
    for p in chosen:
        out.reasons.extend(p.reasons)
    for p in parts:  # evidence and missing facts from every part that was looked at
        out.evidence.extend(p.evidence)
        if p.value is None or p in chosen:
            out.missing.extend(p.missing)
    return out


def evaluate_expression(expr, idx: PatientIndex, options: MatchOptions, want: Any = None) -> Result:
    """Evaluate an expression tree (atoms and boolean nodes).

    ``want`` is the value of this node that lets her in (True under an inclusion, False under
    an exclusion, flipped by ``Not`` and by an ``Except``'s exception; None when either way). The
    closed-world rule for history lists only ever rules a condition *out* where that lets her in;
    a condition she must *have* that her record does not list is unknown, not false.
    """
    cache = idx.cache
    prev = cache.get("_want")
    if prev is want:
        return _evaluate(expr, idx, options, want)
    cache["_want"] = want
    try:
        return _evaluate(expr, idx, options, want)
    finally:
        cache["_want"] = prev


def _flip(want: Any) -> Any:
    return None if want is None else (not want)


def _is_target(expr, idx: PatientIndex) -> bool:
    return names_target(expr, idx.cache.get("_targets"))


def names_target(expr, targets) -> bool:
    """``expr`` is an atom naming the trial's own condition (its key is among ``targets``, see
    :func:`target_atom_keys`)."""
    return bool(targets) and getattr(expr, "kind", None) in TARGET_KINDS and node_key(expr) in targets


def excepted_therapies(expr) -> list | None:
    """The exception's therapy atoms of an ``except`` whose main check and every exception are
    prior therapies ("systemic therapy, except OFS or bone treatment": the excepted drugs do not
    count), else None."""
    if not isinstance(expr.main, cm.PriorTherapy):
        return None
    exc_atoms = list(cm.iter_atoms(expr.exception))
    if exc_atoms and all(isinstance(x, cm.PriorTherapy) for x in exc_atoms):
        return exc_atoms
    return None


def _evaluate(expr, idx: PatientIndex, options: MatchOptions, want: Any) -> Result:
    kind = getattr(expr, "kind", None)
    if kind not in _BOOL_KINDS:
        return evaluate_atom(expr, idx, options)
    if kind == "all_of":
        items = expr.items
        if want is False and idx.cache.get("_targets"):
            # "prior chemotherapy for <the trial's own disease>": naming her (required) disease
            # only qualifies the other checks of an exclusion; it does not exclude by itself
            rest = [e for e in items if not _is_target(e, idx)]
            items = rest or items
        parts = [evaluate_expression(e, idx, options, want) for e in items]
        v = _and([p.value for p in parts])
        return _merge(v, parts, lambda p: p.value is v or p.value == v)
    if kind == "any_of":
        parts = [evaluate_expression(e, idx, options, want) for e in expr.items]
        v = _or([p.value for p in parts])
        res = _merge(v, parts, lambda p: p.value is v or p.value == v)
        if v is not None:
            res.missing = []
        return res
    if kind == "not":
        p = evaluate_expression(expr.item, idx, options, _flip(want))
        return Result(_not(p.value), [f"must not hold: {r}" for r in p.reasons], list(p.evidence), list(p.missing))
    if kind == "except":
        exc_atoms = excepted_therapies(expr)
        if exc_atoms is not None:
            # "systemic therapy for advanced disease, except OFS or bone treatment": the
            # excepted drugs do not count; any other qualifying drug still does
            excluded = [ag for x in exc_atoms for ag in x.agents]
            res = _prior(expr.main, idx, options, excluded=excluded)
            res.reasons.append(f"not counting {', '.join(_label(x) for x in excluded)}")
            return res
        main = evaluate_expression(expr.main, idx, options, want)
        exc = evaluate_expression(expr.exception, idx, options, _flip(want))
        v = _and([main.value, _not(exc.value)])
        if main.value is False or v is True and exc.value is NA:
            return _merge(v, [main])
        res = _merge(v, [main, exc])
        if exc.value is True:
            res.reasons.append("the exception applies")
        return res
    if kind == "if_then":
        cond = evaluate_expression(expr.condition, idx, options, None)
        then = evaluate_expression(expr.then, idx, options, want)
        other = evaluate_expression(expr.otherwise, idx, options, want) if expr.otherwise is not None else None
        if cond.value is True or cond.value == CONFIRM:
            res = _merge(then.value, [cond, then])
            return res
        if cond.value is False:
            if other is None:
                res = Result(NA, [f"does not apply: {'; '.join(cond.reasons)}"], cond.evidence, [])
                return res
            return _merge(other.value, [cond, other])
        # condition unknown: decided only if both branches agree
        branches = [then] + ([other] if other is not None else [])
        bvals = [b.value for b in branches]
        if other is None:
            # cond -> then: true when then holds; otherwise unknown
            if then.value is True:
                return _merge(True, [then])
            return _merge(None, [cond, then])
        if all(b is True for b in bvals) or all(b is False for b in bvals):
            res = _merge(bvals[0], [cond, *branches])
            res.reasons.insert(0, "either way")
            res.missing = []
            return res
        return _merge(None, [cond, *branches])
    return evaluate_atom(expr, idx, options)


_BOOL_KINDS = frozenset({"all_of", "any_of", "not", "except", "if_then"})
#: atom kinds that can name the trial's own target condition (see :func:`target_atom_keys`)
TARGET_KINDS = frozenset({"diagnosis", "condition", "infection"})


def target_atom_keys(criteria, names: list[str]) -> frozenset[str]:
    """Keys of the atoms that name the trial's own target condition.

    ``names`` are the trial's conditions (and title). An exclusion such as "use of anti-myeloma
    therapy within 28 days" that compiles to a bare diagnosis of multiple myeloma in a myeloma
    trial, or "asthma exacerbation requiring intubation" compiled to the condition asthma in an
    asthma trial, would exclude every patient the trial is for: such an atom only names the
    trial's population. Under an exclusion it is neutral inside an ``all_of`` (the other checks
    decide) and unknown elsewhere (the qualifier the compiler did not capture needs a person).
    """
    out = set()
    names = [n for n in names if n]
    if not names:
        return frozenset()
    for c in criteria:
        if c.expression is None:
            continue
        for a in cm.iter_atoms(c.expression):
            k = a.kind
            if k == "diagnosis":
                if norm_key(a.cancer_type) in _GENERIC_CANCER:
                    continue
                hit = any(same_cancer(a.cancer_type, n) for n in names)
            elif k == "condition":
                hit = any(condition_matches(n, norm_key(a.condition)) for n in names)
            elif k == "infection":
                hit = any(condition_matches(n, norm_key(a.pathogen)) for n in names)
            else:
                continue
            if hit:
                out.add(node_key(a))
    return frozenset(out)


#: how the reason of an atom naming the trial's own condition starts (see target_atom_keys)
OWN_CONDITION = "names the trial's own condition"

#: atom kinds whose result does not depend on the patient
STATIC_KINDS = frozenset({"unsupported", "confirm"})


def is_static(expr) -> bool:
    """True when the criterion's outcome cannot depend on the patient (only ``unsupported``
    and ``confirm`` atoms): it is worked out once per process, not per patient."""
    return all(a.kind in STATIC_KINDS for a in cm.iter_atoms(expr))


# ============================================================================ atoms
_EVALUATORS: dict[str, Callable] = {}


def _atom(kind: str):
    def deco(fn):
        _EVALUATORS[kind] = fn
        return fn
    return deco


def evaluate_atom(atom, idx: PatientIndex, options: MatchOptions) -> Result:
    """Evaluate one atom (memoised per patient index on the atom's content, the wanted value
    and the options: many trials share the same checks). Cached results are never mutated."""
    kind = getattr(atom, "kind", None)
    fn = _EVALUATORS.get(kind)
    if fn is None:
        return _evaluate_atom(fn, atom, idx, options)
    want = idx.cache.get("_want")
    key = node_key(atom)
    targets = idx.cache.get("_targets")
    return atom_result(atom, key, want, bool(targets) and want is False and key in targets, idx, options)


def atom_result(atom, key: str, want: Any, target: bool, idx: PatientIndex, options: MatchOptions) -> Result:
    """The memoised :class:`Result` of an atom whose content key is ``key`` (``node_key(atom)``)
    under the wanted value ``want``; ``target``: it names the trial's own condition under an
    exclusion (see :func:`target_atom_keys`). Sets ``idx.cache["_want"]`` for the evaluator."""
    ck = (key, want, target, id(options))
    cache = idx.atom_cache
    hit = cache.get(ck)
    if hit is not None:
        return hit
    if target:
        kind = atom.kind
        what = _label(getattr(atom, "cancer_type", None) or getattr(atom, "condition", None)
                      or getattr(atom, "pathogen", None) or kind)
        res = Result(None, [f"{OWN_CONDITION} ({what}): the compiled check cannot tell "
                            "which of its patients this excludes"], [],
                     [_mf("manual_review", "a person must check this exclusion (it names the trial's own condition)")])
    else:
        icache = idx.cache
        prev = icache.get("_want", _NO_WANT)
        if prev is not want:
            icache["_want"] = want
        try:
            res = _evaluate_atom(_EVALUATORS.get(atom.kind), atom, idx, options)
        finally:
            if prev is not want:
                if prev is _NO_WANT:
                    del icache["_want"]
                else:
                    icache["_want"] = prev
    cache[ck] = res
    return res


_NO_WANT = object()


def _evaluate_atom(fn, atom, idx: PatientIndex, options: MatchOptions) -> Result:
    if fn is None:
        return Result(None, [f"criterion kind {getattr(atom, 'kind', type(atom).__name__)!r} is not handled by "
                             "the matcher"], [], [_mf("manual_review", "a person must check this criterion")])
    try:
        return fn(atom, idx, options)
    except Exception as exc:  # noqa: BLE001 - a bad fact must never crash a whole match
        return Result(None, [f"could not evaluate ({exc.__class__.__name__}: {exc})"], [],
                      [_mf("manual_review", "a person must check this criterion")])


# ---------------------------------------------------------------------------- demographics
def _excludes_everyone(what: str, ev: list) -> Result:
    """An exclusion check that every patient meets (any sex, any age): the compiled check lost
    the qualifier that made it an exclusion ("men and women not using contraception"), so it
    cannot exclude her by itself; a person must read the criterion."""
    return Result(None, [f"{what}, as is every patient: the rest of this exclusion was not compiled"], ev,
                  [_mf("manual_review", "a person must check this exclusion (its compiled check holds for everyone)")])


@_atom("age")
def _age(a: cm.Age, idx: PatientIndex, o) -> Result:
    p = idx.patient
    if idx.age is None:
        return Result(None, ["age not recorded"], [], [_mf("age", "age or date of birth")])
    src = p.sources.get("birth_date") if p.birth_date else p.sources.get("age_years")
    ev = [_ev(f"age {_fmt(idx.age)} years on {idx.as_of}", src, idx.age)]
    r = a.years
    if idx.cache.get("_want") is False and (r.low is None or r.low <= 1) and (r.high is None or r.high >= 120):
        return _excludes_everyone(f"age {_fmt(idx.age)} within {_range_text(r, 'years')}", ev)
    ok = a.years.contains(idx.age)
    return Result(ok, [f"age {_fmt(idx.age)} {'within' if ok else 'outside'} {_range_text(a.years, 'years')}"], ev)


def _range_text(r: cm.Range, unit: str = "") -> str:
    parts = []
    if r.low is not None:
        parts.append(f"{'≥' if r.low_inclusive else '>'} {_fmt(r.low)}")
    if r.high is not None:
        parts.append(f"{'≤' if r.high_inclusive else '<'} {_fmt(r.high)}")
    return (" and ".join(parts) or "any") + (f" {unit}" if unit else "")


@_atom("sex")
def _sex(a: cm.Sex, idx, o) -> Result:
    sex = idx.patient.sex
    if sex not in ("female", "male"):
        return Result(None, ["sex not recorded"], [], [_mf("sex", "sex")])
    ev = [_ev(f"sex {sex}", idx.source_of("sex"), sex)]
    if idx.cache.get("_want") is False and {"female", "male"} <= set(a.allowed):
        return _excludes_everyone(f"sex {sex} is {'/'.join(a.allowed)}", ev)
    ok = sex in a.allowed
    return Result(ok, [f"sex {sex} {'is' if ok else 'is not'} {'/'.join(a.allowed)}"], ev)


@_atom("menopausal_status")
def _meno(a: cm.MenopausalStatus, idx, o) -> Result:
    p = idx.patient
    st = p.menopausal_status
    if st is None:
        if p.sex == "male":
            if idx.cache.get("_want") is True:
                # a requirement on women's menopausal status does not concern a man (the
                # trial's sex criterion decides whether men may join)
                return Result(NA, ["applies to women only (male)"], [_ev("sex male", idx.source_of("sex"))])
            return Result(False, ["male: no menopausal status"], [_ev("sex male", idx.source_of("sex"))])
        return Result(None, ["menopausal status not recorded"], [],
                      [_mf("menopausal_status", "menopausal status (pre/peri/post)")])
    ev = [_ev(f"menopausal status {st}", idx.source_of("menopausal_status"), st)]
    ok = st in a.allowed
    return Result(ok, [f"{st} {'is' if ok else 'is not'} {'/'.join(a.allowed)}"], ev)


_OFS_PROC = re.compile(r"oophorectomy|ovariectomy|ovarian (ablation|suppression)|salpingo-?oophorectomy", re.I)


@_atom("ovarian_suppression")
def _ofs(a, idx: PatientIndex, o) -> Result:
    p = idx.patient
    if p.ovarian_suppression is True:
        return Result(True, ["on ovarian function suppression"],
                      [_ev("ovarian function suppression", idx.source_of("ovarian_suppression"), True)])
    for t in idx.treatments:
        if "gnrh_agonist" in t.classes or "ovarian_function_suppression" in t.classes:
            if t.treatment.end is None or t.treatment.end >= idx.as_of or t.treatment.ongoing:
                return Result(True, [f"on {', '.join(t.generics)} (GnRH agonist)"],
                              [_ev(f"treatment {', '.join(t.treatment.drugs)}", t.treatment.source)])
    for m, g, classes in idx.medication_generics:
        if "gnrh_agonist" in classes or "ovarian_function_suppression" in classes:
            return Result(True, [f"takes {m.name} (GnRH agonist)"], [_ev(f"medication {m.name}", m.source)])
    for pr in p.procedures:
        text = f"{pr.kind} {pr.name or ''}"
        if _OFS_PROC.search(text) and (pr.date is None or pr.date <= idx.as_of):
            return Result(True, [f"had {pr.name or pr.kind}"], [_ev(f"procedure {pr.name or pr.kind}", pr.source)])
    if p.ovarian_suppression is False:
        return Result(False, ["not on ovarian function suppression"],
                      [_ev("no ovarian function suppression", idx.source_of("ovarian_suppression"), False)])
    return Result(None, ["ovarian function suppression not recorded"], [],
                  [_mf("ovarian_suppression", "ovarian function suppression (GnRH agonist or oophorectomy)")])


@_atom("pregnancy")
def _preg(a: cm.Pregnancy, idx, o) -> Result:
    p = idx.patient
    val = p.pregnant if a.state == "pregnant" else p.breastfeeding
    if val is not None:
        return Result(val, [f"{'is' if val else 'not'} {a.state}"],
                      [_ev(f"{a.state}: {'yes' if val else 'no'}", idx.source_of(a.state if a.state == "pregnant" else "breastfeeding"), val)])
    if p.sex == "male":
        if idx.cache.get("_want") is True:
            return Result(NA, [f"applies to women only (male: not {a.state})"], [_ev("sex male", idx.source_of("sex"))])
        return Result(False, [f"male: not {a.state}"], [_ev("sex male", idx.source_of("sex"))])
    if p.menopausal_status == "postmenopausal":
        return Result(False, [f"postmenopausal: not {a.state} (not stated, inferred)"],
                      [_ev("postmenopausal", idx.source_of("menopausal_status"))])
    return Result(None, [f"{a.state} status not recorded"], [], [_mf(a.state, f"whether she is {a.state}")])


# ---------------------------------------------------------------------------- performance
_KPS_FROM_ECOG = {0: (90, 100), 1: (70, 80), 2: (50, 60), 3: (30, 40), 4: (10, 20), 5: (0, 0)}


def _ecog_from_kps(k: float) -> int:
    for e, (lo, hi) in _KPS_FROM_ECOG.items():
        if lo <= k <= hi:
            return e
    return 0 if k > 100 else (5 if k < 10 else int(round((100 - k) / 20)))


@_atom("performance_status")
def _ps(a: cm.PerformanceStatus, idx: PatientIndex, o) -> Result:
    ps = idx.performance
    if ps is None:
        return Result(None, ["performance status not recorded"], [],
                      [_mf("performance_status", "performance status (ECOG or Karnofsky)")])
    ev = [_ev(f"{ps.scale.upper()} {_fmt(ps.value)}" + (f" ({ps.date})" if ps.date else ""), ps.source, ps.value)]
    want_ecog = a.scale in ("ecog", "who")
    have_ecog = ps.scale in ("ecog", "who")
    if want_ecog == have_ecog:
        ok = a.range.contains(ps.value)
        return Result(ok, [f"{ps.scale.upper()} {_fmt(ps.value)} {'within' if ok else 'outside'} "
                           f"{a.scale.upper()} {_range_text(a.range)}"], ev)
    if want_ecog:  # patient Karnofsky -> ECOG
        e = _ecog_from_kps(ps.value)
        ok = a.range.contains(e)
        return Result(ok, [f"Karnofsky {_fmt(ps.value)} = ECOG {e}, {'within' if ok else 'outside'} "
                           f"ECOG {_range_text(a.range)}"], ev)
    lo, hi = _KPS_FROM_ECOG.get(int(ps.value), (None, None))
    if lo is None:
        return Result(None, [f"ECOG {ps.value} cannot be converted"], ev, [])
    ins = [a.range.contains(k) for k in range(int(lo), int(hi) + 1, 10)]
    v = True if all(ins) else (False if not any(ins) else None)
    reason = f"ECOG {_fmt(ps.value)} = Karnofsky {lo}-{hi}, vs Karnofsky {_range_text(a.range)}"
    return Result(v, [reason], ev, [] if v is not None else [_mf("performance_status", "Karnofsky score")])


@_atom("life_expectancy")
def _le(a: cm.LifeExpectancy, idx, o) -> Result:
    le = idx.patient.life_expectancy_months
    if le is None:
        return Result(None, ["life expectancy not recorded"], [],
                      [_mf("life_expectancy", "life expectancy (estimated by her physician)")])
    need = a.minimum.days / 30.4375
    ok = le > need if a.strict else le >= need
    return Result(ok, [f"life expectancy {_fmt(le)} months vs {'>' if a.strict else '≥'} {_fmt(a.minimum.value)} {a.minimum.unit}s"],
                  [_ev(f"life expectancy {_fmt(le)} months", idx.source_of("life_expectancy_months"), le)])


# ---------------------------------------------------------------------------- disease
_CANCER_WORDS = re.compile(r"\b(cancers?|carcinomas?|neoplasms?|tumou?rs?|malignan\w*|adenocarcinomas?|"
                           r"malignant|primary|invasive|disease)\b")


@lru_cache(maxsize=65536)
def cancer_core(text: str) -> str:
    """"breast_cancer" / "Breast Carcinoma" / "Breast Neoplasms" -> "breast"."""
    t = text.lower().replace("_", " ").replace("-", " ")
    t = _CANCER_WORDS.sub(" ", t)
    t = re.sub(r"[^a-z0-9 ]", " ", t)
    return " ".join(w.rstrip("s") if len(w) > 4 else w for w in t.split())


@lru_cache(maxsize=262144)
def same_cancer(a: str, b: str) -> bool:
    from rapidfuzz import fuzz

    ca, cb = cancer_core(a), cancer_core(b)
    if not ca or not cb:
        return norm_key(a) == norm_key(b)
    if ca == cb:
        return True
    return fuzz.token_set_ratio(ca, cb) >= 90


_GENERIC_CANCER = {"solid_tumor", "solid_tumour", "cancer", "malignancy", "any", "advanced_cancer", "solid_cancer"}


def _dx_ev(d) -> Evidence:
    txt = d.cancer_type.replace("_", " ") + (f", {d.histology.replace('_', ' ')}" if d.histology else "")
    if d.stage:
        txt += f", stage {d.stage}"
    return _ev(txt, d.source, d.cancer_type)


@_atom("diagnosis")
def _dx(a: cm.Diagnosis, idx: PatientIndex, o) -> Result:
    dxs = [d for d in ([idx.primary] if idx.primary else []) + idx.others]
    if not dxs:
        return Result(None, ["no cancer diagnosis recorded"], [], [_mf("diagnosis", "cancer diagnosis (type, histology)")])
    generic = norm_key(a.cancer_type) in _GENERIC_CANCER
    matches = [d for d in dxs if generic or same_cancer(d.cancer_type, a.cancer_type)]
    if not matches:
        return Result(False, [f"her cancer ({', '.join(_label(d.cancer_type) for d in dxs)}) is not {_label(a.cancer_type)}"],
                      [_dx_ev(d) for d in dxs])
    d = matches[0]
    ev = [_dx_ev(d)]
    if a.histology:
        if not d.histology:
            return Result(None, [f"{_label(a.cancer_type)}; histology not recorded"], ev,
                          [_mf("diagnosis:histology", "histology of the cancer")])
        if not any(histology_matches(h, d.histology) for h in a.histology):
            return Result(False, [f"histology {_label(d.histology)} is not {'/'.join(map(_label, a.histology))}"], ev)
    return Result(True, [f"diagnosis: {_label(d.cancer_type)}" + (f" ({_label(d.histology)})" if d.histology else "")], ev)


#: broader histology words and the specific types they include
_HISTOLOGY_BROADER = {
    "carcinoma": {"invasive_ductal", "invasive_lobular", "ductal", "lobular", "adenocarcinoma", "mixed_ductal_lobular",
                  "ductal_carcinoma", "lobular_carcinoma", "mucinous", "tubular", "metaplastic"},
    "adenocarcinoma": {"invasive_ductal", "invasive_lobular", "ductal", "lobular", "mixed_ductal_lobular",
                       "ductal_carcinoma", "lobular_carcinoma", "mucinous", "tubular"},
    "invasive": {"invasive_ductal", "invasive_lobular", "mixed_ductal_lobular", "invasive_carcinoma"},
}


def histology_matches(wanted: str, have: str) -> bool:
    w, h = norm_key(wanted), norm_key(have)
    if w == h or h in _HISTOLOGY_BROADER.get(w, ()):
        return True
    wt, ht = set(w.split("_")) - {"carcinoma", "cancer"}, set(h.split("_")) - {"carcinoma", "cancer"}
    if wt and wt <= ht:
        return True
    return same_cancer(wanted, have) if cancer_core(wanted) and cancer_core(have) else False


_STAGE_RE = re.compile(r"^\s*(?:stage\s*)?([0IV]+)([ABC]?)", re.I)


def _stage_group(stage: str | None) -> tuple[str, str] | None:
    if not stage:
        return None
    m = _STAGE_RE.match(stage.strip())
    if not m:
        return None
    return m.group(1).upper(), m.group(2).upper()


def patient_extents(idx: PatientIndex) -> tuple[set[str] | None, list[Evidence]]:
    """The extents her disease is at (``None`` when the record does not say)."""
    d = idx.primary
    if d is None:
        return None, []
    ev = []
    out: set[str] = set()
    sg = _stage_group(d.stage)
    if d.extent:
        out.add(d.extent)
        ev.append(_ev(f"disease extent {d.extent.replace('_', ' ')}", d.source))
    if sg and sg[0] == "IV" or d.metastatic_date and d.metastatic_date <= idx.as_of or idx.metastases \
            or (d.tnm and re.search(r"M1", d.tnm)):
        out.add("metastatic")
        if sg and sg[0] == "IV":
            ev.append(_ev(f"stage {d.stage}", d.source))
        if idx.metastases:
            ev.append(_ev("metastases: " + ", ".join(sorted(idx.met_sites)), idx.metastases[0].source))
    if sg and sg[0] == "III" and sg[1] in ("B", "C") and "metastatic" not in out:
        out.add("locally_advanced")
        ev.append(_ev(f"stage {d.stage}", d.source))
    if sg and sg[0] in ("0", "I", "II") and not out:
        out.add("early")
        ev.append(_ev(f"stage {d.stage}", d.source))
    if "metastatic" in out or "locally_advanced" in out:
        out.add("advanced")
    if not out:
        return None, ev
    return out, ev


@_atom("disease_extent")
def _extent(a: cm.DiseaseExtent, idx: PatientIndex, o) -> Result:
    ext, ev = patient_extents(idx)
    d = idx.primary
    allowed = {norm_key(x) for x in a.allowed}
    if "stage_iv" in allowed:
        allowed.add("metastatic")
    sg = _stage_group(d.stage) if d else None
    if a.stages and sg:
        for s in a.stages:
            want = _stage_group(s)
            if want and want[0] == sg[0] and (not want[1] or want[1] == sg[1]):
                return Result(True, [f"stage {d.stage} is among {', '.join(a.stages)}"], ev)
        if not allowed:
            return Result(False, [f"stage {d.stage} is not {', '.join(a.stages)}"], ev)
    if ext is None:
        return Result(None, ["stage / extent of disease not recorded"], ev,
                      [_mf("disease_extent", "stage or extent of disease (early, locally advanced, metastatic)")])
    if a.stages and not allowed:
        if "metastatic" in ext and any((_stage_group(s) or ("",))[0] == "IV" for s in a.stages):
            return Result(True, ["metastatic disease = stage IV"], ev)
        return Result(None, [f"stage not recorded (extent: {', '.join(sorted(ext))})"], ev,
                      [_mf("stage", "AJCC stage group")])
    if "inoperable" in allowed and not (allowed - {"inoperable"}):
        if "metastatic" in ext:
            return Result(True, ["metastatic disease is not operable with curative intent"], ev)
        return Result(None, ["operability not recorded"], ev, [_mf("disease_extent:operability", "whether the disease is operable")])
    if "recurrent" in allowed and "recurrent" not in ext and d and d.metastatic_date and d.date \
            and d.metastatic_date > d.date + dt.timedelta(days=90):
        ext = set(ext) | {"recurrent"}
    hit = ext & allowed
    if hit:
        return Result(True, [f"{'/'.join(sorted(hit)).replace('_', ' ')} disease"], ev)
    return Result(False, [f"her disease is {', '.join(sorted(ext)).replace('_', ' ')}, not {' or '.join(sorted(allowed)).replace('_', ' ')}"], ev)


# brain-metastasis (and general) qualifiers: criterion word -> (patient words that make it true,
# patient words that make it false)
QUALIFIERS: dict[str, tuple[set[str], set[str]]] = {
    "untreated": ({"untreated", "new", "newly_diagnosed"}, {"treated", "irradiated", "resected", "treated_stable"}),
    "active": ({"active", "progressing", "untreated", "symptomatic", "unstable", "uncontrolled", "new"},
               {"stable", "treated_stable", "inactive", "controlled", "treated"}),
    "unstable": ({"unstable", "progressing", "uncontrolled"}, {"stable", "treated_stable", "controlled"}),
    "symptomatic": ({"symptomatic"}, {"asymptomatic"}),
    "progressing": ({"progressing", "progressive"}, {"stable", "treated_stable", "controlled"}),
    "uncontrolled": ({"uncontrolled", "progressing", "unstable", "active", "untreated", "symptomatic"},
                     {"controlled", "stable", "treated_stable"}),
    "leptomeningeal": ({"leptomeningeal"}, {"parenchymal"}),
    "chronic": ({"chronic"}, {"acute", "resolved", "cleared", "past", "cured"}),
    "known": ({"known", "active", "chronic"}, set()),
    "severe": ({"severe"}, {"mild", "moderate"}),
    "clinically_significant": ({"clinically_significant", "severe", "symptomatic", "uncontrolled"}, {"not_clinically_significant", "mild"}),
}
# extra falsifiers for infections/conditions: a resolved or controlled condition is not active
_NOT_ACTIVE = {"resolved", "cleared", "past", "cured", "history", "inactive", "remission", "in_remission"}


def qualifier_value(wanted: list[str], have: list[str], resolved: bool = False) -> Any:
    """True if any wanted qualifier is shown, False if all are ruled out, else None."""
    have_k = {norm_key(h) for h in have}
    if resolved:
        have_k |= {"resolved"}
    if not wanted:
        return True
    verdicts = []
    for w in wanted:
        wk = norm_key(w)
        pos, neg = QUALIFIERS.get(wk, ({wk}, set()))
        if wk in ("active", "uncontrolled", "chronic", "unstable", "progressing"):
            neg = neg | _NOT_ACTIVE
        if have_k & pos:
            verdicts.append(True)
        elif have_k & neg:
            verdicts.append(False)
        else:
            verdicts.append(None)
    return _or(verdicts)


def _assertion(idx: PatientIndex, *subjects: str):
    for s in subjects:
        a = idx.assertions.get(s)
        if a is not None:
            return a
    return None


@_atom("metastasis")
def _met(a: cm.Metastasis, idx: PatientIndex, o) -> Result:
    members = site_members(a.site)
    site = norm_key(a.site)
    found = [m for m in idx.metastases if norm_key(m.site) in members]
    ev = [_ev(f"{m.site} metastasis" + (f" ({', '.join(m.status)})" if m.status else "") + (f", {m.date}" if m.date else ""),
              m.source) for m in found]
    if a.only:
        if not idx.metastases:
            return Result(None, ["metastatic sites not recorded"], [], [_mf("metastasis:sites", "sites of metastases")])
        others = [m for m in idx.metastases if norm_key(m.site) not in members]
        v = bool(found) and not others
        return Result(v, [f"{_label(site)}-only disease" if v else
                          f"sites: {', '.join(sorted(idx.met_sites))} (not {_label(site)}-only)"],
                      [_ev("metastases: " + ", ".join(sorted(idx.met_sites)), idx.metastases[0].source)])
    if found:
        if not a.qualifiers:
            return Result(True, [f"{_label(site)} metastases recorded"], ev)
        vals = [qualifier_value(a.qualifiers, m.status) for m in found]
        v = _or(vals)
        if v is True:
            return Result(True, [f"{_label(site)} metastases that are {'/'.join(a.qualifiers)}"], ev)
        if v is False:
            sts = sorted({s for m in found for s in m.status})
            return Result(False, [f"{_label(site)} metastases are {', '.join(sts)}, not {'/'.join(a.qualifiers)}"], ev)
        return Result(None, [f"{_label(site)} metastases: whether {'/'.join(a.qualifiers)} is not recorded"], ev,
                      [_mf(f"metastasis:{site}:status", f"status of the {_label(site)} metastases ({'/'.join(a.qualifiers)})")])
    neg = _assertion(idx, *(f"metastasis:{s}" for s in sorted(members | {site})), "metastasis:any", "metastases")
    if neg is not None and not neg.present:
        return Result(False, [f"no {_label(site)} metastases (stated)"], [_ev(f"no {neg.subject.split(':')[-1]} metastases", neg.source)])
    if neg is not None and neg.present:
        return Result(True if not a.qualifiers else None, [f"{_label(site)} metastases (stated)"],
                      [_ev(f"{neg.subject}", neg.source)])
    ext, eev = patient_extents(idx)
    if ext is not None and "metastatic" not in ext and "early" in ext:
        return Result(False, [f"non-metastatic disease: no {_label(site)} metastases"], eev)
    return Result(None, [f"{_label(site)} metastases: not recorded either way"], [],
                  [_mf(f"metastasis:{site}", f"whether she has {_label(site)} metastases (imaging)")])


@_atom("measurable_disease")
def _measurable(a: cm.MeasurableDisease, idx: PatientIndex, o) -> Result:
    d = idx.primary
    if d is None or d.measurable_disease is None:
        if a.allow_bone_only_evaluable and idx.metastases and idx.met_sites <= site_members("bone"):
            return Result(True, ["bone-only disease is evaluable"], [])
        return Result(None, ["measurable disease (RECIST 1.1) not recorded"], [],
                      [_mf("measurable_disease", "measurable disease per RECIST 1.1")])
    ev = [_ev(f"measurable disease: {'yes' if d.measurable_disease else 'no'}", d.source, d.measurable_disease)]
    if not d.measurable_disease and a.allow_bone_only_evaluable and idx.metastases and idx.met_sites <= site_members("bone"):
        return Result(True, ["bone-only evaluable disease is allowed"], ev)
    return Result(d.measurable_disease, [("measurable" if d.measurable_disease else "no measurable") +
                                         f" disease ({a.standard or 'RECIST 1.1'})"], ev)


@_atom("other_malignancy")
def _other_malig(a: cm.OtherMalignancy, idx: PatientIndex, o) -> Result:
    others = idx.others
    hits, unsure, ev = [], [], []
    for d in others:
        ev.append(_dx_ev(d))
        if any(same_cancer(d.cancer_type, x) or norm_key(d.cancer_type) == norm_key(x) for x in a.exceptions):
            continue
        if a.active_only and d.status in ("in_remission", "resolved"):
            continue
        if a.within is not None:
            if d.date is None:
                unsure.append(d)
                continue
            if (idx.as_of - d.date).days > a.within.days:
                continue
        if a.active_only and d.status is None:
            unsure.append(d)
            continue
        hits.append(d)
    if hits:
        return Result(True, [f"other cancer: {', '.join(_label(d.cancer_type) for d in hits)}"], ev)
    if unsure:
        return Result(None, [f"other cancer {', '.join(_label(d.cancer_type) for d in unsure)}: date or activity not recorded"],
                      ev, [_mf("other_malignancy", "date and status of her other cancer")])
    if others:
        return Result(False, ["other cancers recorded do not count (excepted, outside the window or inactive)"], ev)
    neg = _assertion(idx, "other_malignancy", "malignancy:other")
    if neg is not None and not neg.present:
        return Result(False, ["no other malignancy (stated)"], [_ev("no other malignancy", neg.source)])
    if closed_world_ok(idx, o) and idx.primary is not None:
        return Result(False, ["no other malignancy in her record"], [])
    return Result(None, ["other malignancies not recorded"], [], [_mf("other_malignancy", "history of other cancers")])


# ---------------------------------------------------------------------------- receptors / genes
_BM_DESC = {
    "ER": "ER status (positive/negative, % stained cells)",
    "PR": "PR status (positive/negative, % stained cells)",
    "HER2": "HER2 status (IHC 0-3+, ISH)",
    "AR": "AR status",
}


def _bm_text(b) -> str:
    parts = [b.name]
    if b.ihc_score:
        parts.append(f"IHC {b.ihc_score}")
    if b.ish:
        parts.append(f"ISH {b.ish}")
    if b.percent is not None:
        parts.append(f"{_fmt(b.percent)}%")
    if b.status:
        parts.append(b.status)
    if b.date:
        parts.append(f"({b.date})")
    return " ".join(parts)


def _er_pr_status(b) -> Any:
    """True positive / False negative / None unknown, for ER/PR/AR."""
    if b.percent is not None:
        return b.percent >= 1.0
    if b.status == "positive" or b.status == "low":
        return True
    if b.status == "negative":
        return False
    return None


def her2_category(b) -> str | None:
    """"positive", "negative" (with "low" flagged separately) or None for equivocal/unknown."""
    if b.ihc_score == "3+" or b.ish == "positive":
        return "positive"
    if b.ihc_score in ("0", "1+"):
        return "negative"
    if b.ihc_score == "2+":
        if b.ish == "negative":
            return "negative"
        return None
    if b.status in ("negative", "low"):
        return "negative"
    if b.status == "positive":
        return "positive"
    return None


def _receptor_one(name: str, a: cm.Receptor, idx: PatientIndex) -> Result:
    b = idx.biomarkers.get(name)
    if b is None:
        return Result(None, [f"{name} status not recorded"], [], [_mf(f"biomarker:{name}", _BM_DESC.get(name, f"{name} status"))])
    ev = [_ev(_bm_text(b), b.source)]
    if name == "HER2":
        cat = her2_category(b)
        if a.her2_ihc:
            if b.ihc_score is None:
                return Result(None, ["HER2 IHC score not recorded"], ev, [_mf("biomarker:HER2", _BM_DESC["HER2"])])
            ok = b.ihc_score in a.her2_ihc
            if ok and a.ish:
                if b.ish is None:
                    return Result(None, ["HER2 ISH not recorded"], ev, [_mf("biomarker:HER2:ISH", "HER2 ISH result")])
                ok = b.ish == a.ish
            return Result(ok, [f"HER2 IHC {b.ihc_score} {'is' if ok else 'is not'} {'/'.join(a.her2_ihc)}"], ev)
        if a.status == "known":
            return Result(cat is not None or b.ihc_score is not None, ["HER2 tested"], ev)
        if a.status == "low":
            if b.ihc_score is None:
                if b.status == "low":
                    return Result(True, ["HER2-low"], ev)
                return Result(None if cat != "positive" else False, ["HER2 IHC score not recorded (HER2-low needs it)"], ev,
                              [] if cat == "positive" else [_mf("biomarker:HER2", _BM_DESC["HER2"])])
            low = b.ihc_score == "1+" or (b.ihc_score == "2+" and b.ish == "negative")
            if b.ihc_score == "2+" and b.ish is None:
                return Result(None, ["HER2 IHC 2+ without ISH"], ev, [_mf("biomarker:HER2:ISH", "HER2 ISH result")])
            return Result(low, [f"HER2 {'is' if low else 'is not'} low (IHC {b.ihc_score})"], ev)
        if cat is None:
            miss = "biomarker:HER2:ISH" if b.ihc_score == "2+" else "biomarker:HER2"
            return Result(None, ["HER2 equivocal (IHC 2+ without ISH)" if b.ihc_score == "2+" else "HER2 status unclear"], ev,
                          [_mf(miss, "HER2 ISH result" if b.ihc_score == "2+" else _BM_DESC["HER2"])])
        want = "positive" if a.status in ("positive", "high") else "negative"
        ok = cat == want
        return Result(ok, [f"HER2 {cat}"], ev)
    pos = _er_pr_status(b)
    if a.status == "known":
        return Result(pos is not None, [f"{name} tested"], ev)
    if pos is None:
        return Result(None, [f"{name} result unclear"], ev, [_mf(f"biomarker:{name}", _BM_DESC.get(name, name))])
    if a.status == "negative":
        return Result(not pos, [f"{name} {'positive' if pos else 'negative'}"], ev)
    if a.status in ("positive", "high", "low"):
        need = a.min_percent if a.min_percent is not None else (50.0 if a.status == "high" else None)
        if not pos:
            return Result(False, [f"{name} negative"], ev)
        if a.status == "low" and a.min_percent is None:
            if b.percent is None:
                return Result(None, [f"{name} percent not recorded"], ev, [_mf(f"biomarker:{name}", _BM_DESC.get(name, name))])
            return Result(1 <= b.percent <= 10, [f"{name} {_fmt(b.percent)}% (low = 1-10%)"], ev)
        if need is not None:
            if b.percent is None:
                return Result(None, [f"{name} positive but % of stained cells not recorded (needs ≥ {_fmt(need)}%)"], ev,
                              [_mf(f"biomarker:{name}", _BM_DESC.get(name, name))])
            ok = b.percent >= need
            return Result(ok, [f"{name} {_fmt(b.percent)}% {'≥' if ok else '<'} {_fmt(need)}%"], ev)
        return Result(True, [f"{name} positive" + (f" ({_fmt(b.percent)}%)" if b.percent is not None else "")], ev)
    return Result(None, [f"{name} status {a.status!r} not handled"], ev, [_mf("manual_review", "a person must check")])


@_atom("receptor")
def _receptor(a: cm.Receptor, idx: PatientIndex, o) -> Result:
    if a.receptor == "HR":
        er = _receptor_one("ER", a, idx)
        pr = _receptor_one("PR", a, idx)
        if a.status == "negative":
            v = _and([er.value, pr.value])
            res = _merge(v, [er, pr])
        else:
            v = _or([er.value, pr.value])
            res = _merge(v, [er, pr], lambda p: p.value is v)
            if v is True:
                res.missing = []
        return res
    return _receptor_one(a.receptor, a, idx)


@_atom("gene_alteration")
def _gene(a: cm.GeneAlteration, idx: PatientIndex, o) -> Result:
    gene = a.gene.upper()
    srcs = {("ctdna" if s == "blood" else s) for s in a.sources}
    res = [g for g in idx.patient.genes if g.gene.upper() == gene and (g.date is None or g.date <= idx.as_of)]
    if srcs:
        res = [g for g in res if g.specimen is None or ("ctdna" if g.specimen == "blood" else g.specimen) in srcs]
    src_txt = f" ({'/'.join(sorted(srcs))})" if srcs else ""
    if not res:
        return Result(None, [f"{gene} testing{src_txt} not recorded"], [],
                      [_mf(f"gene:{gene}", f"{gene} test result{src_txt}")])
    ev = [_ev(f"{g.gene} {g.status}" + (f" {g.variant}" if g.variant else "") + (f" in {g.specimen}" if g.specimen else "")
              + (f" ({g.date})" if g.date else ""), g.source) for g in res]
    if a.status == "known":
        return Result(True, [f"{gene} tested"], ev)
    if a.status == "wildtype":
        mutated = [g for g in res if g.status in ("mutated", "amplified", "fusion")]
        return Result(not mutated, [f"{gene} {'altered' if mutated else 'wild-type'}"], ev)
    hits = [g for g in res if g.status == a.status]
    if hits and a.variants:
        hv = [g for g in hits if g.variant and any(v.upper() in g.variant.upper() for v in a.variants)]
        if hv:
            return Result(True, [f"{gene} {a.status} ({hv[0].variant})"], ev)
        if any(g.variant is None for g in hits):
            return Result(None, [f"{gene} variant not recorded"], ev, [_mf(f"gene:{gene}", f"{gene} variant")])
        return Result(False, [f"{gene} variant not among {', '.join(a.variants)}"], ev)
    return Result(bool(hits), [f"{gene} {a.status if hits else 'not ' + a.status}{src_txt}"], ev)


# ---------------------------------------------------------------------------- labs
def _analyte_entry(key: str) -> dict:
    return analyte_vocabulary().get(key, {})


def _lab_text(r) -> str:
    return f"{_label(r.analyte)} {_fmt(r.value)}{(' ' + r.unit) if r.unit else ''}" + (f" ({r.date})" if r.date else " (undated)")


def _cmp(x: float, comp: str, y: float) -> bool:
    eps = 1e-9 * max(1.0, abs(y))
    return {">=": x >= y - eps, ">": x > y + eps, "<=": x <= y + eps, "<": x < y - eps, "==": abs(x - y) <= eps}[comp]


def _latest_lab(analyte: str, a: cm.LabThreshold, idx: PatientIndex, o: MatchOptions):
    """(result, None) or (None, Result explaining why unknown)."""
    items = idx.labs.get(analyte) or []
    label = _analyte_entry(analyte).get("label", _label(analyte))
    if not items:
        return None, Result(None, [f"no {label} result"], [], [_mf(f"lab:{analyte}", f"{label} (recent result)")])
    r = items[0]
    window = a.max_age_days if a.max_age_days is not None else o.lab_max_age_days
    when = r.date or idx.patient.as_of
    if when is not None and (idx.as_of - when).days > window:
        return None, Result(None, [f"latest {label} from {when} is older than {window} days"], [_ev(_lab_text(r), r.source, r.value)],
                            [_mf(f"lab:{analyte}", f"{label} (result within {window} days)")])
    return r, None


def _to_unit(value: float, unit: str | None, target: str, analyte: str) -> float:
    if unit is None:
        raise ValueError("result has no unit")
    return _convert(value, unit, target, analyte)


@lru_cache(maxsize=65536)
def _convert(value: float, unit: str, target: str, analyte: str) -> float:
    """pint conversion, memoised: a patient's few lab values meet thousands of thresholds."""
    from trialmatch.vocab.units import convert

    return convert(value, unit, target, analyte=analyte)


def _creatinine_clearance(a: cm.LabThreshold, idx: PatientIndex, o) -> tuple[float | None, Result | None, list[Evidence]]:
    """Cockcroft-Gault from age, weight, sex and serum creatinine."""
    p = idx.patient
    cr, why = _latest_lab("creatinine", a, idx, o)
    missing, ev = [], []
    if cr is None:
        why.missing = [_mf("lab:creatinine_clearance", "creatinine clearance, or serum creatinine with weight to compute it")] + why.missing
        return None, why, []
    ev.append(_ev(_lab_text(cr), cr.source, cr.value))
    if idx.age is None:
        missing.append(_mf("age", "age (for Cockcroft-Gault)"))
    if p.weight_kg is None:
        missing.append(_mf("weight", "body weight in kg (for Cockcroft-Gault creatinine clearance)"))
    if p.sex not in ("female", "male"):
        missing.append(_mf("sex", "sex (for Cockcroft-Gault)"))
    if missing:
        return None, Result(None, ["creatinine clearance not measured; Cockcroft-Gault needs " +
                                   ", ".join(m.fact for m in missing)], ev, missing), ev
    scr = _to_unit(cr.value, cr.unit, "mg/dL", "creatinine")
    crcl = (140 - idx.age) * p.weight_kg / (72 * scr) * (0.85 if p.sex == "female" else 1.0)
    ev.append(_ev(f"weight {_fmt(p.weight_kg)} kg", p.sources.get("weight_kg"), p.weight_kg))
    return crcl, None, ev


@_atom("lab")
def _lab(a: cm.LabThreshold, idx: PatientIndex, o: MatchOptions) -> Result:
    analyte = a.analyte
    entry = _analyte_entry(analyte)
    label = entry.get("label", _label(analyte))
    if analyte == "creatinine_clearance" and not idx.labs.get("creatinine_clearance"):
        if a.value is None:
            return Result(None, ["creatinine clearance threshold without a value"], [], [_mf("manual_review", "check")])
        crcl, why, ev = _creatinine_clearance(a, idx, o)
        if crcl is None:
            return why
        thr = a.value
        if a.unit and a.unit not in ("mL/min", "ml/min"):
            try:
                thr = _to_unit(a.value, a.unit, "mL/min", analyte)
            except Exception:  # noqa: BLE001
                pass
        ok = _cmp(crcl, a.comparator, thr)
        return Result(ok, [f"creatinine clearance {crcl:.0f} mL/min (Cockcroft-Gault) {a.comparator} {_fmt(a.value)} {a.unit or 'mL/min'}: "
                           f"{'met' if ok else 'not met'}"], ev)
    r, why = _latest_lab(analyte, a, idx, o)
    if r is None:
        return why
    ev = [_ev(_lab_text(r), r.source, r.value)]
    undated = "" if r.date else " (undated, taken as of the record date)"
    if a.uln_multiple is not None or a.lln_multiple is not None:
        mult = a.uln_multiple if a.uln_multiple is not None else a.lln_multiple
        own = r.uln if a.uln_multiple is not None else r.lln
        if own is not None:
            limit, value, which = own, r.value, "the lab's own " + ("ULN" if a.uln_multiple is not None else "LLN")
            unit = r.unit or ""
        else:
            normal = entry.get("normal") or {}
            ref = normal.get("high" if a.uln_multiple is not None else "low")
            if ref is None:
                return Result(None, [f"no {'ULN' if a.uln_multiple is not None else 'LLN'} for {label}"], ev,
                              [_mf(f"lab:{analyte}:uln", f"{label} upper limit of normal")])
            unit = entry.get("unit", r.unit)
            try:
                value = _to_unit(r.value, r.unit, unit, analyte) if r.unit else r.value
            except Exception as exc:  # noqa: BLE001
                return Result(None, [f"{label}: unit {r.unit!r} cannot be compared ({exc})"], ev,
                              [_mf(f"lab:{analyte}", f"{label} with a unit")])
            limit, which = ref, f"the reference {'ULN' if a.uln_multiple is not None else 'LLN'} ({_fmt(ref)} {unit}) of the analyte vocabulary"
        ratio = value / limit if limit else float("inf")
        ok = _cmp(value, a.comparator, mult * limit)
        x = "ULN" if a.uln_multiple is not None else "LLN"
        return Result(ok, [f"{label} {_fmt(r.value)} {r.unit or ''} = {ratio:.2f}×{x} {a.comparator} {_fmt(mult)}×{x} "
                           f"(using {which}){undated}: {'met' if ok else 'not met'}"], ev)
    if a.value is None:
        return Result(None, [f"{label} threshold without a value"], ev, [_mf("manual_review", "a person must check")])
    ref_high = (entry.get("normal") or {}).get("high")
    if a.unit is None and ref_high is not None and ref_high >= 20 and 0 < a.value <= 5 \
            and str(entry.get("unit", "")).upper() in ("U/L", "IU/L"):
        # "ALT > 2X UNL" compiled without its "× ULN": a small unitless number against an
        # enzyme whose normal range is in the tens of U/L reads as a multiple of the ULN
        return Result(None, [f"{label} threshold {a.comparator} {_fmt(a.value)} has no unit and lies far below the "
                             f"normal range (ULN {_fmt(ref_high)} {entry.get('unit', '')}): a multiple of the ULN?"],
                      ev, [_mf("manual_review", f"a person must check the {label} threshold (its unit)")])
    target = a.unit or entry.get("unit")
    try:
        value = _to_unit(r.value, r.unit, target, analyte) if target and r.unit else r.value
        if target and not r.unit:
            if entry.get("unit") != target:
                raise ValueError("result has no unit")
    except Exception as exc:  # noqa: BLE001 - UnitError or missing unit
        return Result(None, [f"{label} {_fmt(r.value)} {r.unit or '(no unit)'} cannot be compared with {a.unit}: {exc}"], ev,
                      [_mf(f"lab:{analyte}", f"{label} with its unit")])
    ok = _cmp(value, a.comparator, a.value)
    conv = "" if (r.unit == a.unit or not a.unit) else f" (= {_fmt(round(value, 4))} {a.unit})"
    return Result(ok, [f"{label} {_fmt(r.value)} {r.unit or ''}{conv} {a.comparator} {_fmt(a.value)} {a.unit or ''}{undated}: "
                       f"{'met' if ok else 'not met'}"], ev)


# ---------------------------------------------------------------------------- therapy
_ADVANCED = {"metastatic", "locally_advanced"}


def _setting_of(t, idx: PatientIndex) -> str:
    s = t.setting
    if s != "unknown":
        return s
    if t.line is not None:
        return "metastatic"
    d = idx.primary
    if d is not None and t.start is not None:
        if d.metastatic_date is not None and t.start >= d.metastatic_date:
            return "metastatic"
    return "unknown"


def _setting_match(setting: str, wanted: list[str]) -> Any:
    if not wanted or "any" in wanted:
        return True
    allowed: set[str] = set()
    for w in wanted:
        allowed |= _ADVANCED if w == "advanced" else {w}
    if setting == "unknown":
        return None
    return setting in allowed


#: classes that make a drug a systemic anti-cancer therapy even where the class vocabulary does
#: not link them to "systemic_therapy" (the matcher's own rule, kept beside the vocabulary)
SYSTEMIC_CLASSES = frozenset({
    "systemic_therapy", "endocrine_therapy", "chemotherapy", "targeted_therapy", "immunotherapy", "anti_her2",
    "antibody_drug_conjugate", "cdk46_inhibitor", "mtor_inhibitor", "pi3k_inhibitor", "akt_inhibitor",
    "parp_inhibitor", "tyrosine_kinase_inhibitor", "antiangiogenic", "immune_checkpoint_inhibitor",
    "bone_targeted_therapy", "ovarian_function_suppression", "gnrh_agonist", "serd", "serm", "aromatase_inhibitor",
})


def drug_is(generic: str, classes: frozenset[str], key: str) -> bool:
    """``generic`` (with its ``classes``) is the agent or class ``key``."""
    if drug_matches(generic, key):
        return True
    if key in ("systemic_therapy", "anticancer_therapy", "anti_cancer_therapy"):
        return bool(classes & SYSTEMIC_CLASSES)
    return False


def _drug_match(ti, agents: list[str], excluded: list[str] | None = None) -> Any:
    def drug_matches(g, k):
        return drug_is(g, drug_classes(g), k)

    keys = [norm_key(a) for a in agents]
    exc = [norm_key(x) for x in excluded or []]
    for g in ti.generics:
        if exc and any(drug_matches(g, x) for x in exc):
            continue
        for k in keys:
            if drug_matches(g, k) or g == k.replace("_", " "):
                return True
    if not ti.known:
        # unknown drug names: a class like "systemic_therapy"/"chemotherapy" may still include them
        if any(k in ("systemic_therapy", "anticancer_therapy", "any") for k in keys):
            return True
        return None
    return False


def _duration_days(t, as_of: dt.date) -> float | None:
    if t.duration_months is not None:
        return t.duration_months * 30.4375
    if t.start is not None:
        end = t.end or (as_of if (t.ongoing or t.end is None) else None)
        if end is not None:
            return (end - t.start).days
    return None


def _assert_no_therapy(idx: PatientIndex, agents: list[str], settings: list[str]):
    """An assertion like "prior_therapy:chemotherapy:metastatic" present=False that covers the atom."""
    for key, a in idx.assertions.items():
        if a.present:
            continue
        parts = re.split(r"[:]", key)
        if parts[0] not in ("prior_therapy", "treatment", "therapy", "treatment_history"):
            continue
        agent = norm_key(parts[1]) if len(parts) > 1 else "any"
        setting = norm_key(parts[2]) if len(parts) > 2 else "any"
        if setting in ("advanced_setting", "advanced_disease"):
            setting = "advanced"
        agent_ok = agent in ("any", "systemic_therapy", "anticancer_therapy") or all(
            agent == norm_key(x) or agent in class_ancestors(norm_key(x)) for x in agents)
        want = set(settings) if settings else {"any"}
        d = idx.primary
        # "advanced" is metastatic or locally advanced: a statement about therapy for her
        # metastatic disease covers it; for de novo metastatic disease (metastatic at diagnosis)
        # there was no earlier (adjuvant/neoadjuvant) setting, so it covers "any" too
        de_novo = bool(d and d.date and d.metastatic_date and (d.metastatic_date - d.date).days <= 90)
        if setting in ("metastatic", "advanced") and de_novo:
            setting = "any"
        setting_ok = setting == "any" or "any" not in want and all(
            s == setting or (setting in ("advanced", "metastatic") and s in ("advanced", "metastatic")) for s in want)
        if agent_ok and setting_ok:
            return a
    return None


@_atom("prior_therapy")
def _prior(a: cm.PriorTherapy, idx: PatientIndex, o, excluded: list[str] | None = None) -> Result:
    """Prior (or recent) therapy: her treatment history, and her current medications (a drug she
    takes now is one she has had, within any window up to today)."""
    res = _prior_treatments(a, idx, o, excluded)
    if res.value is True or a.lines.high is not None or not idx.medication_generics:
        return res
    sure, maybe = _current_medication_therapy(a, idx, excluded)
    if not sure and not maybe:
        return res
    agents_txt = ", ".join(_label(x) for x in a.agents)
    if sure and a.lines.contains(1):
        return Result(True, [f"currently takes {', '.join(sure)} ({agents_txt})"],
                      [e for e in res.evidence if e.fact.startswith("medication")] or
                      [_ev(f"medication {m.name}", m.source, g) for m, g, _c in idx.medication_generics if g in sure])
    names = sure + maybe
    return Result(None, [*res.reasons, f"currently takes {', '.join(names)}: whether it counts as {agents_txt} "
                         "here (setting, route, duration) needs a person"],
                  [*res.evidence, *(_ev(f"medication {m.name}", m.source, g) for m, g, _c in idx.medication_generics
                                    if g in names)],
                  res.missing or [_mf("medications", f"whether her medication counts as prior {agents_txt}")])


_BROAD_THERAPY = frozenset({"systemic_therapy", "anticancer_therapy", "anti_cancer_therapy", "any"})


def _current_medication_therapy(a: cm.PriorTherapy, idx: PatientIndex, excluded: list[str] | None):
    """Her current medications that are (``sure``) or may be (``maybe``) the therapy of ``a``."""
    # a current medication counts by its own drug or class, not through the broad "any
    # anti-cancer therapy" classes (supportive drugs such as bisphosphonates are listed as
    # medications; anti-cancer regimens belong to the treatment history)
    keys = [k for k in (norm_key(x) for x in a.agents) if k not in _BROAD_THERAPY]
    exc = [norm_key(x) for x in excluded or []]
    in_history = {g for ti in idx.treatments for g in ti.generics}
    sure: list[str] = []
    maybe: list[str] = []
    for _m, g, classes in idx.medication_generics:
        if not g or g in in_history:
            continue
        if exc and any(drug_is(g, classes, x) or x in classes for x in exc):
            continue
        if any(drug_is(g, classes, k) or k in classes for k in keys):
            dm = True
        elif any(partial_class_match(classes, k) for k in keys):
            dm = None
        else:
            continue
        vals = [dm]
        if a.settings and "any" not in a.settings:
            vals.append(None)  # a current medication states no cancer-therapy setting
        if a.ongoing is False or a.min_duration is not None or a.progressed is not None \
                or a.relapse_within_after_end is not None:
            vals.append(None)  # not stated for a current medication
        v = _and(vals)
        if v is True:
            sure.append(g)
        elif v is None:
            maybe.append(g)
    return sure, maybe


def _prior_treatments(a: cm.PriorTherapy, idx: PatientIndex, o, excluded: list[str] | None = None) -> Result:
    p = idx.patient
    agents_txt = ", ".join(_label(x) for x in a.agents)
    setting_txt = "" if (not a.settings or "any" in a.settings) else " (" + "/".join(a.settings) + " setting)"
    neg = _assert_no_therapy(idx, a.agents, a.settings)
    if not idx.treatments:
        explicit = "treatments" in p.sources
        if neg is not None or explicit:
            ok = a.lines.contains(0)
            src = neg.source if neg is not None else p.sources.get("treatments")
            return Result(ok, [f"no prior {agents_txt}{setting_txt} ({'stated' if neg else 'empty treatment list'}): "
                               f"0 lines; the check counts {_range_text(a.lines)} line(s)"],
                          [_ev(f"no prior {neg.subject.split(':', 1)[-1] if neg else 'treatment'}", src)])
        key = "treatment_history:advanced_setting" if any(s in ("advanced", "metastatic") for s in a.settings) \
            else "treatment_history"
        return Result(None, ["treatment history not recorded"], [],
                      [_mf(key, "prior anti-cancer treatments" + (" for advanced disease" if "advanced" in key else "")
                           + " (drugs, setting, dates)")])
    sure: list = []
    maybe: list = []
    ev: list[Evidence] = []
    reasons: list[str] = []
    for ti in idx.treatments:
        t = ti.treatment
        dm = _drug_match(ti, a.agents, excluded)
        if dm is False:
            continue
        setting = _setting_of(t, idx)
        sm = _setting_match(setting, a.settings)
        if sm is False:
            continue
        vals = [dm, sm]
        if a.within is not None:
            end = t.end if t.end is not None else (idx.as_of if (t.ongoing or t.start) else None)
            if end is None:
                vals.append(None)
            else:
                vals.append((idx.as_of - end).days <= a.within.days)
        if a.ongoing is not None:
            on = t.ongoing if t.ongoing is not None else (t.end is None and t.start is not None or None)
            vals.append(None if on is None else on == a.ongoing)
        if a.min_duration is not None:
            dd = _duration_days(t, idx.as_of)
            vals.append(None if dd is None else dd >= a.min_duration.days - 0.5)
        if a.progressed is not None:
            prog = t.progressed
            if prog is None and (t.best_response == "PD" or t.progression_date is not None):
                prog = True
            vals.append(None if prog is None else prog == a.progressed)
        if a.relapse_within_after_end is not None:
            d = idx.primary
            rec = (d.metastatic_date if d and d.metastatic_date else None) or t.progression_date
            if t.end is None or rec is None:
                vals.append(None)
            else:
                gap = (rec - t.end).days
                vals.append(0 <= gap <= a.relapse_within_after_end.days or (gap < 0 and t.progressed is True))
        v = _and(vals)
        if v is False:
            continue
        desc = f"{', '.join(t.drugs)} ({setting.replace('_', ' ')}"
        if t.start:
            desc += f", from {t.start}"
        if t.end:
            desc += f" to {t.end}"
        elif t.duration_months is not None:
            desc += f", {_fmt(t.duration_months)} months"
        if t.progressed:
            desc += ", progressed"
        desc += ")"
        ev.append(_ev(desc, t.source))
        (sure if v is True else maybe).append(ti)
    # count lines: treatments sharing a line number or a start date are one line
    def lines(items) -> int:
        keys = set()
        for ti in items:
            t = ti.treatment
            keys.add(("line", t.line) if t.line is not None else (("start", t.start) if t.start else ("i", ti.index)))
        return len(keys)
    n_sure = lines(sure)
    n_all = lines(sure + maybe)
    if neg is not None and not sure:
        n_all = 0
    possible = [a.lines.contains(k) for k in range(n_sure, n_all + 1)]
    if all(possible):
        v = True
    elif not any(possible):
        v = False
    else:
        v = None
    desc = f"{n_sure} line(s) of {agents_txt}{setting_txt}"
    if n_all > n_sure:
        desc += f" (up to {n_all} not certain)"
    qualifiers = "".join(q for q, on in ((", lasting long enough", a.min_duration is not None),
                                         (", with progression", a.progressed is True)) if on)
    reasons.append(f"{desc}{qualifiers}; the check counts {_range_text(a.lines)} line(s)")
    missing = []
    if v is None:
        missing.append(_mf("treatment_history:advanced_setting" if any(s in ("advanced", "metastatic") for s in a.settings)
                           else "treatment_history", f"details of prior {agents_txt} (setting, dates, duration, progression)"))
    if not ev:
        ev.append(_ev(f"treatments recorded: {'; '.join(', '.join(t.treatment.drugs) for t in idx.treatments)}",
                      idx.treatments[0].treatment.source))
    return Result(v, reasons, ev, missing)


@_atom("concomitant_medication")
def _conmed(a: cm.ConcomitantMedication, idx: PatientIndex, o) -> Result:
    keys = [norm_key(c) for c in a.classes]
    hits = []
    maybe = []
    for m, g, classes in idx.medication_generics:
        if g and any(drug_matches(g, k) or k in classes for k in keys):
            hits.append(_ev(f"medication {m.name}", m.source, g))
        elif g and any(partial_class_match(classes, k) for k in keys):
            maybe.append(_ev(f"medication {m.name} (possibly what the criterion means)", m.source, g))
    for ti in idx.treatments:
        t = ti.treatment
        if t.ongoing or (t.end is None and t.start is not None):
            if any(k in ti.classes or k in ti.generics for k in keys):
                hits.append(_ev(f"current treatment {', '.join(t.drugs)}", t.source))
    what = ", ".join(_label(k) for k in keys)
    if hits:
        return Result(True, [f"takes {what}"], hits)
    if maybe:
        return Result(None, [f"takes {', '.join(e.value for e in maybe)}: whether it counts as {what} needs a person"],
                      maybe, [_mf("medications", f"whether her medication counts as {what}")])
    if closed_world_ok(idx, o):
        n = len(idx.medication_generics)
        return Result(False, [f"no {what} among her {n} current medication(s)" if n else f"no {what} in her record"], [])
    return Result(None, ["current medications not recorded"], [], [_mf("medications", "current medications")])


# ---------------------------------------------------------------------------- conditions
@lru_cache(maxsize=1)
def _condition_synonyms() -> dict[str, list[str]]:
    """Condition / infection key -> names; from the package vocabulary when present."""
    out: dict[str, list[str]] = {}
    try:
        from trialmatch.vocab import load_json

        for name in ("conditions.json",):
            try:
                data = load_json(name)
            except (FileNotFoundError, OSError):
                continue
            items = data.get("conditions", data)
            for key, entry in items.items():
                if isinstance(entry, dict):
                    out[key] = [key.replace("_", " "), *entry.get("synonyms", [])]
    except Exception:  # noqa: BLE001
        pass
    import json
    from importlib import resources

    try:
        with resources.files("trialmatch.matching").joinpath("data", "conditions.json").open("r", encoding="utf-8") as fh:
            for key, syns in json.load(fh)["conditions"].items():
                out.setdefault(key, [key.replace("_", " ")])
                out[key] = list(dict.fromkeys(out[key] + syns))
    except (FileNotFoundError, OSError, KeyError):
        pass
    return out


@lru_cache(maxsize=262144)
def condition_matches(patient_name: str, key: str, threshold: int = 90) -> bool:
    from rapidfuzz import fuzz

    pn = patient_name.strip().lower().replace("_", " ")
    names = _condition_synonyms().get(key, [key.replace("_", " ")])
    if norm_key(patient_name) == norm_key(key):
        return True
    for n in names:
        n = n.lower()
        if pn == n:
            return True
        if len(n) >= 4 and fuzz.ratio(pn, n) >= threshold:
            return True
        if len(n) >= 5 and re.search(r"(?<![a-z])" + re.escape(n) + r"(?![a-z])", pn):
            return True
    return False


def _cond_evidence(c) -> Evidence:
    txt = c.name.replace("_", " ")
    if c.qualifiers:
        txt += f" ({', '.join(c.qualifiers)})"
    if c.onset:
        txt += f", since {c.onset}"
    return _ev(txt, c.source)


def _conditions_for(key: str, idx: PatientIndex, o) -> list:
    return [c for c in idx.patient.conditions
            if (c.onset is None or c.onset <= idx.as_of) and condition_matches(c.name, norm_key(key), o.fuzzy_threshold)]


def closed_world_ok(idx: PatientIndex, o) -> bool:
    """May an absence from her history lists count as false here? (see evaluate_expression)"""
    return o.closed_world_history and idx.cache.get("_want") is not True


def _closed_world(what: str, key: str, idx: PatientIndex, o, subj: str) -> Result:
    neg = _assertion(idx, subj, f"condition:{key}", f"infection:{key}", key)
    if neg is not None and not neg.present:
        return Result(False, [f"no {what} (stated)"], [_ev(f"no {what}", neg.source)])
    if neg is not None and neg.present:
        return Result(True, [f"{what} (stated)"], [_ev(what, neg.source)])
    if closed_world_ok(idx, o):
        return Result(False, [f"no {what} in her record"], [])
    return Result(None, [f"{what}: not recorded"], [], [_mf(subj, f"whether she has {what}")])


@_atom("infection")
def _infection(a: cm.Infection, idx: PatientIndex, o) -> Result:
    key = norm_key(a.pathogen)
    found = _conditions_for(key, idx, o)
    what = key.upper() if len(key) <= 4 else _label(key)
    if not found:
        return _closed_world(f"{what} infection", key, idx, o, f"infection:{key}")
    ev = [_cond_evidence(c) for c in found]
    wanted = [q for q in a.qualifiers if norm_key(q) != "known"]
    vals = [qualifier_value(wanted, c.qualifiers, resolved=c.resolved is not None and c.resolved <= idx.as_of)
            for c in found]
    v = _or(vals)
    if v is None:
        return Result(None, [f"{what} infection: whether {'/'.join(wanted)} is not recorded"], ev,
                      [_mf(f"infection:{key}:status", f"{what} status ({'/'.join(wanted)})")])
    return Result(v, [f"{what} infection" + ("" if v else f", not {'/'.join(wanted)}")], ev)


@_atom("condition")
def _condition(a: cm.Condition, idx: PatientIndex, o) -> Result:
    key = norm_key(a.condition)
    found = _conditions_for(key, idx, o)
    if a.within is not None:
        dated = [c for c in found if c.onset is not None and (idx.as_of - c.onset).days <= a.within.days]
        undated = [c for c in found if c.onset is None]
        if not dated and undated:
            return Result(None, [f"{_label(key)}: date not recorded (criterion: within {_fmt(a.within.value)} {a.within.unit}s)"],
                          [_cond_evidence(c) for c in undated], [_mf(f"condition:{key}:date", f"date of {_label(key)}")])
        found = dated
    if not found:
        return _closed_world(_label(key), key, idx, o, f"condition:{key}")
    ev = [_cond_evidence(c) for c in found]
    vals = [qualifier_value(a.qualifiers, c.qualifiers, resolved=c.resolved is not None and c.resolved <= idx.as_of)
            for c in found]
    v = _or(vals)
    if v is None:
        return Result(None, [f"{_label(key)}: whether {'/'.join(a.qualifiers)} is not recorded"], ev,
                      [_mf(f"condition:{key}:status", f"{_label(key)} ({'/'.join(a.qualifiers)}?)")])
    return Result(v, [f"{_label(key)}" + ("" if v else f", not {'/'.join(a.qualifiers)}")], ev)


@_atom("allergy")
def _allergy(a: cm.Allergy, idx: PatientIndex, o) -> Result:
    hits = []
    for c in idx.patient.conditions:
        name = c.name.lower()
        if "allerg" not in name and "hypersens" not in name and not any("allerg" in q for q in c.qualifiers):
            continue
        for s in a.substances:
            sk = norm_key(s)
            g = normalize_drug(re.sub(r"(allergy|allergic|hypersensitivity|to|reaction)", " ", name))
            if sk.replace("_", " ") in name or (g and drug_matches(g, sk)) or sk in ("study_drug", "study_medication", "any"):
                hits.append(_cond_evidence(c))
                break
    what = ", ".join(_label(s) for s in a.substances)
    if hits:
        return Result(True, [f"allergy to {what}"], hits)
    if any(("allerg" in c.name.lower() or "hypersens" in c.name.lower()) for c in idx.patient.conditions) \
            and any(norm_key(s) in ("study_drug", "study_medication", "excipients") for s in a.substances):
        return Result(None, ["allergies recorded; whether they concern the study drugs needs a person"], [],
                      [_mf("allergy", "allergies to the study drugs")])
    return _closed_world(f"allergy to {what}", "allergy", idx, o, "allergy")


# ---------------------------------------------------------------------------- events
_EVENT_PROC = {
    "major_surgery": {"major_surgery"},
    "surgery": {"surgery", "major_surgery", "minor_surgery"},
    "radiotherapy": {"radiotherapy", "radiation", "radiation_therapy", "rt", "srs", "stereotactic_radiosurgery", "wbrt"},
    "transfusion": {"transfusion", "blood_transfusion"},
}


@_atom("recent_event")
def _event(a: cm.RecentEvent, idx: PatientIndex, o) -> Result:
    key = norm_key(a.event)
    events: list[tuple[dt.date | None, Evidence, bool]] = []  # (date, evidence, certain kind)
    kinds = _EVENT_PROC.get(key)
    for pr in idx.patient.procedures:
        if pr.date is not None and pr.date > idx.as_of:
            continue
        pk = norm_key(pr.kind)
        if a.site and pr.site and norm_key(a.site) not in norm_key(pr.site):
            continue
        if kinds is not None and pk in kinds or pk == key:
            events.append((pr.date, _ev(f"{pr.name or pr.kind}" + (f" ({pr.date})" if pr.date else ""), pr.source), True))
        elif key == "major_surgery" and pk == "surgery":
            events.append((pr.date, _ev(f"surgery {pr.name or ''} ({pr.date})", pr.source), False))
    if key in ("chemotherapy", "systemic_therapy", "endocrine_therapy", "targeted_therapy", "immunotherapy",
               "investigational_drug", "anticancer_therapy"):
        for ti in idx.treatments:
            t = ti.treatment
            if key in ti.classes or key == "anticancer_therapy" or any(drug_matches(g, key) for g in ti.generics):
                last = t.end if t.end else (idx.as_of if (t.ongoing or t.start) else None)
                events.append((last, _ev(f"{', '.join(t.drugs)}" + (f" (until {t.end})" if t.end else ""), t.source), True))
    if kinds is None:
        for c in idx.patient.conditions:
            if condition_matches(c.name, key, o.fuzzy_threshold):
                events.append((c.onset, _cond_evidence(c), True))
    anchor = None
    if a.after == "diagnosis" and idx.primary is not None:
        anchor = idx.primary.date
    in_window, unsure = [], []
    for date, ev, certain in events:
        if anchor is not None and date is not None and date < anchor:
            continue
        if a.within is not None:
            if date is None:
                unsure.append(ev)
                continue
            if (idx.as_of - date).days > a.within.days:
                continue
        (in_window if certain else unsure).append(ev)
    win = f" within {_fmt(a.within.value)} {a.within.unit}s" if a.within else ""
    if in_window:
        return Result(True, [f"{_label(key)}{win}"], in_window)
    if unsure:
        return Result(None, [f"{_label(key)}{win}: date or kind not certain"], unsure,
                      [_mf(f"event:{key}", f"date and kind of {_label(key)}")])
    if events:
        return Result(False, [f"no {_label(key)}{win} (last one earlier)"], [e[1] for e in events])
    if closed_world_ok(idx, o):
        return Result(False, [f"no {_label(key)}{win} in her record"], [])
    return Result(None, [f"{_label(key)}: not recorded"], [], [_mf(f"event:{key}", f"whether she had {_label(key)}{win}")])


# ---------------------------------------------------------------------------- other measurements
@lru_cache(maxsize=65536)
def measurement_analyte(name: str) -> str | None:
    """The analyte vocabulary key of a measurement's name (remembered per process)."""
    return normalize_analyte(name)


@_atom("measurement")
def _measurement(a, idx: PatientIndex, o) -> Result:
    """BMI, weight, height, or any analyte-like measurement (looked up among her labs)."""
    name = norm_key(a.name)
    p = idx.patient
    value, unit, ev = None, a.unit, []
    if name in ("weight", "body_weight") and p.weight_kg is not None:
        value, unit = p.weight_kg, "kg"
        ev.append(_ev(f"weight {_fmt(p.weight_kg)} kg", p.sources.get("weight_kg"), p.weight_kg))
    elif name in ("height",) and p.height_cm is not None:
        value, unit = p.height_cm, "cm"
        ev.append(_ev(f"height {_fmt(p.height_cm)} cm", p.sources.get("height_cm"), p.height_cm))
    elif name in ("bmi", "body_mass_index") and p.weight_kg and p.height_cm:
        value, unit = p.weight_kg / (p.height_cm / 100.0) ** 2, None
        ev.append(_ev(f"BMI {value:.1f} (weight {_fmt(p.weight_kg)} kg, height {_fmt(p.height_cm)} cm)", p.sources.get("weight_kg")))
    elif re.search(r"change|gain|loss|increase|decrease|reduction|decline", name) and name not in idx.labs:
        pass  # a change (weight gain or loss) is not answered by her current value
    else:
        key = name if name in idx.labs else (measurement_analyte(a.name) or name)
        items = idx.labs.get(key) or []
        if items:
            r = items[0]
            value = r.value
            ev.append(_ev(_lab_text(r), r.source, r.value))
            if a.unit and r.unit and a.unit != r.unit:
                try:
                    value = _to_unit(r.value, r.unit, a.unit, key)
                except Exception as exc:  # noqa: BLE001
                    return Result(None, [f"{_label(name)}: unit {r.unit} cannot be compared with {a.unit} ({exc})"], ev,
                                  [_mf(f"measurement:{name}", f"{_label(name)} in {a.unit}")])
    if value is None:
        return Result(None, [f"{_label(name)} not recorded"], [], [_mf(f"measurement:{name}", _label(name))])
    if a.comparator == "between":
        hi = a.value_high if a.value_high is not None else float("inf")
        ok = a.value <= value <= hi
        txt = f"between {_fmt(a.value)} and {_fmt(hi)}"
    else:
        ok = _cmp(value, a.comparator, a.value)
        txt = f"{a.comparator} {_fmt(a.value)}"
    return Result(ok, [f"{_label(name)} {_fmt(round(value, 2))} {txt}{(' ' + a.unit) if a.unit else ''}: {'met' if ok else 'not met'}"], ev)


# ---------------------------------------------------------------------------- confirm / unsupported
@_atom("confirm")
def _confirm(a: cm.NeedsConfirmation, idx, o) -> Result:
    return Result(CONFIRM, [f"needs confirmation by a person ({_label(a.category)})" + (f": {a.reason}" if a.reason else "")])


@_atom("unsupported")
def _unsupported(a: cm.Unsupported, idx, o) -> Result:
    return Result(None, [f"criterion could not be compiled: {a.reason}"], [],
                  [_mf("manual_review", "a person must check this criterion (it could not be compiled)")])


# ============================================================================ criterion level
def outcome_from(kind: str, value: Any) -> str:
    if value == NA:
        return "not_applicable"
    if value == CONFIRM:
        return "confirm"
    if value is None:
        return "unknown"
    if kind == "inclusion":
        return "pass" if value else "fail"
    return "fail" if value else "pass"


def _dedup_missing(items: list[MissingFact]) -> list[MissingFact]:
    seen, out = set(), []
    for m in items:
        if m.fact not in seen:
            seen.add(m.fact)
            out.append(m)
    return out


def _dedup_evidence(items: list[Evidence]) -> list[Evidence]:
    seen, out = set(), []
    for e in items:
        k = (e.fact, e.source.locator if e.source else None)
        if k not in seen:
            seen.add(k)
            out.append(e)
    return out


def _outcome(criterion: cm.Criterion, outcome: str, reason: str, evidence: list, missing: list) -> CriterionOutcome:
    return fast_model(CriterionOutcome, {
        "criterion_id": criterion.id, "kind": criterion.kind, "text": criterion.text, "outcome": outcome,
        "reason": reason, "evidence": evidence, "missing": missing, "step": criterion.step,
    })


def evaluate_with_index(criterion: cm.Criterion, idx: PatientIndex, options: MatchOptions,
                        target_key: tuple = ()) -> CriterionOutcome:
    """Evaluate one criterion against an already-indexed patient.

    ``target_key`` names the atoms of this criterion that are the trial's own condition (see
    :func:`target_atom_keys`; ``idx.cache["_targets"]`` holds the set for the trial being
    matched). Results are memoised per patient index on the criterion's content.
    """
    expr = criterion.expression
    if expr is None:
        if criterion.status == "unsupported":
            return _outcome(criterion, "unknown", f"criterion could not be compiled: {criterion.reason or 'no check'}",
                            [], [_mf("manual_review", "a person must check this criterion (it could not be compiled)")])
        if criterion.status == "needs_confirmation":
            return _outcome(criterion, "confirm",
                            "needs confirmation by a person" + (f": {criterion.reason}" if criterion.reason else ""), [], [])
        return _outcome(criterion, "not_applicable", criterion.reason or "heading: its sub-criteria carry the checks", [], [])
    return outcome_for(criterion, (node_key(expr), criterion.kind, target_key), idx, options)


def crit_cache_for(idx: PatientIndex, options: MatchOptions) -> dict:
    """This patient's memo of criterion results under ``options``."""
    return idx.memo("criteria", options)


def outcome_for(criterion: cm.Criterion, ck: tuple, idx: PatientIndex, options: MatchOptions,
                cache: dict | None = None) -> CriterionOutcome:
    """The outcome of a compiled criterion whose cache key ``ck`` is
    ``(node_key(expression), kind, target_key)``."""
    if cache is None:
        cache = crit_cache_for(idx, options)
    hit = cache.get(ck)
    if hit is None:
        hit = _decide(criterion.kind, criterion.expression, idx, options)
        cache[ck] = hit
    outcome, reason, evidence, missing, _own = hit
    return fast_model(CriterionOutcome, {
        "criterion_id": criterion.id, "kind": criterion.kind, "text": criterion.text, "outcome": outcome,
        "reason": reason, "evidence": evidence, "missing": missing, "step": criterion.step,
    })


def _decide(kind: str, expr, idx: PatientIndex, options: MatchOptions) -> tuple:
    """``(outcome, reason, evidence, missing, own)`` of a compiled criterion (uncached)."""
    res = evaluate_expression(expr, idx, options, kind == "inclusion")
    outcome = outcome_from(kind, res.value)
    reasons = list(dict.fromkeys(r for r in res.reasons if r))
    reason = "; ".join(reasons) or outcome
    if outcome == "pass" and kind == "exclusion":
        reason = f"not excluded: {reason}"
    elif outcome == "fail" and kind == "exclusion":
        reason = f"excluded: {reason}"
    missing = _dedup_missing(res.missing) if outcome == "unknown" else []
    if outcome == "unknown" and not missing:
        missing = [_mf("manual_review", "a person must check this criterion")]
    evidence = _dedup_evidence(res.evidence) if options.include_evidence else []
    # unknown because an atom names the trial's own condition (weighs in the ranking only)
    own = outcome == "unknown" and any(r.startswith(OWN_CONDITION) for r in reasons)
    return outcome, reason, evidence, missing, own


decide = _decide


def evaluate_criterion(criterion: cm.Criterion, patient: Patient, as_of: dt.date | None = None,
                       options: MatchOptions | None = None) -> CriterionOutcome:
    """Evaluate one compiled criterion for one patient.

    Parameters
    ----------
    criterion : Criterion
        A compiled criterion (inclusion or exclusion).
    patient : Patient
        The patient.
    as_of : date, optional
        Evaluate as of this date (facts dated later are ignored). Defaults to
        ``patient.as_of`` or today.
    options : MatchOptions, optional

    Returns
    -------
    CriterionOutcome
        ``pass`` / ``fail`` / ``unknown`` / ``confirm`` / ``not_applicable`` with the reason,
        the patient facts used (with their sources) and the missing facts.
    """
    as_of = as_of or patient.as_of or dt.date.today()
    return evaluate_with_index(criterion, build_index(patient, as_of), options or DEFAULT_OPTIONS)
