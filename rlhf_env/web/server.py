"""Running the app: ``serve()`` behind ``rlhf-env serve`` (uvicorn, one process)."""

from __future__ import annotations

from pathlib import Path

from rlhf_env.errors import ConfigError, MissingDependencyError
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.web.config import ServeConfig


def serve(store_path: str | Path, *, host: str = "127.0.0.1", port: int = 8000,
          lease_s: float = 600.0, instructions: Path | None = None,
          clip_dir: Path | None = None, log_level: str = "warning") -> int:
    """Serve the labeling app over the store at ``store_path`` until interrupted."""
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError("uvicorn", "rlhf-env serve",
                                     "pip install 'rlhf-env[web]'") from exc
    from rlhf_env.web.app import create_app

    _check_can_listen(host, port)

    config = ServeConfig(lease_s=lease_s, instructions_dir=instructions, clip_dir=clip_dir)
    store = FeedbackStore(store_path)
    app = create_app(store, config)
    print(f"rlhf-env serve: {store_path} on http://{host}:{port}/  (API docs: /api/docs)",
          flush=True)
    if not store.leases() and not store.annotators():
        print("no annotators yet: add one with `rlhf-env annotators add NAME --store "
              f"{store_path}`", flush=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
    store.close()
    return 0


def _check_can_listen(host: str, port: int) -> None:
    """Bind ``host:port`` once before starting, so a bad host or a port in use is one
    ``error:`` line (uvicorn would log it and exit with its own status)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _, _, _, address = infos[0]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except (OSError, OverflowError) as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc}); choose another --port, "
                         f"or a --host of this machine (127.0.0.1, 0.0.0.0).") from None


__all__ = ["serve"]
