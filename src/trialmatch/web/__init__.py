"""The web app and REST API (FastAPI, Jinja2 pages) on the embedded store.

Public API: :func:`create_app`, :class:`Settings`; users and tokens in :mod:`trialmatch.web.auth_store`.
"""

from trialmatch.web.app import create_app
from trialmatch.web.deps import Settings

__all__ = ["create_app", "Settings"]
