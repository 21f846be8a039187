"""What the web layer asks of the core packages, in one place, with the caches it keeps.

Caches (all in memory, per process):

* the trial index (id, title, status, phases, conditions, interventions, countries) used by
  ``GET /trials``, rebuilt when the trial fingerprint changes;
* the (trial, compiled criteria) pairs for matching (``TrialStore.load_for_matching``, itself
  cached per revision), keyed by the trial fingerprint;
* per patient version, its :class:`~trialmatch.matching.PatientRanking` (every trial's verdict
  and score, with the patient's memo of decided criteria), computed in the background when the
  patient is saved, kept up to date when trials change by re-evaluating only the changed trials,
  and answering every view (status filter, chosen trials, top N, the pages' filters) by
  explaining only what the view returns;
* the serialised JSON of match answers keyed by (workspace, patient id, patient version, trial
  fingerprint, request parameters), for repeated identical requests.

``Settings(match_cache=False)`` turns the last two off: every match runs the matcher over all
trials (the benchmark's "fresh" run).

The *trial fingerprint* is the store's revision (``TrialStore.revision()``), which every write of
trials or compiled criteria moves, and patient writes do not.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select

from trialmatch.store import TrialStore
from trialmatch.store import schema as store_schema


class InputError(ValueError):
    """Bad input from the client: the message says what to fix (a 4xx answer)."""

    def __init__(self, message: str, status_code: int = 400, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.field = field


class Unavailable(RuntimeError):
    """A part of the system this needs has not been installed/built (a 503 answer)."""


# --------------------------------------------------------------------------- trial reading
def read_trial_document(data: bytes, file_name: str, trial_id: str | None = None):
    """Read a trial document (any supported format) -> list of Trial; InputError if any fails."""
    try:
        from trialmatch.trials import read_bytes
    except ImportError as exc:  # pragma: no cover - depends on the trials package
        raise Unavailable(f"the trial readers are not available ({exc})") from exc
    if not data or not data.strip():
        raise InputError(f"{file_name}: the document is empty")
    try:
        results = read_bytes(data, file_name, id_override=trial_id)
    except (ValueError, UnicodeError) as exc:  # read_bytes reports errors per record; belt and braces
        raise InputError(f"{file_name}: {exc}") from None
    errors = [f"{r.locator}: {r.error}" for r in results if getattr(r, "error", None)]
    trials = [r.trial for r in results if getattr(r, "trial", None) is not None and not getattr(r, "error", None)]
    if errors:
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise InputError("nothing was stored: " + "; ".join(errors[:5]) + more, 422)
    if not trials:
        raise InputError(f"{file_name}: no trial could be read from the document", 422)
    return trials


def _compiler():
    try:
        from trialmatch.criteria import COMPILER_VERSION, compile_criteria
    except ImportError:
        try:  # the package's re-exports may not be in place yet
            from trialmatch.criteria.compile import COMPILER_VERSION, compile_criteria
        except ImportError as exc:  # pragma: no cover
            raise Unavailable(f"the criteria compiler is not available ({exc})") from exc
    return COMPILER_VERSION, compile_criteria


def compile_trials(trials) -> dict:
    _, compile_criteria = _compiler()
    return {t.id: compile_criteria(t) for t in trials}


def compiler_version() -> str:
    return _compiler()[0]


# --------------------------------------------------------------------------- patients
PATIENT_FORMATS = ("json", "fhir", "text")


def sniff_patient_format(data: bytes, content_type: str | None) -> str:
    ct = (content_type or "").split(";")[0].strip().lower()
    if ct in ("text/plain", "text/markdown"):
        return "text"
    if ct == "application/fhir+json":
        return "fhir"
    head = data.lstrip()[:1]
    if ct.endswith("json") or head in (b"{", b"["):
        if b'"resourceType"' in data[:4096] and b'"Bundle"' in data[:4096]:
            return "fhir"
        return "json"
    return "text"


def read_patient(data: bytes, fmt: str, file_name: str = "upload"):
    """Read a patient from bytes in a format; raise InputError (with field) on any problem."""
    if fmt not in PATIENT_FORMATS:
        raise InputError(f"unknown patient format {fmt!r}: use one of json, fhir, text", 415)
    if not data or not data.strip():
        raise InputError("the patient document is empty")
    from trialmatch.patients.errors import PatientReadError

    try:
        from trialmatch.patients import read_patient_bytes
    except ImportError as exc:  # pragma: no cover
        raise Unavailable(f"the patient readers are not available ({exc})") from exc
    try:
        patient = read_patient_bytes(data, file_name, fmt=fmt)
    except PatientReadError as exc:
        raise InputError(f"{exc.field}: {exc.message}", 422, field=exc.field) from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        # a reader bug must not become a 500 or a half-saved record: refuse the document
        raise InputError(f"the {fmt} document could not be read ({exc.__class__.__name__})", 422) from None
    return patient


def read_summary_report(text: str, file_name: str = "summary"):
    """What the text reader takes from a pasted summary: the same
    :class:`~trialmatch.patients.report.PatientReadReport` that ``trialmatch patient show``
    prints (facts with their sentences, stated absences, the as-of date and where it came from,
    the sentences nothing was read from). Raise InputError (with field) on any problem."""
    if not text or not text.strip():
        raise InputError("paste a clinical summary first", field="summary")
    from trialmatch.patients.errors import PatientReadError
    from trialmatch.patients.report import read_patient_with_report

    try:
        return read_patient_with_report(data=text.encode("utf-8"), file_name=file_name, fmt="text")
    except PatientReadError as exc:
        raise InputError(f"{exc.field}: {exc.message}", 422, field="summary") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise InputError(f"the summary could not be read ({exc.__class__.__name__})", 422, field="summary") from None


def check_patient(patient) -> None:
    """Refuse a patient with impossible values (InputError naming the field)."""
    from trialmatch.patients.validate import impossible_values

    bad = impossible_values(patient)
    if bad:
        raise InputError("; ".join(f"{f}: {m}" for f, m in bad), 422, field=bad[0][0])


# --------------------------------------------------------------------------- caches
def trial_fingerprint(store: TrialStore) -> tuple:
    """What the trial-side caches are keyed by: the store's revision, which moves with every
    write of trials or compiled criteria (and not with patient writes)."""
    return ("revision", store.revision())


@dataclass
class TrialIndexEntry:
    id: str
    title: str | None
    status: str | None
    phases: list[str]
    conditions: list[str]
    interventions: list[str]
    countries: list[str]
    text: str  # lower-cased search text


@dataclass
class Caches:
    lock: threading.Lock = field(default_factory=threading.Lock)
    load_lock: threading.Lock = field(default_factory=threading.Lock)  # held while the trials are loaded
    index_key: tuple | None = None
    index: list[TrialIndexEntry] = field(default_factory=list)
    pairs_key: tuple | None = None
    pairs: list = field(default_factory=list)
    pair_ids: frozenset = frozenset()  # the trial ids of ``pairs``
    reports: OrderedDict = field(default_factory=OrderedDict)
    max_reports: int = 256
    rankings: OrderedDict = field(default_factory=OrderedDict)
    max_rankings: int = 64
    #: (workspace, patient id, version) -> (its ranking's key, whether that key's date is today's
    #: because the record has no as_of): finds a ready ranking without reading the record
    ranking_keys: dict = field(default_factory=dict)
    #: set by :func:`preload`: long-lived matching data (trials, rankings) is moved out of the
    #: garbage collector's full passes once built (a ranking is ~130k objects; with dozens kept,
    #: a full pass would otherwise stall every request for a second)
    freeze: bool = False


def trial_index(store: TrialStore, caches: Caches) -> list[TrialIndexEntry]:
    key = trial_fingerprint(store)
    with caches.lock:
        if caches.index_key == key:
            return caches.index
    out = []
    for t in store.iter_trials():
        interventions = [i.name for i in t.interventions]
        for i in t.interventions:
            interventions.extend(i.other_names)
        countries = sorted({loc.country for loc in t.locations if loc.country})
        text = " ".join([t.id, t.title or "", t.official_title or "", t.acronym or "", *t.conditions,
                         *interventions, *t.keywords]).lower()
        out.append(TrialIndexEntry(t.id, t.title, t.status, list(t.phases), list(t.conditions),
                                   interventions, countries, text))
    with caches.lock:
        caches.index_key, caches.index = key, out
    return out


def matching_pairs(store: TrialStore, caches: Caches, fp: tuple | None = None) -> tuple[tuple, list]:
    """``(trial fingerprint, [(Trial, CompiledCriteria)])`` of the current trials (``fp``: the
    fingerprint the caller just read)."""
    key = fp or trial_fingerprint(store)
    with caches.lock:
        if caches.pairs_key == key:
            return key, caches.pairs
    # one load at a time: a request that comes while the start-up preload (or another request)
    # is loading waits for that load instead of reading every trial a second time beside it
    with caches.load_lock:
        key = trial_fingerprint(store)  # a reload is keyed by what is stored now
        with caches.lock:
            if caches.pairs_key == key:
                return key, caches.pairs
        pairs = store.load_for_matching(compiler_version())
        with caches.lock:
            caches.pairs_key, caches.pairs = key, pairs
            caches.pair_ids = frozenset(t.id for t, _ in pairs)
    return key, pairs


def unknown_trial_ids(store: TrialStore, caches: Caches, trial_ids, fp: tuple | None = None) -> list[str]:
    """Those of ``trial_ids`` that are not among the current trials."""
    matching_pairs(store, caches, fp)
    with caches.lock:
        known = caches.pair_ids
    return [t for t in trial_ids if t not in known]


def preload(store: TrialStore, caches: Caches) -> int:
    """Load the trials for matching and work out their plans now, then freeze them out of the
    garbage collector's full passes (a serving process keeps them for its life); returns how
    many trials were prepared."""
    from trialmatch.matching import prepare_trials

    # the matching slot is held from the load to the freeze: a ranking asked for meanwhile waits
    # and then runs on prepared trials, rather than running first and leaving the preparation
    # (and its full garbage collection) to stall the rankings that come after it
    with _MATCH_SLOT:
        _, pairs = matching_pairs(store, caches)
        caches.freeze = True
        return prepare_trials(pairs, freeze=True)


def preload_in_background(store: TrialStore, caches: Caches) -> None:
    """:func:`preload` in the background worker (the first requests wait for it, not fail)."""
    def job():
        try:
            preload(store, caches)
        except Exception:  # noqa: BLE001 - the first match request loads them and reports any error
            pass

    _background().submit(job)


def run_match(patient, pairs, *, trial_ids=None, status=None, top=None):
    """Call the matcher with whatever of these options it takes; returns a MatchReport."""
    try:
        from trialmatch.matching import match_patient
    except ImportError as exc:  # pragma: no cover
        raise Unavailable(f"the matcher is not available ({exc})") from exc
    try:
        return match_patient(patient, pairs, statuses=list(status) if status else None,
                             trial_ids=list(trial_ids) if trial_ids else None, top=top)
    except ValueError as exc:  # an unknown status filter: the caller's input
        raise InputError(str(exc), 422, field="status") from None


def report_bytes(report) -> bytes:
    """The JSON of ``trialmatch match --format json`` for a report, as UTF-8 bytes."""
    data = report.to_output_json() if hasattr(report, "to_output_json") else report.model_dump(mode="json")
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


_MATCH_SLOT = threading.Lock()


def _report_key(workspace, patient_id, version, fingerprint, trial_ids, status, top) -> tuple:
    return (workspace, patient_id, version, fingerprint,
            tuple(sorted(trial_ids)) if trial_ids else None,
            tuple(sorted(s.upper() for s in status)) if status else None, top)


_VERSION_QUERY = select(store_schema.patients.c.current_version, store_schema.patients.c.deleted).where(
    store_schema.patients.c.workspace == bindparam("workspace"), store_schema.patients.c.id == bindparam("patient_id"))


def patient_version(store: TrialStore, workspace: str, patient_id: str) -> int | None:
    """The current version of a (not deleted) patient, without reading the record."""
    with store.engine.connect() as conn:
        row = conn.execute(_VERSION_QUERY, {"workspace": workspace, "patient_id": patient_id}).first()
    return None if row is None or row[1] else int(row[0])


def peek_match_json(store: TrialStore, caches: Caches, workspace: str, patient_id: str, version: int, *,
                    trial_ids=None, status=None, top=None, fp: tuple | None = None) -> bytes | None:
    """The cached JSON of a match, if there is one for this patient version and trial revision
    (a few small queries: cheap enough to answer on the event loop)."""
    fp = fp or trial_fingerprint(store)
    with caches.lock:
        if caches.pairs_key != fp:
            return None
        key = _report_key(workspace, patient_id, version, fp, trial_ids, status, top)
        body = caches.reports.get(key)
        if body is not None:
            caches.reports.move_to_end(key)
        return body


@dataclass
class _RankingSlot:
    """A patient version's ranking: being computed (``ready`` not set) or there."""

    ready: threading.Event = field(default_factory=threading.Event)
    ranking: object = None
    fingerprint: tuple | None = None
    error: BaseException | None = None


