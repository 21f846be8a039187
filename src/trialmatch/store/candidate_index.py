"""The candidate index: per trial, the entry criteria that decide eligibility cheaply.

For each current trial version with compiled criteria, the index keeps the criteria that count
for entry (no protocol step, or step 1) and check only cheap, registry-wide facts: sex, age,
cancer type (``diagnosis``), disease extent, receptor status and menopausal status; among them
the registry's own age and sex limits, as the matcher adds them when no compiled criterion
covers them (ids ``AGE`` and ``SEX``). Each such criterion is stored with its *signature* (a
hash of its kind and compiled expression): trials share signatures, so a patient's query
evaluates each signature once with the real evaluator, and every trial holding a signature that
fails for her is ineligible, whichever other criteria it has (see
:mod:`trialmatch.screening.index`).

Soundness: a criterion's outcome may depend on the trial only through atoms naming the trial's
own condition, and only under an exclusion or a negation. So a criterion is indexed only when
its atoms are all of the kinds above and it either has no diagnosis atom, or is an inclusion
built of atoms, ``all_of`` and ``any_of`` alone: its outcome is then the same in every trial.
An inclusion whose expression is an ``all_of`` fails as soon as one conjunct is false, so each
conjunct that qualifies on its own is indexed as a check of that criterion (``part`` > 0).

Tables (in the store's metadata, so SQLite and PostgreSQL alike): ``candidate_index_trials``
(which trial version and compiler version each trial was indexed at) and
``candidate_index_entries`` (one row per indexed criterion). :func:`sync_candidate_index`
brings them up to date incrementally: only trials whose current version (or compiler version)
is not indexed yet are read; rows of trials that left the store go.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import Column, Index, Integer, String, Table, Text, and_, select

from trialmatch.store import schema

#: atom kinds whose checks the index keeps
INDEX_KINDS = frozenset({"age", "sex", "diagnosis", "disease_extent", "receptor", "menopausal_status"})
#: atom kinds whose outcome can depend on the trial (naming its own condition), see the module docstring
_TARGET_KINDS = frozenset({"diagnosis", "condition", "infection"})
_BOOL = {"all_of", "any_of"}
_NEGATING = {"not", "except", "if_then"}

candidate_index_trials = Table(
    "candidate_index_trials", schema.metadata,
    Column("trial_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("compiler_version", String(40), nullable=False),
    Column("entries", Integer, nullable=False),
)

candidate_index_entries = Table(
    "candidate_index_entries", schema.metadata,
    Column("trial_id", String(64), primary_key=True),
    Column("ordinal", Integer, primary_key=True),  # the criterion's position in the matcher's list
    Column("part", Integer, primary_key=True),  # 0: the whole criterion; k: its k-th indexed conjunct
    Column("criterion_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # the criterion's kind
    Column("text", Text, nullable=False),
    Column("check_kind", String(16), nullable=False),  # the kind the check is evaluated as
    Column("signature", String(40), nullable=False),
    Column("expression", Text, nullable=False),  # the compiled expression, JSON
)
Index("ix_candidate_index_signature", candidate_index_entries.c.signature)


def _atom_kinds(expr: dict, out: list, shapes: set) -> None:
    kind = expr.get("kind")
    if kind in _BOOL:
        shapes.add(kind)
        for item in expr.get("items") or []:
            _atom_kinds(item, out, shapes)
    elif kind == "not":
        shapes.add(kind)
        _atom_kinds(expr["item"], out, shapes)
    elif kind == "except":
        shapes.add(kind)
        _atom_kinds(expr["main"], out, shapes)
        _atom_kinds(expr["exception"], out, shapes)
    elif kind == "if_then":
        shapes.add(kind)
        for part in ("condition", "then", "otherwise"):
            if expr.get(part) is not None:
                _atom_kinds(expr[part], out, shapes)
    else:
        out.append(kind)


def indexable(criterion_kind: str, expression: dict | None) -> bool:
    """Whether a compiled criterion (its kind and expression as JSON) goes into the index."""
    if not expression:
        return False
    kinds: list = []
    shapes: set = set()
    _atom_kinds(expression, kinds, shapes)
    if not kinds or any(k not in INDEX_KINDS for k in kinds):
        return False
    if any(k in _TARGET_KINDS for k in kinds):
        return criterion_kind == "inclusion" and not (shapes & _NEGATING)
    return True


def conjuncts(expression: dict) -> list[dict]:
    """The items of a top-level ``all_of`` (nested ``all_of`` flattened)."""
    if expression.get("kind") != "all_of":
        return [expression]
    out = []
    for item in expression.get("items") or []:
        out.extend(conjuncts(item))
    return out


def signature(criterion_kind: str, expression: dict) -> str:
    """SHA-1 of a criterion's kind and expression (canonical JSON): equal signatures, equal outcomes."""
    blob = json.dumps([criterion_kind, expression], sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


def _fmt(x: float) -> str:
    return format(x, "g")


def structured_criteria(trial: dict, compiled_criteria: list[dict]) -> list[dict]:
    """The registry's age and sex limits as criteria, when no compiled criterion covers them
    (the same rule, ids and texts as the matcher's)."""
    el = trial.get("eligibility") or {}
    kinds: set = set()
    for c in compiled_criteria:
        if c.get("expression"):
            shapes: set = set()
            found: list = []
            _atom_kinds(c["expression"], found, shapes)
            kinds.update(found)
    out = []
    lo, hi = el.get("min_age_years"), el.get("max_age_years")
    if "age" not in kinds and (lo is not None or hi is not None):
        text = (f"Age {_fmt(lo or 0)} to {_fmt(hi)} years" if hi is not None else f"Age {_fmt(lo)} years or older")
        out.append({"id": "AGE", "kind": "inclusion", "text": text, "step": None,
                    "expression": {"kind": "age", "years": {"low": lo, "high": hi, "low_inclusive": True,
                                                            "high_inclusive": True}, "unit_as_written": None}})
    sex = el.get("sex")
    if "sex" not in kinds and sex in ("FEMALE", "MALE"):
        out.append({"id": "SEX", "kind": "inclusion", "text": f"Sex: {sex.lower()}", "step": None,
                    "expression": {"kind": "sex", "allowed": [sex.lower()]}})
    return out


def index_rows(trial_id: str, trial_json: str, compiled_json: str) -> list[dict]:
    """The index rows of one trial version (its indexable entry criteria, in the matcher's order)."""
    trial = json.loads(trial_json)
    compiled = json.loads(compiled_json).get("criteria") or []
    rows = []
    for ordinal, c in enumerate([*structured_criteria(trial, compiled), *compiled]):
        step = c.get("step")
        if step is not None and step > 1:
            continue
        expr = c.get("expression")
        kind = c.get("kind", "")
        if indexable(kind, expr):
            parts = [(0, kind, expr)]
        elif kind == "inclusion" and expr and expr.get("kind") == "all_of":
            # an inclusion fails when one of its conjuncts is false (false dominates all_of):
            # each conjunct that is indexable on its own is indexed as a check of this criterion
            parts = [(k, "inclusion", e) for k, e in enumerate(conjuncts(expr), 1) if indexable("inclusion", e)]
        else:
            continue
        for part, check_kind, check in parts:
            rows.append({"trial_id": trial_id, "ordinal": ordinal, "part": part, "criterion_id": c["id"],
                         "kind": kind, "text": c.get("text", ""), "check_kind": check_kind,
                         "signature": signature(check_kind, check),
                         "expression": json.dumps(check, sort_keys=True, separators=(",", ":"))})
    return rows


#: the layout of the index tables; a store holding another one has them dropped and rebuilt
INDEX_FORMAT = "2"
_FORMAT_KEY = "candidate_index_format"


def _ensure_tables(store) -> None:
    """Create the index tables (a store opened before this module was imported lacks them), or
    rebuild them when they hold another :data:`INDEX_FORMAT`."""
    meta = schema.store_meta
    with store.transaction() as conn:
        row = conn.execute(select(meta.c.value).where(meta.c.key == _FORMAT_KEY)).first()
        if row is not None and row[0] == INDEX_FORMAT:
            return
        candidate_index_entries.drop(conn, checkfirst=True)
        candidate_index_trials.drop(conn, checkfirst=True)
        candidate_index_trials.create(conn)
        candidate_index_entries.create(conn)
        conn.execute(meta.delete().where(meta.c.key == _FORMAT_KEY))
        conn.execute(meta.insert().values(key=_FORMAT_KEY, value=INDEX_FORMAT))


def sync_candidate_index(store, compiler_version: str | None = None, batch: int = 1000) -> dict[str, int]:
    """Bring the candidate index of ``store`` up to date with its current trial versions.

    Only trials whose current version (or ``compiler_version``) differs from the indexed one are
    read and indexed again; index rows of trials no longer in the store are deleted. Each batch
    is one transaction. Returns ``{"indexed": n, "removed": n}``.
    """
    if compiler_version is None:
        from trialmatch.criteria import COMPILER_VERSION as compiler_version  # noqa: N811
    tr, tv, cc = schema.trials, schema.trial_versions, schema.compiled_criteria
    it, ie = candidate_index_trials, candidate_index_entries
    _ensure_tables(store)
    with store.engine.connect() as conn:
        current = {r[0]: r[1] for r in conn.execute(
            select(tr.c.id, tr.c.current_version)
            .join(cc, and_(cc.c.trial_id == tr.c.id, cc.c.version == tr.c.current_version,
                           cc.c.compiler_version == compiler_version)))}
        indexed = {r[0]: (r[1], r[2]) for r in conn.execute(select(it.c.trial_id, it.c.version, it.c.compiler_version))}
    todo = sorted(t for t, v in current.items() if indexed.get(t) != (v, compiler_version))
    gone = sorted(t for t in indexed if t not in current)
    for start in range(0, len(todo), batch):
        chunk = todo[start:start + batch]
        with store.transaction() as conn:
            data = conn.execute(
                select(tv.c.trial_id, tv.c.data, cc.c.data)
                .join(tr, and_(tr.c.id == tv.c.trial_id, tr.c.current_version == tv.c.version))
                .join(cc, and_(cc.c.trial_id == tv.c.trial_id, cc.c.version == tv.c.version,
                               cc.c.compiler_version == compiler_version))
                .where(tv.c.trial_id.in_(chunk))).all()
            conn.execute(ie.delete().where(ie.c.trial_id.in_(chunk)))
            conn.execute(it.delete().where(it.c.trial_id.in_(chunk)))
            rows, heads = [], []
            for tid, tdata, cdata in data:
                r = index_rows(tid, tdata, cdata)
                rows.extend(r)
                heads.append({"trial_id": tid, "version": current[tid], "compiler_version": compiler_version,
                              "entries": len(r)})
            if rows:
                conn.execute(ie.insert(), rows)
            if heads:
                conn.execute(it.insert(), heads)
    for start in range(0, len(gone), batch):
        chunk = gone[start:start + batch]
        with store.transaction() as conn:
            conn.execute(ie.delete().where(ie.c.trial_id.in_(chunk)))
            conn.execute(it.delete().where(it.c.trial_id.in_(chunk)))
    return {"indexed": len(todo), "removed": len(gone)}
