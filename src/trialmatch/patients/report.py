"""What a reader took from a patient record, fact by fact, for a person to check.

:func:`read_patient_with_report` reads a note, a JSON file or a FHIR Bundle and returns a
:class:`PatientReadReport`: the patient, every fact with its source, every stated absence, the
as-of date and where it came from, and (for notes) each sentence with the facts read from it,
so the sentences from which nothing was read stand out.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import PatientReadError
from .model import Patient, Source


class FactLine(BaseModel):
    """One fact as a person reads it: its group, a short text, and where it came from."""

    model_config = ConfigDict(extra="forbid")
    group: str  # "person", "diagnosis", "metastasis", "biomarker", "lab", "treatment", "absence", ...
    fact: str
    source: Source | None = None
    #: further sentences the fact was completed from (a course's response, progression or end)
    also_from: list[Source] = Field(default_factory=list)


class SentenceRead(BaseModel):
    """A sentence of a note and the facts read from it (empty: nothing was read)."""

    model_config = ConfigDict(extra="forbid")
    text: str
    span: tuple[int, int]
    facts: list[str] = Field(default_factory=list)


class PatientReadReport(BaseModel):
    """What was read from one patient record."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    file_name: str
    format: str
    patient: Patient
    as_of: dt.date | None
    as_of_source: Source | None
    #: the date the record itself states, when ``--as-of`` overrode it
    record_date: dt.date | None = None
    record_date_source: Source | None = None
    facts: list[FactLine] = Field(default_factory=list)
    absences: list[FactLine] = Field(default_factory=list)
    sentences: list[SentenceRead] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def unread(self) -> list[SentenceRead]:
        """Sentences of a note from which nothing was read."""
        return [s for s in self.sentences if not s.facts]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: patient id, format, as_of (+ source), facts, absences, sentences,
        unread sentences, warnings."""
        def src(s: Source | None):
            return None if s is None else s.model_dump(mode="json")

        return {
            "patient_id": self.patient.id,
            "file": self.file_name,
            "format": self.format,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "as_of_source": src(self.as_of_source),
            "record_date": self.record_date.isoformat() if self.record_date else None,
            "record_date_source": src(self.record_date_source),
            "facts": [{"group": f.group, "fact": f.fact, "source": src(f.source),
                       "also_from": [src(x) for x in f.also_from]} for f in self.facts],
            "absences": [{"group": f.group, "fact": f.fact, "source": src(f.source)} for f in self.absences],
            "sentences": [s.model_dump(mode="json") for s in self.sentences],
            "unread_sentences": [{"text": s.text, "span": list(s.span)} for s in self.unread],
            "warnings": list(self.warnings),
        }


def _n(x: float | None) -> str:
    return "" if x is None else (f"{x:g}")


def _when(d: dt.date | None) -> str:
    return f" ({d.isoformat()})" if d else ""


def fact_lines(p: Patient) -> tuple[list[FactLine], list[FactLine]]:
    """Every fact of ``p`` and every stated absence, as lines with their sources."""
    facts: list[FactLine] = []
    absences: list[FactLine] = []

    def add(group: str, text: str, source: Source | None) -> None:
        facts.append(FactLine(group=group, fact=text, source=source))

    scalars = [("age_years", lambda v: f"age {v:g}"), ("birth_date", lambda v: f"born {v}"), ("sex", str),
               ("menopausal_status", str), ("ovarian_suppression", lambda v: "on ovarian suppression" if v else "no ovarian suppression"),
               ("pregnant", lambda v: "pregnant" if v else "not pregnant"),
               ("breastfeeding", lambda v: "breastfeeding" if v else "not breastfeeding"),
               ("life_expectancy_months", lambda v: f"life expectancy {v:g} months"),
               ("weight_kg", lambda v: f"weight {v:g} kg"), ("height_cm", lambda v: f"height {v:g} cm")]
    for name, fmt in scalars:
        v = getattr(p, name)
        if v is None:
            continue
        line = FactLine(group="person", fact=fmt(v), source=p.sources.get(name))
        (absences if v is False and name in ("pregnant", "breastfeeding") else facts).append(line)
    for d in p.diagnoses:
        bits = [d.cancer_type.replace("_", " ") + ("" if d.primary else " (another cancer)")]
        for label, v in (("histology", d.histology), ("stage", d.stage), ("TNM", d.tnm), ("extent", d.extent),
                         ("diagnosed", d.date), ("metastatic since", d.metastatic_date), ("status", d.status)):
            if v:
                bits.append(f"{label} {v}")
        if d.measurable_disease is not None:
            bits.append("measurable disease" if d.measurable_disease else "no measurable disease")
        facts.append(FactLine(group="diagnosis", fact=", ".join(bits), source=d.source, also_from=list(d.also_from)))
        for m in d.metastases:
            add("metastasis", f"{m.site.replace('_', ' ')} metastasis" + (f" ({', '.join(m.status)})" if m.status else "")
                + _when(m.date), m.source)
    for b in p.biomarkers:
        bits = [b.name]
        if b.ihc_score:
            bits.append(f"IHC {b.ihc_score}")
        if b.ish:
            bits.append(f"ISH {b.ish}")
        if b.percent is not None:
            bits.append(f"{b.percent:g}%")
        bits.append(b.status or "status not stated")
        add("biomarker", " ".join(bits) + _when(b.date), b.source)
    for g in p.genes:
        add("gene", f"{g.gene} {g.status}" + (f" {g.variant}" if g.variant else "") + (f" ({g.specimen})" if g.specimen else "")
            + _when(g.date), g.source)
    for x in p.performance:
        add("performance", f"{x.scale.upper() if x.scale != 'karnofsky' else 'Karnofsky'} {x.value:g}" + _when(x.date), x.source)
    for lab in p.labs:
        if lab.uln_multiple is not None:
            text = f"{lab.analyte} {lab.uln_multiple:g} x ULN"
        else:
            text = f"{lab.analyte} {_n(lab.value)} {lab.unit or '(no unit)'}" + (f" (ULN {lab.uln:g})" if lab.uln else "")
        if lab.unit_note:
            text += f" [{lab.unit_note}]"
        add("lab", text + (_when(lab.date) or " (undated: as of the record date)"), lab.source)
    for st in p.lab_statements:
        add("lab", f"{st.analyte} {st.finding}" + (f" (from '{st.phrase}')" if st.phrase else "")
            + (_when(st.date) or " (undated: as of the record date)"), st.source)
    for t in p.treatments:
        bits = [" + ".join(t.drugs), t.setting if t.setting != "unknown" else "setting not stated"]
        if t.line:
            bits.append(f"line {t.line}")
        if t.start or t.end:
            bits.append(f"{t.start or '?'} to {t.end or ('ongoing' if t.ongoing else '?')}")
        if t.duration_months is not None:
            bits.append(f"{t.duration_months:g} months")
        if t.cycles:
            bits.append(f"{t.cycles} cycles")
        if t.ongoing:
            bits.append("ongoing")
        if t.best_response:
            bits.append(f"best response {t.best_response}" + (" (ongoing)" if t.response_ongoing else "")
                        + (f" on {t.response_date}" if t.response_date else ""))
        if t.progressed:
            bits.append("progressed" + (f" {t.progression_date}" if t.progression_date else "")
                        + (f" after {t.months_to_progression:g} months" if t.months_to_progression is not None else ""))
        if t.relapse_months_after_end is not None:
            bits.append(f"relapse {t.relapse_months_after_end:g} months after the end")
        facts.append(FactLine(group="treatment", fact=", ".join(bits), source=t.source, also_from=list(t.also_from)))
    for pr in p.procedures:
        add("procedure", f"{pr.name or pr.kind}" + (f" to {pr.site}" if pr.site else "") + _when(pr.date), pr.source)
    for c in p.conditions:
        add("condition", c.name.replace("_", " ") + (f" ({', '.join(c.qualifiers)})" if c.qualifiers else "")
            + (f" since {c.onset}" if c.onset else ""), c.source)
    for m in p.medications:
        add("medication", m.name + (f" from {m.start}" if m.start else ""), m.source)
    for a in p.trial_assignments:
        add("trial", f"in {a.trial_id}" + (f" step {a.step}" if a.step else "") + (f" arm {a.arm}" if a.arm else ""), a.source)
    for h in p.history_statements:
        what = "anti-cancer treatment" if h.therapy == "any" else h.therapy.replace("_", " ")
        where = "" if h.setting == "any" else f" in the {h.setting} setting"
        text = (f"no {what}{where}" if h.received == "none" else f"no {what}{where} other than the treatments listed") \
            + f" [history: {h.therapy}, {h.setting}, {h.received}]"
        absences.append(FactLine(group="history", fact=text, source=h.source))
    covered = {f"prior_therapy:{h.therapy}:{h.setting}" for h in p.history_statements if h.received == "none"}
    for a in p.assertions:
        if a.subject in covered:
            continue
        label = a.subject.split(":")[-1].replace("_", " ") if ":" in a.subject else a.subject.replace("_", " ")
        line = FactLine(group="statement", fact=("no " if not a.present else "") + f"{label} [{a.subject}]", source=a.source)
        (absences if not a.present else facts).append(line)
    return facts, absences


def _sentence_facts(sentences: list[tuple[int, int, str]], lines: list[FactLine], as_of_source: Source | None
                    ) -> list[SentenceRead]:
    out = [SentenceRead(text=t.strip(), span=(a, b)) for a, b, t in sentences if t.strip()]
    tagged = list(lines)
    if as_of_source is not None and as_of_source.kind == "text":
        tagged.append(FactLine(group="record date", fact="the record's date", source=as_of_source))
    for line in tagged:
        for src in [line.source, *line.also_from]:
            if src is None or src.kind != "text" or src.span is None:
                continue
            a, b = src.span
            for s in out:
                if s.span[0] < b and a < s.span[1]:  # the fact's sentence overlaps this one
                    label = f"{line.group}: {line.fact}"
                    if label not in s.facts:
                        s.facts.append(label)
    return out


def read_patient_with_report(path: Path | str | None = None, *, data: bytes | None = None, file_name: str | None = None,
                             fmt: str | None = None, as_of: dt.date | None = None,
                             today: dt.date | None = None) -> PatientReadReport:
    """Read a patient record and report what was read.

    Parameters
    ----------
    path : path, optional
        The file (or give ``data`` and ``file_name``).
    data, file_name : bytes, str, optional
        The content and its name, instead of ``path``.
    fmt : {"json", "fhir", "text"}, optional
        The format; None chooses it by content.
    as_of : date, optional
        Evaluate as of this date instead of the record's own date (facts dated later are left
        out, as the matcher does); the report keeps the record's own date beside it.
    today : date, optional
        For a note that states no date of its own (default: today).

    Returns
    -------
    PatientReadReport

    Raises
    ------
    PatientReadError
        The record cannot be read; names the file and the field.
    """
    from .readers import detect_format, read_patient_bytes

    if data is None:
        if path is None:
            raise PatientReadError(file_name or "<none>", "file", "give a path or data")
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PatientReadError(str(path), "file", f"cannot be read ({exc.strerror or exc})") from None
        file_name = file_name or path.name
    file_name = file_name or "<bytes>"
    if fmt is None and data.strip() and b"\x00" not in data[:4096]:
        fmt = detect_format(bytes(data), file_name)
    sentences: list[tuple[int, int, str]] = []
    if fmt == "text":
        from .text_reader import read_text_with_sentences

        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        try:
            patient, sentences = read_text_with_sentences(text, file_name, today=today)
        except PatientReadError:
            raise
        except Exception as exc:  # noqa: BLE001 - never a crash: the failure names the file
            raise PatientReadError(file_name, "text", f"could not be read ({type(exc).__name__}: {exc})") from exc
    else:
        patient = read_patient_bytes(data, file_name, fmt=fmt, today=today)
    record_date, record_src = patient.as_of, patient.as_of_source
    shown = patient
    if as_of is not None:
        from .asof import patient_as_of

        shown = patient_as_of(patient, as_of)
        shown.as_of_source = Source(kind="derived", locator=f"the --as-of option ({as_of.isoformat()})")
    elif patient.as_of is None:
        shown = patient.model_copy(update={"as_of_source": Source(
            kind="derived", locator="the record states no date: matching uses today's date")})
    facts, absences = fact_lines(shown)
    return PatientReadReport(
        file_name=file_name, format=fmt or "unknown", patient=shown, as_of=shown.as_of, as_of_source=shown.as_of_source,
        record_date=record_date if as_of is not None else None, record_date_source=record_src if as_of is not None else None,
        facts=facts, absences=absences, sentences=_sentence_facts(sentences, facts + absences, record_src),
        warnings=list(shown.warnings))
