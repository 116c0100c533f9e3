"""The company audit log as CSV, streamed: rows are read in chunks from a server-side cursor
and written one line at a time, so 100,000 rows never sit in memory."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from companysettings.audit import audit_row, with_items
from erpsync.models import ErpEvent
from projects.models import Company

HEADER = [
    "when",
    "company",
    "item kind",
    "item",
    "action",
    "from state",
    "to state",
    "actor",
    "reason",
    "version",
    "changes",
]
CHUNK = 1000
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """The cell as text, with a leading quote when a spreadsheet would read a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


class _Echo:
    """A file that hands back what is written to it, for csv.writer one line at a time."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: QuerySet[ErpEvent], company: Company) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(HEADER)
    events = with_items(rows).order_by("-created_at", "-pk")
    for event in events.iterator(chunk_size=CHUNK):
        row = audit_row(event, company, None)
        yield writer.writerow(
            [
                safe_cell(cell)
                for cell in (
                    event.created_at.isoformat(),
                    company.name,
                    row.kind,
                    row.item,
                    row.action,
                    row.from_state,
                    row.to_state,
                    event.actor_name,
                    event.reason,
                    "" if event.version is None else event.version,
                    row.changes_text,
                )
            ]
        )
