"""A columnar, memory-lean registry of compiled trials: one patient against 500,000 trials.

A trial's verdict and score for a patient are a function of

* the outcomes of its entry criteria, each a *criterion plan* shared by every trial with the
  same criterion (same content, kind and own-condition atoms: the engine's plan id),
* its patient-independent entry criteria that stay open (``static_unknown``),
* its disease fit (:func:`~trialmatch.matching.engine.disease_fit`), a function of its
  conditions, titles and keywords alone (a *fit key*, shared by trials with the same text).

:class:`CompiledRegistry` keeps exactly that, as arrays: the distinct criterion plans once, per
trial a CSR list of entry plan ids (``int32``), its static-unknown count, its fit-key id, status
and id; on disk as ``.npy`` files (memory-mapped on load) plus the distinct criteria and fit keys
as JSON. No :class:`~trialmatch.trials.model.Trial` is held.

For one patient (:meth:`CompiledRegistry.rank`) every distinct plan is decided once by the
engine's own code (``_outcome_counts``, the function that decides them for ``match_patient``),
the per-trial counts are summed with numpy over the CSR arrays, each distinct combination of
(fit, counts) is scored once with :func:`~trialmatch.matching.engine.match_score` (so the score
is the very float ``match_patient`` gives), and the trials are ranked with the engine's key
(verdict, -score, trial id). Only the results returned are read from the store and explained,
through the engine's ``_compact`` / ``_report``: :func:`rank_registry` gives the same
:class:`~trialmatch.matching.model.MatchReport` as ``match_patient(top=N)`` on the same trials.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from trialmatch.criteria import model as cm
from trialmatch.matching import engine as _engine
from trialmatch.matching.engine import match_score, trial_plan
from trialmatch.matching.evaluate import DEFAULT_OPTIONS
from trialmatch.matching.facts import PatientIndex, build_index
from trialmatch.matching.model import VERDICT_ORDER, MatchReport
from trialmatch.matching.options import MatchOptions
from trialmatch.matching.plan import criterion_plan
from trialmatch.patients.asof import patient_as_of, with_as_of_origin
from trialmatch.patients.model import Patient
from trialmatch.trials.model import Trial, status_filter

__all__ = ["CompiledRegistry", "RegistryBuilder", "RegistryError", "RegistryRanking", "rank_registry", "registry_path",
           "trials_by_id", "iter_store_trials"]

#: bump when the files' layout or meaning changes (a registry of another format is rebuilt)
REGISTRY_FORMAT = 1

_VERDICTS = sorted(VERDICT_ORDER, key=VERDICT_ORDER.get)  # eligible, uncertain, ineligible
#: outcome of a criterion plan -> its code in the per-patient arrays
_CODES = {"pass": 0, "fail": 1, "unknown": 2, "confirm": 3}
_OTHER = 4  # not_applicable (counts for nothing)
_FIELD_BITS = 12  # per-trial counts packed in one int64: pass, fail, unknown, confirm, own (12 bits each)
_FIELD_MAX = 1 << _FIELD_BITS


class RegistryError(RuntimeError):
    """A registry that cannot be read, or that no longer agrees with the trials it came from."""


# ---------------------------------------------------------------------------- building
class RegistryBuilder:
    """Collects trials one at a time into a :class:`CompiledRegistry` (holds only its columns).

    Each trial's :func:`~trialmatch.matching.engine.trial_plan` (the engine's one reading of
    its criteria) gives its entry criterion keys, static unknowns, fit features and status; the
    plan itself is dropped with the trial.
    """

    def __init__(self) -> None:
        self._plan_ids: dict[tuple, int] = {}
        self.plan_keys: list[tuple[str, str, tuple]] = []  # (node key, kind, target keys) per registry plan
        self._fit_ids: dict[tuple, int] = {}
        self.fit_keys: list[tuple] = []
        self._status_ids: dict[str, int] = {}
        self.statuses: list[str] = []
        self.ids: list[str] = []
        self._status: list[int] = []
        self._fit: list[int] = []
        self._static_unknown: list[int] = []
        self._lengths: list[int] = []
        self._starts: list[int] = []
        self._entries = np.zeros(1 << 16, dtype=np.int32)
        self._n_entries = 0

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, trial: Trial, compiled: cm.CompiledCriteria) -> None:
        """Add one trial (its compiled criteria from the compiler the registry is for)."""
        plan = trial_plan(trial, compiled)
        rids = []
        for _i, c, k, _pid, _cplan in plan.entry_dynamic:
            rid = self._plan_ids.get(k)
            if rid is None:
                rid = self._plan_ids[k] = len(self.plan_keys)
                self.plan_keys.append(k)
            rids.append(rid)
        n = len(rids)
        if self._n_entries + n > len(self._entries):
            grown = np.zeros(max(2 * len(self._entries), self._n_entries + n), dtype=np.int32)
            grown[: self._n_entries] = self._entries[: self._n_entries]
            self._entries = grown
        self._entries[self._n_entries: self._n_entries + n] = rids
        fk = (tuple(plan.terms), tuple(plan.cond_lower), tuple(plan.flags[f] for f in sorted(plan.flags)))
        fid = self._fit_ids.get(fk)
        if fid is None:
            fid = self._fit_ids[fk] = len(self.fit_keys)
            self.fit_keys.append(fk)
        self._append(trial, n, fid, len(plan.static_unknown), plan.status_key)

    def add_copy(self, trial: Trial, row: int) -> None:
        """Add a trial whose compiled criteria, conditions, titles, keywords and registry age and
        sex limits are those of the trial added as row ``row`` (only its id and status differ):
        its columns are copied, its criteria not read again (replicated registries)."""
        start, n = self._starts[row], self._lengths[row]
        if self._n_entries + n > len(self._entries):
            grown = np.zeros(max(2 * len(self._entries), self._n_entries + n), dtype=np.int32)
            grown[: self._n_entries] = self._entries[: self._n_entries]
            self._entries = grown
        self._entries[self._n_entries: self._n_entries + n] = self._entries[start: start + n]
        self._append(trial, n, self._fit[row], self._static_unknown[row], (trial.status or "UNKNOWN").upper())

    def _append(self, trial: Trial, n: int, fid: int, static_unknown: int, status_key: str) -> None:
        self._starts.append(self._n_entries)
        self._n_entries += n
        self._lengths.append(n)
        self._fit.append(fid)
        sid = self._status_ids.get(status_key)
        if sid is None:
            sid = self._status_ids[status_key] = len(self.statuses)
            self.statuses.append(status_key)
        self._status.append(sid)
        self._static_unknown.append(static_unknown)
        self.ids.append(trial.id)

    def finish(self, meta: dict | None = None) -> CompiledRegistry:
        """The registry of the trials added (in memory; :meth:`CompiledRegistry.save` writes it)."""
        if len(set(self.ids)) != len(self.ids):
            raise RegistryError("a trial id was added twice")
        offsets = np.zeros(len(self.ids) + 1, dtype=np.int64)
        np.cumsum(np.asarray(self._lengths, dtype=np.int64), out=offsets[1:])
        ids = np.asarray(self.ids, dtype=f"U{max((len(i) for i in self.ids), default=1)}")
        return CompiledRegistry(
            ids=ids, id_rank=_id_rank(ids), status=np.asarray(self._status, dtype=np.int16),
            statuses=list(self.statuses), fit=np.asarray(self._fit, dtype=np.int32), fit_keys=list(self.fit_keys),
            static_unknown=np.asarray(self._static_unknown, dtype=np.int32), offsets=offsets,
            entries=self._entries[: self._n_entries].copy(), plan_keys=list(self.plan_keys), meta=dict(meta or {}))


def _id_rank(ids: np.ndarray) -> np.ndarray:
    """Each trial's position among the ids in Python string order (the ranking's last key)."""
    order = np.argsort(ids, kind="stable")  # numpy compares code points, as Python does
    rank = np.empty(len(ids), dtype=np.int32)
    rank[order] = np.arange(len(ids), dtype=np.int32)
    return rank


def iter_store_trials(store, compiler_version: str, batch: int = 2000,
                      ids: Iterable[str] | None = None) -> Iterator[tuple[Trial, cm.CompiledCriteria]]:
    """Every current trial of ``store`` with its compiled criteria from ``compiler_version``, by
    id, read ``batch`` at a time (never the whole store in memory); trials without such criteria
    are left out, as in ``TrialStore.load_for_matching``."""
    from sqlalchemy import and_, select

    from trialmatch.store import schema

    t, tv, tr = schema.compiled_criteria, schema.trial_versions, schema.trials
    q = (select(tr.c.id, tv.c.data, t.c.data)
         .join(tv, and_(tr.c.id == tv.c.trial_id, tr.c.current_version == tv.c.version))
         .join(t, and_(t.c.trial_id == tr.c.id, t.c.version == tr.c.current_version,
                       t.c.compiler_version == compiler_version)))
    if ids is not None:
        wanted = sorted(set(ids))
        for i in range(0, len(wanted), 500):
            with store.engine.connect() as conn:
                rows = conn.execute(q.where(tr.c.id.in_(wanted[i:i + 500])).order_by(tr.c.id)).all()
            for _tid, tdata, cdata in rows:
                yield Trial.model_validate_json(tdata), cm.CompiledCriteria.model_validate_json(cdata)
        return
    last = None
    while True:
        page = q if last is None else q.where(tr.c.id > last)
        with store.engine.connect() as conn:
            rows = conn.execute(page.order_by(tr.c.id).limit(batch)).all()
        if not rows:
            return
        for _tid, tdata, cdata in rows:
            yield Trial.model_validate_json(tdata), cm.CompiledCriteria.model_validate_json(cdata)
        last = rows[-1][0]


def trials_by_id(store, compiler_version: str, ids: Iterable[str]) -> dict[str, tuple[Trial, cm.CompiledCriteria]]:
    """``{trial id: (Trial, CompiledCriteria)}`` of the given ids, read from ``store``."""
    return {tr.id: (tr, c) for tr, c in iter_store_trials(store, compiler_version, ids=ids)}


def registry_path(store) -> Path:
    """Where the registry of a SQLite store lives: a folder beside its file (``<db>.registry``).

    Raises
    ------
    RegistryError
        The store is not a SQLite file (give the folder yourself).
    """
    url = store.url
    if not url.startswith("sqlite:///") or ":memory:" in url:
        raise RegistryError(f"store {url!r} is not a SQLite file: give the registry folder")
    return Path(url[len("sqlite:///"):] + ".registry")


# ---------------------------------------------------------------------------- the registry
@dataclass
class CompiledRegistry:
    """Trials as columns (see the module docstring); built by :meth:`build` or :class:`RegistryBuilder`.

    Attributes
    ----------
    ids : ndarray of str
        Trial ids (registry order).
    id_rank : ndarray of int32
        Each trial's position in id order.
    status : ndarray of int16
        Index into ``statuses`` (upper-case overall status, ``UNKNOWN`` when none).
    fit : ndarray of int32
        Index into ``fit_keys`` (terms, lower-case conditions, subtype/extent flags).
    static_unknown : ndarray of int32
        Patient-independent entry criteria left open.
    offsets, entries : ndarray of int64, int32
        CSR: the entry criterion plans of trial ``i`` are ``entries[offsets[i]:offsets[i+1]]``
        (indexes into ``plan_keys``).
    plan_keys : list of (str, str, tuple)
        Each distinct criterion plan once: (content key of its expression, kind, content keys
        of its atoms naming the trial's own condition).
    meta : dict
        ``compiler_version``, ``store_revision``, build figures.
    """

    ids: np.ndarray
    id_rank: np.ndarray
    status: np.ndarray
    statuses: list[str]
    fit: np.ndarray
    fit_keys: list[tuple]
    static_unknown: np.ndarray
    offsets: np.ndarray
    entries: np.ndarray
    plan_keys: list[tuple]
    meta: dict

    def __post_init__(self) -> None:
        self._plans: list | None = None  # engine criterion plans, per registry plan (made on first use)
        self._every = None  # those plans as one trial's entry criteria (see _plan_outcomes)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return (f"<CompiledRegistry trials={len(self):,} plans={len(self.plan_keys):,} fit_keys={len(self.fit_keys):,} "
                f"entries={len(self.entries):,}>")

    # ------------------------------------------------------------------ build / save / load
    @classmethod
    def build(cls, store, compiler_version: str | None = None, *, batch: int = 2000,
              progress: Callable[[int], None] | None = None) -> CompiledRegistry:
        """The registry of every current trial of ``store`` (read ``batch`` trials at a time).

        Parameters
        ----------
        store : TrialStore
        compiler_version : str, optional
            Defaults to the running compiler's (``trialmatch.criteria.COMPILER_VERSION``).
        batch : int
            Trials read per query.
        progress : callable, optional
            Called with the number of trials added so far after each batch.
        """
        from trialmatch.criteria import COMPILER_VERSION

        compiler_version = compiler_version or COMPILER_VERSION
        revision = store.revision()
        t0 = time.perf_counter()
        b = RegistryBuilder()
        for trial, compiled in iter_store_trials(store, compiler_version, batch):
            b.add(trial, compiled)
            if progress is not None and len(b) % batch == 0:
                progress(len(b))
        return b.finish({"compiler_version": compiler_version, "store_revision": revision,
                         "build_s": time.perf_counter() - t0})

    def save(self, folder: str | Path) -> Path:
        """Write the registry to ``folder`` (``.npy`` arrays, JSON of plans, fit keys and meta)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("ids", "id_rank", "status", "fit", "static_unknown", "offsets", "entries"):
            np.save(folder / f"{name}.npy", getattr(self, name), allow_pickle=False)
        with open(folder / "plans.jsonl", "w", encoding="utf-8") as fh:
            for key, kind, targets in self.plan_keys:
                fh.write(json.dumps([key, kind, list(targets)], ensure_ascii=False) + "\n")
        (folder / "fits.json").write_text(json.dumps([[list(t), list(c), list(f)] for t, c, f in self.fit_keys],
                                                     ensure_ascii=False), "utf-8")
        meta = {**self.meta, "format": REGISTRY_FORMAT, "statuses": self.statuses, "trials": len(self),
                "plans": len(self.plan_keys), "fit_keys": len(self.fit_keys)}
        (folder / "meta.json").write_text(json.dumps(meta, indent=1), "utf-8")  # last: a complete registry
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, mmap: bool = True) -> CompiledRegistry:
        """Read a registry written by :meth:`save` (arrays memory-mapped unless ``mmap=False``).

        Raises
        ------
        RegistryError
            A missing or incomplete folder, or another format.
        """
        folder = Path(folder)
        try:
            meta = json.loads((folder / "meta.json").read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{folder}: no readable registry (meta.json: {exc})") from exc
        if meta.get("format") != REGISTRY_FORMAT:
            raise RegistryError(f"{folder}: registry format {meta.get('format')!r}, this code reads {REGISTRY_FORMAT}")
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
                  for name in ("ids", "id_rank", "status", "fit", "static_unknown", "offsets", "entries")}
        plan_keys = []
        with open(folder / "plans.jsonl", encoding="utf-8") as fh:
            for line in fh:
                key, kind, targets = json.loads(line)
                plan_keys.append((key, kind, tuple(targets)))
        fits = [(tuple(t), tuple(c), tuple(f)) for t, c, f in json.loads((folder / "fits.json").read_text("utf-8"))]
        statuses = meta.pop("statuses")
        reg = cls(statuses=statuses, fit_keys=fits, plan_keys=plan_keys, meta=meta, **arrays)
        if len(reg.offsets) != len(reg.ids) + 1 or int(reg.offsets[-1]) != len(reg.entries) or len(plan_keys) != meta["plans"]:
            raise RegistryError(f"{folder}: inconsistent registry (trials {len(reg.ids)}, offsets {len(reg.offsets)}, "
                                f"entries {len(reg.entries)}, plans {len(plan_keys)} of {meta['plans']})")
        return reg

    @classmethod
    def for_store(cls, store, compiler_version: str | None = None, folder: str | Path | None = None) -> CompiledRegistry:
        """The store's registry: loaded from ``folder`` (default :func:`registry_path`) when it
        was built from the store's current revision with that compiler, else built and saved."""
        from trialmatch.criteria import COMPILER_VERSION

        compiler_version = compiler_version or COMPILER_VERSION
        folder = Path(folder) if folder is not None else registry_path(store)
        try:
            reg = cls.load(folder)
        except RegistryError:
            reg = None
        if (reg is not None and reg.meta.get("store_revision") == store.revision()
                and reg.meta.get("compiler_version") == compiler_version):
            return reg
        reg = cls.build(store, compiler_version)
        reg.save(folder)
        return cls.load(folder)

    # ------------------------------------------------------------------ per patient
    def engine_plans(self) -> list:
        """The engine's criterion plan of each registry plan (compiled in this process once)."""
        if self._plans is None:
            adapter = cm._EXPRESSION_ADAPTER
            plans = []
            for key in self.plan_keys:
                node_key, kind, targets = key
                expr = adapter.validate_json(node_key.split("|", 1)[1])
                plans.append(criterion_plan(expr, kind, targets, key=key))
            self._plans = plans
        return self._plans

    def rank(self, patient: Patient, as_of: dt.date | None = None, *, options: MatchOptions | None = None,
             statuses: list[str] | None = None) -> RegistryRanking:
        """Every trial's verdict and score for one patient (see the module docstring).

        Parameters
        ----------
        patient : Patient
        as_of : date, optional
            Defaults to ``patient.as_of`` or today.
        options : MatchOptions, optional
        statuses : list of str, optional
            Keep only trials with these statuses (as in ``match_patient``).

        Returns
        -------
        RegistryRanking
        """
        patient = with_as_of_origin(patient, as_of)
        as_of = as_of or patient.as_of or dt.date.today()
        patient = patient_as_of(patient, as_of)
        idx = build_index(patient, as_of)
        options = options or DEFAULT_OPTIONS
        wanted = status_filter(statuses)
        with _engine._GcPaused():
            codes, own = self._plan_outcomes(idx, options)
            counts = self._trial_counts(codes, own)
            fits = self._fits(idx)
            verdict, score = self._scores(counts, fits)
        keep = None
        if wanted is not None:
            keep = np.isin(np.asarray(self.status), [i for i, s in enumerate(self.statuses) if s in wanted])
        return RegistryRanking(self, patient, as_of, options, idx, verdict, score, keep)

    def _plan_outcomes(self, idx: PatientIndex, options: MatchOptions) -> tuple[np.ndarray, np.ndarray]:
        """The patient's outcome code of every registry plan, and whether it is open because it
        names the trial's own condition: decided by the engine's ``_outcome_counts`` (the
        function ``match_patient`` decides them with) on all the distinct plans at once."""
        every = self._every
        if every is None:
            plans = self.engine_plans()
            kinds = {"inclusion": SimpleNamespace(kind="inclusion"), "exclusion": SimpleNamespace(kind="exclusion")}
            entry_dynamic = [(j, kinds[k[1]], k, cp.id, cp) for j, (k, cp) in enumerate(zip(self.plan_keys, plans))]
            # every distinct plan as the entry criteria of one trial (what _outcome_counts reads)
            every = self._every = SimpleNamespace(
                entry_kids=tuple(cp.id for cp in plans), entry_dynamic=entry_dynamic,
                entry_idx=tuple(range(len(plans))), entry_target=tuple(e[3] for e in entry_dynamic if e[2][2]),
                targeted=[(j, pid) for j, (k, pid) in enumerate(zip(self.plan_keys, (cp.id for cp in plans))) if k[2]])
        memo = _engine._outcome_memo(idx, options)
        _engine._outcome_counts(every, idx, options, memo)
        vals, owns = memo[0], memo[1]
        codes = np.fromiter((_CODES.get(vals[pid], _OTHER) for pid in every.entry_kids), dtype=np.int8,
                            count=len(every.entry_kids))
        own = np.zeros(len(codes), dtype=bool)
        if owns:
            for j, pid in every.targeted:
                if pid in owns and vals[pid] == "unknown":
                    own[j] = True
        return codes, own

    def _trial_counts(self, codes: np.ndarray, own: np.ndarray) -> dict[str, np.ndarray]:
        """Per trial: how many entry plans pass, fail, stay open, ask to confirm, name its own condition.

        Each plan's outcome is packed into one int64 (a 12-bit field per count), so one gather
        and one segmented sum (``np.add.reduceat``) over the CSR give every count of every trial.
        """
        off = np.asarray(self.offsets)
        lengths = np.diff(off)
        if len(lengths) and int(lengths.max()) >= _FIELD_MAX:  # a count could overflow its field
            return self._trial_counts_cumsum(codes, own)
        packed = np.where(codes < _OTHER, np.left_shift(np.int64(1), _FIELD_BITS * codes.astype(np.int64)), 0)
        packed = packed.astype(np.int64) + np.left_shift(own.astype(np.int64), 4 * _FIELD_BITS)
        sums = np.zeros(len(self), dtype=np.int64)
        if len(self.entries):
            starts = np.minimum(off[:-1], len(self.entries) - 1)
            sums = np.add.reduceat(packed[self.entries], starts)
            sums[lengths == 0] = 0
        out = {}
        for i, name in enumerate(("pass", "fail", "unknown", "confirm", "own")):
            out[name] = (np.right_shift(sums, _FIELD_BITS * i) & (_FIELD_MAX - 1)).astype(np.int32)
        return out

    def _trial_counts_cumsum(self, codes: np.ndarray, own: np.ndarray) -> dict[str, np.ndarray]:
        """:meth:`_trial_counts` for trials with very many entry criteria (prefix sums)."""
        per_entry = codes[self.entries]
        off = np.asarray(self.offsets)
        out = {}
        for name, flags in (("pass", per_entry == 0), ("fail", per_entry == 1), ("unknown", per_entry == 2),
                            ("confirm", per_entry == 3), ("own", own[self.entries])):
            cs = np.zeros(len(flags) + 1, dtype=np.int64)
            np.cumsum(flags, out=cs[1:])
            out[name] = (cs[off[1:]] - cs[off[:-1]]).astype(np.int32)
        return out

    def _fits(self, idx: PatientIndex) -> np.ndarray:
        """Her disease fit with each distinct fit key (the engine's :func:`disease_fit`)."""
        names = sorted(_engine._re_subtype())
        fits = np.empty(len(self.fit_keys), dtype=np.float64)
        for i, (terms, cond_lower, flags) in enumerate(self.fit_keys):
            features = SimpleNamespace(terms=list(terms), cond_lower=list(cond_lower), flags=dict(zip(names, flags)))
            fits[i] = _engine.disease_fit(SimpleNamespace(id=("registry fit key", i)), idx, features)
        return fits

    def _scores(self, counts: dict, fits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Verdict order codes and scores: each distinct (fit, counts) combination scored once
        with :func:`match_score`, exactly as ``_compact`` scores a trial."""
        n_pass, n_fail, n_own = counts["pass"], counts["fail"], counts["own"]
        n_unknown = counts["unknown"] + np.asarray(self.static_unknown)
        n_asked = counts["confirm"]
        verdict = np.where(n_fail > 0, VERDICT_ORDER["ineligible"],
                           np.where(n_unknown > 0, VERDICT_ORDER["uncertain"], VERDICT_ORDER["eligible"])).astype(np.int8)
        cols = [np.asarray(self.fit, dtype=np.int64), n_pass, n_fail, n_unknown, n_asked, n_own]
        combo = np.zeros(len(self), dtype=np.int64)
        span = 1
        for col in cols:
            top = int(col.max()) + 1 if len(col) else 1
            if span * top >= 2**62:
                raise RegistryError("too many distinct score inputs to encode")  # never with real counts
            combo = combo * top + col
            span *= top
        _uniq, first, inverse = np.unique(combo, return_index=True, return_inverse=True)
        rows = zip(verdict[first].tolist(), fits[np.asarray(self.fit)[first]].tolist(), n_pass[first].tolist(),
                   n_fail[first].tolist(), n_unknown[first].tolist(), n_asked[first].tolist(), n_own[first].tolist())
        scores = np.array([round(match_score(_VERDICTS[v], fit, p, f, u + a, p + f + u, o), 6)
                           for v, fit, p, f, u, a, o in rows], dtype=np.float64)
        return verdict, scores[inverse.reshape(-1)]


class RegistryRanking:
    """One patient's verdict and score for every trial of a :class:`CompiledRegistry`.

    Attributes
    ----------
    verdict : ndarray of int8
        ``VERDICT_ORDER`` code per trial (0 eligible, 1 uncertain, 2 ineligible).
    score : ndarray of float64
        The ranking score (the ``score`` of ``match_patient``'s results).
    """

    def __init__(self, registry: CompiledRegistry, patient: Patient, as_of: dt.date, options: MatchOptions,
                 idx: PatientIndex, verdict: np.ndarray, score: np.ndarray, keep: np.ndarray | None) -> None:
        self.registry, self.patient, self.as_of, self.options, self._idx = registry, patient, as_of, options, idx
        self.verdict, self.score, self.keep = verdict, score, keep

    def __len__(self) -> int:
        return int(self.keep.sum()) if self.keep is not None else len(self.verdict)

    def counts(self) -> dict[str, int]:
        """How many (kept) trials have each verdict."""
        v = self.verdict if self.keep is None else self.verdict[self.keep]
        c = np.bincount(v, minlength=len(_VERDICTS))
        return {name: int(c[i]) for i, name in enumerate(_VERDICTS)}

    def order(self, top: int | None = None) -> np.ndarray:
        """Rows of the first ``top`` (kept) trials in ranked order (all without ``top``): by
        verdict, then score (higher first), then trial id, as ``match_patient`` ranks."""
        rows = np.arange(len(self.verdict)) if self.keep is None else np.flatnonzero(self.keep)
        # verdict then -score in one float key: scores lie in [0, 3) and differ by >= 1e-6
        key = self.verdict[rows].astype(np.float64) * 4.0 - self.score[rows]
        if top is not None and top < len(rows):
            if top <= 0:
                return rows[:0]
            cut = np.partition(key, top - 1)[top - 1]
            sel = key <= cut  # ties at the cut all compete on the trial id
            rows, key = rows[sel], key[sel]
        ranked = rows[np.lexsort((np.asarray(self.registry.id_rank)[rows], key))]
        return ranked if top is None else ranked[:top]

    def summary(self, top: int | None = None) -> list[tuple[str, str, float]]:
        """``(trial_id, verdict, score)`` in ranked order."""
        ids = self.registry.ids
        return [(str(ids[r]), _VERDICTS[self.verdict[r]], float(self.score[r])) for r in self.order(top)]

    def report(self, trials, top: int | None = 20) -> MatchReport:
        """The :class:`MatchReport` of the first ``top`` trials, explained as ``match_patient``
        explains them.

        Parameters
        ----------
        trials : TrialStore, or mapping of trial id -> (Trial, CompiledCriteria), or callable
            Where the returned trials are read from (a store: by id, with the registry's compiler
            version; a callable takes a list of ids and returns such a mapping).
        top : int, optional

        Raises
        ------
        RegistryError
            A returned trial is missing from ``trials``, or its verdict or score there differs
            from the registry's (the registry is out of date: rebuild it).
        """
        rows = self.order(top)
        ids = [str(self.registry.ids[r]) for r in rows]
        found = _lookup(trials, ids, self.registry.meta.get("compiler_version"))
        idx, options = self._idx, self.options
        memo = _engine._outcome_memo(idx, options)
        compact = []
        with _engine._GcPaused():
            for r, tid in zip(rows, ids):
                pair = found.get(tid)
                if pair is None:
                    raise RegistryError(f"trial {tid} is in the registry but not in the trials given: rebuild the registry")
                m = _engine._compact(pair[0], pair[1], idx, options, False, memo)
                if VERDICT_ORDER[m.verdict] != self.verdict[r] or m.score != self.score[r]:
                    raise RegistryError(f"trial {tid}: the registry says {_VERDICTS[self.verdict[r]]} "
                                        f"{self.score[r]}, its criteria {m.verdict} {m.score}: rebuild the registry")
                compact.append(m)
            return _engine._report(self.patient, self.as_of, idx, options, compact, None, None)


def _lookup(trials, ids: list[str], compiler_version: str | None) -> dict:
    if hasattr(trials, "get_compiled") and hasattr(trials, "engine"):
        from trialmatch.criteria import COMPILER_VERSION

        return trials_by_id(trials, compiler_version or COMPILER_VERSION, ids)
    if callable(trials):
        return trials(ids)
    return {t: trials[t] for t in ids if t in trials}


def rank_registry(patient: Patient, registry: CompiledRegistry, trials, *, top: int | None = 20,
                  as_of: dt.date | None = None, statuses: list[str] | None = None,
                  options: MatchOptions | None = None) -> MatchReport:
    """Match one patient against every trial of a registry; the first ``top`` explained.

    Parameters
    ----------
    patient : Patient
    registry : CompiledRegistry
    trials : TrialStore or mapping or callable
        Where the returned trials are read from (see :meth:`RegistryRanking.report`).
    top : int, optional
        How many results to explain and return (all without it: slow for a large registry).
    as_of : date, optional
    statuses : list of str, optional
    options : MatchOptions, optional

    Returns
    -------
    MatchReport
        The same report as ``match_patient(patient, trials, as_of, statuses=statuses, top=top)``
        over the registry's trials. ``registry.rank(...)`` gives the ranking itself (every
        trial's verdict and score, verdict counts).
    """
    ranking = registry.rank(patient, as_of, options=options, statuses=statuses)
    try:
        return ranking.report(trials, top)
    finally:
        ranking._idx.clear()
