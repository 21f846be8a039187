"""Users, API tokens and the server secret, kept in the store's own database.

The tables are added to :data:`trialmatch.store.schema.metadata`, so ``TrialStore`` (or
:func:`ensure_tables`) creates them with the rest of the schema. Passwords are hashed with
argon2 (argon2-cffi); API tokens are random and only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table, Text, bindparam, select

from trialmatch.store import TrialStore
from trialmatch.store.schema import metadata

users = Table(
    "web_users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text),
    Column("workspace", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_tokens = Table(
    "web_api_tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
)

web_meta = Table(
    "web_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

_hasher = PasswordHasher()
TOKEN_PREFIX = "tm_"
_NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class AuthError(ValueError):
    """A user or token operation that cannot be done (message says why)."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    workspace: str


def ensure_tables(store: TrialStore) -> None:
    """Create the web tables in the store's database (idempotent)."""
    metadata.create_all(store.engine, tables=[users, api_tokens, web_meta])


def _now() -> datetime:
    return datetime.now(timezone.utc)


def create_user(store: TrialStore, username: str, password: str, workspace: str) -> User:
    """Add a user to a workspace, the password hashed with argon2.

    Raises
    ------
    AuthError
        Bad user or workspace name, too short a password, or the user exists.
    """
    ensure_tables(store)
    if not _NAME_RE.match(username or ""):
        raise AuthError("user names are 1-64 letters, digits or . _ @ -")
    if not _NAME_RE.match(workspace or ""):
        raise AuthError("workspace names are 1-64 letters, digits or . _ @ -")
    if len(password or "") < 8:
        raise AuthError("the password must have at least 8 characters")
    with store.engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.username == username)).first():
            raise AuthError(f"user {username!r} exists already")
        uid = conn.execute(users.insert().values(
            username=username, password_hash=_hasher.hash(password), workspace=workspace,
            created_at=_now())).inserted_primary_key[0]
    return User(int(uid), username, workspace)


def get_user(store: TrialStore, username: str | None = None, user_id: int | None = None) -> User | None:
    """A user by name or id, or None."""
    q = select(users.c.id, users.c.username, users.c.workspace)
    q = q.where(users.c.username == username) if username is not None else q.where(users.c.id == user_id)
    with store.engine.connect() as conn:
        row = conn.execute(q).first()
    return User(int(row[0]), row[1], row[2]) if row else None


def authenticate(store: TrialStore, username: str, password: str) -> User | None:
    """The user if the password is right, else None (constant work either way)."""
    with store.engine.connect() as conn:
        row = conn.execute(select(users.c.id, users.c.username, users.c.workspace, users.c.password_hash)
                           .where(users.c.username == username)).first()
    if row is None:
        try:  # spend the same time as a real check, so user names cannot be probed by timing
            _hasher.verify(_DUMMY_HASH, password or "")
        except (VerificationError, InvalidHashError):
            pass
        return None
    try:
        _hasher.verify(row[3], password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return User(int(row[0]), row[1], row[2])


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(store: TrialStore, username: str, name: str = "default") -> str:
    """Create an API token for a user; returns the token (shown once, only its hash is kept)."""
    user = get_user(store, username=username)
    if user is None:
        raise AuthError(f"no user {username!r}")
    if not _NAME_RE.match(name or ""):
        raise AuthError("token names are 1-64 letters, digits or . _ @ -")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.engine.begin() as conn:
        conn.execute(api_tokens.insert().values(user_id=user.id, name=name, token_sha256=hash_token(token),
                                                created_at=_now()))
    return token


#: the user of a token digest (built once: it runs on every API request)
_TOKEN_USER_QUERY = (select(users.c.id, users.c.username, users.c.workspace)
                     .join(api_tokens, api_tokens.c.user_id == users.c.id)
                     .where(api_tokens.c.token_sha256 == bindparam("digest")))


def user_for_token(store: TrialStore, token: str) -> User | None:
    """The user a bearer token belongs to, or None."""
    if not token or len(token) > 200:
        return None
    digest = hash_token(token)
    with store.engine.connect() as conn:
        row = conn.execute(_TOKEN_USER_QUERY, {"digest": digest}).first()
    if row is None or not secrets.compare_digest(digest, hash_token(token)):
        return None
    return User(int(row[0]), row[1], row[2])


def revoke_tokens(store: TrialStore, username: str, name: str | None = None) -> int:
    """Delete a user's tokens (all, or those with ``name``); returns how many."""
    user = get_user(store, username=username)
    if user is None:
        return 0
    q = api_tokens.delete().where(api_tokens.c.user_id == user.id)
    if name:
        q = q.where(api_tokens.c.name == name)
    with store.engine.begin() as conn:
        return conn.execute(q).rowcount or 0


def server_secret(store: TrialStore) -> str:
    """The session-signing secret stored in the database (generated on first use)."""
    ensure_tables(store)
    with store.engine.begin() as conn:
        row = conn.execute(select(web_meta.c.value).where(web_meta.c.key == "session_secret")).first()
        if row:
            return row[0]
        secret = secrets.token_urlsafe(48)
        conn.execute(web_meta.insert().values(key="session_secret", value=secret))
        return secret


_DUMMY_HASH = _hasher.hash("not-a-real-password")
