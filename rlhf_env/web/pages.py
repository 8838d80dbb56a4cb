"""HTML routes: the login link, the labeling page and its item fragments, the dashboard.

Pages are rendered on the server by Jinja2 with autoescaping on, so every prompt and
response (untrusted: a model can write ``<script>``) reaches the browser as text. The
labeling page fetches each item as an HTML fragment (``/label/next``) and keeps the next
one prefetched; ``static/label.js`` only moves fragments and reads keys.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rlhf_env.feedback.control_items import ControlItem
from rlhf_env.feedback.store import Lease, QueueItem
from rlhf_env.web.api import item_out, parse_ids, state
from rlhf_env.web.auth import COOKIE, User, current_user
from rlhf_env.web.dashboard import build_dashboard

router = APIRouter(include_in_schema=False)

KEYS = {
    "comparison": [("1 or ←", "left is better"), ("2 or →", "right is better"),
                   ("T", "tie"), ("B", "both bad"), ("Enter", "submit")],
    "ranking": [("↑ ↓", "select a response"), ("Shift+↑ ↓", "move it up or down"),
                ("drag", "move with the mouse"), ("Enter", "submit")],
    "rating": [("digits", "pick a score"), ("Enter", "submit")],
    "correction": [("type", "edit the response (the diff updates)"),
                   ("Ctrl+Enter", "submit"), ("Esc", "leave the text box")],
    "demonstration": [("type", "write the response"), ("Ctrl+Enter", "submit"),
                      ("Esc", "leave the text box")],
    "control correction": [("[ ]", "step back or forward"),
                           ("1–9", "add that action (or click its button)"),
                           ("Backspace", "remove the last action"), ("Enter", "submit")],
    "every item": [("S", "skip"), ("Z", "undo the last answer"), ("P", "play/pause clips"),
                   ("?", "show or hide these keys")],
}


def render_markdown(text: str) -> str:
    """Markdown to HTML with raw HTML disabled (it is escaped) and unsafe link schemes
    (``javascript:``…) dropped: researchers' instructions can never run scripts."""
    from markdown_it import MarkdownIt

    return str(MarkdownIt("commonmark", {"html": False}).render(text))


@lru_cache(maxsize=128)
def _instructions_file(path: str, mtime: float) -> str:
    return render_markdown(Path(path).read_text(encoding="utf-8"))


def instructions(folder: Path | None, task: str) -> str:
    """The rendered ``<task>.md`` (or ``default.md``) from ``folder``; "" if none."""
    if folder is None:
        return ""
    for name in (f"{task}.md", "default.md"):
        path = folder / name
        if path.resolve().parent == folder.resolve() and path.is_file():
            return _instructions_file(str(path), path.stat().st_mtime)
    return ""


def _page_user(request: Request, role: str) -> User | Response:
    try:
        user = current_user(request)
    except HTTPException as exc:
        return _login_page(request, str(exc.detail), exc.status_code)
    if user.role != role:
        return _login_page(request, f"this page is for {role}s; you are logged in as "
                                    f"{user.annotator!r} ({user.role}).", 403)
    return user


def _login_page(request: Request, message: str, status: int) -> Response:
    return state(request).templates.TemplateResponse(
        request, "login.html", {"message": message}, status_code=status)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    try:
        user = current_user(request)
    except HTTPException:
        return _login_page(request, "Open the login link you were given.", 200)
    return RedirectResponse("/admin" if user.is_admin else "/label", status_code=303)


@router.get("/login")
def login(request: Request, token: str = "") -> Response:
    owner = state(request).store.token_owner(token)
    if owner is None:
        return _login_page(request, "This login link is not valid (mistyped, or revoked). "
                                    "Ask the researcher for a new one.", 401)
    resp = RedirectResponse("/admin" if owner[1] == "admin" else "/label", status_code=303)
    resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=30 * 86400)
    return resp


@router.get("/logout")
def logout(request: Request) -> Response:
    resp = RedirectResponse("/", status_code=303)
    resp.delete_cookie(COOKIE)
    return resp


@router.get("/label", response_class=HTMLResponse)
def label_page(request: Request) -> Response:
    user = _page_user(request, "annotator")
    if not isinstance(user, User):
        return user
    return state(request).templates.TemplateResponse(
        request, "label.html", {"user": user, "keys": KEYS})


def control_view(item: QueueItem) -> dict[str, Any] | None:
    """What the page shows of a control correction item: its steps, the action buttons or
    number bounds, and the agent's action at every step (by name)."""
    if item.kind != "control_correction":
        return None
    info = ControlItem.from_metadata(item.metadata)
    return {"info": info, "did": [info.space.name(a) for a in info.actions],
            "bounds": list(zip(info.space.low, info.space.high, strict=True))}


def _fragment_context(request: Request, lease: Lease) -> dict[str, Any]:
    st = state(request)
    out = item_out(st, lease)
    lo, hi = out.scale or (0.0, 0.0)
    ticks = [int(lo) + i for i in range(int(hi - lo) + 1)] if (
        out.kind == "rating" and lo.is_integer() and hi.is_integer() and hi - lo <= 10) else []
    return {"item": out, "ticks": ticks, "control": control_view(lease.item),
            "instructions": instructions(st.config.instructions_dir, out.task),
            "positions": list(zip(range(len(out.responses)), out.responses, out.clips,
                                  out.shown_order, strict=True))}


@router.get("/label/next", response_class=HTMLResponse)
def label_next(request: Request, exclude: str = "", prefer: int | None = None) -> Response:
    user = _page_user(request, "annotator")
    if not isinstance(user, User):
        return user
    st = state(request)
    lease = st.claim(user.annotator, parse_ids(exclude), prefer)
    if lease is None:
        return st.templates.TemplateResponse(request, "done.html", {
            "answered": st.store.count(annotator=user.annotator)})
    return st.templates.TemplateResponse(request, "item.html",
                                         _fragment_context(request, lease))


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request) -> Response:
    user = _page_user(request, "admin")
    if not isinstance(user, User):
        return user
    st = state(request)
    return st.templates.TemplateResponse(request, "admin.html", {
        "user": user, "d": build_dashboard(st.store, st.config),
        "leases": st.store.leases()})


@router.get("/api/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> Response:
    """The API reference, rendered here from the OpenAPI schema (no CDN assets)."""
    return state(request).templates.TemplateResponse(
        request, "apidocs.html", {"spec": request.app.openapi(), "user": None})


__all__ = ["KEYS", "instructions", "render_markdown", "router"]
