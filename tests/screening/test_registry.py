"""The compiled registry: every trial's verdict and score equal ``match_patient``'s, and its
explained top N is the very report ``match_patient(top=N)`` gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trialmatch.criteria import COMPILER_VERSION
from trialmatch.matching import match_patient
from trialmatch.patients import read_patient
from trialmatch.screening import CompiledRegistry, RegistryBuilder, RegistryError, rank_registry
from trialmatch.screening.registry import registry_path
from trialmatch.store import TrialStore
from conftest import real_patients  # noqa: E402  (tests/screening/conftest.py)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "patients"
DEMO = REPO / "src" / "trialmatch" / "demo"


def _summary(report) -> list[tuple[str, str, float]]:
    return [(r.trial_id, r.verdict, r.score) for r in report.results]


def _check_equal(store, registry, patients, top: int = 20, statuses=None) -> int:
    """Assert the registry path equals full evaluation for every trial; returns the pairs compared."""
    pairs = store.load_for_matching(COMPILER_VERSION)
    n = 0
    for p in patients:
        full = match_patient(p, pairs, statuses=statuses, top=None)
        ranking = registry.rank(p, statuses=statuses)
        assert ranking.summary() == _summary(full), p.id
        counts = {v: sum(1 for r in full.results if r.verdict == v) for v in ("eligible", "uncertain", "ineligible")}
        assert ranking.counts() == counts, p.id
        n += len(full.results)
        expected = match_patient(p, pairs, statuses=statuses, top=top)
        got = rank_registry(p, registry, store, top=top, statuses=statuses)
        assert got.model_dump_json() == expected.model_dump_json(), p.id
    return n


def _demo_patients():
    return [read_patient(f) for f in sorted((DEMO / "patients").glob("*.json"))] + \
        [read_patient(f) for f in sorted(FIXTURES.glob("*.json"))]


def test_registry_equals_full_evaluation_on_demo_trials(demo_store, tmp_path):
    registry = CompiledRegistry.build(demo_store)
    assert len(registry) == demo_store.count_trials() > 0
    assert len(registry.plan_keys) <= len(registry.entries)
    patients = _demo_patients()
    n = _check_equal(demo_store, registry, patients, top=3)
    assert n == len(registry) * len(patients)
    _check_equal(demo_store, registry, patients[:4], top=2, statuses=["recruiting"])
    # written and read back (memory-mapped): the same ranking
    registry.save(tmp_path / "reg")
    loaded = CompiledRegistry.load(tmp_path / "reg")
    assert isinstance(loaded.entries, np.memmap)
    assert loaded.plan_keys == registry.plan_keys and loaded.fit_keys == registry.fit_keys
    for p in patients[:3]:
        assert loaded.rank(p).summary() == registry.rank(p).summary()
    # a top beyond the registry, zero, and every result
    p = patients[0]
    assert len(rank_registry(p, loaded, demo_store, top=10_000).results) == len(registry)
    assert rank_registry(p, loaded, demo_store, top=0).results == []
    assert _summary(rank_registry(p, loaded, demo_store, top=None)) == \
        _summary(match_patient(p, demo_store.load_for_matching(COMPILER_VERSION)))


def test_registry_with_trials_given_as_a_mapping_and_a_stale_registry(demo_store):
    pairs = demo_store.load_for_matching(COMPILER_VERSION)
    b = RegistryBuilder()
    for t, c in pairs:
        b.add(t, c)
    registry = b.finish({"compiler_version": COMPILER_VERSION})
    by_id = {t.id: (t, c) for t, c in pairs}
    p = _demo_patients()[0]
    assert rank_registry(p, registry, by_id, top=3).model_dump_json() == match_patient(p, pairs, top=3).model_dump_json()
    # a returned trial missing from the trials given: a clear error, not a silent gap
    first = registry.rank(p).summary(1)[0][0]
    with pytest.raises(RegistryError, match=first):
        rank_registry(p, registry, {k: v for k, v in by_id.items() if k != first}, top=3)
    # a registry built from other criteria than the trials now have: detected on the results returned
    other = {k: (t, c.model_copy(update={"criteria": []})) for k, (t, c) in by_id.items()}
    changed = [k for k, (t, c) in by_id.items() if c.criteria]
    with pytest.raises(RegistryError, match="rebuild the registry"):
        rank_registry(p, registry, other, top=len(registry))
    assert changed


def test_registry_builder_refuses_a_duplicate_id(demo_store):
    t, c = demo_store.load_for_matching(COMPILER_VERSION)[0]
    b = RegistryBuilder()
    b.add(t, c)
    b.add(t, c)
    with pytest.raises(RegistryError, match="twice"):
        b.finish()


def test_registry_for_store_follows_the_store_revision(tmp_path):
    from trialmatch.cli.ingest import run_ingest

    store = TrialStore(str(tmp_path / "r.db"))
    files = sorted((DEMO / "trials").glob("*.json"))
    assert run_ingest(store, files[:-1], compile_=True).ok
    folder = registry_path(store)
    assert folder == Path(str(tmp_path / "r.db") + ".registry")
    first = CompiledRegistry.for_store(store)
    assert (folder / "meta.json").exists() and len(first) == store.count_trials()
    again = CompiledRegistry.for_store(store)  # loaded, not rebuilt
    assert again.meta["build_s"] == first.meta["build_s"]
    n_before = store.count_trials()
    assert run_ingest(store, files[-1:], compile_=True).ok
    grown = CompiledRegistry.for_store(store)
    assert len(grown) == store.count_trials() > n_before
    p = _demo_patients()[0]
    assert grown.rank(p).summary() == _summary(match_patient(p, store.load_for_matching(COMPILER_VERSION)))
    (folder / "meta.json").write_text("{")
    with pytest.raises(RegistryError, match="no readable registry"):
        CompiledRegistry.load(folder)
    with pytest.raises(RegistryError, match="not a SQLite file"):
        registry_path(TrialStore("sqlite:///:memory:"))


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_registry_equals_full_evaluation_on_all_real_trials(data_dir, real_store, tmp_path):
    """All 4,921 trials of ../shared/data; the fixture patients (JSON, FHIR) and every tenth TREC
    2021 note (every note with ``$TRIALMATCH_INDEX_ALL_NOTES=1``); the store is the session's
    ``real_store`` (see conftest: ``$TRIALMATCH_REAL_STORE`` skips its compile).
    """
    store = real_store
    registry = CompiledRegistry.build(store)
    registry.save(tmp_path / "real.registry")
    registry = CompiledRegistry.load(tmp_path / "real.registry")
    assert len(registry) == 4921
    patients = real_patients(data_dir, every=10)
    assert len(patients) >= 20
    n = _check_equal(store, registry, patients, top=20)
    assert n == 4921 * len(patients)
    print(f"compiled registry: {n} trial x patient verdicts and scores equal to match_patient "
          f"({len(patients)} patients; {len(registry.plan_keys)} distinct plans for {len(registry.entries)} entry criteria)")


def test_registry_add_copy_equals_reading_the_copy(demo_store):
    pairs = demo_store.load_for_matching(COMPILER_VERSION)
    copies = [(t.model_copy(update={"id": f"COPY{i:03d}", "status": "COMPLETED"}),
               c.model_copy(update={"trial_id": f"COPY{i:03d}"})) for i, (t, c) in enumerate(pairs)]
    read, copied = RegistryBuilder(), RegistryBuilder()
    for b in (read, copied):
        for t, c in pairs:
            b.add(t, c)
    for i, (t, c) in enumerate(copies):
        read.add(t, c)
        copied.add_copy(t, i)
    a, b = read.finish(), copied.finish()
    for name in ("ids", "id_rank", "status", "fit", "static_unknown", "offsets", "entries"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.plan_keys == b.plan_keys and a.statuses == b.statuses and a.fit_keys == b.fit_keys
    p = _demo_patients()[1]
    assert b.rank(p).summary() == _summary(match_patient(p, pairs + copies))


def test_registry_packed_counts_equal_prefix_sums(demo_store):
    registry = CompiledRegistry.build(demo_store)
    rng = np.random.default_rng(3)
    for _ in range(5):
        codes = rng.integers(0, 5, len(registry.plan_keys)).astype(np.int8)
        own = (codes == 2) & (rng.random(len(codes)) < 0.5)
        a, b = registry._trial_counts(codes, own), registry._trial_counts_cumsum(codes, own)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
