"""A real Tryton 8.0 server for the tests, built once and reused.

The venv, Tryton's web client (sao, served at the server's /) and a pristine, fully set-up
database (tryton/build.sh: modules, company, chart of accounts, fiscal year, payment term,
analytic root, payment method) are cached under var/tryton-test/<key>,
the key being a hash of the pinned packages and the build scripts. Each test session copies
the pristine database into a temporary folder and starts trytond on a free port. A build that
fails makes the tests fail: they are never skipped.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "tryton"
CACHE = ROOT / "var" / "tryton-test"
DATABASE = "erpsync"
TEMPLATE = "template"
START_TIMEOUT = 60.0


def cache_key() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "build.sh", "setup_books.py"):
        digest.update((SCRIPTS / name).read_bytes())
    return digest.hexdigest()[:16]


def build() -> Path:
    """The cached build folder (venv, db/template.sqlite), made when missing."""
    folder = CACHE / cache_key()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time
        result = subprocess.run(
            [str(SCRIPTS / "build.sh"), str(folder), TEMPLATE, "0"],
            capture_output=True,
            text=True,
            timeout=900,
        )
    if result.returncode != 0:
        pytest.fail(
            f"Building Tryton in {folder} failed (exit {result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}",
            pytrace=False,
        )
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rpc(url: str, method: str, params: list[Any], timeout: float = 5) -> Any:
    body = json.dumps({"id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def start(folder: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    db = workdir / "db"
    db.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / "db" / f"{TEMPLATE}.sqlite", db / f"{DATABASE}.sqlite")
    port = free_port()
    conf = workdir / "trytond.conf"
    conf.write_text(
        f"[database]\nuri = sqlite://\npath = {db}\n\n"
        f"[web]\nlisten = 127.0.0.1:{port}\nroot = {folder / 'sao'}\n"
    )
    log = open(workdir / "trytond.log", "wb")  # noqa: SIM115 - closed with the server
    process = subprocess.Popen(
        [str(folder / "venv" / "bin" / "trytond"), "-c", str(conf), "-d", DATABASE],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("TRYTON")},
    )
    log.close()
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            answer = rpc(
                f"{url}{DATABASE}/rpc/", "common.db.login", ["admin", {"password": "admin"}, "en"]
            )
            if answer.get("result"):
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            tail = (workdir / "trytond.log").read_text(errors="replace")[-3000:]
            pytest.fail(f"trytond did not start on {url}:\n{tail}", pytrace=False)
        time.sleep(0.2)
    settings = {"url": url, "database": DATABASE, "username": "admin", "password": "admin"}
    return process, settings


@pytest.fixture(scope="session")
def tryton_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Connection settings of a running Tryton server with fresh books, for the session."""
    started = time.monotonic()
    folder = build()
    built = time.monotonic()
    process, settings = start(folder, tmp_path_factory.mktemp("tryton"))
    print(
        f"\n[tryton] build/reuse {built - started:.1f} s, start {time.monotonic() - built:.1f} s",
        file=sys.stderr,
    )
    try:
        yield settings
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def use_tryton(company: Any, server: dict[str, str]) -> None:
    """Point the company's ERP adapter at the test's Tryton server."""
    company.erp_adapter = "tryton"
    company.erp_settings = dict(server)
    company.save(update_fields=["erp_adapter", "erp_settings"])