def _ranking_key(workspace: str, record) -> tuple:
    import datetime as dt

    as_of = record.patient.as_of or dt.date.today()
    return (workspace, record.patient.id, record.version, as_of)


#: how many of a new ranking's first results (all trials, and open ones) are explained with it
PRE_EXPLAINED = 50


def patient_ranking(store: TrialStore, caches: Caches, workspace: str, record, fp: tuple | None = None):
    """The :class:`~trialmatch.matching.PatientRanking` of a stored patient version, on the
    current trials: the one kept (refreshed if trials changed since), the one being computed
    (waited for), or a new one."""
    try:
        from trialmatch.matching import rank_patient
    except ImportError as exc:  # pragma: no cover
        raise Unavailable(f"the matcher is not available ({exc})") from exc
    key_fp, pairs = matching_pairs(store, caches, fp)
    key = _ranking_key(workspace, record)
    with caches.lock:
        slot = caches.rankings.get(key)
        owner = slot is None
        if owner:
            slot = caches.rankings[key] = _RankingSlot()
            while len(caches.rankings) > caches.max_rankings:
                _forget_ranking_key(caches, caches.rankings.popitem(last=False)[0])
        else:
            caches.rankings.move_to_end(key)
        caches.ranking_keys[key[:3]] = (key, record.patient.as_of is None)
    if owner:
        try:
            # one ranking at a time per process: the matcher is CPU-bound under the GIL, so
            # running several at once only makes each slower
            with _MATCH_SLOT:
                ranking = rank_patient(record.patient, pairs)
                # the results most views show are explained now, with the ranking
                ranking.view_json(top=PRE_EXPLAINED)
                ranking.view_json(top=PRE_EXPLAINED, include_closed=False)
                slot.ranking = ranking
                slot.fingerprint = key_fp
                _freeze(caches)
        except BaseException as exc:  # noqa: BLE001 - handed to every waiter, then raised
            slot.error = exc
            with caches.lock:
                if caches.rankings.get(key) is slot:
                    del caches.rankings[key]
                    _forget_ranking_key(caches, key)
            raise
        finally:
            slot.ready.set()
        return slot.ranking
    slot.ready.wait()
    if slot.error is not None:
        raise slot.error
    if slot.fingerprint != key_fp:  # trials changed since: re-evaluate only the changed ones
        with _MATCH_SLOT:
            if slot.fingerprint != key_fp:
                slot.ranking.refresh(pairs)
                slot.fingerprint = key_fp
                _freeze(caches)
    return slot.ranking


