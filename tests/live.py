"""Real local services the tests run against: an HTTP server of the test's own (an ERP, a
webhook receiver) and a Celery worker on the real broker, and a wait for what they do."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from celery.contrib.testing.worker import start_worker
from django.db import connection

from erpsync.celery import app


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free local port in a thread; yields http://127.0.0.1:<port>."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    # A handler still answering (a timeout test) must not hold up the test's end.
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def celery_worker() -> Iterator[None]:
    """A real Celery worker in a thread, on the real broker (the tests commit for it)."""
    assert not app.conf.task_always_eager, "these tests need the real broker"
    app.control.purge()  # messages other tests published without a worker to take them
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=15):
        yield
    connection.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
