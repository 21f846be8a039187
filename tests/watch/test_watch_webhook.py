"""Webhook delivery against a local HTTP server on 127.0.0.1 that the test starts."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


from trialmatch.criteria.model import Age, CompiledCriteria, Criterion, Range
from trialmatch.patients.model import Patient
from trialmatch.store import TrialStore
from trialmatch.trials.model import Provenance, Trial
from trialmatch.watch import post_webhook, run_watch


class Server:
    """Records POSTed JSON bodies; answers ``fail_first`` requests with ``fail_status``."""

    def __init__(self, fail_first: int = 0, fail_status: int = 503):
        self.bodies: list[dict] = []
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                outer.hits += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.hits <= fail_first:
                    self.send_response(fail_status)
                    self.end_headers()
                    return
                outer.bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook?token=secret"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seeded_store(tmp_path) -> TrialStore:
    store = TrialStore(f"sqlite:///{tmp_path / 'hook.db'}")
    t = Trial(id="TW-H", title="hook", status="RECRUITING",
              provenance=Provenance(source_format="demo_json", sha256="e" * 64,
                                    ingested_at=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)))
    cc = CompiledCriteria(trial_id="TW-H", compiler_version="test-hook", criteria=[
        Criterion(id="I1", kind="inclusion", text="adult", span=(0, 5), status="compiled",
                  expression=Age(years=Range(low=18)))])
    store.ingest_trial(t, cc)
    store.save_patient(Patient(id="ph", sex="female", birth_date=dt.date(1960, 1, 1)), "w")
    return store


def test_watch_posts_report_after_retries(tmp_path):
    store = seeded_store(tmp_path)
    with Server(fail_first=2) as srv:
        rep = run_watch(store, as_of=dt.date(2024, 6, 1), webhook=srv.url, compiler_version="test-hook",
                        compile=False, webhook_backoff=0.01)
        assert rep.webhook is not None and rep.webhook.ok and rep.webhook.attempts == 3
        assert "secret" not in rep.webhook.url  # the query (a token) is not echoed back
        assert len(srv.bodies) == 1
        body = srv.bodies[0]
        assert body["run_id"] == rep.run_id and body["counts"] == {"new": 1}
        assert body["changes"][0]["patient_id"] == "ph" and body["changes"][0]["change"] == "new"
        # nothing changed: no POST
        again = run_watch(store, as_of=dt.date(2024, 6, 1), webhook=srv.url, compiler_version="test-hook",
                          compile=False, webhook_backoff=0.01)
        assert again.changes == [] and again.webhook is None and srv.hits == 3


def test_failed_delivery_is_reported_not_raised(tmp_path):
    store = seeded_store(tmp_path)
    with Server(fail_first=100, fail_status=500) as srv:
        rep = run_watch(store, as_of=dt.date(2024, 6, 1), webhook=srv.url, compiler_version="test-hook",
                        compile=False, webhook_backoff=0.01)
        assert rep.webhook.ok is False and rep.webhook.attempts == 4 and rep.webhook.status_code == 500
        assert "HTTP 500" in rep.webhook.error
    assert len(rep.changes) == 1  # the changes were recorded all the same


def test_client_errors_are_not_retried_and_bad_urls_are_reported():
    with Server(fail_first=100, fail_status=404) as srv:
        res = post_webhook(srv.url, {"x": 1}, backoff=0.01)
        assert res.ok is False and res.attempts == 1 and res.status_code == 404
    res = post_webhook(f"http://127.0.0.1:{free_port()}/", {"x": 1}, backoff=0.01, timeout=2)
    assert res.ok is False and res.attempts == 4 and "ConnectError" in res.error
    res = post_webhook("ftp://example.org/x", {"x": 1})
    assert res.ok is False and res.attempts == 0 and "http" in res.error
