"""The concept registry (vocab/concepts): every file follows the schema, bad files are refused with
a message naming the file and the allowed keys, and each accessor gives its consumer exactly what
the consumer's old file or inline definition gives (the old files are read directly here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import trialmatch
import trialmatch.vocab.concepts as concepts_mod
from trialmatch.vocab.concepts import (
    CODE_KEYS, CONCEPT_KEYS, CRITERION_TABLES, ConceptFileError, cancer_vocabulary_for_compiler,
    condition_synonyms_for_matcher, condition_vocabulary_for_compiler, concepts, criteria_rule_tables,
    event_procedure_kinds, fhir_procedure_kind, find_concept, load_concept_file, matcher_condition_fallbacks,
    procedure_text_kind, procedure_text_terms, radiotherapy_terms, site_groups_for_matcher, snomed_codes, text_terms,
)

PKG = Path(trialmatch.__file__).resolve().parent
DATA = PKG / "vocab" / "concepts" / "data"


def _old(rel: str) -> dict:
    """An old vocabulary file, without its ``_comment``."""
    path = PKG / rel
    if not path.exists():  # deleted once every consumer reads the registry: nothing left to compare with
        pytest.skip(f"{rel} has been removed; the concept registry is its only source")
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _same_with_order(a, b) -> bool:
    """Equal, and every dict in the same key order (the readers take the first match)."""
    return json.dumps(a) == json.dumps(b)


# ---------------------------------------------------------------------------- every file is valid
@pytest.mark.parametrize("path", sorted(p for p in DATA.glob("*.json") if not p.name.startswith("_")),
                         ids=lambda p: p.name)
def test_every_concept_file_is_valid(path):
    found = load_concept_file(path.name, json.loads(path.read_text(encoding="utf-8")))
    assert found and all(c.group == path.stem for c in found)
    for c in found:
        assert c.criterion_cues or c.patient_text or c.matcher_synonyms or c.codes, f"{path.name}: {c.key} is empty"


def test_registry_loads_and_order_file_matches():
    assert len(concepts()) > 300
    ordered = concepts_mod._ordered()  # checks _order.json against the concepts both ways
    assert set(ordered) == set(json.loads((DATA / "_order.json").read_text())) - {"_comment"}


# ---------------------------------------------------------------------------- schema errors
def _file(**concept) -> dict:
    return {"group": "test", "concepts": [{"key": "x", "label": "x", "kind": "condition", **concept}]}


def test_unknown_concept_key_names_the_file_and_lists_allowed_keys():
    with pytest.raises(ConceptFileError) as exc:
        load_concept_file("test.json", _file(synonyms=["a"]))
    msg = str(exc.value)
    assert msg.startswith("test.json: concept 0 ('x')")
    assert "['synonyms']" in msg
    assert all(k in msg for k in CONCEPT_KEYS)


def test_unknown_table_lists_allowed_tables():
    with pytest.raises(ConceptFileError) as exc:
        load_concept_file("test.json", _file(criterion_cues={"diseases": ["a"]}))
    assert "criterion_cues" in str(exc.value) and "'diseases'" in str(exc.value)
    assert all(t in str(exc.value) for t in CRITERION_TABLES)


def test_unknown_code_key_and_system():
    with pytest.raises(ConceptFileError) as exc:
        load_concept_file("test.json", _file(codes=[{"system": "SNOMED", "code": "1", "table": "conditions", "x": 1}]))
    assert "codes[0]" in str(exc.value) and all(k in str(exc.value) for k in CODE_KEYS)
    with pytest.raises(ConceptFileError, match="unknown code system 'MeSH'"):
        load_concept_file("test.json", _file(codes=[{"system": "MeSH", "code": "1", "table": "conditions"}]))


@pytest.mark.parametrize("data,match", [
    ({"group": "test", "concepts": [], "extra": 1}, r"unknown key\(s\) \['extra'\]; allowed keys: \['_comment', 'group', 'concepts'\]"),
    ({"group": "other", "concepts": [{"key": "x", "label": "x", "kind": "condition"}]}, "file name"),
    (_file(kind="disease"), "unknown kind 'disease'; allowed"),
    (_file(key="Bad Key"), "key: must be lower-case"),
    (_file(patient_text={"conditions": ["(unclosed"]}), "not a regular expression"),
    (_file(patient_text={"conditions": []}), "non-empty list"),
    ({"group": "test", "concepts": [{"key": "x", "label": "x"}]}, r"missing key\(s\) \['kind'\]"),
])
def test_other_schema_errors(data, match):
    with pytest.raises(ConceptFileError, match=match):
        load_concept_file("test.json", data)


def test_order_file_must_list_every_concept(monkeypatch, tmp_path):
    for p in DATA.iterdir():
        (tmp_path / p.name).write_bytes(p.read_bytes())
    order = json.loads((tmp_path / "_order.json").read_text())
    order["patient_text.procedures"].remove("radiotherapy")
    (tmp_path / "_order.json").write_text(json.dumps(order))
    monkeypatch.setattr(concepts_mod, "_data_dir", lambda: tmp_path)
    concepts_mod.concepts.cache_clear()
    concepts_mod._ordered.cache_clear()
    try:
        with pytest.raises(ConceptFileError, match=r"_order.json: patient_text.procedures: .*not listed: \['radiotherapy'\]"):
            concepts_mod._ordered()
    finally:
        concepts_mod.concepts.cache_clear()
        concepts_mod._ordered.cache_clear()


# ---------------------------------------------------------------------------- accessors == old data
def test_matcher_reads_the_registry():
    # the matcher keeps no copy of its own: site groups, condition names and event kinds come from here
    from trialmatch.matching.atoms import history
    from trialmatch.matching.facts import site_members

    for word, members in site_groups_for_matcher().items():
        assert site_members(word) == members
    syns = condition_synonyms_for_matcher()
    assert all(k in syns for k in condition_vocabulary_for_compiler())
    assert all(set(v) <= set(syns[k]) for k, v in matcher_condition_fallbacks().items())
    assert "condition_synonyms_for_matcher" in history.condition_matches.__wrapped__.__code__.co_names
    assert "event_procedure_kinds" in history.recent_event.__code__.co_names


def test_compiler_cancer_vocabulary_is_the_old_file():
    assert _same_with_order(cancer_vocabulary_for_compiler(), _old("vocab/data/cancers.json"))


def test_criteria_rule_tables_are_the_old_tables():
    old = _old("vocab/data/criteria_rules.json")
    assert _same_with_order(criteria_rule_tables(), {t: old[t] for t in ("events", "infections", "qualifiers")})


def test_text_terms_are_the_old_file():
    assert _same_with_order(text_terms(), _old("patients/codes/text_terms.json"))


def test_snomed_codes_are_the_old_file():
    # code -> value lookups: equal as dicts (the order of codes inside a table is not used)
    old = _old("patients/codes/snomed.json")
    assert snomed_codes() == old
    assert list(snomed_codes()) == list(old)


# the procedure alternation patients.text_reader wrote inline, and its kind rule
_TEXT_READER_PROCEDURES = (r"mastectomy|lumpectomy|breast[- ]conserving surgery|quadrantectomy|oophorectomy|"
                           r"hysterectomy|(?:major )?surgery|resection|craniotomy|laparotomy|thoracotomy|"
                           r"(?:whole[- ]brain )?radiotherapy|radiation(?: therapy)?|SBRT|SRS|stereotactic radiosurgery|WBRT|"
                           r"gamma knife")


def test_procedure_text_terms_rebuild_the_text_readers_pattern():
    assert "|".join(p for pats in procedure_text_terms().values() for p in pats) == _TEXT_READER_PROCEDURES


@pytest.mark.parametrize("word", [
    "mastectomy", "lumpectomy", "breast conserving surgery", "breast-conserving surgery", "quadrantectomy",
    "oophorectomy", "hysterectomy", "surgery", "major surgery", "resection", "craniotomy", "laparotomy",
    "thoracotomy", "radiotherapy", "whole brain radiotherapy", "whole-brain radiotherapy", "radiation",
    "radiation therapy", "sbrt", "srs", "stereotactic radiosurgery", "wbrt", "gamma knife",
])
def test_procedure_text_kind_is_the_text_readers_rule(word):
    m = re.search(r"\b(" + _TEXT_READER_PROCEDURES + r")\b", word, re.I)
    assert m is not None and m.group(1).lower() == word
    old_kind = "radiotherapy" if re.search(r"radi|sbrt|srs|wbrt|gamma", word) else "surgery"
    assert procedure_text_kind(word) == old_kind
    assert procedure_text_kind(word.upper()) == old_kind


@pytest.mark.parametrize("text", ["Radiation therapy to breast", "External beam RADIOTHERAPY", "HDR brachytherapy",
                                  "Mastectomy", "Sentinel node biopsy", "", "irradiated field"])
def test_fhir_procedure_kind_is_the_fhir_readers_rule(text):
    low = text.lower()
    old = "radiotherapy" if ("radiat" in low or "radiother" in low or "brachy" in low) else "surgery"
    assert (fhir_procedure_kind(text) or "surgery") == old


def test_radiotherapy_is_one_concept_with_every_consumers_terms():
    rt = radiotherapy_terms()
    old_rules = _old("vocab/data/criteria_rules.json")
    assert rt["criterion_cues"] == old_rules["events"]["radiotherapy"]
    assert rt["procedure_kinds"] == event_procedure_kinds()["radiotherapy"]
    assert rt["snomed"] == {c: v[1] for c, v in _old("patients/codes/snomed.json")["procedure"].items() if v[0] == "radiotherapy"}
    assert "|".join(rt["text_patterns"]) in _TEXT_READER_PROCEDURES
    assert rt["fhir_text"] == ["radiat", "radiother", "brachy"]
    assert [c.group for c in concepts() if c.key == "radiotherapy"] == ["procedures"]


def test_find_concept():
    hbv = find_concept("hbv")
    assert hbv.kind == "condition" and {"infections", } <= set(hbv.criterion_cues)
    assert "conditions" in hbv.patient_text and "conditions" in hbv.matcher_synonyms
    assert any(c.code == "66071002" for c in hbv.codes)
    with pytest.raises(KeyError, match="2 concepts with key 'leptomeningeal'"):
        find_concept("leptomeningeal")
    assert find_concept("leptomeningeal", "site").group == "sites"
    with pytest.raises(KeyError):
        find_concept("no_such_concept")


def test_fhir_reader_reads_snomed_from_the_registry():
    from trialmatch.patients import fhir_reader

    src = Path(fhir_reader.__file__).read_text(encoding="utf-8")
    assert 'load_codes("snomed")' not in src and "snomed_codes()" in src
