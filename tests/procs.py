"""Real processes the reliability tests start, stop and kill: a Redis of the test's own on a
spare port, Celery workers and beat as separate processes on the test database, and a
receiving ERP (an HTTP server of the test's own).

Nothing here is a mock: the workers run `celery -A erpsync worker` with the project's own
settings, talking to real PostgreSQL and a real Redis.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from celery.contrib.testing.worker import start_worker
from django.db import connection

from erpsync.adapters.webhook import SignatureError, verify
from erpsync.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    condition: Callable[[], bool],
    what: str,
    timeout: float = 30,
    processes: tuple[CeleryProcess, ...] = (),
) -> float:
    """Poll until `condition()`; return the seconds it took. On a timeout the failure shows
    the end of each process's log."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            logs = "\n".join(f"--- {p.name} ---\n{p.output()}" for p in processes)
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs}")
        time.sleep(0.05)
    return time.monotonic() - start


@contextmanager
def running_worker() -> Iterator[None]:
    """A real Celery worker in a thread of this process, on the real broker: what it does
    shows only in committed rows (django_db(transaction=True))."""
    assert not celery_app.conf.task_always_eager, "this test needs the real broker"
    celery_app.control.purge()  # messages other tests published without a worker to take them
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=15):
        yield
    connection.close()


class RedisServer:
    """A redis-server of the test's own on a spare port, so that the test can stop it."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (apt-get install redis-server)"
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="erpsync-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, f"redis on port {self.port}", timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def publishing_to(broker_url: str) -> Iterator[None]:
    """Make this process's Celery app publish to `broker_url` (a test's own Redis), failing
    fast while it is down, then restore the app's own broker."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_publish_retry_policy, os.environ.get("CELERY_BROKER_URL"))
    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    os.environ["CELERY_BROKER_URL"] = broker_url
    conf.broker_url = broker_url
    conf.task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1}
    _reset_pools()
    try:
        yield
    finally:
        conf.broker_url, conf.task_publish_retry_policy, env_url = saved
        if env_url is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = env_url
        _reset_pools()


def _reset_pools() -> None:
    # The app keeps the producer pools built for the broker URL of its first publish; dropping
    # its references makes the next publish take (or build) the pool of the URL now configured.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def env_on_test_database(**extra: str) -> dict[str, str]:
    """The environment of a worker or beat process on the test database."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": url,
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    return env


class CeleryProcess:
    """`celery -A erpsync worker` (or beat) as a process of its own."""

    def __init__(self, *args: str, env: dict[str, str], name: str) -> None:
        self.args = args
        self.env = env
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix=f"erpsync-{name}-", suffix=".log")  # noqa: SIM115
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> CeleryProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "erpsync", *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean shutdown, no acknowledgement."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-4000:]


def worker(env: dict[str, str], name: str = "worker", concurrency: int = 1) -> CeleryProcess:
    pool = ["--pool", "solo"] if concurrency == 1 else ["--concurrency", str(concurrency)]
    return CeleryProcess(
        "worker", *pool, "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip",
        "--without-mingle", "-n", f"{name}-{os.getpid()}@%h", env=env, name=name,
    )  # fmt: skip


def beat(env: dict[str, str]) -> CeleryProcess:
    schedule = Path(tempfile.mkdtemp(prefix="erpsync-beat-")) / "schedule"
    return CeleryProcess(
        "beat", "--loglevel", "WARNING", "--schedule", str(schedule), env=env, name="beat"
    )


class ReceivingErp:
    """A webhook ERP of the test's own: verifies signatures, creates one record per
    idempotency key, and can fail a share of calls transiently or hold each call a while."""

    def __init__(
        self,
        secret: str,
        *,
        fail_share: float = 0.0,
        delay: float = 0.0,
        seed: int = 7,
        refuse: frozenset[str] = frozenset(),
    ) -> None:
        self.secret = secret
        self.fail_share = fail_share
        # Snapshot codes the ERP refuses (422 alone, a refused entry in a batch).
        self.refuse = refuse
        self.batch_calls = 0  # POSTs to the batch endpoint (batch_url)
        self.delay = delay
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.records: dict[str, str] = {}  # key -> ERP id
        self.created: list[str] = []  # one entry per record created
        self.calls = 0
        self.failures_injected = 0
        self.in_flight = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/erp"

    @property
    def batch_url(self) -> str:
        """The batch endpoint of erpsync.adapters.webhook's protocol."""
        return f"{self.url}/batch"

    def _create(self, key: str) -> str:
        with self.lock:
            if key not in self.records:
                self.records[key] = f"ERP-{len(self.records) + 1}"
                self.created.append(key)
            return self.records[key]

    def start(self) -> ReceivingErp:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        erp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller was killed mid-request: what a test does on purpose

            def do_GET(self) -> None:
                query = self.path.partition("?")[2]
                try:
                    verify(dict(self.headers), query.encode(), [erp.secret])
                except SignatureError as error:
                    self._send(401, {"error": str(error)})
                    return
                key = parse_qs(query).get("idempotency_key", [""])[0]
                with erp.lock:
                    erp_id = erp.records.get(key)
                if erp_id is None:
                    self._send(404, {"error": "no such key"})
                else:
                    self._send(200, {"id": erp_id})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    verify(dict(self.headers), body, [erp.secret])
                except SignatureError as error:
                    self._send(401, {"error": str(error)})
                    return
                if self.path.endswith("/batch"):
                    self._batch(json.loads(body)["items"])
                    return
                data = json.loads(body)
                key = data["idempotency_key"]
                if data["snapshot"].get("code") in erp.refuse:
                    self._send(422, {"error": "refused by the test ERP"})
                    return
                with erp.lock:
                    erp.calls += 1
                    fail = erp.random.random() < erp.fail_share
                    if fail:
                        erp.failures_injected += 1
                if fail:
                    self._send(503, {"error": "busy, try again"})
                    return
                erp.in_flight.set()
                if erp.delay:
                    time.sleep(erp.delay)
                self._send(201, {"id": erp._create(key)})

            def _batch(self, items: list[dict[str, Any]]) -> None:
                """Per item, what the single POST would answer; a share fails transiently."""
                with erp.lock:
                    erp.batch_calls += 1
                erp.in_flight.set()
                if erp.delay:
                    time.sleep(erp.delay)
                results: dict[str, Any] = {}
                for item in items:
                    key = item["idempotency_key"]
                    with erp.lock:
                        fail = erp.random.random() < erp.fail_share
                        erp.failures_injected += fail
                    if item["snapshot"].get("code") in erp.refuse:
                        results[key] = {"error": "refused by the test ERP"}
                    elif fail:
                        results[key] = {"error": "busy, try again", "retry": True}
                    else:
                        results[key] = {"id": erp._create(key)}
                self._send(200, {"results": results})

        return Handler
