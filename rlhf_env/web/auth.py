"""Who is asking: tokens from a login link (cookie) or an ``Authorization: Bearer`` header.

Every route but the login page and static files needs a live token. Annotators answer;
admins also push queries, pull answers and see the dashboard. A cookie-authenticated write
must carry the ``X-Requested-With: rlhf-env`` header that the app's own JavaScript sends:
another site cannot set it without the browser's permission, so a page elsewhere cannot
answer in an annotator's name (the cookie is also ``SameSite=Strict`` and ``HttpOnly``).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request

from rlhf_env.feedback.store import FeedbackStore

COOKIE = "rlhf_env_token"
CSRF_HEADER = "x-requested-with"
CSRF_VALUE = "rlhf-env"
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class User:
    """The owner of the token a request carried."""

    annotator: str
    role: str
    via_cookie: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _token(request: Request) -> tuple[str | None, bool]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    return request.cookies.get(COOKIE), True


def current_user(request: Request) -> User:
    """The request's user; 401 without a live token, 403 for a cookie write without the
    app's header."""
    store: FeedbackStore = request.app.state.web.store
    token, via_cookie = _token(request)
    owner = store.token_owner(token) if token else None
    if owner is None:
        raise HTTPException(401, "log in with your link (…/login?token=…) or send "
                                 "'Authorization: Bearer TOKEN'; ask the researcher for one.")
    if via_cookie and request.method not in _SAFE_METHODS \
            and request.headers.get(CSRF_HEADER) != CSRF_VALUE:
        raise HTTPException(403, f"a write with a login cookie needs the header "
                                 f"'X-Requested-With: {CSRF_VALUE}'.")
    return User(owner[0], owner[1], via_cookie)


def admin_user(request: Request) -> User:
    """The request's user when it is an admin (403 for an annotator)."""
    user = current_user(request)
    if not user.is_admin:
        raise HTTPException(403, "this needs an admin token (`rlhf-env annotators admin`).")
    return user


def annotator_user(request: Request) -> User:
    """The request's user when it is an annotator (403 for an admin: admins do not label,
    so the dashboard's numbers stay the annotators' own)."""
    user = current_user(request)
    if user.is_admin:
        raise HTTPException(403, "admin tokens do not label; log in with an annotator link.")
    return user


__all__ = ["COOKIE", "CSRF_HEADER", "CSRF_VALUE", "User", "admin_user", "annotator_user",
           "current_user"]
