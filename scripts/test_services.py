#!/usr/bin/env python3
"""Run a command (`make test`: the test suite) with a PostgreSQL and a Redis to talk to.

    scripts/test_services.py COMMAND [ARG...]

DATABASE_URL and CELERY_BROKER_URL name the servers the tests use (the Makefile's defaults:
postgres://postgres@127.0.0.1:5432/erpsync and redis://127.0.0.1:6379/14). When something
answers at those addresses, the command runs with them as they are. When nothing does, this
starts a throwaway server for the run instead:

- PostgreSQL: a cluster made by `initdb` under var/test-services/ (trust authentication, the
  URL's user as superuser, fsync off), started with `pg_ctl` on a spare port of 127.0.0.1,
  with the URL's database created in it;
- Redis: `redis-server` on a spare port of 127.0.0.1, nothing saved to disk;

points DATABASE_URL / CELERY_BROKER_URL at it, runs the command, and stops and deletes the
server afterwards: when the command ends, fails, or the run is interrupted (Ctrl-C, SIGTERM,
SIGHUP). A run killed outright (SIGKILL) cannot clean up; the next run that starts servers
stops and deletes what it left. The machine's own servers are never touched.

It never falls back to SQLite or an in-memory broker: when a server is needed and its binaries
are missing, it prints the one command that installs them and fails. PostgreSQL refuses to
run as root, so as root the cluster belongs to, and runs as, the `postgres` system user
(`runuser -u postgres`), which Debian's postgresql package creates.

Standard library only. TEST_SERVICES_PG_BINDIR (the directory holding initdb and pg_ctl) and
TEST_SERVICES_REDIS_SERVER (the redis-server binary) override where the binaries are looked up.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

INSTALL = "apt-get install -y postgresql redis-server"
REPO = Path(__file__).resolve().parent.parent
# Each run's servers live in var/test-services/run-<pid>-…/ (postgres/, redis/), deleted after.
RUN_BASE = REPO / "var" / "test-services"
START_TIMEOUT = 60
PG_BINARIES = ("initdb", "pg_ctl", "postgres", "createdb")


def say(message: str) -> None:
    print(f"test-services: {message}", file=sys.stderr, flush=True)


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Failed(Exception):
    """A server could not be started; the message says why."""


def answers(host: str, port: int, timeout: float = 2) -> bool:
    try:
        with socket.create_connection((host, port), timeout):
            return True
    except OSError:
        return False


def spare_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def address(url: SplitResult, default_port: int) -> tuple[str, int]:
    return url.hostname or "127.0.0.1", url.port or default_port


# ----- finding the binaries -----------------------------------------------------------------


def _version(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.parent.name)) or (0,)


def pg_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: pg_config's, Debian's newest, or the PATH's."""
    override = os.environ.get("TEST_SERVICES_PG_BINDIR")
    candidates: list[Path] = []
    if override:
        candidates.append(Path(override))
    else:
        if shutil.which("pg_config"):
            result = subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, check=False
            )
            if result.returncode == 0 and result.stdout.strip():
                candidates.append(Path(result.stdout.strip()))
        debian = Path("/usr/lib/postgresql").glob("*/bin")
        candidates += sorted(debian, key=_version, reverse=True)
        initdb = shutil.which("initdb")
        if initdb:
            candidates.append(Path(initdb).parent)
    for directory in candidates:
        if all(os.access(directory / name, os.X_OK) for name in PG_BINARIES):
            return directory
    return None


def redis_server() -> str | None:
    override = os.environ.get("TEST_SERVICES_REDIS_SERVER")
    if override:
        return override if os.access(override, os.X_OK) else None
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )


# ----- the servers --------------------------------------------------------------------------


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _end(pid: int, signals: tuple[signal.Signals, ...]) -> None:
    """Send each signal in turn, giving the process 10 s to go after each."""
    for sig in signals:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _alive(pid):
            return


