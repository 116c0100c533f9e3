"""Snapshots and edits as people read them: labelled fields in the company's terms, money as
currency, dates as dates, lines as a table.

Each kind of item declares how its snapshot reads (`ErpItem.erp_snapshot_format`); the pages,
the approvers' preview, the changes since a rejection and the history rows all go through
here, so a field is named the same everywhere.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

CENTS = Decimal("0.01")
EMPTY = "—"


def format_money(value: Any) -> str:
    """1234.5 → $1,234.50, from the Decimal's text, never through float; '' for nothing."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(CENTS)
    except (InvalidOperation, ValueError):
        return str(value)
    sign = "-" if amount < 0 else ""
    whole, cents = f"{abs(amount):.2f}".split(".")
    return f"{sign}${int(whole):,}.{cents}"


def format_date(value: Any) -> str:
    """'2026-11-30' → '30 Nov 2026'."""
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{day.day} {day:%b %Y}"


@dataclass(frozen=True)
class SnapshotFormat:
    """How one kind's snapshot reads. Labels may name point-of-view terms in braces, e.g.
    "{prime_contract}", filled from the company's dictionary."""

    labels: Mapping[str, str] = field(default_factory=dict)
    money: frozenset[str] = frozenset()
    dates: frozenset[str] = frozenset()
    percents: frozenset[str] = frozenset()
    choices: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # One row of a list, e.g. "lines" → "Line".
    singular: Mapping[str, str] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset({"kind"})
    # Reading order of keys, at every level (the database keeps JSON keys in its own order);
    # keys not listed follow in the order given.
    order: tuple[str, ...] = ()

    def ordered(self, data: Mapping[str, Any]) -> list[tuple[str, Any]]:
        rank = {key: i for i, key in enumerate(self.order)}
        keys = sorted(data, key=lambda k: (rank.get(k, len(rank)), list(data).index(k)))
        return [(k, data[k]) for k in keys if k not in self.hidden]

    def label(self, key: str, terms: Mapping[str, str]) -> str:
        text = self.labels.get(key) or key.replace("_", " ").capitalize()
        return text.format_map(_Terms(terms))

    def value(self, key: str, raw: Any) -> str:
        if raw is None or raw == "":
            return EMPTY
        if key in self.money:
            return format_money(raw)
        if key in self.dates:
            return format_date(raw)
        if key in self.percents:
            return str(raw)  # the label says "%"
        if key in self.choices:
            return self.choices[key].get(str(raw), str(raw))
        return str(raw)


class _Terms(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return key.replace("_", " ")


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    value: str


@dataclass(frozen=True)
class Table:
    columns: list[str]
    numeric: list[bool]
    rows: list[list[str]]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    fields: list[Field] = field(default_factory=list)
    table: Table | None = None


def sections(
    fmt: SnapshotFormat, snapshot: Mapping[str, Any], terms: Mapping[str, str], title: str
) -> list[Section]:
    """The snapshot as sections: its own fields first (under `title`), then one section per
    nested object, and a table per list of objects (an invoice's lines)."""
    own: list[Field] = []
    nested: list[Section] = []
    for key, raw in fmt.ordered(snapshot):
        if isinstance(raw, Mapping):
            nested.append(
                Section(
                    key,
                    fmt.label(key, terms),
                    [Field(k, fmt.label(k, terms), fmt.value(k, v)) for k, v in fmt.ordered(raw)],
                )
            )
        elif isinstance(raw, list):
            nested.append(Section(key, fmt.label(key, terms), table=_table(fmt, raw, terms)))
        else:
            own.append(Field(key, fmt.label(key, terms), fmt.value(key, raw)))
    return [Section("", title, own), *nested] if own else nested


def _table(fmt: SnapshotFormat, rows: list[Any], terms: Mapping[str, str]) -> Table:
    keys: list[str] = []
    for row in rows:
        for key, _ in fmt.ordered(row) if isinstance(row, Mapping) else ():
            if key not in keys:
                keys.append(key)
    return Table(
        columns=[fmt.label(k, terms) for k in keys],
        numeric=[k in fmt.money or k in fmt.percents for k in keys],
        rows=[[fmt.value(k, row.get(k)) for k in keys] for row in rows if isinstance(row, Mapping)],
    )


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str


def flatten(
    fmt: SnapshotFormat, value: Any, terms: Mapping[str, str], key: str = "", path: str = ""
) -> dict[str, str]:
    """{readable path: readable value}, e.g. {"Line 2 > Materials stored": "$1,000.00"} (with
    a single angle quote as the separator).
    List rows are matched by their place, as a reader compares two invoices."""
    if isinstance(value, Mapping):
        flat: dict[str, str] = {}
        for inner_key, inner in fmt.ordered(value):
            label = fmt.label(inner_key, terms)
            inner_path = f"{path} › {label}" if path else label
            flat |= flatten(fmt, inner, terms, inner_key, inner_path)
        return flat
    if isinstance(value, list):
        flat = {}
        one = fmt.singular.get(key, fmt.label(key, terms))
        parent = path.rpartition(" › ")[0]
        for index, inner in enumerate(value, start=1):
            row_path = f"{parent} › {one} {index}" if parent else f"{one} {index}"
            flat |= flatten(fmt, inner, terms, key, row_path)
        return flat
    return {path: fmt.value(key, value)}


def snapshot_changes(
    fmt: SnapshotFormat, old: Mapping[str, Any], new: Mapping[str, Any], terms: Mapping[str, str]
) -> list[Change]:
    """What differs between two submitted snapshots, field by field, in reading order."""
    before, after = flatten(fmt, old, terms), flatten(fmt, new, terms)
    return [
        Change(path, before.get(path, EMPTY), after.get(path, EMPTY))
        for path in [*before, *(p for p in after if p not in before)]
        if before.get(path) != after.get(path)
    ]


_LINE_FIELD = re.compile(r"^line (\d+) (\w+)$")


def edit_changes(
    fmt: SnapshotFormat, changes: Mapping[str, Any], terms: Mapping[str, str]
) -> list[Change]:
    """An edit's audit row ({field: [old, new]}, lines as "line 2 materials_stored") as
    readable changes."""
    readable = []
    for key, pair in changes.items():
        old, new = [*pair, "", ""][:2] if isinstance(pair, list | tuple) else ("", pair)
        line = _LINE_FIELD.match(key)
        name = line.group(2) if line else key
        label = fmt.label(name, terms)
        if line:
            one = next(iter(fmt.singular.values()), "Line")
            label = f"{one} {line.group(1)} › {label}"
        readable.append(
            Change(
                label,
                fmt.value(name, old) if old not in ("", None) else "",
                fmt.value(name, new) if new not in ("", None) else "",
            )
        )
    return readable


def value_at(data: Any, path: str) -> Any:
    """The value at a dotted `path` ("totals.amount_due") in a snapshot, or None."""
    for name in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(name)
    return data
