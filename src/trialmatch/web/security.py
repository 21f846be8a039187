"""Security plumbing: body size limit, secure headers, CSRF tokens, and a log filter that
keeps patient data out of the logs."""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY = 2 * 1024 * 1024

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
# the API docs pages (Swagger UI, ReDoc) load their assets from the app itself but start with an
# inline script, and ReDoc runs a worker from a blob: so /docs and /redoc get a policy of their own,
# still limited to this origin
DOCS_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'; "
            "font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


class BodyLimitMiddleware:
    """Answer 413 when a request body is larger than ``max_body`` bytes (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_error(send, 400, "the Content-Length header is not a number")
                    return
                if declared > self.max_body:
                    await _send_error(send, 413, self._message())
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _send_error(send, 413, self._message())

    def _message(self) -> str:
        return f"the request body is larger than the limit of {self.max_body // 1024} KiB"


class _TooLarge(Exception):
    pass


async def _send_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        *[(k.encode(), v.encode()) for k, v in base_headers("/").items()]]})
    await send({"type": "http.response.body", "body": body})


def base_headers(path: str) -> dict[str, str]:
    """Headers every answer carries."""
    h = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        "Content-Security-Policy": DOCS_CSP if path.startswith(("/docs", "/redoc")) else CSP,
    }
    if not path.startswith("/static/"):
        # pages and API answers may hold health data: never cache them anywhere
        h["Cache-Control"] = "no-store"
        h["Pragma"] = "no-cache"
    return h


class SecureHeadersMiddleware:
    """Add the secure headers to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in base_headers(scope.get("path", "/")).items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in extra if k not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --------------------------------------------------------------------------- CSRF
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def csrf_token(session: dict) -> str:
    """This session's CSRF token (created on first use)."""
    tok = session.get("csrf")
    if not tok:
        tok = secrets.token_urlsafe(32)
        session["csrf"] = tok
    return tok


def csrf_ok(session: dict, submitted: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and submitted and hmac.compare_digest(str(expected), str(submitted)))


# --------------------------------------------------------------------------- logging
class PatientDataFilter(logging.Filter):
    """Drop request/response bodies from log records and redact what looks like patient data.

    Installed on the trialmatch, uvicorn and fastapi loggers by :func:`install_log_filter`.
    The app itself never logs bodies or patient fields; this filter is a second line: it
    strips query strings from access-log lines (search terms can hold a name) and removes any
    record argument that is bytes (a body).
    """

    _query = re.compile(r"\?[^\s\"']*")

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            cleaned = []
            for a in args:
                if isinstance(a, (bytes, bytearray)):
                    cleaned.append("<body withheld>")
                elif isinstance(a, str):
                    cleaned.append(self._query.sub("?<query withheld>", a))
                else:
                    cleaned.append(a)
            record.args = tuple(cleaned) if isinstance(record.args, tuple) else cleaned[0]
        if isinstance(record.msg, str):
            record.msg = self._query.sub("?<query withheld>", record.msg)
        return True


_FILTER = PatientDataFilter()


def install_log_filter() -> None:
    for name in ("trialmatch", "uvicorn", "uvicorn.access", "uvicorn.error", "fastapi"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