def remove_leftovers() -> None:
    """Stop and delete what earlier runs left behind because they could not clean up (killed
    with SIGKILL): only their own servers, recognised by their pid files and command lines,
    and only once the run that started them is gone."""
    for directory in RUN_BASE.glob("run-*-*"):
        run_pid = directory.name.split("-")[1]
        if not run_pid.isdigit() or _alive(int(run_pid)):
            continue
        postmaster = _pid_in(directory / "postgres" / "data" / "postmaster.pid")
        if postmaster and str(directory) in _command_line(postmaster):
            _end(postmaster, (signal.SIGQUIT, signal.SIGKILL))  # SIGQUIT: immediate shutdown
        redis = _pid_in(directory / "redis" / "redis.pid")
        if redis and "redis-server" in _command_line(redis):
            _end(redis, (signal.SIGTERM, signal.SIGKILL))
        shutil.rmtree(directory, ignore_errors=True)
        say(f"removed the servers an interrupted run left behind ({directory})")


class Postgres:
    """A throwaway PostgreSQL cluster in the run's directory, on a spare port."""

    name = "PostgreSQL"

    def __init__(self, bindir: Path, url: SplitResult) -> None:
        self.bindir = bindir
        self.user = unquote(url.username or "postgres")
        self.database = unquote(url.path.lstrip("/")) or "postgres"
        self.url = url
        self.port = spare_port()
        self.dir: Path | None = None
        self.own_dir = False
        self.as_owner: list[str] = []
        self.started = False

    @property
    def data(self) -> Path:
        assert self.dir is not None
        return self.dir / "data"

    def new_url(self) -> str:
        netloc = f"{self.url.username or 'postgres'}@127.0.0.1:{self.port}"
        return urlunsplit((self.url.scheme, netloc, self.url.path, self.url.query, ""))

    def _owner(self) -> tuple[int, int] | None:
        """As root: the postgres system user, who owns and runs the cluster."""
        if os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError:
            raise Failed(
                "PostgreSQL refuses to run as root and there is no `postgres` system user to "
                f"run it as: {INSTALL} creates it (or run make test as another user)."
            ) from None
        if not shutil.which("runuser"):
            raise Failed("runuser (util-linux) is needed to run PostgreSQL as `postgres`.")
        self.as_owner = ["runuser", "-u", "postgres", "--"]
        return entry.pw_uid, entry.pw_gid

    def _make_dir(self, run_dir: Path, owner: tuple[int, int] | None) -> Path:
        directory = run_dir / "postgres"
        directory.mkdir()
        if owner is None:
            return directory
        os.chown(directory, *owner)
        reachable = subprocess.run([*self.as_owner, "test", "-w", str(directory)], check=False)
        if reachable.returncode == 0:
            return directory
        # The postgres user cannot reach the repository (a private home directory, say).
        directory.rmdir()
        directory = Path(tempfile.mkdtemp(prefix="erpsync-pg-test-"))
        directory.chmod(0o755)
        os.chown(directory, *owner)
        self.own_dir = True
        return directory

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self.as_owner, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=START_TIMEOUT + 30,
        )
        if result.returncode != 0:
            log = self.dir / "postgres.log" if self.dir else None
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise Failed(
                f"{Path(args[0]).name} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{tail}"
            )

    def start(self, run_dir: Path) -> None:
        self.dir = self._make_dir(run_dir, self._owner())
        bindir = self.bindir
        self._run(
            str(bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        # TCP on 127.0.0.1 only, no Unix socket (its path could be too long, and the machine's
        # own socket directory is not ours); durability is not wanted for a throwaway cluster.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self.started = True
        self._run(
            str(bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            str(START_TIMEOUT),
            "start",
        )
        if self.database != "postgres":
            self._run(
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                self.database,
            )
        say(f"started a throwaway PostgreSQL on 127.0.0.1:{self.port} ({self.data})")

    def stop(self) -> None:
        if self.started:
            try:
                self._run(
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    "30",
                    "stop",
                )
            except (Failed, subprocess.TimeoutExpired):
                # pg_ctl could not stop it (or it never came up): end what postmaster.pid names.
                postmaster = _pid_in(self.data / "postmaster.pid")
                if postmaster and str(self.data) in _command_line(postmaster):
                    _end(postmaster, (signal.SIGQUIT, signal.SIGKILL))
            self.started = False
            say(f"stopped the PostgreSQL on 127.0.0.1:{self.port}")
        if self.dir is not None and self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None


class Redis:
    """A throwaway redis-server on a spare port, nothing saved to disk."""

    name = "Redis"

    def __init__(self, binary: str, url: SplitResult) -> None:
        self.binary = binary
        self.url = url
        self.port = spare_port()
        self.process: subprocess.Popen[bytes] | None = None

    def new_url(self) -> str:
        return urlunsplit(("redis", f"127.0.0.1:{self.port}", self.url.path, self.url.query, ""))

    def start(self, run_dir: Path) -> None:
        directory = run_dir / "redis"
        directory.mkdir()
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
                str(directory),
                "--pidfile",
                str(directory / "redis.pid"),
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a Ctrl-C meant for the tests does not stop it under them; stop()
            # does, after the tests.
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._pong():
            if self.process.poll() is not None:
                raise Failed(f"redis-server exited with {self.process.returncode}.")
            if time.monotonic() > deadline:
                raise Failed(f"redis-server did not answer on port {self.port}.")
            time.sleep(0.05)
        say(f"started a throwaway Redis on 127.0.0.1:{self.port}")

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
            say(f"stopped the Redis on 127.0.0.1:{self.port}")


# ----- the run ------------------------------------------------------------------------------


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def run(command: list[str], env: dict[str, str]) -> int:
    child = subprocess.Popen(command, env=env)
    try:
        return child.wait()
    except (KeyboardInterrupt, Interrupted) as stop:
        # A Ctrl-C reached the command as well (one process group); a SIGTERM or SIGHUP sent
        # to this script alone is passed on. Either way the command gets time to clean up,
        # and a second Ctrl-C is the command's to handle, not a reason to stop the servers
        # under it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signum = stop.signum if isinstance(stop, Interrupted) else signal.SIGINT
        if child.poll() is None and signum != signal.SIGINT:
            child.send_signal(signum)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        return 128 + signum


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    env = dict(os.environ)
    database = urlsplit(env.get("DATABASE_URL", ""))
    broker = urlsplit(env.get("CELERY_BROKER_URL", ""))
    needed: list[Postgres | Redis] = []
    missing: list[str] = []
    # Anything but PostgreSQL and Redis URLs is left to the tests, which refuse it loudly.
    if database.scheme in ("postgres", "postgresql") and not answers(*address(database, 5432)):
        say(f"nothing answers at {database.hostname}:{database.port or 5432} (DATABASE_URL)")
        bindir = pg_bindir()
        if bindir is None:
            missing.append("PostgreSQL (initdb, pg_ctl)")
        else:
            needed.append(Postgres(bindir, database))
    if broker.scheme == "redis" and not answers(*address(broker, 6379)):
        say(f"nothing answers at {broker.hostname}:{broker.port or 6379} (CELERY_BROKER_URL)")
        binary = redis_server()
        if binary is None:
            missing.append("Redis (redis-server)")
        else:
            needed.append(Redis(binary, broker))
    if missing:
        say(
            f"{' and '.join(missing)} not installed, so no throwaway server can be started; "
            "the tests never fall back to SQLite or an in-memory broker. Install them with:\n\n"
            f"    {INSTALL}\n"
        )
        return 1

    started: list[Postgres | Redis] = []
    run_dir: Path | None = None
    try:
        if needed:
            remove_leftovers()
            RUN_BASE.mkdir(parents=True, exist_ok=True)
            run_dir = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=RUN_BASE))
            run_dir.chmod(0o755)  # the postgres user (as root) reaches its cluster in it
        for service in needed:
            assert run_dir is not None
            started.append(service)
            service.start(run_dir)
            key = "DATABASE_URL" if isinstance(service, Postgres) else "CELERY_BROKER_URL"
            env[key] = service.new_url()
        return run(argv, env)
    except Failed as error:
        say(f"could not start the throwaway server: {error}")
        return 1
    except (KeyboardInterrupt, Interrupted) as stop:
        signum = stop.signum if isinstance(stop, Interrupted) else signal.SIGINT
        say(f"interrupted ({signal.Signals(signum).name}) while starting the servers")
        return 128 + signum
    finally:
        # Ignore further Ctrl-Cs while stopping: half-stopped servers would be left behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        for service in reversed(started):
            try:
                service.stop()
            except Exception as error:  # keep stopping the others
                say(f"could not stop {service.name}: {error}")
        if run_dir is not None:
            shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
