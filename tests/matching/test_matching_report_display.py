"""Match results show themselves: real methods on MatchReport / TrialMatch (no import-time
attaching), a short repr, a notebook HTML table, and `trialmatch match --format json/csv/html`
giving what the methods give."""

from __future__ import annotations

import ast
import csv
import datetime as dt
import io
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

import trialmatch
from trialmatch.matching.model import CriterionOutcome, Evidence, MatchReport, TrialMatch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "patients"
SRC = Path(trialmatch.__file__).resolve().parents[1]


def _report() -> MatchReport:
    bad = "<script>alert('x')</script> & \"q\""
    ok = TrialMatch(trial_id="NCT1", title="Trial <one>", status="RECRUITING", verdict="eligible", score=0.91,
                    criteria=[CriterionOutcome(criterion_id="I1", kind="inclusion", text="Age >= 18", outcome="pass",
                                               reason="age 54", evidence=[Evidence(fact="age 54")])])
    unsure = TrialMatch(trial_id="NCT2", title=bad, verdict="uncertain", score=0.5, deciding=["I2"],
                        criteria=[CriterionOutcome(criterion_id="I2", kind="inclusion", text=bad, outcome="unknown",
                                                   reason=bad)])
    no = TrialMatch(trial_id="NCT3", verdict="ineligible", score=0.1, deciding=["E1"],
                    criteria=[CriterionOutcome(criterion_id="E1", kind="exclusion", text="No brain metastases",
                                               outcome="fail", reason="brain metastases (untreated)")])
    return MatchReport(patient={"id": "p<1>"}, as_of=dt.date(2026, 11, 1), results=[ok, unsure, no],
                       warnings=["w & <b>"])


class _Table(HTMLParser):
    """Collects the text of each <tr> of an HTML fragment as a list of cell texts."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _rows(fragment: str) -> list[list[str]]:
    p = _Table()
    p.feed(fragment)
    assert "script" not in p.tags  # escaped, never markup
    return p.rows


def test_report_repr_is_short_and_counts_verdicts():
    r = repr(_report())
    assert r == "<MatchReport patient p<1> as of 2026-11-01: 3 trial(s) (1 eligible, 1 uncertain, 1 ineligible)>"
    assert _report().verdict_counts() == {"eligible": 1, "uncertain": 1, "ineligible": 1}
    empty = MatchReport(patient={"id": "x"}, as_of=dt.date(2026, 1, 2))
    assert "0 trial(s) (0 eligible, 0 uncertain, 0 ineligible)" in repr(empty)


def test_trial_match_repr():
    m = _report().results[1]
    assert repr(m) == "<TrialMatch NCT2: uncertain, score 0.50, 1 criteria>"


def test_report_repr_html_is_a_ranked_escaped_table():
    rep = _report()
    html = rep._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    rows = _rows(html)
    assert rows[0] == ["rank", "trial", "verdict", "score", "deciding criterion"]
    body = rows[1:]
    assert [r[0] for r in body] == ["1", "2", "3"]
    assert [r[2] for r in body] == [m.verdict for m in rep.results]
    assert [r[3] for r in body] == ["0.91", "0.50", "0.10"]
    assert body[0][1].startswith("NCT1") and "Trial <one>" in body[0][1]
    assert body[2][4] == "E1 fail: brain metastases (untreated)" == rep.results[2].deciding_line()
    assert body[1][4].startswith("I2 unknown: <script>")  # the text, shown escaped
    assert "w &amp; &lt;b&gt;" in html


def test_trial_match_repr_html_is_its_criterion_table():
    m = _report().results[1]
    html = m._repr_html_()
    assert "<script>" not in html
    rows = _rows(html)
    assert rows[0][1:] == ["criterion", "kind", "outcome", "reason", "text"]
    assert len(rows) == 1 + len(m.criteria)
    assert rows[1][1:4] == ["I2", "inclusion", "unknown"]
    assert rows[1][4] == m.criteria[0].reason


def test_methods_are_defined_on_the_classes():
    for name in ("print_summary", "to_html", "to_csv", "to_output_json", "_repr_html_", "__repr__", "verdict_counts"):
        assert name in MatchReport.__dict__, name
    for name in ("deciding_line", "_repr_html_", "__repr__"):
        assert name in TrialMatch.__dict__, name
    import trialmatch.matching.render as render

    assert not hasattr(render, "attach")


def test_methods_work_without_importing_render_or_the_matching_package():
    code = (
        "import sys, datetime as dt\n"
        "from trialmatch.matching.model import MatchReport, TrialMatch\n"
        "assert 'trialmatch.matching.render' not in sys.modules\n"
        "r = MatchReport(patient={'id': 'p'}, as_of=dt.date(2026, 1, 1),"
        " results=[TrialMatch(trial_id='T', verdict='eligible', score=1.0)])\n"
        "assert r.to_output_json()['results'][0]['trial_id'] == 'T'\n"
        "assert r.to_csv().startswith('patient_id,rank,trial_id')\n"
        "assert r.to_html().startswith('<!DOCTYPE html>')\n"
        "assert r.results[0].deciding_line() == 'all criteria pass'\n"
        "assert '<td>1</td>' in r._repr_html_()\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_type_checking_block_imports_every_flat_export_from_its_module():
    tree = ast.parse(Path(trialmatch.__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", None) == "TYPE_CHECKING")
    imported = {a.asname or a.name: node.module for node in block.body if isinstance(node, ast.ImportFrom)
                for a in node.names}
    assert imported == trialmatch._EXPORTS


# ---------------------------------------------------------------------------- the CLI formats
@pytest.fixture(scope="module")
def db(tmp_path_factory, seeds_dir):
    from trialmatch.store import TrialStore
    from trialmatch.trials import read_path

    path = tmp_path_factory.mktemp("store") / "t.db"
    store = TrialStore(str(path))
    store.ingest_trials([r.trial for f in sorted(Path(seeds_dir).glob("0*.txt")) for r in read_path(f) if r.trial])
    return str(path)


@pytest.fixture(scope="module")
def fixture_report(db):
    """The report of the CLI's own steps for p1 (read, load from the store, match)."""
    from trialmatch.criteria import COMPILER_VERSION
    from trialmatch.matching import match_patient
    from trialmatch.patients import read_patient
    from trialmatch.store import TrialStore, ensure_compiled

    store = TrialStore(db)
    ensure_compiled(store)
    return match_patient(read_patient(FIXTURES / "p1_anlotinib_not_palbo.json"), store.load_for_matching(COMPILER_VERSION),
                         as_of=dt.date(2026, 11, 1))


