"""Run any ASGI app under uvicorn in a background thread, on a free 127.0.0.1 port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from sparkai_local.net import listening_socket

HOST = "127.0.0.1"


@contextmanager
def serve(
    app: Any,
    *,
    startup_timeout: float = 10.0,
    graceful_shutdown_seconds: int = 2,
    log_level: str = "warning",
    lifespan: str = "auto",
) -> Iterator[str]:
    """Serve `app` until the block ends; yields its base URL, e.g. http://127.0.0.1:53211.

    Connections still open at the end (a stream a test left blocked, say) get
    `graceful_shutdown_seconds` before uvicorn cancels them, so teardown never hangs.
    """
    # Binding here rather than in uvicorn: the port is ours before anyone else can take it.
    sock = listening_socket(HOST, 0)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan=lifespan,
        timeout_graceful_shutdown=graceful_shutdown_seconds,
    )
    # uvicorn installs signal handlers only in the main thread, so the test runner keeps its own.
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # surfaced below instead of dying silently in the thread
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if failure or not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            sock.close()
            raise RuntimeError(f"uvicorn did not start on port {port}: {failure or 'timed out'}")
        time.sleep(0.01)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(graceful_shutdown_seconds + 10)
        sock.close()
