"""Security of the web app: sign-in, sessions, CSRF, secure headers, body limit, logs without
patient data, passwords and tokens stored only as hashes."""

from __future__ import annotations

import logging
import re

from conftest import PASSWORD_A, auth, seed004_patient
from sqlalchemy import select

from trialmatch.web import auth_store


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "the page has a CSRF field"
    return m.group(1)


def login(client, user="alice", password=PASSWORD_A):
    tok = _csrf(client.get("/login").text)
    return client.post("/login", data={"username": user, "password": password, "csrf_token": tok},
                       follow_redirects=False)


def test_pages_need_sign_in(web):
    _, client, _ = web
    for path in ["/", "/patients/new", "/patients/p004/results", "/trials", "/trials/NCT04199520",
                 "/changes", "/patients/p004/checklist"]:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path


def test_sign_in_wrong_password_and_open_redirect(web):
    _, client, _ = web
    r = login(client, password="wrong-password")
    assert r.status_code == 401 and "Wrong user name or password" in r.text
    r = login(client, user="nobody")
    assert r.status_code == 401
    tok = _csrf(client.get("/login").text)
    r = client.post("/login", data={"username": "alice", "password": PASSWORD_A, "csrf_token": tok,
                                    "next": "//evil.example/"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_forms_need_csrf_token(web):
    _, client, _ = web
    client.get("/login")
    r = client.post("/login", data={"username": "alice", "password": PASSWORD_A}, follow_redirects=False)
    assert r.status_code == 403
    r = client.post("/login", data={"username": "alice", "password": PASSWORD_A, "csrf_token": "forged"},
                    follow_redirects=False)
    assert r.status_code == 403
    assert login(client).status_code == 303
    r = client.post("/patients/new", data={"mode": "form", "age": "60", "csrf_token": "forged"},
                    follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/api/v1/patients").json() == {"items": []}
    # the session is rotated at sign-in: the pre-login token no longer works
    assert client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False).status_code == 403


def test_sign_out(web):
    _, client, _ = web
    login(client)
    tok = _csrf(client.get("/").text)
    r = client.post("/logout", data={"csrf_token": tok}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_secure_headers(web):
    _, client, tokens = web
    client.post("/api/v1/patients", json=seed004_patient(), headers=auth(tokens["A"]))
    for r in [client.get("/login"), client.get("/api/v1/patients/p004", headers=auth(tokens["A"])),
              client.get("/api/v1/trials")]:
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
    login(client)
    r = client.get("/patients/p004/results")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    cookie = r.request.headers.get("cookie", "") or ""
    assert "tm_session" in cookie
    css = client.get("/static/app.css")
    assert css.status_code == 200 and css.headers["x-content-type-options"] == "nosniff"


def test_session_cookie_flags(web):
    _, client, _ = web
    r = login(client)
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie


def test_body_limit_on_streamed_body(web):
    _, client, tokens = web

    def chunks():
        for _ in range(40):
            yield b"x" * 10_000

    r = client.post("/api/v1/trials", content=chunks(), headers={**auth(tokens["A"]), "Content-Type": "text/plain"})
    assert r.status_code == 413


def test_only_hashes_are_stored(web):
    app, _, tokens = web
    store = app.state.tm.store
    with store.engine.connect() as conn:
        users = conn.execute(select(auth_store.users.c.password_hash)).scalars().all()
        hashes = conn.execute(select(auth_store.api_tokens.c.token_sha256)).scalars().all()
    assert users and all(h.startswith("$argon2") and PASSWORD_A not in h for h in users)
    assert tokens["A"] not in hashes and auth_store.hash_token(tokens["A"]) in hashes


def test_patient_data_never_in_logs(web, caplog):
    _, client, tokens = web
    secret_name = "Zenobia Quillfeather"
    secret_note = "lives at 17 Larkspur Lane and prefers morning visits"
    caplog.set_level(logging.DEBUG)
    # httpx logs the *test client's* own requests (the caller's side, not the server's): leave it out
    logging.getLogger("httpx").setLevel(logging.WARNING)
    h = auth(tokens["A"])
    patient = seed004_patient("log-test", name=secret_name)
    r = client.post("/api/v1/patients", json=patient, headers=h)
    assert r.status_code == 201
    # a bad record holding the name, a free-text note holding the note, a failing match and a page
    bad = {**seed004_patient("bad-1", name=secret_name), "age_years": 999}
    assert client.post("/api/v1/patients", json=bad, headers=h).status_code == 422
    client.post("/api/v1/patients", params={"id": "note-1"}, content=f"{secret_name}. {secret_note}. ER 90%.".encode(),
                headers={**h, "Content-Type": "text/plain"})
    client.post("/api/v1/patients/log-test/match", json={}, headers=h)
    client.get(f"/api/v1/trials?q={secret_name.replace(' ', '+')}", headers=h)
    login(client)
    client.get("/patients/log-test/results")
    tok = _csrf(client.get("/patients/new").text)
    client.post("/patients/new", data={"mode": "summary", "summary": f"{secret_name} {secret_note}",
                                        "csrf_token": tok})
    client.post("/patients/new", data={"mode": "form", "label": secret_name, "age": "abc", "csrf_token": tok})
    records = [r for r in caplog.records if not r.name.startswith("httpx")]
    text = "\n".join(r.getMessage() + str(r.args) + str(r.msg) for r in records)
    assert records, "something was logged (else this test proves nothing)"
    for needle in (secret_name, "Zenobia", "Larkspur", secret_note):
        assert needle not in text


def test_log_filter_redacts_bodies_and_queries():
    from trialmatch.web.security import PatientDataFilter

    rec = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                            ("127.0.0.1:5", "GET", "/api/v1/trials?q=Jane+Doe", "1.1", 200), None)
    PatientDataFilter().filter(rec)
    assert "Jane" not in rec.getMessage()
    rec = logging.LogRecord("trialmatch", logging.INFO, __file__, 1, "body %s", (b"secret body",), None)
    PatientDataFilter().filter(rec)
    assert "secret" not in rec.getMessage()


def test_session_secret_kept_in_db_or_taken_from_env(seed_store, monkeypatch):
    from fastapi.testclient import TestClient

    from trialmatch.web import Settings, create_app

    monkeypatch.delenv("TRIALMATCH_SECRET", raising=False)
    first = auth_store.server_secret(seed_store)
    assert len(first) >= 40 and auth_store.server_secret(seed_store) == first  # generated once, then kept
    # a session signed by one server process is honoured by the next one on the same store
    with TestClient(create_app(seed_store)) as c1:
        assert login(c1).status_code == 303
        cookie = c1.cookies.get("tm_session")
    with TestClient(create_app(seed_store)) as c2:
        c2.cookies.set("tm_session", cookie)
        assert c2.get("/", follow_redirects=False).status_code == 200
    monkeypatch.setenv("TRIALMATCH_SECRET", "from-the-environment-" + "s" * 20)
    assert Settings().secret.startswith("from-the-environment-")
    with TestClient(create_app(seed_store)) as c3:  # signed with another secret: not accepted
        c3.cookies.set("tm_session", cookie)
        assert c3.get("/", follow_redirects=False).status_code == 303
