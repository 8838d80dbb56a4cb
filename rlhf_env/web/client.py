"""``RemoteQueue``: the labeling queue of a server, used like a local store's.

Training code on another machine uses people as its labeler through the REST API:

    >>> queue = RemoteQueue("http://labels.lab:8000", token="ADMIN-TOKEN")  # doctest: +SKIP
    >>> queue.enqueue("comparison", "Say hi", ["Hello!", "Go away."])        # doctest: +SKIP
    >>> for record in queue.iter("comparison"): ...                          # doctest: +SKIP

It has the queue methods :class:`~rlhf_env.control.queue_labeler.QueueLabeler` uses
(``enqueue``, ``queue_items``, ``iter``, ``queue_status``), so the control loop works
against a server as against a store file. Clip files named in ``responses`` that exist
on this machine are uploaded first and replaced by the server's path (same file name).
Answers are pulled once, by cursor, and kept here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rlhf_env.errors import FeedbackError, MissingDependencyError
from rlhf_env.feedback.records import FeedbackRecord, record_from_dict
from rlhf_env.feedback.store import QueueItem


def _httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:
        raise MissingDependencyError("httpx", "RemoteQueue", "pip install 'rlhf-env[web]'") from exc
    return httpx


class RemoteQueue:
    """A labeling server's queue over HTTP (admin token needed).

    Args:
        url: the server's base address (``http://host:port``).
        token: an admin token (``rlhf-env annotators admin``).
        timeout: seconds per request.
    """

    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        self.path = url.rstrip("/")
        self._http = _httpx().Client(base_url=self.path, timeout=timeout,
                                     headers={"Authorization": f"Bearer {token}"})
        self._cursor = 0
        self._records: list[FeedbackRecord] = []

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        r = self._http.request(method, url, **kwargs)
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail")
            except ValueError:
                detail = r.text[:200]
            raise FeedbackError(f"{method} {self.path}{url} failed with HTTP {r.status_code}: "
                                f"{detail}")
        return r.json()

    def _upload(self, response: str) -> str:
        path = Path(response)
        if path.suffix.lower() not in (".gif", ".mp4", ".webm") or not path.is_file():
            return response
        return str(self._call("PUT", f"/api/clips/{path.name}", content=path.read_bytes(),
                              headers={"Content-Type": "application/octet-stream"})["path"])

    def enqueue(self, kind: str, prompt: str, responses: Sequence[str] = (), **kwargs: Any
                ) -> int:
        """Queue one item on the server (the arguments of ``FeedbackStore.enqueue``)."""
        return self.enqueue_many([{"kind": kind, "prompt": prompt,
                                   "responses": list(responses), **kwargs}])[0]

    def enqueue_many(self, specs: Sequence[dict[str, Any]]) -> list[int]:
        """Queue items in one request (all or none); returns their item ids."""
        items = []
        for spec in specs:
            spec = dict(spec)
            spec["responses"] = [self._upload(r) for r in spec.get("responses", [])]
            if spec.get("scale") is not None:
                spec["scale"] = list(spec["scale"])
            items.append(spec)
        return [int(i) for i in self._call("POST", "/api/queue", json={"items": items})[
            "item_ids"]]

    def queue_items(self) -> list[QueueItem]:
        """Every item queued on the server."""
        out: list[QueueItem] = []
        while True:
            page = self._call("GET", "/api/queue/items",
                              params={"after": out[-1].item_id if out else 0})
            out += [QueueItem(**{**d, "responses": tuple(d["responses"]),
                                 "scale": None if d["scale"] is None else tuple(d["scale"])})
                    for d in page]
            if len(page) < 1000:
                return out

    def pull(self) -> list[FeedbackRecord]:
        """Answers stored on the server since the last pull (and keeps them)."""
        new: list[FeedbackRecord] = []
        while True:
            page = self._call("GET", "/api/answers", params={"cursor": self._cursor})
            new += [record_from_dict(row["record"]) for row in page["answers"]]
            self._cursor = int(page["cursor"])
            if not page["answers"]:
                break
        self._records += new
        return new

    def iter(self, kind: str | None = None) -> Iterator[FeedbackRecord]:
        """Every answer pulled so far (pulling new ones first), filtered by kind."""
        self.pull()
        return iter([r for r in self._records if kind is None or kind == r.KIND])

    def records(self, kind: str | None = None) -> list[FeedbackRecord]:
        """:meth:`iter` as a list."""
        return list(self.iter(kind))

    def queue_status(self) -> dict[str, int]:
        """The server's queue counts (``items``, ``answers``, ``skips``, ``leased``, …)."""
        return {k: int(v) for k, v in self._call("GET", "/api/queue").items()}

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()


__all__ = ["RemoteQueue"]
