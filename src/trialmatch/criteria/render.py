"""Readable rendering of compiled expressions: "age ≥ 18 y", "NOT (prior CDK4/6 inhibitor)"."""

from __future__ import annotations

from trialmatch.criteria import model as m

__all__ = ["describe"]

_CMP = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "=", "between": "between"}


def _num(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _range(r: m.Range, unit: str = "") -> str:
    u = f" {unit}" if unit else ""
    if r.low is not None and r.high is not None:
        if r.low == r.high:
            return f"= {_num(r.low)}{u}"
        return f"{_num(r.low)}–{_num(r.high)}{u}"
    if r.low is not None:
        return f"{'≥' if r.low_inclusive else '>'} {_num(r.low)}{u}"
    if r.high is not None:
        return f"{'≤' if r.high_inclusive else '<'} {_num(r.high)}{u}"
    return "any"


def _dur(d: m.Duration | None) -> str:
    if d is None:
        return ""
    return f"{_num(d.value)} {d.unit}{'s' if d.value != 1 else ''}"


def _label(key: str) -> str:
    from trialmatch.vocab import class_vocabulary

    entry = class_vocabulary().get(key)
    return entry["label"] if entry else key.replace("_", " ")


def _lab_rhs(a: m.LabThreshold) -> str:
    if a.uln_multiple is not None:
        return f"{_CMP[a.comparator]} {_num(a.uln_multiple)} × ULN"
    if a.lln_multiple is not None:
        return f"{_CMP[a.comparator]} {_num(a.lln_multiple)} × LLN"
    unit = f" {a.unit}" if a.unit else ""
    return f"{_CMP[a.comparator]} {_num(a.value)}{unit}"


def describe(expr) -> str:
    """Render an expression (atom or boolean node) as one readable line."""
    if expr is None:
        return "(introduces sub-criteria)"
    k = getattr(expr, "kind", None)
    if k == "age":
        return f"age {_range(expr.years, 'y')}"
    if k == "sex":
        return "sex " + " or ".join(expr.allowed)
    if k == "menopausal_status":
        return " or ".join(expr.allowed)
    if k == "ovarian_suppression":
        return "ovarian function suppressed"
    if k == "pregnancy":
        return expr.state
    if k == "performance_status":
        return f"{expr.scale.upper() if expr.scale != 'karnofsky' else 'Karnofsky'} {_range(expr.range)}"
    if k == "life_expectancy":
        return f"life expectancy {'>' if expr.strict else '≥'} {_dur(expr.minimum)}"
    if k == "diagnosis":
        h = f" ({', '.join(expr.histology)})" if expr.histology else ""
        c = f", confirmed by {expr.confirmed_by.replace('_', ' ')}" if expr.confirmed_by else ""
        return f"diagnosis {expr.cancer_type.replace('_', ' ')}{h}{c}"
    if k == "disease_extent":
        parts = [a.replace("_", " ") for a in expr.allowed] + [f"stage {s}" for s in expr.stages]
        return "disease " + " or ".join(parts)
    if k == "metastasis":
        q = f"{' / '.join(expr.qualifiers)} " if expr.qualifiers else ""
        return f"{q}{expr.site.replace('_', ' ')} metastases{' only' if expr.only else ''}"
    if k == "measurable_disease":
        return f"measurable disease{' (' + expr.standard + ')' if expr.standard else ''}"
    if k == "other_malignancy":
        w = f" within {_dur(expr.within)}" if expr.within else ""
        a = "active " if expr.active_only else ""
        e = f" except {', '.join(x.replace('_', ' ') for x in expr.exceptions)}" if expr.exceptions else ""
        return f"{a}other malignancy{w}{e}"
    if k == "receptor":
        s = f"{expr.receptor} {expr.status}"
        if expr.min_percent is not None:
            s += f" (≥ {_num(expr.min_percent)}% cells)"
        if expr.her2_ihc:
            s += f" (IHC {'/'.join(expr.her2_ihc)})"
        if expr.ish:
            s += f" (ISH {expr.ish})"
        return s
    if k == "gene_alteration":
        src = f" in {'/'.join(expr.sources)}" if expr.sources else ""
        return f"{expr.gene} {expr.status}{src}"
    if k == "lab":
        meth = f" ({expr.method.replace('_', '-')})" if expr.method else ""
        return f"{expr.analyte.replace('_', ' ')}{meth} {_lab_rhs(expr)}"
    if k == "measurement":
        if expr.comparator == "between":
            return f"{expr.name} {_num(expr.value)}–{_num(expr.value_high)}{' ' + expr.unit if expr.unit else ''}"
        return f"{expr.name} {_CMP[expr.comparator]} {_num(expr.value)}{' ' + expr.unit if expr.unit else ''}"
    if k == "prior_therapy":
        s = "prior " + " or ".join(_label(a) for a in expr.agents)
        if expr.settings and expr.settings != ["any"]:
            s += " (" + "/".join(expr.settings) + ")"
        if expr.lines != m.Range(low=1):
            s += f", lines {_range(expr.lines)}"
        if expr.min_duration:
            s += f", for ≥ {_dur(expr.min_duration)}"
        if expr.progressed:
            s += ", with progression"
        if expr.relapse_within_after_end:
            s += f", relapse within {_dur(expr.relapse_within_after_end)} after end"
        if expr.within:
            s += f", within {_dur(expr.within)}"
        if expr.ongoing:
            s += ", ongoing"
        return s
    if k == "recent_event":
        s = expr.event.replace("_", " ")
        if expr.site:
            s = f"{expr.site} {s}"
        if expr.within:
            s += f" within {_dur(expr.within)}"
        if expr.after:
            s += f" after {expr.after}"
        return s
    if k == "concomitant_medication":
        return "current " + " or ".join(_label(c) for c in expr.classes)
    if k == "infection":
        q = f"{'/'.join(expr.qualifiers)} " if expr.qualifiers else ""
        return f"{q}{expr.pathogen.upper() if len(expr.pathogen) <= 3 else expr.pathogen} infection"
    if k == "condition":
        q = f"{'/'.join(x.replace('_', ' ') for x in expr.qualifiers)} " if expr.qualifiers else ""
        w = f" within {_dur(expr.within)}" if expr.within else ""
        return f"{q}{expr.condition.replace('_', ' ')}{w}"
    if k == "allergy":
        return "allergy to " + ", ".join(s.replace("_", " ") for s in expr.substances)
    if k == "confirm":
        return f"needs confirmation ({expr.category.replace('_', ' ')})"
    if k == "unsupported":
        return f"unsupported: {expr.reason}"
    if k == "all_of":
        return " AND ".join(_paren(i) for i in expr.items)
    if k == "any_of":
        return " OR ".join(_paren(i) for i in expr.items)
    if k == "not":
        return f"NOT ({describe(expr.item)})"
    if k == "except":
        return f"{_paren(expr.main)} EXCEPT {_paren(expr.exception)}"
    if k == "if_then":
        if expr.otherwise is not None and getattr(expr.then, "kind", None) == "lab" and getattr(expr.otherwise, "kind", None) == "lab":
            return f"{describe(expr.otherwise)}; {_lab_rhs(expr.then)} if {describe(expr.condition)}"
        s = f"IF {describe(expr.condition)} THEN {_paren(expr.then)}"
        if expr.otherwise is not None:
            s += f" ELSE {_paren(expr.otherwise)}"
        return s
    return str(expr)


def _paren(e) -> str:
    s = describe(e)
    return f"({s})" if getattr(e, "kind", None) in ("all_of", "any_of", "except", "if_then") else s
