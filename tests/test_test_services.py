"""scripts/test_services.py, which `make test` runs the suite through: with nothing answering
at the configured addresses it starts a throwaway PostgreSQL and Redis for the command and
stops them afterwards, also when the command fails or the run is stopped.

Real processes end to end: the script runs `initdb`, `pg_ctl` and `redis-server`, and the
command it runs talks to them with `psql` and `redis-cli` through the environment it exports.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "test_services.py"
INSTALL = "apt-get install -y postgresql redis-server"
# Through the environment the script exports: the database's name and its postmaster's pid
# (from its own data directory), Redis's answer, and the two URLs.
PROBE = (
    'psql "$DATABASE_URL" -tAc "select current_database()" '
    '&& head -n1 "$(psql "$DATABASE_URL" -tAc "show data_directory")/postmaster.pid" '
    '&& redis-cli -u "$CELERY_BROKER_URL" ping '
    '&& echo "URLS $DATABASE_URL $CELERY_BROKER_URL"'
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 1):
            return True
    except OSError:
        return False


def nowhere() -> dict[str, str]:
    """The environment with both URLs pointing at ports where nothing listens."""
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/erpsync_probe",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/5",
    }


def command_lines_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in line and "pytest" not in line:
            found.append(line)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def started(output: list[str]) -> tuple[int, int, int, str]:
    """(PostgreSQL's port, its postmaster's pid, Redis's port, the data directory) from the
    probe's output and the script's messages."""
    [urls] = [line for line in output if line.startswith("URLS ")]
    _, database_url, broker_url = urls.split()
    database, broker = urlsplit(database_url), urlsplit(broker_url)
    assert (database.hostname, database.path, broker.path) == ("127.0.0.1", "/erpsync_probe", "/5")
    assert "erpsync_probe" in output
    assert "PONG" in output
    pid = int(output[output.index("erpsync_probe") + 1])
    [data] = [
        line.split("(")[-1].rstrip(")")
        for line in output
        if "started a throwaway PostgreSQL" in line
    ]
    assert database.port and broker.port
    return database.port, pid, broker.port, data


def assert_all_gone(pg_port: int, postmaster: int, redis_port: int, data: str) -> None:
    deadline = time.monotonic() + 10
    while alive(postmaster) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(postmaster), "the postmaster is still running"
    assert not answers(pg_port) and not answers(redis_port)
    assert command_lines_mentioning(data) == []
    assert command_lines_mentioning(f"redis-server 127.0.0.1:{redis_port}") == []
    assert not Path(data).exists(), "the throwaway cluster is deleted"


def test_with_nothing_answering_it_starts_both_runs_the_command_and_stops_them() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "sh", "-c", f"{PROBE} && exit 3"],
        env=nowhere(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # The command's own exit status comes back (a failing test run fails make test).
    assert result.returncode == 3, result.stdout + result.stderr
    output = result.stdout.split("\n") + result.stderr.split("\n")
    pg_port, postmaster, redis_port, data = started(output)
    assert data.startswith(str(REPO / "var" / "test-services" / "run-")), data
    assert "stopped the PostgreSQL" in result.stderr and "stopped the Redis" in result.stderr
    assert_all_gone(pg_port, postmaster, redis_port, data)


def test_a_run_stopped_with_sigterm_still_stops_both() -> None:
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "sh", "-c", f"{PROBE} && exec sleep 120"],
        env=nowhere(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    output = []
    try:
        while not output or not output[-1].startswith("URLS "):
            line = process.stdout.readline()
            assert line, "the command ended before it got its services"
            output.append(line.strip())
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 128 + signal.SIGTERM
    pg_port, postmaster, redis_port, data = started(output + errors.split("\n"))
    assert_all_gone(pg_port, postmaster, redis_port, data)


def test_the_next_run_removes_what_a_killed_run_left_behind() -> None:
    killed = subprocess.Popen(
        [sys.executable, str(SCRIPT), "sh", "-c", f"{PROBE} && exec sleep 120"],
        env=nowhere(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert killed.stdout is not None
    output = []
    try:
        while not output or not output[-1].startswith("URLS "):
            line = killed.stdout.readline()
            assert line, "the command ended before it got its services"
            output.append(line.strip())
    finally:
        # SIGKILL: no trap runs. The script and its command go; the servers stay.
        os.killpg(killed.pid, signal.SIGKILL)
        _, errors = killed.communicate(timeout=30)
    pg_port, postmaster, redis_port, data = started(output + errors.split("\n"))
    assert alive(postmaster) and answers(redis_port)

    result = subprocess.run(
        [sys.executable, str(SCRIPT), "true"],
        env=nowhere(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "removed the servers an interrupted run left behind" in result.stderr
    assert_all_gone(pg_port, postmaster, redis_port, data)


def test_without_the_binaries_it_prints_the_install_command_and_fails(tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    env = {
        **nowhere(),
        "TEST_SERVICES_PG_BINDIR": str(tmp_path / "no-postgresql"),
        "TEST_SERVICES_REDIS_SERVER": str(tmp_path / "no-redis-server"),
    }

    result = subprocess.run(
        [sys.executable, str(SCRIPT), "touch", str(ran)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert INSTALL in result.stderr
    assert "never fall back to SQLite or an in-memory broker" in result.stderr
    assert not ran.exists(), "the tests must not run without their services"


@pytest.mark.parametrize("url", ["DATABASE_URL", "CELERY_BROKER_URL"])
def test_servers_that_answer_are_used_as_they_are(url: str) -> None:
    # This suite's own servers answer (conftest checked them at the start).
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "sh", "-c", f'echo "${url}"'],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == os.environ[url]
    assert "started" not in result.stderr
