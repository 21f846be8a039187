"""Templates and the renderings shared by pages and API: CSV, checklist, one-line reasons."""

from __future__ import annotations

import csv
import io
from importlib import resources
from typing import Any

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape

from trialmatch.web.security import CSRF_FIELD, csrf_token

_TEMPLATES = str(resources.files("trialmatch.web").joinpath("templates"))
env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)

VERDICT_LABEL = {"eligible": "Eligible", "uncertain": "Uncertain", "ineligible": "Ineligible"}
OUTCOME_LABEL = {"pass": "pass", "fail": "fail", "unknown": "unknown", "confirm": "confirm",
                 "not_applicable": "n/a"}


def deciding_lines(tm) -> list[str]:
    """The criteria that set a trial's verdict, one line each ("text: reason")."""
    by_id = {c.criterion_id: c for c in tm.criteria}
    chosen = [by_id[i] for i in tm.deciding if i in by_id]
    if not chosen:
        want = {"ineligible": "fail", "uncertain": "unknown"}.get(tm.verdict)
        chosen = [c for c in tm.criteria if c.outcome == want][:3] if want else []
    return [_one_line(c) for c in chosen[:5]]


def _one_line(c) -> str:
    text = " ".join(c.text.split())
    if len(text) > 140:
        text = text[:137] + "..."
    reason = " ".join((c.reason or "").split())
    return f"{text} — {reason}" if reason else text


def missing_facts(tm) -> list[str]:
    seen, out = set(), []
    items = list(tm.missing) or [m for c in tm.criteria for m in c.missing]
    for m in items:
        if m.fact not in seen:
            seen.add(m.fact)
            out.append(m.description or m.fact)
    return out


def report_csv(report) -> str:
    """One row per trial, in ranked order."""
    if hasattr(report, "to_csv"):
        try:
            return report.to_csv()
        except Exception:  # noqa: BLE001 - fall back to our own rendering
            pass
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["rank", "trial_id", "title", "status", "closed", "verdict", "score", "pass", "fail",
                "unknown", "confirm", "deciding", "missing"])
    for i, tm in enumerate(report.results, 1):
        c = tm.counts()
        w.writerow([i, tm.trial_id, tm.title or "", tm.status or "", tm.closed, tm.verdict, f"{tm.score:.4f}",
                    c["pass"], c["fail"], c["unknown"], c["confirm"], " | ".join(deciding_lines(tm)),
                    " | ".join(missing_facts(tm))])
    return buf.getvalue()


def render(request: Request | None, name: str, **ctx: Any) -> str:
    """Render a template with the session's CSRF token and user in the context."""
    if request is not None and "session" in request.scope:
        ctx.setdefault("csrf_token", csrf_token(request.session))
    ctx.setdefault("request", request)
    ctx.setdefault("csrf_field", CSRF_FIELD)
    ctx.setdefault("VERDICT_LABEL", VERDICT_LABEL)
    ctx.setdefault("OUTCOME_LABEL", OUTCOME_LABEL)
    ctx.setdefault("deciding_lines", deciding_lines)
    ctx.setdefault("missing_facts", missing_facts)
    return env.get_template(name).render(**ctx)


def _static(name: str) -> str:
    return resources.files("trialmatch.web").joinpath("static", name).read_text(encoding="utf-8")


def checklist_html(request: Request | None, report, trial_ids: list[str] | None = None, limit: int = 50,
                   standalone: bool = False, total: int | None = None) -> str:
    """A printable screening checklist: every criterion of the best-ranked open trials (or of
    ``trial_ids``), in ranked order. ``standalone`` inlines the CSS (for a downloaded file).
    ``total``: how many trials were ranked, when ``report`` holds only a view of them."""
    if trial_ids:
        wanted = set(trial_ids)
        chosen = [tm for tm in report.results if tm.trial_id in wanted]
    else:
        chosen = [tm for tm in report.results if not tm.closed][:limit] or report.results[:limit]
    left_out = (len(report.results) if total is None else total) - len(chosen)
    css = (_static("app.css") + "\n@media print{\n" + _static("print.css") + "\n}") if standalone else None
    return render(request, "checklist.html", report=report, trials=chosen, left_out=left_out, inline_css=css)
