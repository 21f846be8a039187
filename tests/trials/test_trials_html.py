"""HTML pages: page furniture (navigation, cookie banners, footers, scripts) stays out of the record."""

from __future__ import annotations

import json
from pathlib import Path

from trialmatch.trials import detect_format, read_bytes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trials"


def _dump(t) -> str:
    d = t.model_dump(mode="json")
    d.pop("provenance")
    return json.dumps(d, ensure_ascii=False)


def test_mirror_html_page() -> None:
    data = (FIXTURES / "mirror_page.html").read_bytes()
    assert detect_format(data, "mirror_page.html") == "registry_mirror_html"
    [r] = read_bytes(data, "mirror_page.html")
    assert r.error is None
    t = r.trial
    assert t.id == "NCT09000002"
    assert t.title == "Ribociclib Plus Fulvestrant After Progression on an Aromatase Inhibitor"
    assert (t.phases, t.status, t.study_type) == (["PHASE2"], "RECRUITING", "INTERVENTIONAL")
    assert t.conditions == ["HR-positive Breast Cancer", "Metastatic Breast Cancer"]
    assert [(i.type, i.name) for i in t.interventions] == [("DRUG", "ribociclib"),
                                                          ("DRUG", "fulvestrant")]
    assert t.sponsor.name == "Example Cancer Institute"
    e = t.eligibility
    assert (e.sex, e.min_age_years, e.max_age_years) == ("FEMALE", 18, 75)
    assert e.criteria_text.splitlines()[:5] == [
        "Inclusion Criteria:", "• Women aged 18 to 75 years", "• Adequate organ function:",
        "  • ANC ≥ 1.5 × 10^9/L", "  • Platelets ≥ 100 × 10^9/L"]
    assert "Exclusion Criteria:\n• Prior CDK4/6 inhibitor" in e.criteria_text
    [arm] = t.arms
    assert (arm.label, arm.interventions, arm.description) == (
        "Ribociclib + fulvestrant", ["ribociclib"], "600 mg daily, 3 weeks on 1 week off")
    [o] = t.primary_outcomes
    assert (o.measure, o.time_frame, o.description) == (
        "Progression-free survival", "up to 3 years", "RECIST 1.1 by investigator")
    [loc] = t.locations
    assert (loc.facility, loc.city, loc.state, loc.country, loc.status) == (
        "Example Cancer Institute", "Bordeaux", "Nouvelle-Aquitaine", "France", "RECRUITING")
    dumped = _dump(t)
    for furniture in ("Find trials", "About us", "cookies", "tracking-snippet", "Related trials",
                      "TrialMirror", "Copyright", "footer script", "Accept", "Home"):
        assert furniture not in dumped, furniture


def test_plain_language_html_page() -> None:
    data = (FIXTURES / "plain_page.html").read_bytes()
    assert detect_format(data, "plain_page.html") == "plain_language"
    [r] = read_bytes(data, "plain_page.html")
    t = r.trial
    assert t.id == "plain_page"  # no registry number: the file stem
    assert t.title == "Letrozole With Abemaciclib for Advanced Breast Cancer"  # a real heading
    assert t.brief_summary.startswith("This study looks at whether adding abemaciclib")
    assert t.eligibility.criteria_source == "who_can_join"
    assert t.eligibility.criteria_text == (
        "Inclusion Criteria:\n• Must be a woman aged 20 years or older\n"
        "• Must have breast cancer that is:\n  • Hormone receptor-positive\n  • HER2-negative\n\n"
        "Exclusion Criteria:\n• Prior treatment with a CDK4/6 inhibitor\n• Pregnancy or breastfeeding")
    assert (t.eligibility.min_age_years, t.eligibility.sex) == (20, "FEMALE")
    assert {i.name for i in t.interventions} == {"letrozole", "abemaciclib"}
    dumped = _dump(t)
    for furniture in ("cookie", "Contact us", "Studies", "Privacy"):
        assert furniture not in dumped, furniture


def test_html_without_trial_structure_is_unrecognised() -> None:
    html = b"<html><body><nav>Menu</nav><h1>Welcome</h1><p>Nothing to see.</p></body></html>"
    [r] = read_bytes(html, "home.html")
    assert r.trial is None and "unrecognised format" in r.error.message


def test_html_pubmed_like_page_reads_like_its_text() -> None:
    html = """<html><body><header>Skip to main page content</header>
    <div class="cit">J Test Oncol. 2020 Jan;1(2):3-4. doi: 10.9999/jto.2020.1.</div>
    <h1>A randomized phase III trial of drugumab plus letrozole versus letrozole alone</h1>
    <h2>Abstract</h2>
    <p>Methods: We randomly assigned women with advanced breast cancer to drugumab 5 mg plus
    letrozole 2.5 mg (n = 100) or letrozole 2.5 mg alone (n = 98).</p>
    <p>Results: The response rate was 40% (95% CI, 30 to 50) with drugumab plus letrozole and
    20% (95% CI, 12 to 29) with letrozole alone.</p>
    <p>Conclusion: Drugumab helped.</p>
    <div id="similar">Similar articles</div></body></html>""".encode()
    [r] = read_bytes(html, "pub.html")
    t = r.trial
    assert t.provenance.source_format == "pubmed_abstract"
    assert t.phases == ["PHASE3"]
    assert [(a.label, a.size) for a in t.arms] == [("drugumab 5 mg plus letrozole 2.5 mg", 100),
                                                   ("letrozole 2.5 mg alone", 98)]
    rates = [(s.arm, s.value, s.ci.lower, s.ci.upper, s.n) for s in t.results.statistics]
    assert rates == [("drugumab 5 mg plus letrozole 2.5 mg", 40, 30, 50, 100),
                     ("letrozole 2.5 mg alone", 20, 12, 29, 98)]
    assert "doi:10.9999/jto.2020.1" in t.other_ids
