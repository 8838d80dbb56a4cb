"""JSON routes (documented at ``/api/docs``, schema at ``/api/openapi.json``).

Annotators: ``GET /api/next``, ``POST /api/answer``, ``POST /api/skip``, ``POST /api/undo``,
``GET /api/me``. Admins (training code, researchers): ``POST /api/queue`` (push queries),
``GET /api/queue`` (counts), ``GET /api/queue/items``, ``GET /api/answers`` (pull answers
after a cursor), ``PUT /api/clips/{name}`` (upload a clip), ``GET /api/stats`` (the
dashboard's numbers). Anyone logged in: the clip files and frames of a queue item.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.store import Lease, QueueItem, screen_order
from rlhf_env.files import write_bytes
from rlhf_env.web.answers import control_fields, to_record
from rlhf_env.web.app import WebState
from rlhf_env.web.auth import User, admin_user, annotator_user, current_user
from rlhf_env.web.clips import CLIP_NAME, clip_path, gif_sprite, is_clip
from rlhf_env.web.dashboard import build_dashboard

router = APIRouter(prefix="/api")
Annotator = Annotated[User, Depends(annotator_user)]
Admin = Annotated[User, Depends(admin_user)]
Anyone = Annotated[User, Depends(current_user)]


def state(request: Request) -> WebState:
    web: WebState = request.app.state.web
    return web


# -- schemas ----------------------------------------------------------------------------------
SQL_INT_MAX = 2**63 - 1
"""Largest integer SQLite stores; a larger id is refused with 422 (it was a 500)."""
ItemId = Annotated[int, Field(strict=True, ge=1, le=SQL_INT_MAX)]
"""An item id: ``true`` and ``"1"`` are not item 1."""
Number = Annotated[float, Field(strict=True)]
"""A JSON number (an int is fine; ``"3"`` and ``true`` are not)."""
Position = Annotated[int, Field(strict=True, ge=0, le=1000)]
Cursor = Annotated[int, Query(ge=0, le=SQL_INT_MAX)]


class _Strict(BaseModel):
    # no NaN/inf in any float field (Python's JSON parser accepts them, the store does not)
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ItemOut(_Strict):
    """An item leased to the caller, responses in the order to show them."""

    item_id: int
    kind: str
    task: str
    prompt: str
    responses: list[str] = Field(description="in screen order (left to right, top down)")
    shown_order: list[int] = Field(description="shown_order[position] = queued index")
    clips: list[bool] = Field(description="whether each shown response is a clip file")
    scale: tuple[float, float] | None
    expires_at: float
    remaining: int = Field(description="items still pending for the caller")
    control: dict[str, Any] | None = Field(
        default=None, description="control_correction only: env_id, seed, actions, horizon, "
                                  "action_space, max_actions, first_step, last_step")


class NextOut(_Strict):
    item: ItemOut | None


class AnswerIn(_Strict):
    """An answer in screen terms: ``choice`` (comparison), ``groups`` of shown positions
    best first (ranking), ``score`` (rating), ``text`` (correction, demonstration), or
    ``step`` and ``actions`` (control_correction: the first step changed and the actions
    from there, as indices or names, or numbers for a box)."""

    item_id: ItemId
    choice: Literal["left", "right", "tie", "both_bad"] | None = None
    groups: list[list[Position]] | None = Field(default=None, max_length=100)
    score: Number | None = None
    text: str | None = Field(default=None, max_length=200_000)
    step: int | None = Field(default=None, strict=True, ge=0, le=10**9)
    actions: list[Any] | None = Field(default=None, max_length=1000)
    duration_s: Number = Field(ge=0, le=86_400, description="seconds spent on the item")


class AnswerOut(_Strict):
    item_id: int
    record_id: str


class ItemRef(_Strict):
    item_id: ItemId


class UndoOut(_Strict):
    item_id: int
    record_id: str | None


class Progress(_Strict):
    annotator: str
    answered: int
    remaining: int


class ItemIn(_Strict):
    """One query to push (the arguments of ``FeedbackStore.enqueue``)."""

    kind: Literal["comparison", "ranking", "rating", "correction", "demonstration",
                  "control_correction"]
    prompt: str = Field(max_length=100_000)
    responses: list[Annotated[str, Field(max_length=100_000)]] = Field(default=[],
                                                                        max_length=50)
    task: str = Field(default="default", max_length=200)
    scale: tuple[Number, Number] | None = None
    gold: Any = None
    labels_wanted: int = Field(default=1, ge=1, le=100, strict=True)
    annotator: str | None = Field(default=None, max_length=200)
    priority: Number = 0.0
    metadata: dict[str, Any] = {}


class PushIn(_Strict):
    items: list[ItemIn] = Field(min_length=1, max_length=1000)


class PushOut(_Strict):
    item_ids: list[int]


class QueueItemOut(_Strict):
    item_id: int
    kind: str
    task: str
    prompt: str
    responses: list[str]
    scale: tuple[float, float] | None
    gold: Any
    repeat_of: int | None
    annotator: str | None
    labels_wanted: int
    metadata: dict[str, Any]


class AnswerRow(_Strict):
    seq: int = Field(description="pass the last seq back as cursor")
    record: dict[str, Any]


class AnswersOut(_Strict):
    answers: list[AnswerRow]
    cursor: int = Field(description="the cursor for the next call")


# -- annotators ---------------------------------------------------------------------------------
def item_out(st: WebState, lease: Lease) -> ItemOut:
    item = lease.item
    shown = [item.responses[i] for i in lease.shown_order]
    return ItemOut(item_id=item.item_id, kind=item.kind, task=item.task, prompt=item.prompt,
                   responses=shown, shown_order=list(lease.shown_order),
                   clips=[is_clip(r) for r in shown], scale=item.scale,
                   expires_at=lease.expires_at,
                   remaining=st.store.pending_count(lease.annotator),
                   control=control_fields(item))


def parse_ids(text: str) -> list[int]:
    """``"3,5"`` → ``[3, 5]`` (400 for anything else)."""
    try:
        ids = [int(x) for x in text.split(",") if x.strip()][:100]
    except ValueError:
        ids = [-1]
    if not all(1 <= i <= SQL_INT_MAX for i in ids):
        raise HTTPException(400, f"exclude must be item ids separated by commas, got "
                                 f"{text[:50]!r}.")
    return ids


@router.get("/next", response_model=NextOut, summary="Lease the next item to the caller")
def next_item(request: Request, user: Annotator, exclude: str = "",
              prefer: Annotated[int | None, Query(ge=1, le=SQL_INT_MAX)] = None) -> NextOut:
    st = state(request)
    lease = st.claim(user.annotator, parse_ids(exclude), prefer)
    return NextOut(item=None if lease is None else item_out(st, lease))


@router.post("/answer", response_model=AnswerOut, summary="Answer an item")
def answer(request: Request, body: AnswerIn, user: Annotator) -> AnswerOut:
    st = state(request)
    item = st.store.queue_item(body.item_id)
    lease = st.store.lease(body.item_id, user.annotator)
    order = lease.shown_order if lease else _order_for(st, user.annotator, item)
    record = to_record(item, order, body.model_dump(), annotator=user.annotator,
                       max_chars=st.config.max_text_chars, duration_s=body.duration_s)
    stored = st.store.complete(body.item_id, record)
    return AnswerOut(item_id=body.item_id, record_id=stored.content_hash)


def _order_for(st: WebState, annotator: str, item: QueueItem) -> tuple[int, ...]:
    """The order the item was (or would be) shown in when the lease is gone."""
    return screen_order(annotator, item) if st.config.shuffle else tuple(
        range(len(item.responses)))


@router.post("/skip", response_model=ItemRef, summary="Skip an item (not asked again)")
def skip(request: Request, body: ItemRef, user: Annotator) -> ItemRef:
    state(request).store.skip(body.item_id, user.annotator)
    return body


@router.post("/undo", response_model=UndoOut, summary="Take back the caller's answer")
def undo(request: Request, body: ItemRef, user: Annotator) -> UndoOut:
    old = state(request).store.undo(body.item_id, user.annotator)
    return UndoOut(item_id=body.item_id, record_id=None if old is None else old.content_hash)


@router.get("/me", response_model=Progress, summary="The caller's progress")
def me(request: Request, user: Annotator) -> Progress:
    store = state(request).store
    return Progress(annotator=user.annotator, answered=store.count(annotator=user.annotator),
                    remaining=store.pending_count(user.annotator))


# -- training code / admins ----------------------------------------------------------------------
@router.post("/queue", response_model=PushOut, summary="Push queries (all or none)")
def push(request: Request, body: PushIn, user: Admin) -> PushOut:
    specs = [i.model_dump() for i in body.items]
    store = state(request).store
    known = store.known_annotator_ids()
    unknown = sorted({s["annotator"] for s in specs if s["annotator"] is not None} - known)
    if unknown:  # an item reserved for a misspelt name would wait forever
        raise HTTPException(400, f"items reserved for unknown annotator(s) {unknown}; add "
                                 f"them first (`rlhf-env annotators add NAME`) or fix the "
                                 f"name. Known: {sorted(known)[:20]}.")
    return PushOut(item_ids=state(request).store.enqueue_many(specs))


@router.get("/queue", summary="Queue counts")
def queue_counts(request: Request, user: Admin) -> dict[str, int]:
    store = state(request).store
    return {**store.queue_status(), **store.queue_load()}


@router.get("/queue/items", response_model=list[QueueItemOut], summary="Queued items")
def queue_items(request: Request, user: Admin, after: Cursor = 0,
                limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> list[QueueItemOut]:
    items = [i for i in state(request).store.queue_items() if i.item_id > after][:limit]
    return [QueueItemOut(item_id=i.item_id, kind=i.kind, task=i.task, prompt=i.prompt,
                         responses=list(i.responses), scale=i.scale, gold=i.gold,
                         repeat_of=i.repeat_of, annotator=i.annotator,
                         labels_wanted=i.labels_wanted, metadata=dict(i.metadata))
            for i in items]


@router.get("/answers", response_model=AnswersOut, summary="Pull answers after a cursor")
def answers(request: Request, user: Admin, cursor: Cursor = 0,
            kind: str | None = None,
            limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> AnswersOut:
    rows = state(request).store.records_since(cursor, kind=kind, limit=limit)
    return AnswersOut(answers=[AnswerRow(seq=s, record=r.to_dict()) for s, r in rows],
                      cursor=rows[-1][0] if rows else cursor)


@router.put("/clips/{name}", summary="Upload a clip (raw bytes); returns its server path")
async def upload_clip(request: Request, name: str, user: Admin) -> dict[str, str]:
    if not CLIP_NAME.match(name):
        raise HTTPException(400, "a clip name is letters, digits, '.', '_', '-' and ends in "
                                 ".gif, .mp4 or .webm.")
    data = await request.body()
    if not data:
        raise HTTPException(400, "the clip is empty; send the file's bytes as the body.")
    root = state(request).clip_root
    root.mkdir(parents=True, exist_ok=True)
    write_bytes(root / name, data)
    return {"path": str(root / name)}


@router.get("/stats", summary="The dashboard's numbers")
def stats(request: Request, user: Admin) -> dict[str, Any]:
    st = state(request)
    return build_dashboard(st.store, st.config).to_dict()


# -- clips ----------------------------------------------------------------------------------------
def _clip(request: Request, item_id: int, index: int) -> Any:
    st = state(request)
    if not 1 <= item_id <= SQL_INT_MAX:
        raise HTTPException(404, f"no queue item {item_id}.")
    item = st.store.queue_item(item_id)
    if not 0 <= index < len(item.responses) or not is_clip(item.responses[index]):
        raise HTTPException(404, f"queue item {item_id} has no clip {index}.")
    try:
        return clip_path(st.clip_root, item.responses[index])
    except FeedbackError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get("/clips/{item_id}/{index}", summary="A clip file of a queue item")
def clip_file(request: Request, item_id: int, index: int, user: Anyone) -> FileResponse:
    return FileResponse(_clip(request, item_id, index))


@router.get("/clips/{item_id}/{index}/frames", summary="A GIF clip's frames, side by side")
def clip_frames(request: Request, item_id: int, index: int, user: Anyone) -> Response:
    path = _clip(request, item_id, index)
    if path.suffix.lower() != ".gif":
        raise HTTPException(404, "frames are made for GIF clips; play videos directly.")
    sprite = gif_sprite(path)
    return Response(sprite.png, media_type="image/png", headers={
        "X-Frames": str(sprite.frames), "X-Fps": str(sprite.fps),
        "X-Frame-Width": str(sprite.width), "X-Frame-Height": str(sprite.height),
        "Cache-Control": "private, max-age=3600"})


__all__ = ["router"]
