"""The labeling web app and REST API over a feedback store (``rlhf-env serve STORE``).

People label in a browser; training code pushes queries and pulls answers over HTTP::

    annotator's browser ◀──HTML/JSON──▶ rlhf-env serve ◀──▶ FeedbackStore queue
                                              ▲
    training code (RemoteQueue, QueueLabeler) ─┘ REST: /api/queue, /api/answers

Modules: :mod:`~rlhf_env.web.config` (``ServeConfig``), :mod:`~rlhf_env.web.app` (the
FastAPI app: :func:`create_app`), :mod:`~rlhf_env.web.answers` (a submission → a feedback
record), :mod:`~rlhf_env.web.dashboard` (live quality numbers and flags),
:mod:`~rlhf_env.web.clips` (clip frames for the synced player), :mod:`~rlhf_env.web.client`
(:class:`RemoteQueue`, the HTTP twin of the store's queue), :mod:`~rlhf_env.web.cli`.

Everything here needs the optional ``web`` extra (``pip install 'rlhf-env[web]'``), imported
only when used: ``import rlhf_env`` never loads FastAPI.
"""

from __future__ import annotations

from typing import Any

from rlhf_env.web.config import ServeConfig


def create_app(store: Any, config: ServeConfig | None = None) -> Any:
    """The FastAPI app over ``store`` (a path or a FeedbackStore); see :mod:`rlhf_env.web.app`."""
    from rlhf_env.web.app import create_app as _create

    return _create(store, config)


__all__ = ["ServeConfig", "create_app"]