def _cli(db, fmt):
    r = CliRunner().invoke(trialmatch_cli_app(), ["match", str(FIXTURES / "p1_anlotinib_not_palbo.json"), "--db", db,
                                                  "--format", fmt, "--as-of", "2026-11-01"])
    assert r.exit_code == 0, r.output
    return r.stdout


def trialmatch_cli_app():
    from trialmatch.cli import app

    return app


def test_cli_json_is_the_report_method_output(db, fixture_report):
    data = json.loads(_cli(db, "json"))
    assert data == json.loads(json.dumps(fixture_report.to_output_json()))
    # the structure of `--format json` (as before the methods moved onto the class)
    assert list(data) == ["patient", "as_of", "as_of_from", "results", "warnings"]
    assert data["patient"] == {"id": "p1_anlotinib_not_palbo"}
    assert len(data["results"]) == len(fixture_report.results) == 5
    for i, x in enumerate(data["results"], 1):
        assert list(x) == ["rank", "trial_id", "title", "status", "closed", "verdict", "score", "deciding", "counts",
                           "criteria", "missing", "to_confirm", "steps"]
        assert x["rank"] == i
        assert sum(x["counts"].values()) == len(x["criteria"])
        for c in x["criteria"]:
            assert set(c) - {"step"} == {"id", "kind", "text", "outcome", "reason", "evidence", "missing"}


def test_cli_csv_is_the_report_method_output(db, fixture_report):
    text = _cli(db, "csv")
    assert text.splitlines() == fixture_report.to_csv().splitlines()  # the echo writes the csv module's \r\n as \n
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["patient_id", "rank", "trial_id", "title", "status", "verdict", "score", "criterion_id", "kind",
                       "outcome", "reason", "missing", "criterion_text"]
    assert len(rows) - 1 == sum(max(1, len(m.criteria)) for m in fixture_report.results)
    assert [r[5] for r in rows[1:]] == [m.verdict for m in fixture_report.results for _ in range(max(1, len(m.criteria)))]


def test_cli_html_is_the_report_method_output(db, fixture_report):
    text = _cli(db, "html")
    assert text == fixture_report.to_html() + "\n"
    assert text.startswith("<!DOCTYPE html>")
    assert text.count("<section>") == len(fixture_report.results)
    rows = _rows(text)
    assert len(rows) == sum(1 + len(m.criteria) for m in fixture_report.results)  # a header row per trial


def test_the_report_says_where_its_as_of_date_comes_from(tmp_path):
    import datetime as dt

    from trialmatch.matching import match_patient
    from trialmatch.patients import read_patient_bytes

    note = b"Summary date: 2026-11-01.\n61-year-old woman, ER positive metastatic breast cancer.\n"
    p = read_patient_bytes(note, "n.txt", fmt="text")
    assert match_patient(p, []).as_of_from == "text: Summary date: 2026-11-01."
    given = match_patient(p, [], as_of=dt.date(2026, 12, 1))
    assert given.as_of == dt.date(2026, 12, 1) and given.as_of_from.startswith("derived: given (2026-12-01")
    undated = read_patient_bytes(b"61-year-old woman, ER positive breast cancer.", "u.txt", fmt="text")
    assert "states no date of its own" in match_patient(undated, []).as_of_from
