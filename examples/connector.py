#!/usr/bin/env python3
"""A pull connector for erpsync, on the standard library only (README, "Pull connector").

It claims a batch of accepted items from erpsync's export queue, writes each into an ERP and
reports synced (with the ERP's id) or failed (with the ERP's words). The ERP here is a JSON
file: each item becomes a record `ERP-000123` stored under the item's idempotency key, so a
second write of the same accepted version (a re-run after a crash, an expired claim) finds
the first record instead of making another.

    python examples/connector.py --base-url http://127.0.0.1:8000 --company demo-builders \\
        --token esk_... --erp-file var/erp.json --once

--once claims and reports one batch after another until nothing waits, then exits;
--interval N keeps doing that every N seconds until interrupted. --refuse CODE makes the
file ERP refuse the items with that code or number (they are reported failed), to show the
Failed to Export path. Exit status: 0 done, 1 some report was refused or erpsync could not be
reached, 2 erpsync refused the connector itself (token, permission, adapter).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX: one connector per ERP file, then
    fcntl = None  # type: ignore[assignment]


class Refused(Exception):
    """The ERP will not take the item: reported as failed, for an approver to decide."""


class Fatal(Exception):
    """erpsync refused the connector itself: retrying will not help."""


class Unreachable(Exception):
    """erpsync could not be reached, or answered something unexpected: try again later."""


# ----- the ERP: a JSON file ----------------------------------------------------------------


class JsonFileErp:
    """{"next": 1, "records": {idempotency key: {"erp_id", "kind", "item_id", "version",
    "title", "snapshot", "written_at"}}}, rewritten whole (atomically) on every write."""

    def __init__(self, path: Path, refuse: set[str]) -> None:
        self.path = path
        self.refuse = refuse

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            data: dict[str, Any] = {"next": 1, "records": {}}
            if self.path.exists() and self.path.stat().st_size:
                data = json.loads(self.path.read_text())
            yield data
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".")
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, indent=2, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)

    def write(self, item: dict[str, Any]) -> tuple[str, bool]:
        """The ERP id of the item's record, and whether it was made now (False: found)."""
        snapshot = item.get("snapshot")
        reference = str((snapshot or {}).get("code") or (snapshot or {}).get("number") or "")
        key = item["idempotency_key"]
        with self._locked() as data:
            found = data["records"].get(key)
            if found is not None:
                return found["erp_id"], False
            if not snapshot:
                raise Refused("No submitted snapshot came with the item.")
            if reference in self.refuse:
                raise Refused(f"The file ERP refuses {reference}: it is closed for posting.")
            erp_id = f"ERP-{data['next']:06d}"
            data["next"] += 1
            data["records"][key] = {
                "erp_id": erp_id,
                "kind": item["kind"],
                "item_id": item["id"],
                "version": item["version"],
                "title": item.get("title", ""),
                "snapshot": snapshot,
                "written_at": datetime.now(UTC).isoformat(),
            }
            return erp_id, True


# ----- erpsync's connector API -------------------------------------------------------------


class Api:
    def __init__(self, base_url: str, company: str, token: str, timeout: float) -> None:
        slug = urllib.parse.quote(company, safe="")
        self.base = f"{base_url.rstrip('/')}/api/v1/companies/{slug}/connector/"
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, JSON answer). A report's problem answer (some reports refused) is
        returned; one that refuses the connector itself (401, 403, 404, any refused claim)
        raises Fatal, and a server error or no answer raises Unreachable."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/json",
                **({"Content-Type": "application/json"} if data is not None else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            try:
                answer = json.load(error)
            except ValueError:
                answer = None
            if not isinstance(answer, dict):
                answer = {"detail": str(error.reason)}
            if error.code in (401, 403, 404) or (path == "claims/" and error.code < 500):
                raise Fatal(f"{error.code}: {answer.get('detail', error.reason)}") from None
            if error.code >= 500:
                raise Unreachable(f"{error.code}: {answer.get('detail')}") from None
            return error.code, answer
        except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as error:
            raise Unreachable(str(getattr(error, "reason", error))) from None


# ----- one batch -----------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"{datetime.now().strftime('%H:%M:%S')} {message}", flush=True)


def run_batch(api: Api, erp: JsonFileErp, *, limit: int, lease: int) -> tuple[int, bool]:
    """Claim, write and report one batch: (items claimed, every report recorded)."""
    _, claim = api.call("POST", "claims/", {"limit": limit, "lease_seconds": lease})
    items = claim.get("items") or []
    if not items:
        return 0, True
    reports = []
    for item in items:
        name = f"{item['kind']} {item['id']} v{item['version']} ({item.get('title', '')})"
        report = {
            "kind": item["kind"],
            "id": item["id"],
            "version": item["version"],
            "claim": claim["claim"],
        }
        try:
            erp_id, made = erp.write(item)
        except Refused as refusal:
            log(f"refused {name}: {refusal}")
            reports.append({**report, "status": "failed", "error": str(refusal)})
            continue
        log(f"{'wrote' if made else 'found'} {name} as {erp_id}")
        reports.append({**report, "status": "synced", "erp_id": erp_id})
    status, answer = api.call("POST", "reports/", reports)
    for result in answer.get("results", []):
        if not result.get("ok"):
            what = f"{result['kind']} {result['id']}"
            log(f"erpsync refused the report on {what}: {result['detail']}")
    if status != 200 and not answer.get("results"):
        log(f"erpsync refused the reports ({status}): {answer.get('detail')}")
    return len(items), status == 200


def run(api: Api, erp: JsonFileErp, *, limit: int, lease: int) -> bool:
    """Batches until nothing waits: every report recorded?"""
    all_recorded = True
    while True:
        claimed, recorded = run_batch(api, erp, limit=limit, lease=lease)
        all_recorded = all_recorded and recorded
        if claimed < limit:
            return all_recorded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8000")
    parser.add_argument("--company", required=True, help="The company's slug.")
    parser.add_argument(
        "--token",
        default=os.environ.get("ERPSYNC_TOKEN"),
        help="A personal API token of an ERP Integrations tool Admin (or $ERPSYNC_TOKEN).",
    )
    parser.add_argument("--erp-file", required=True, type=Path, help="The JSON file ERP.")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--once", action="store_true", help="Until nothing waits, then exit.")
    when.add_argument("--interval", type=float, metavar="N", help="Every N seconds.")
    parser.add_argument("--limit", type=int, default=25, help="Items per claim (1-100).")
    parser.add_argument("--lease", type=int, default=120, help="Seconds a claim holds.")
    parser.add_argument("--timeout", type=float, default=30, help="Seconds per HTTP call.")
    parser.add_argument(
        "--refuse",
        action="append",
        default=[],
        metavar="CODE",
        help="Have the file ERP refuse items with this code or number (repeatable).",
    )
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or $ERPSYNC_TOKEN) is required.")
    api = Api(args.base_url, args.company, args.token, args.timeout)
    erp = JsonFileErp(args.erp_file, set(args.refuse))
    try:
        if args.interval is None:
            return 0 if run(api, erp, limit=args.limit, lease=args.lease) else 1
        while True:
            try:
                run(api, erp, limit=args.limit, lease=args.lease)
            except Unreachable as error:
                log(f"erpsync could not be reached ({error}); trying again in {args.interval} s")
            time.sleep(args.interval)
    except Fatal as error:
        log(f"erpsync refused the connector: {error}")
        return 2
    except Unreachable as error:
        log(f"erpsync could not be reached: {error}")
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