def _forget_ranking_key(caches: Caches, key: tuple) -> None:
    """Drop the version's pointer to ranking ``key`` (not a newer one of the same version: a later
    "as of today"); the caller holds ``caches.lock``."""
    entry = caches.ranking_keys.get(key[:3])
    if entry is not None and entry[0] == key:
        del caches.ranking_keys[key[:3]]


def _freeze(caches: Caches) -> None:
    """Move what is alive now out of the cyclic garbage collector's passes (see ``Caches.freeze``);
    a ranking dropped later is still freed, by reference counting (it holds no cycles)."""
    if caches.freeze:
        import gc

        gc.freeze()


_BACKGROUND = None


def rank_in_background(store: TrialStore, caches: Caches, workspace: str, record) -> None:
    """Start ranking a just-saved patient version in a background thread, so that its first
    match request finds the work done or under way (one background job at a time)."""
    def job():
        # a patient deleted or saved again meanwhile: nothing to rank (and no data of a deleted
        # patient brought back into memory)
        if patient_version(store, workspace, record.patient.id) != record.version:
            return
        try:
            patient_ranking(store, caches, workspace, record)
        except Exception:  # noqa: BLE001 - the match request will compute it again and report the error
            pass

    _background().submit(job)


def _background():
    """The one background worker thread (rankings of saved patients, preloading)."""
    global _BACKGROUND
    if _BACKGROUND is None:
        from concurrent.futures import ThreadPoolExecutor

        _BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trialmatch-background")
    return _BACKGROUND


