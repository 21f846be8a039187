"""The five seed documents read into trials that state what the documents state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trialmatch.trials import Trial, detect_format, read_path

SEEDS = {
    "000": "000_f365612121a3c530.txt",
    "001": "001_0908de8918da363a.txt",
    "002": "002_cc6ceb7d8253810e.txt",
    "003": "003_ca8a1317ec4e9225.txt",
    "004": "004_21168ffcb5444652.txt",
}
BOILERPLATE = [
    "Skip to main page content", "cookies", "cookie", "© Copyright", "All Rights Reserved",
    "MedPath", "official website of the United States government", "PubMed Disclaimer",
    "Similar articles", "Cited by", "MeSH terms", "Privacy Policy", "The site is secure",
]


def _read(seeds_dir: Path, key: str) -> Trial:
    results = list(read_path(seeds_dir / SEEDS[key]))
    assert len(results) == 1
    r = results[0]
    assert r.error is None, str(r.error)
    assert r.trial is not None
    return r.trial


def _dump(t: Trial) -> str:
    d = t.model_dump(mode="json")
    d.pop("provenance")
    return json.dumps(d, ensure_ascii=False)


@pytest.mark.parametrize("key", sorted(SEEDS))
def test_seed_has_no_boilerplate_and_provenance(seeds_dir: Path, key: str) -> None:
    t = _read(seeds_dir, key)
    dumped = _dump(t)
    for phrase in BOILERPLATE:
        assert phrase.lower() not in dumped.lower(), f"{phrase!r} leaked into seed {key}"
    data = (seeds_dir / SEEDS[key]).read_bytes()
    import hashlib

    assert t.provenance.sha256 == hashlib.sha256(data).hexdigest()
    assert t.provenance.file_name == SEEDS[key]
    assert t.provenance.ingested_at.tzinfo is not None
    assert detect_format(data, SEEDS[key]) == t.provenance.source_format


def test_seed_000_registry_record(seeds_dir: Path) -> None:
    t = _read(seeds_dir, "000")
    assert t.provenance.source_format == "registry_text"
    assert t.id == "000_f365612121a3c530"
    assert t.title == ("Efficacy of High Dose Tamoxifen to Advanced Hormone Receptor-High "
                       "Expressed Breast Cancer")
    assert t.conditions == ["Breast Cancer Metastatic"]
    assert [(i.type, i.name) for i in t.interventions] == [("DRUG", "Tamoxifen Oral Product")]
    assert len(t.primary_outcomes) == 1
    assert t.primary_outcomes[0].measure == "Progression-free Survival (PFS)"
    assert t.primary_outcomes[0].time_frame == "36 months"
    # the doubled description is kept once
    everything = " ".join(x for x in (t.brief_summary, t.description) if x)
    assert everything.count("Endocrine therapy is an effective and safe treatment") == 1
    assert "Aim: To explore the efficacy" in t.brief_summary
    assert t.eligibility.criteria_text is None
    assert t.phases == []
    assert t.eligibility.min_age_years is None and t.eligibility.sex is None


def test_seed_001_registry_summary_with_bullets(seeds_dir: Path) -> None:
    t = _read(seeds_dir, "001")
    assert t.provenance.source_format == "registry_text"
    assert t.id == "001_0908de8918da363a"
    assert t.title.startswith("A Prospective Study on Efficacy and Safety of Anlotinib")
    assert t.brief_summary.startswith("The management of HR-positive")
    crit = t.eligibility.criteria_text
    assert t.eligibility.criteria_source == "bullets"
    lines = crit.splitlines()
    assert len(lines) == 10
    assert lines[0].endswith("Aged 18 years or older female;")
    assert "Cockcroft-Gault" in crit and "Sign the informed consent" in lines[-1]
    assert "The management of" not in crit
    assert t.eligibility.min_age_years == 18 and t.eligibility.max_age_years is None
    assert t.eligibility.sex == "FEMALE"  # from the age/sex criterion line
    assert t.phases == ["PHASE2"]  # "This phase II study"
    assert {i.name for i in t.interventions} == {"anlotinib", "fulvestrant"}


def test_seed_002_pubmed_abstract(seeds_dir: Path) -> None:
    t = _read(seeds_dir, "002")
    assert t.provenance.source_format == "pubmed_abstract"
    assert t.id == "002_cc6ceb7d8253810e"
    assert "doi:10.1200/JCO.2011.39.0708" in t.other_ids
    # PMIDs of the comments after the abstract are not this article's
    assert not any("22753913" in x for x in t.other_ids)
    assert t.title.startswith("Randomized phase II trial of everolimus in combination with tamoxifen")
    assert t.phases == ["PHASE2"]
    assert t.brief_summary.startswith("Purpose: Cross-talk")
    assert "Conclusion:" in t.brief_summary
    assert [(a.label, a.size) for a in t.arms] == [
        ("tamoxifen 20 mg/d plus everolimus 10 mg/d", 54), ("tamoxifen 20 mg/d alone", 57)]
    assert {i.name for i in t.interventions} == {"tamoxifen", "everolimus"}
    e = t.eligibility
    assert e.criteria_source == "abstract_population"
    assert e.criteria_text == ("postmenopausal women with hormone receptor-positive, human epidermal "
                               "growth factor receptor 2-negative, AI-resistant mBC")
    assert e.sex is None and e.min_age_years is None

    res = t.results
    assert res is not None and res.source == "publication_abstract"
    assert "J Clin Oncol" in res.citation and "2012" in res.citation
    assert "10.1200/JCO.2011.39.0708" in res.citation
    assert res.conclusion.startswith("This study suggests")
    combo, alone = (a.label for a in t.arms)
    stats = res.statistics
    rates = [(s.arm, s.value, s.ci.lower, s.ci.upper, s.n) for s in stats
             if s.kind == "rate" and s.ci is not None]
    assert rates == [(combo, 61, 47, 74, 54), (alone, 42, 29, 56, 57)]
    assert all("CBR" in s.outcome for s in stats if s.kind == "rate" and s.ci)
    medians = {(s.arm, s.value, s.unit) for s in stats if s.kind == "median"}
    assert medians == {(combo, 8.6, "months"), (alone, 4.5, "months")}
    hrs = [(s.outcome, s.value, s.ci.lower, s.ci.upper, s.arm, s.comparator_arm)
           for s in stats if s.kind == "hazard_ratio"]
    assert hrs == [("progression", 0.54, 0.36, 0.81, combo, alone),
                   ("death", 0.45, 0.24, 0.81, combo, alone)]
    tox = {(s.outcome, s.arm): s.value for s in stats if s.kind == "rate" and s.ci is None}
    assert tox == {
        ("fatigue", combo): 72, ("fatigue", alone): 53, ("stomatitis", combo): 56,
        ("stomatitis", alone): 7, ("rash", combo): 44, ("rash", alone): 7,
        ("anorexia", combo): 43, ("anorexia", alone): 18, ("diarrhea", combo): 39,
        ("diarrhea", alone): 11,
    }


def test_seed_003_registry_mirror(seeds_dir: Path) -> None:
    t = _read(seeds_dir, "003")
    assert t.provenance.source_format == "registry_mirror_text"
    assert t.id == "NCT04199520"
    assert t.title == ("Compare the Efficacy of Surgery Combined With Systemic Therapy and Pure "
                       "Systemic Therapy in Breast Cancer Patients")
    assert t.status == "WITHDRAWN" and t.is_closed
    assert t.phases == ["PHASE2"]
    assert t.conditions == ["Stage IV Breast Cancer"]
    assert [(i.type, i.name) for i in t.interventions] == [
        ("COMBINATION_PRODUCT", "surgery combined with systemic therapy"),
        ("OTHER", "systemic therapy")]
    assert t.sponsor.name == "Henan Cancer Hospital"
    assert t.brief_summary.startswith("The purpose of this study is to compare")
    assert t.description.startswith("In developing countries")
    assert t.study_type == "INTERVENTIONAL"
    assert [a.label for a in t.arms] == ["surgery combined with systemic therapy", "systemic therapy"]
    e = t.eligibility
    assert e.sex == "FEMALE"
    assert (e.min_age_years, e.max_age_years) == (18, 70)
    assert e.criteria_text.startswith("Inclusion Criteria:\n")
    assert "\n\nExclusion Criteria:\n" in e.criteria_text
    inc, exc = e.criteria_text.split("Exclusion Criteria:")
    assert "ages 18-70, female" in inc and "Double breast cancer" in exc
    assert "Researchers judge that they can comply" in inc
    assert "The investigator believes that withdrawal" in exc
    assert "Study & Design" not in e.criteria_text
    assert [(o.measure, o.time_frame) for o in t.primary_outcomes] == [("OS", "up to 2 year")]
    assert t.primary_outcomes[0].description == "The time from diagnosis to death"
    assert [o.measure for o in t.secondary_outcomes] == [
        "PFS", "BCSS (Breast Cancer Specific Survival)"]
    assert all(o.time_frame == "up to 2 year" for o in t.secondary_outcomes)
    assert len(t.locations) == 1
    loc = t.locations[0]
    assert (loc.facility, loc.city, loc.state, loc.country) == (
        "Henan Cancer Hospital", "Zhengzhou", "Henan", "China")


def test_seed_004_plain_language(seeds_dir: Path) -> None:
    t = _read(seeds_dir, "004")
    assert t.provenance.source_format == "plain_language"
    assert t.id == "004_21168ffcb5444652"
    assert t.title is None  # no heading: nothing invented
    assert t.brief_summary.startswith("This clinical trial focuses on patients")
    e = t.eligibility
    assert e.criteria_source == "who_can_join"
    inc, exc = e.criteria_text.split("\n\nExclusion Criteria:\n")
    assert inc.startswith("Inclusion Criteria:\nMust be a woman aged 18 years or older")
    assert "\n  – HER2-negative" in inc  # sub-bullets kept as nested lines
    assert "Must provide written informed consent" in inc
    assert exc.startswith("Prior treatment with any CDK4/6 inhibitor")
    assert exc.rstrip().endswith("interfere with study procedures")
    for leaked in ("Palbociclib is a medication", "Aromatase inhibitors are a class",
                   "A type of breast cancer", "cookies", "Initial treatment phase"):
        assert leaked not in e.criteria_text
        assert leaked not in (t.brief_summary or "") + (t.description or "")
    assert (e.min_age_years, e.sex) == (18, "FEMALE")
    assert [(s.number, s.name) for s in t.steps] == [
        (1, "Initial treatment phase"), (2, "Monitoring phase"), (3, "Follow-up phase")]
    assert t.steps[0].entry_event == "registration"
    assert "genetic changes are detected" in t.steps[1].entry_criteria_text
    assert "progression" in t.steps[2].entry_event
    assert all(s.entry_event for s in t.steps)
    assert [i.name for i in t.interventions] == [
        "palbociclib", "letrozole", "exemestane", "anastrozole", "fulvestrant"]
    assert [a.label for a in t.arms] == ["Arm A", "Arm B"]
    assert "fulvestrant" in t.arms[1].interventions


def test_read_seeds_folder_sorted_skips_hidden(seeds_dir: Path) -> None:
    results = list(read_path(seeds_dir))
    locs = [r.locator for r in results]
    assert locs == sorted(locs)
    assert "README.md" in locs  # read and refused (not a trial), the others still read
    ok = [r for r in results if r.trial]
    assert len(ok) == 5
    readme = next(r for r in results if r.locator == "README.md")
    assert readme.trial is None and "unrecognised format" in str(readme.error)
