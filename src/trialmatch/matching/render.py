"""Renderings of match results: a Rich summary table, a printable HTML checklist, CSV, JSON.

The methods of :class:`~trialmatch.matching.model.MatchReport` and
:class:`~trialmatch.matching.model.TrialMatch` (``report.print_summary()``, ``report.to_html()``,
``report.to_csv()``, ``report.to_output_json()``, ``match.deciding_line()``, and the notebook
tables of ``_repr_html_``) call the functions here.
"""

from __future__ import annotations

import csv
import html
import io
from typing import Any

from trialmatch.matching.model import MatchReport, TrialMatch

VERDICT_STYLE = {"eligible": "bold white on green", "uncertain": "bold black on yellow", "ineligible": "bold white on red"}
OUTCOME_MARK = {"pass": "✓", "fail": "✗", "unknown": "?", "confirm": "☐", "not_applicable": "–"}


def criterion_json(o) -> dict[str, Any]:
    return {
        "id": o.criterion_id, "kind": o.kind, "text": o.text, "outcome": o.outcome, "reason": o.reason,
        "evidence": [{"fact": e.fact, "source": e.source.model_dump(mode="json") if e.source else None}
                     for e in o.evidence],
        "missing": [m.model_dump(mode="json") for m in o.missing],
        **({"step": o.step} if o.step is not None else {}),
    }


def trial_json(m: TrialMatch, rank: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rank is not None:
        out["rank"] = rank
    out.update({
        "trial_id": m.trial_id, "title": m.title, "status": m.status, "closed": m.closed, "verdict": m.verdict,
        "score": m.score, "deciding": m.deciding, "counts": m.counts(),
        "criteria": [criterion_json(o) for o in m.criteria],
        "missing": [x.model_dump(mode="json") for x in m.missing],
        "to_confirm": m.to_confirm,
        "steps": [s.model_dump(mode="json") for s in m.steps],
    })
    return out


def report_json(report: MatchReport) -> dict[str, Any]:
    """The JSON face used by ``trialmatch match --format json`` and the API (no patient name)."""
    return {
        "patient": {"id": report.patient.get("id")},
        "as_of": report.as_of.isoformat(),
        "as_of_from": report.as_of_from,
        "results": [trial_json(m, i + 1) for i, m in enumerate(report.results)],
        "warnings": report.warnings,
    }


def deciding_line(m: TrialMatch) -> str:
    """The deciding criterion in one line."""
    by_id = {o.criterion_id: o for o in m.criteria}
    if m.deciding:
        o = by_id.get(m.deciding[0])
        if o is None:
            return ""
        more = f" (+{len(m.deciding) - 1} more)" if len(m.deciding) > 1 else ""
        return f"{o.criterion_id} {o.outcome}: {o.reason}{more}"
    if m.to_confirm:
        return f"confirm: {', '.join(m.to_confirm)}"
    return "all criteria pass"


def print_summary(report: MatchReport, console=None, max_rows: int | None = None) -> None:
    """Print the ranked trials as a table a coordinator reads at a glance."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    table = Table(title=f"Trials for patient {report.patient.get('id')} (as of {report.as_of})", show_lines=False,
                  caption=f"as-of date from {report.as_of_from}" if report.as_of_from else None)
    for col, kw in (("#", {"justify": "right"}), ("trial", {}), ("status", {}), ("verdict", {}),
                    ("score", {"justify": "right"}), ("deciding criterion", {"overflow": "fold", "ratio": 3}),
                    ("missing facts", {"overflow": "fold", "ratio": 2})):
        table.add_column(col, **kw)
    rows = report.results if max_rows is None else report.results[:max_rows]
    for i, m in enumerate(rows, 1):
        status = (m.status or "?").lower().replace("_", " ")
        table.add_row(
            str(i), Text(f"{m.trial_id}\n{(m.title or '')[:60]}"),
            Text(status, style="dim strike" if m.closed else ""),
            Text(f" {m.verdict} ", style=VERDICT_STYLE[m.verdict]), f"{m.score:.2f}",
            Text(deciding_line(m)[:160]), Text(", ".join(x.fact for x in m.missing[:5]) + (" …" if len(m.missing) > 5 else "")),
        )
    console.print(table)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}")


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#111}
h1{font-size:1.3em}h2{font-size:1.05em;margin:1.2em 0 .3em;page-break-after:avoid}
section{page-break-inside:avoid;border-top:1px solid #999;padding-top:.4em}
.badge{padding:.1em .5em;border-radius:.3em;font-weight:bold}
.eligible{background:#1a7f37;color:#fff}.uncertain{background:#f2c744;color:#000}.ineligible{background:#c62828;color:#fff}
table{border-collapse:collapse;width:100%;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .4em;vertical-align:top;text-align:left}
.box{font-size:1.2em;width:1.5em;text-align:center}.pass{color:#1a7f37}.fail{color:#c62828}.unknown{color:#a66b00}
.ev{color:#555;font-size:.85em}.closed{color:#c62828}
@media print{body{margin:0}.noprint{display:none}}
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def to_html(report: MatchReport, max_trials: int | None = None) -> str:
    """A self-contained, printable HTML checklist (every value escaped)."""
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           f"<title>Trial checklist: patient {_e(report.patient.get('id'))}</title><style>{_CSS}</style></head><body>",
           f"<h1>Trial eligibility checklist — patient {_e(report.patient.get('id'))}</h1>",
           f"<p>As of {_e(report.as_of)}. {len(report.results)} trial(s). Marks: ✓ pass, ✗ fail, ? unknown, "
           "☐ to confirm, – not applicable. Screener initials: ________ Date: ________</p>"]
    for w in report.warnings:
        out.append(f"<p class='unknown'>warning: {_e(w)}</p>")
    rows = report.results if max_trials is None else report.results[:max_trials]
    for i, m in enumerate(rows, 1):
        closed = " <span class='closed'>(closed)</span>" if m.closed else ""
        out.append(f"<section><h2>{i}. {_e(m.trial_id)} — {_e(m.title)} <span class='badge {_e(m.verdict)}'>{_e(m.verdict)}</span></h2>")
        out.append(f"<p>Status: {_e(m.status)}{closed} · score {m.score:.2f}"
                   + (f" · missing: {_e(', '.join(x.description for x in m.missing))}" if m.missing else "") + "</p>")
        out.append("<table><tr><th class='box'>✔</th><th>id</th><th>criterion</th><th>outcome and reason</th><th>evidence</th></tr>")
        for o in m.criteria:
            ev = "<br>".join(f"{_e(e.fact)} <span class='ev'>[{_e(e.source.locator if e.source else '')}]</span>" for e in o.evidence)
            out.append(f"<tr><td class='box {_e(o.outcome)}'>{OUTCOME_MARK[o.outcome]}</td><td>{_e(o.criterion_id)} "
                       f"<small>({_e(o.kind)})</small></td><td>{_e(o.text)}</td><td class='{_e(o.outcome)}'>"
                       f"<b>{_e(o.outcome)}</b>: {_e(o.reason)}</td><td>{ev}</td></tr>")
        out.append("</table></section>")
    out.append("</body></html>")
    return "\n".join(out)


def to_csv(report: MatchReport) -> str:
    """One row per trial and criterion (rank, trial, verdict, score, criterion, outcome, reason)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["patient_id", "rank", "trial_id", "title", "status", "verdict", "score", "criterion_id", "kind",
                "outcome", "reason", "missing", "criterion_text"])
    for i, m in enumerate(report.results, 1):
        for o in m.criteria:
            w.writerow([report.patient.get("id"), i, m.trial_id, m.title, m.status, m.verdict, f"{m.score:.4f}",
                        o.criterion_id, o.kind, o.outcome, o.reason, ";".join(x.fact for x in o.missing), o.text])
        if not m.criteria:
            w.writerow([report.patient.get("id"), i, m.trial_id, m.title, m.status, m.verdict, f"{m.score:.4f}",
                        "", "", "", "", "", ""])
    return buf.getvalue()