def forget_patient(caches: Caches, workspace: str, patient_id: str) -> None:
    """Drop a patient's rankings and match answers from memory (after a delete)."""
    with caches.lock:
        for k in [k for k in caches.rankings if k[0] == workspace and k[1] == patient_id]:
            del caches.rankings[k]
            _forget_ranking_key(caches, k)
        for k in [k for k in caches.reports if k[0] == workspace and k[1] == patient_id]:
            del caches.reports[k]


def ready_ranking(caches: Caches, workspace: str, patient_id: str, version: int, fp: tuple):
    """The kept ranking of this patient version if it is ready and current for the trials of
    fingerprint ``fp``, else None (found without reading the record)."""
    import datetime as dt

    with caches.lock:
        entry = caches.ranking_keys.get((workspace, patient_id, version))
        if entry is None:
            return None
        key, dated_today = entry
        if dated_today and key[3] != dt.date.today():  # "as of today" has moved on
            return None
        slot = caches.rankings.get(key)
        if slot is None or not slot.ready.is_set() or slot.error is not None or slot.fingerprint != fp:
            return None
        caches.rankings.move_to_end(key)
        return slot.ranking


def cached_match(store: TrialStore, caches: Caches, workspace: str, record, *, trial_ids=None,
                 status=None, top=None, use_cache: bool = True, as_json: bool = False, fp: tuple | None = None):
    """The match of a stored patient record: ``(MatchReport, how)``, or with ``as_json``
    ``(JSON bytes of the report, how)``.

    With ``use_cache`` the report is a view of the patient's kept ranking (see
    :func:`patient_ranking`) and its JSON is kept for identical requests; ``how`` is ``"hit"``
    (the ranking was ready and current), ``"refresh"`` (it was re-evaluated for the trials that
    changed since) or ``"miss"`` (computed, or finished, for this request). Without, the matcher
    runs over every trial and ``how`` is ``"miss"``. ``fp``: the trial fingerprint the caller
    just read (read here otherwise).
    """
    if not use_cache:
        key_fp, pairs = matching_pairs(store, caches, fp)
        with _MATCH_SLOT:
            report = run_match(record.patient, pairs, trial_ids=trial_ids, status=status, top=top)
        return (report_bytes(report) if as_json else report), "miss"
    rkey = _ranking_key(workspace, record)
    fp = fp or trial_fingerprint(store)  # the answer's key: a ranking refreshed to a newer revision is newer still
    with caches.lock:
        slot = caches.rankings.get(rkey)
        if slot is None or not slot.ready.is_set() or slot.error is not None:
            cached = "miss"
        else:
            cached = "hit" if slot.fingerprint == fp else "refresh"
    ranking = patient_ranking(store, caches, workspace, record, fp)
    if not as_json:
        return _view(ranking, trial_ids, status, top, as_json=False), cached
    return ranking_json(caches, ranking, workspace, record.patient.id, record.version, fp,
                        trial_ids=trial_ids, status=status, top=top), cached


