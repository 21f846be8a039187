"""The intake page shows what the text reader took from a pasted summary: the same report as
``trialmatch patient show`` (facts with their sentences, stated absences, the as-of date and
where it came from, the sentences nothing was read from), and saves nothing."""

from __future__ import annotations

import html
import re

from test_web_pages import signed_in

from trialmatch.patients.report import read_patient_with_report

LETTER = ("Clinic letter 20 Nov 2026\n"
          "66F, pmp. ER 90%, PR 40%, HER2 1+ (HER2-low) IDC L breast, T2N1 2018.\n"
          "Adjuvant letrozole 2019-2024, no chemo (Oncotype low). Mets to bone/liver Apr 2025.\n"
          "1st line letrozole + palbociclib from May 2025, PD on letrozole/palbo Oct 2026.\n"
          "Plan: discuss second-line options incl. trials.\n")


def _rows(page: str, table_id: str) -> list[tuple[str, str, str]]:
    block = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr data-group="[^"]*"><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>', block, re.S)
    return [tuple(html.unescape(re.sub(r"<[^>]+>", " ", c)).strip() for c in row) for row in rows]


def test_intake_shows_what_the_summary_reads_as(web):
    _, client, tokens = web
    tok = signed_in(client)
    r = client.post("/patients/new", data={"mode": "summary", "action": "read", "summary": LETTER,
                                           "patient_id": "read-1", "csrf_token": tok}, follow_redirects=False)
    assert r.status_code == 200, r.text[:300]
    page = r.text
    assert 'id="read-report"' in page
    facts = _rows(page, "read-facts")
    by_fact = {f: (g, src) for g, f, src in facts}
    assert by_fact["age 66"] == ("person", "66F, pmp.")
    assert any(f.startswith("letrozole, adjuvant, 2019-01-01 to 2024-12-31") and g == "treatment"
               and src.startswith("Adjuvant letrozole 2019-2024") for g, f, src in facts)
    assert any(f.startswith("letrozole + palbociclib, metastatic, line 1, 2025-05-01") and "progressed 2026-10-01" in f
               for _, f, _ in facts)
    # the as-of date and the sentence it came from
    as_of = html.unescape(re.sub(r"<[^>]+>", "", page.split('id="read-as-of"', 1)[1].split("</p>", 1)[0]))
    assert "2026-11-20" in as_of and "Clinic letter 20 Nov 2026" in as_of
    # stated absences and the sentences nothing was read from
    assert ("history", "no chemotherapy [history: chemotherapy, any, none]",
            "Adjuvant letrozole 2019-2024, no chemo (Oncotype low).") in _rows(page, "read-absences")
    unread = re.findall(r"<li>(.*?)</li>", page.split('id="read-unread"', 1)[1].split("</ul>", 1)[0])
    assert [html.unescape(u) for u in unread] == ["Plan: discuss second-line options incl. trials."]
    # one implementation: the page lists exactly the facts of the report `patient show` prints
    report = read_patient_with_report(data=LETTER.encode(), file_name="summary", fmt="text")
    assert [f for _, f, _ in facts] == [f.fact for f in report.facts]
    # the pasted text stays in the box; nothing was saved; the page is not cached
    assert "66F, pmp." in page.split("<textarea", 1)[1].split("</textarea>", 1)[0]
    assert r.headers.get("cache-control") == "no-store"
    from conftest import auth

    assert client.get("/api/v1/patients", headers=auth(tokens["A"])).json() == {"items": []}


def test_intake_read_a_later_sentence_of_a_course_is_cited(web):
    _, client, _ = web
    tok = signed_in(client)
    note = ("Seen on 6 Oct 2026\n58-year-old woman, de novo metastatic breast cancer (bone) diagnosed January 2026.\n"
            "Started letrozole + ribociclib 2 February 2026. Partial response to letrozole ongoing at 8 months.\n")
    page = client.post("/patients/new", data={"mode": "summary", "action": "read", "summary": note,
                                              "csrf_token": tok}).text
    courses = [row for row in _rows(page, "read-facts") if row[0] == "treatment"]
    assert len(courses) == 1, courses  # one course, not a second "letrozole" course
    assert "best response PR" in courses[0][1] and "and: Partial response to letrozole ongoing" in courses[0][2]
    unread = page.split('id="read-unread"', 1)[1].split("</ul>", 1)[0]
    assert "Partial response" not in unread


def test_intake_read_refuses_an_empty_summary(web):
    _, client, _ = web
    tok = signed_in(client)
    r = client.post("/patients/new", data={"mode": "summary", "action": "read", "summary": "   ", "csrf_token": tok})
    assert r.status_code == 400 and "paste a clinical summary" in r.text and 'id="read-report"' not in r.text