def _verdict_badge(verdict: str) -> str:
    return f"<span class='badge {_e(verdict)}'>{_e(verdict)}</span>"


_NOTEBOOK_CSS = ("<style>.tm-report .badge{padding:.1em .4em;border-radius:.3em;font-weight:bold}"
                 ".tm-report .eligible{background:#1a7f37;color:#fff}.tm-report .uncertain{background:#f2c744;color:#000}"
                 ".tm-report .ineligible{background:#c62828;color:#fff}</style>")


def report_html_table(report: MatchReport) -> str:
    """The HTML table a notebook shows for a report: one row per trial (rank, trial, verdict, score,
    deciding criterion), every value escaped."""
    out = [_NOTEBOOK_CSS, "<div class='tm-report'>",
           f"<p><b>Trials for patient {_e(report.patient.get('id'))}</b> (as of {_e(report.as_of)}): "
           f"{len(report.results)} trial(s)</p>",
           "<table><thead><tr><th>rank</th><th>trial</th><th>verdict</th><th>score</th>"
           "<th>deciding criterion</th></tr></thead><tbody>"]
    for i, m in enumerate(report.results, 1):
        title = f"<br><small>{_e(m.title)}</small>" if m.title else ""
        out.append(f"<tr><td>{i}</td><td>{_e(m.trial_id)}{title}</td><td>{_verdict_badge(m.verdict)}</td>"
                   f"<td>{m.score:.2f}</td><td>{_e(deciding_line(m))}</td></tr>")
    out.append("</tbody></table>")
    for w in report.warnings:
        out.append(f"<p>warning: {_e(w)}</p>")
    out.append("</div>")
    return "\n".join(out)


def trial_match_html_table(m: TrialMatch) -> str:
    """The HTML table a notebook shows for one trial's match: its criteria (id, kind, outcome,
    reason, criterion text), every value escaped."""
    out = [_NOTEBOOK_CSS, "<div class='tm-report'>",
           f"<p><b>{_e(m.trial_id)}</b> {_e(m.title or '')} {_verdict_badge(m.verdict)} score {m.score:.2f}</p>",
           "<table><thead><tr><th></th><th>criterion</th><th>kind</th><th>outcome</th><th>reason</th>"
           "<th>text</th></tr></thead><tbody>"]
    for o in m.criteria:
        out.append(f"<tr><td>{OUTCOME_MARK[o.outcome]}</td><td>{_e(o.criterion_id)}</td><td>{_e(o.kind)}</td>"
                   f"<td>{_e(o.outcome)}</td><td>{_e(o.reason)}</td><td>{_e(o.text)}</td></tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)