def ranking_json(caches: Caches, ranking, workspace: str, patient_id: str, version: int, fp: tuple, *,
                 trial_ids=None, status=None, top=None) -> bytes:
    """The JSON answer of a view of a patient version's ranking, kept for identical requests."""
    body = _view(ranking, trial_ids, status, top, as_json=True)
    key = _report_key(workspace, patient_id, version, fp, trial_ids, status, top)
    with caches.lock:
        caches.reports[key] = body
        while len(caches.reports) > caches.max_reports:
            caches.reports.popitem(last=False)
    return body


def _view(ranking, trial_ids, status, top, as_json: bool):
    view = {"statuses": list(status) if status else None, "trial_ids": list(trial_ids) if trial_ids else None,
            "top": top}
    try:
        return ranking.view_json(**view) if as_json else ranking.report(**view)
    except ValueError as exc:  # an unknown status filter: the caller's input
        raise InputError(str(exc), 422, field="status") from None


def ranked_view(store: TrialStore, caches: Caches, workspace: str, record, *, use_cache: bool = True, **view):
    """``(MatchReport, kept, counts)`` of a view of the patient's ranking: the report (see
    :meth:`~trialmatch.matching.PatientRanking.view` for ``view``), how many trials the view kept
    before its ``top``, and how many trials have each verdict. The kept ranking is used, or with
    ``use_cache=False`` a new one."""
    try:
        if use_cache:
            ranking = patient_ranking(store, caches, workspace, record)
        else:
            from trialmatch.matching import rank_patient

            _, pairs = matching_pairs(store, caches)
            with _MATCH_SLOT:
                ranking = rank_patient(record.patient, pairs)
        report, kept = ranking.view(**view)
        return report, kept, ranking.counts()
    except ValueError as exc:  # an unknown status or verdict: the caller's input
        raise InputError(str(exc), 422) from None


def results_checks(trial) -> list[dict]:
    """The statistics checks of a trial's published results (empty if none or not available)."""
    if trial.results is None:
        return []
    try:
        from trialmatch.evidence import check_results
    except ImportError:
        return []
    try:
        checks = check_results(trial.results)
    except Exception as exc:  # noqa: BLE001 - a check that fails must not take the page down
        return [{"status": "error", "message": f"the statistics check failed: {exc.__class__.__name__}"}]
    return [_dump(c) for c in checks]


def latest_changes(store: TrialStore, workspace: str) -> list[dict] | None:
    """Watch changes of a workspace; None when the watch module is not there."""
    try:
        from trialmatch.watch import latest_changes as lc
    except ImportError:
        return None
    return [_dump(c) for c in lc(store, workspace)]


def _dump(obj) -> dict:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "__dict__"):
        return {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    return {"value": str(obj)}
