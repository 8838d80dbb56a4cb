"""The FastAPI app behind ``rlhf-env serve``: pages for people, JSON for programs.

:func:`create_app` wires the pieces; the routes live in :mod:`~rlhf_env.web.pages` (HTML)
and :mod:`~rlhf_env.web.api` (JSON, documented at ``/api/docs``). Every item handed out
goes through :meth:`FeedbackStore.claim <rlhf_env.feedback.store.FeedbackStore.claim>`, the
same assignment the terminal labeler uses.

Errors answer with JSON ``{"detail": "…"}``: 400 for a malformed answer, 401 without a
token, 403 for the wrong role, 409 when the queue changed under the request (already
answered, no room left), 413 for a body over the limit, 422 for a body that does not
match the schema. A rejected request changes nothing in the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlhf_env.errors import FeedbackError, MissingDependencyError, QueueConflictError
from rlhf_env.feedback.store import FeedbackStore, Lease
from rlhf_env.web.config import ServeConfig

try:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from fastapi.staticfiles import StaticFiles
    from fastapi.templating import Jinja2Templates
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise MissingDependencyError("fastapi", "the labeling web app",
                                 "pip install 'rlhf-env[web]'") from exc

HERE = Path(__file__).parent


@dataclass
class WebState:
    """What every route needs: the store, the settings and the templates."""

    store: FeedbackStore
    config: ServeConfig
    templates: Jinja2Templates
    clip_root: Path

    def claim(self, annotator: str, exclude: list[int], prefer: int | None = None
              ) -> Lease | None:
        """The next item for ``annotator`` (see :meth:`FeedbackStore.claim`)."""
        c = self.config
        return self.store.claim(annotator, session="web", lease_s=c.lease_s,
                                max_leases=c.max_leases, exclude=exclude, shuffle=c.shuffle,
                                prefer=prefer)


class BodyLimit:
    """ASGI middleware: bodies over the limit get 413 before any route sees them."""

    def __init__(self, app: Any, limit: int, clip_limit: int) -> None:
        self.app, self.limit, self.clip_limit = app, limit, clip_limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.clip_limit if scope["path"].startswith("/api/clips/") else self.limit
        length = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > limit:
            await _send_json(send, 413, f"the request body is over the {limit}-byte limit.")
            return
        if b"content-length" in dict(scope.get("headers") or []) or scope["method"] in (
                "GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)  # the server stops at the declared length
            return
        chunks, seen, more = [], 0, True
        while more:  # no declared length: read it here, up to the limit
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            more = message.get("more_body", False)
            if seen > limit:
                await _send_json(send, 413, f"the request body is over the {limit}-byte limit.")
                return
        body = b"".join(chunks)

        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:  # later calls wait for the disconnect, as the server's would
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _send_json(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _error_handlers(app: FastAPI) -> None:
    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes each bad input back: a NaN in the body then made the
        # error response itself fail (500), and a huge input came back whole. Say where and
        # what, not the input.
        detail = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors()][:20]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(QueueConflictError)
    async def conflict(request: Request, exc: QueueConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(FeedbackError)
    async def bad(request: Request, exc: FeedbackError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)


def _open_store(store: FeedbackStore | str | Path) -> FeedbackStore:
    if isinstance(store, FeedbackStore):
        return store
    return FeedbackStore(store, require_known_annotators=False)


def create_app(store: FeedbackStore | str | Path, config: ServeConfig | None = None
               ) -> FastAPI:
    """The app over ``store`` (a FeedbackStore or the path of its file)."""
    from rlhf_env.web import api, pages

    config = config or ServeConfig()
    fs = _open_store(store)
    default_clips = Path(fs.path).parent / "clips" if fs.path != ":memory:" else Path.cwd()
    app = FastAPI(
        title="rlhf-env labeling API",
        description="Push queries to people and pull their answers. Send "
                    "`Authorization: Bearer TOKEN` (admin tokens for /api/queue, "
                    "/api/answers, /api/stats; annotator tokens for /api/next, "
                    "/api/answer, /api/skip, /api/undo).",
        version="1",
        docs_url=None,  # the stock page loads its assets from a CDN; pages.api_docs instead
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.web = WebState(fs, config, Jinja2Templates(directory=str(HERE / "templates")),
                             (config.clip_dir or default_clips).resolve())
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)
    _error_handlers(app)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes,
                       clip_limit=config.max_clip_bytes)
    return app


__all__ = ["BodyLimit", "WebState", "create_app"]
