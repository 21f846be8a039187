"""A fake ClinicalTrials.gov API v2 on 127.0.0.1 for the sync tests.

It serves ``GET /api/v2/studies`` (paging with ``pageSize`` / ``pageToken``, ``countTotal``, the
filters ``query.cond``, ``query.term``, ``query.intr``, ``query.locn``, ``filter.overallStatus``,
``filter.geo=distance(lat,lon,Nmi|km)``, ``filter.advanced=AREA[LastUpdatePostDate]RANGE[a,b]``)
and ``GET /api/v2/studies/{nctId}`` from real API v2 records, in a thread. It can be told to
answer 429 with ``Retry-After``, 503, a malformed page, or to drop the connection mid-page,
once, a few times, or on every request to a given page.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
import re
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

BASE_PATH = "/api/v2"


@dataclass
class Fault:
    """What to do instead of answering: ``429``, ``503``, ``malformed``, ``drop`` or ``400``.

    ``page`` is the 1-based page number it hits (None: any page request); ``times`` how many
    requests it hits (None: every one, until removed); ``retry_after`` the header value to send.
    """

    kind: str
    page: int | None = None
    times: int | None = 1
    retry_after: str | None = None
    hits: int = 0


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9+]+", text.lower()) if w]


def _haversine_mi(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 3958.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


class FakeCtgov:
    """The fake server. ``url`` is the API root to give the client (``http://127.0.0.1:PORT/api/v2``)."""

    def __init__(self, studies: list[dict]) -> None:
        self.studies: dict[str, dict] = {}
        for s in studies:
            self.studies[s["protocolSection"]["identificationModule"]["nctId"]] = copy.deepcopy(s)
        self.faults: list[Fault] = []
        self.requests: list[dict] = []
        self.token_generation = 0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control
    def start(self) -> "FakeCtgov":
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{BASE_PATH}"

    def add_fault(self, kind: str, page: int | None = None, times: int | None = 1,
                  retry_after: str | None = None) -> Fault:
        fault = Fault(kind, page, times, retry_after)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def expire_tokens(self) -> None:
        """Make every page token given so far invalid (the server answers 400 to them)."""
        self.token_generation += 1

    def status_module(self, nct: str) -> dict:
        return self.studies[nct]["protocolSection"]["statusModule"]

    def set_status(self, nct: str, status: str, posted: str = "2099-01-15") -> None:
        sm = self.status_module(nct)
        sm["overallStatus"] = status
        sm["lastUpdatePostDateStruct"] = {"date": posted, "type": "ACTUAL"}

    def edit_criteria(self, nct: str, text: str, posted: str = "2099-01-15") -> None:
        self.studies[nct]["protocolSection"]["eligibilityModule"]["eligibilityCriteria"] = text
        self.status_module(nct)["lastUpdatePostDateStruct"] = {"date": posted, "type": "ACTUAL"}

    def page_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"] == BASE_PATH + "/studies"]

    # ------------------------------------------------------------------ the API
    def select(self, params: dict[str, str]) -> list[dict]:
        out = []
        for nct in sorted(self.studies):
            s = self.studies[nct]
            if self._matches(s, params):
                out.append(s)
        return out

    def _matches(self, s: dict, params: dict[str, str]) -> bool:
        ps = s.get("protocolSection", {})
        if "query.cond" in params:
            browse = s.get("derivedSection", {}).get("conditionBrowseModule", {})
            text = " ".join([*(m.get("term", "") for m in browse.get("meshes", [])),*ps.get("conditionsModule", {}).get("conditions", []),
                             *ps.get("conditionsModule", {}).get("keywords", []),
                             ps.get("identificationModule", {}).get("briefTitle", ""),
                             ps.get("identificationModule", {}).get("officialTitle", "")])
            if not set(_words(params["query.cond"])) <= set(_words(text)):
                return False
        if "query.term" in params:
            if not set(_words(params["query.term"])) <= set(_words(json.dumps(s))):
                return False
        if "query.intr" in params:
            names = []
            for i in ps.get("armsInterventionsModule", {}).get("interventions", []):
                names += [i.get("name", ""), *i.get("otherNames", [])]
            if not set(_words(params["query.intr"])) <= set(_words(" ".join(names))):
                return False
        locs = ps.get("contactsLocationsModule", {}).get("locations", [])
        if "query.locn" in params:
            text = " ".join(" ".join(str(l.get(k, "")) for k in ("facility", "city", "state", "country"))
                            for l in locs)
            if not set(_words(params["query.locn"])) <= set(_words(text)):
                return False
        if "filter.overallStatus" in params:
            wanted = {v.strip().upper() for v in re.split(r"[,|]", params["filter.overallStatus"]) if v.strip()}
            if ps.get("statusModule", {}).get("overallStatus") not in wanted:
                return False
        if "filter.geo" in params:
            m = re.fullmatch(r"distance\(([-\d.]+),([-\d.]+),([\d.]+)(mi|km)\)", params["filter.geo"])
            if not m:
                raise ValueError(f"bad filter.geo {params['filter.geo']!r}")
            lat, lon, dist = float(m.group(1)), float(m.group(2)), float(m.group(3))
            if m.group(4) == "km":
                dist /= 1.609344
            if not any("geoPoint" in l and _haversine_mi(lat, lon, l["geoPoint"]["lat"], l["geoPoint"]["lon"]) <= dist
                       for l in locs):
                return False
        if "filter.advanced" in params:
            m = re.fullmatch(r"AREA\[LastUpdatePostDate\]RANGE\[([\d-]+|MIN),([\d-]+|MAX)\]", params["filter.advanced"])
            if not m:
                raise ValueError(f"unsupported filter.advanced {params['filter.advanced']!r}")
            posted = ps.get("statusModule", {}).get("lastUpdatePostDateStruct", {}).get("date", "")
            lo, hi = m.group(1), m.group(2)
            if (lo != "MIN" and posted < lo) or (hi != "MAX" and posted > hi):
                return False
        return True

    def query_hash(self, params: dict[str, str]) -> str:
        keep = {k: v for k, v in params.items() if k not in ("pageToken", "countTotal")}
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:12]

    def make_token(self, offset: int, params: dict[str, str]) -> str:
        raw = json.dumps({"o": offset, "q": self.query_hash(params), "g": self.token_generation})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def read_token(self, token: str, params: dict[str, str]) -> int:
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except ValueError:
            raise ValueError("invalid pageToken") from None
        if data.get("q") != self.query_hash(params) or data.get("g") != self.token_generation:
            raise ValueError("pageToken does not belong to this query or has expired")
        return int(data["o"])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_fake: FakeCtgov

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps({"message": message}).encode(), headers)

    def do_GET(self) -> None:  # noqa: N802
        fake = self.server_fake
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        path = parts.path.rstrip("/")
        page_no = None
        page_size = 10
        offset = 0
        if path == BASE_PATH + "/studies":
            try:
                page_size = max(1, min(1000, int(params.get("pageSize", "10"))))
                offset = fake.read_token(params["pageToken"], params) if params.get("pageToken") else 0
            except ValueError as exc:
                self._record(path, params, 400, None)
                return self._error(400, str(exc))
            page_no = offset // page_size + 1
        with fake.lock:
            fault = next((f for f in fake.faults
                          if (f.page is None or f.page == page_no) and path == BASE_PATH + "/studies"
                          and (f.times is None or f.hits < f.times)), None)
            if fault is not None:
                fault.hits += 1
        if fault is not None:
            self._record(path, params, fault.kind, page_no)
            return self._fault(fault, fake, params, offset, page_size)
        if path == BASE_PATH + "/studies":
            try:
                body = self._page(fake, params, offset, page_size)
            except ValueError as exc:
                self._record(path, params, 400, page_no)
                return self._error(400, str(exc))
            self._record(path, params, 200, page_no)
            return self._send(200, body)
        m = re.fullmatch(re.escape(BASE_PATH) + r"/studies/(NCT\d{8})", path)
        if m and m.group(1) in fake.studies:
            self._record(path, params, 200, None)
            return self._send(200, json.dumps(fake.studies[m.group(1)]).encode())
        self._record(path, params, 404, None)
        return self._error(404, f"not found: {path}")

    def _record(self, path: str, params: dict, outcome, page_no) -> None:
        with self.server_fake.lock:
            self.server_fake.requests.append({"path": path, "params": params, "outcome": outcome, "page": page_no})

    def _page(self, fake: FakeCtgov, params: dict[str, str], offset: int, page_size: int) -> bytes:
        with fake.lock:
            hits = fake.select(params)
            chunk = hits[offset:offset + page_size]
            doc: dict = {"studies": chunk}
            if offset == 0 and params.get("countTotal", "").lower() == "true":
                doc["totalCount"] = len(hits)
            if offset + page_size < len(hits):
                doc["nextPageToken"] = fake.make_token(offset + page_size, params)
            return json.dumps(doc).encode()

    def _fault(self, fault: Fault, fake: FakeCtgov, params, offset, page_size) -> None:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        if fault.kind == "429":
            return self._error(429, "Too Many Requests", headers)
        if fault.kind == "503":
            return self._error(503, "Service Unavailable", headers)
        if fault.kind == "400":
            return self._error(400, "bad request")
        if fault.kind == "malformed":
            body = self._page(fake, params, offset, page_size)
            return self._send(200, body[: len(body) // 2] + b"<html>oops")
        if fault.kind == "drop":
            body = self._page(fake, params, offset, page_size)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        raise AssertionError(f"unknown fault {fault.kind}")


class FakeClock:
    """A monotonic clock whose ``sleep`` only moves time forward (and records what was asked)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def load_studies(data_dir: Path) -> list[dict]:
    path = data_dir / "ctgov-v2" / "breast_trials.ndjson"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="session")
def ctgov_studies(data_dir: Path) -> list[dict]:
    return load_studies(data_dir)


@pytest.fixture()
def fake_api(ctgov_studies):
    server = FakeCtgov(ctgov_studies).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()
