"""The application factory: one process serving the pages and the REST API on the embedded store."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from trialmatch.store import TrialStore
from trialmatch.web import auth_store, render, services
from trialmatch.web.deps import AppState, LoginRequired, Settings
from trialmatch.web.security import BodyLimitMiddleware, SecureHeadersMiddleware, install_log_filter
from trialmatch.web.services import InputError, Unavailable

log = logging.getLogger("trialmatch.web")


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "text/html")


def create_app(store: TrialStore | None = None, *, db: str | None = None, settings: Settings | None = None) -> FastAPI:
    """Build the web application.

    Parameters
    ----------
    store : TrialStore, optional
        The store to serve; opened from ``db`` (or ``$TRIALMATCH_DB`` / ``./trialmatch.db``) if None.
    db : str, optional
        A SQLite path or SQLAlchemy URL, used when ``store`` is None.
    settings : Settings, optional
        Secret, body limit, session lifetime, cookie flags.

    Returns
    -------
    FastAPI
        Pages at ``/``, the REST API under ``/api/v1``, its OpenAPI document at ``/openapi.json``
        (interactive docs at ``/docs`` and ``/redoc``, served offline), and the FHIR face under
        ``/api/fhir``.
    """
    from trialmatch.web import api, fhir_api, pages

    store = store or TrialStore(db)
    settings = settings or Settings()
    auth_store.ensure_tables(store)
    secret = settings.secret or auth_store.server_secret(store)
    install_log_filter()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.preload:  # trials loaded and prepared in the background; requests wait for them
            services.preload_in_background(store, app.state.tm.caches)
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="trialmatch",
        version="1",
        description="Clinical trial matching for oncology: trials, patients and explained matches. "
                    "Every endpoint needs an API token (Authorization: Bearer) or a signed-in session.",
        docs_url=None,  # served below from the package's own assets (no CDN)
        redoc_url=None,
    )
    app.state.tm = AppState(store=store, settings=settings)

    app.add_middleware(SessionMiddleware, secret_key=secret, session_cookie="tm_session",
                       max_age=settings.session_max_age_s, same_site="strict",
                       https_only=settings.https_only_cookies)
    app.add_middleware(BodyLimitMiddleware, max_body=settings.max_body_bytes)
    app.add_middleware(SecureHeadersMiddleware)

    static_dir = str(resources.files("trialmatch.web").joinpath("static"))
    app.mount("/static", StaticFiles(directory=static_dir), name="static")
    if settings.docs:
        install_offline_docs(app)
    app.include_router(api.router)
    app.include_router(fhir_api.router)
    app.include_router(pages.router)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired):
        return RedirectResponse(f"/login?next={exc.next_url}", status_code=303)

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError):
        if _wants_html(request):
            return HTMLResponse(render.render(request, "error.html", status=exc.status_code,
                                              message=exc.message), status_code=exc.status_code)
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable):
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        if _wants_html(request) and exc.status_code != 401:
            return HTMLResponse(render.render(request, "error.html", status=exc.status_code,
                                              message=exc.detail), status_code=exc.status_code,
                                headers=exc.headers)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors()[:5]:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {e.get('msg')}")
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # the exception's message may hold patient data: log the type and the route only
        log.error("unexpected %s on %s %s", exc.__class__.__name__, request.method, request.url.path)
        return JSONResponse({"detail": "internal error; the request was not completed"}, status_code=500)

    return app


DOCS_ASSETS = "/static-docs"


def install_offline_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` and ReDoc at ``/redoc``, their scripts and styles served by the app
    itself from the assets the ``fastapi-offline`` package ships (no request leaves the machine:
    an offline hospital network sees the same pages)."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html

    import fastapi_offline

    assets = resources.files(fastapi_offline).joinpath("static")
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="static-docs")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI",
                                   oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
                                   swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png")

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png", with_google_fonts=False)


def create_app_from_env() -> FastAPI:
    """App factory for ``uvicorn --factory`` and ``trialmatch serve --workers N``: the store from
    ``$TRIALMATCH_DB`` (each worker process opens its own; the session secret is shared through
    the database or ``$TRIALMATCH_SECRET``)."""
    return create_app(db=None, settings=Settings(preload=True))
