"""Shared state and the authentication dependencies of the API and the pages."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from fastapi import HTTPException, Request

from trialmatch.store import TrialStore
from trialmatch.web import auth_store
from trialmatch.web.auth_store import User
from trialmatch.web.security import CSRF_HEADER, DEFAULT_MAX_BODY, csrf_ok
from trialmatch.web.services import Caches


@dataclass
class Settings:
    """Server settings. ``secret`` defaults to ``$TRIALMATCH_SECRET``, else a secret generated
    once and kept in the database; ``TRIALMATCH_MATCH_CACHE=0`` turns off the rankings kept per
    patient version (every match request then runs the matcher over all trials)."""

    secret: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    session_max_age_s: int = 8 * 3600
    https_only_cookies: bool = False
    docs: bool = True
    #: keep a ranking per patient version (and identical answers); off: match every time
    match_cache: bool = True
    #: at start, load the trials for matching and work out their plans in the background (and
    #: freeze them out of the garbage collector's full passes): for a serving process
    preload: bool = False

    def __post_init__(self) -> None:
        if self.secret is None:
            self.secret = os.environ.get("TRIALMATCH_SECRET") or None
        if os.environ.get("TRIALMATCH_MATCH_CACHE", "").strip().lower() in ("0", "false", "no", "off"):
            self.match_cache = False


@dataclass
class AppState:
    store: TrialStore
    settings: Settings
    caches: Caches = field(default_factory=Caches)


async def app_state(request: Request) -> AppState:
    return request.app.state.tm


# The dependencies are ``async``: each does at most one small indexed query, cheaper than the
# thread-pool hop a sync dependency costs on every request.


class LoginRequired(Exception):
    """A page needs a signed-in user: answered by a redirect to the sign-in page."""

    def __init__(self, next_url: str = "/") -> None:
        self.next_url = next_url


def _bearer(request: Request) -> str | None:
    h = request.headers.get("authorization")
    if not h:
        return None
    scheme, _, value = h.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _session_user(request: Request) -> User | None:
    uid = request.session.get("uid") if "session" in request.scope else None
    if not isinstance(uid, int):
        return None
    return auth_store.get_user(request.app.state.tm.store, user_id=uid)


async def api_user(request: Request) -> User:
    """The caller of an API endpoint: a bearer token, or a signed-in session (with the CSRF
    header on writes). 401 otherwise."""
    state: AppState = request.app.state.tm
    token = _bearer(request)
    if token is not None:
        user = auth_store.user_for_token(state.store, token)
        if user is None:
            raise HTTPException(401, "the API token is not valid", headers={"WWW-Authenticate": "Bearer"})
        return user
    user = _session_user(request)
    if user is None:
        raise HTTPException(401, "sign in or send an API token (Authorization: Bearer ...)",
                            headers={"WWW-Authenticate": "Bearer"})
    if request.method not in ("GET", "HEAD", "OPTIONS") and not csrf_ok(
            request.session, request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, "a request signed in by cookie needs the X-CSRF-Token header")
    return user


async def page_user(request: Request) -> User:
    """The signed-in user of a page, or a redirect to the sign-in page."""
    user = _session_user(request)
    if user is None:
        nxt = request.url.path
        raise LoginRequired(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")
    return user
