"""Each company's items per kind and state, counted by the database as they change.

The queue's tabs show how many items wait in each state. Counting them on every page read
every item of the company (43 ms of a 100,000-item queue's page 1). Instead, triggers on each
kind's table add a row to `StateCount` for every write that changes how many items are in a
state: +n for the state entered, -n for the one left, per statement (PostgreSQL: statement
triggers over transition tables, so a bulk decision of 500 adds two rows) or per row
(SQLite, the demo). They fire for every write whatever wrote it (a service, a bulk
`UPDATE`, the admin, a migration, a bench's `INSERT … SELECT`), so the counts cannot drift
from the items. Rows are only ever inserted, never updated: concurrent transitions never wait
for one another on a counter. `compact()` (beat, every ERP_COUNTS_COMPACT_SECONDS) folds them
into one row per company, kind and state; a read sums a company's rows (one indexed query).

A kind's app installs its triggers in a migration (`counting(...)`; README, Adding a kind of
item); `missing_triggers()` tells which tables lack them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection, migrations, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import Sum

from erpsync.models import ErpItem, StateCount

TABLE = "erpsync_statecount"
PREFIX = "erpsync_count_"


@dataclass(frozen=True)
class CountedTable:
    """One kind's table: its name, its kind, the column leading to the company and the SQL
    that turns that column's value ({} in it) into the company's id."""

    table: str
    kind: str
    column: str
    company_of: str

    def company(self, value: str) -> str:
        return "(" + self.company_of.format(value) + ")"

    # ----- PostgreSQL: statement triggers over transition tables ------------------------

    def postgresql(self) -> list[str]:
        name = f"{PREFIX}{self.table}"
        changed = (
            "o.erp_state IS DISTINCT FROM w.erp_state "
            f"OR o.{self.column} IS DISTINCT FROM w.{self.column}"
        )

        def insert(rows: str) -> str:
            return (
                f"INSERT INTO {TABLE} (company_id, kind, state, n) "
                f"SELECT {self.company('g.ref')}, '{self.kind}', g.state, g.n FROM ("
                f"SELECT ref, state, SUM(n) AS n FROM ({rows}) d GROUP BY ref, state "
                "HAVING SUM(n) <> 0) g;"
            )

        inserted = f"SELECT {self.column} AS ref, erp_state AS state, 1 AS n FROM new_rows"
        deleted = f"SELECT {self.column} AS ref, erp_state AS state, -1 AS n FROM old_rows"
        updated = (
            f"SELECT o.{self.column} AS ref, o.erp_state AS state, -1 AS n "
            f"FROM old_rows o JOIN new_rows w ON w.id = o.id WHERE {changed} "
            f"UNION ALL SELECT w.{self.column}, w.erp_state, 1 "
            f"FROM old_rows o JOIN new_rows w ON w.id = o.id WHERE {changed}"
        )
        function = (
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            f"IF TG_OP = 'INSERT' THEN {insert(inserted)} "
            f"ELSIF TG_OP = 'DELETE' THEN {insert(deleted)} "
            f"ELSE {insert(updated)} END IF; "
            "RETURN NULL; END $$;"
        )
        tables = {
            "INSERT": "NEW TABLE AS new_rows",
            "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            "DELETE": "OLD TABLE AS old_rows",
        }
        return [function] + [
            f"CREATE TRIGGER {name}_{event.lower()} AFTER {event} ON {self.table} "
            f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {name}();"
            for event, referencing in tables.items()
        ]

    # ----- SQLite (the demo): row triggers -----------------------------------------------

    def sqlite(self) -> list[str]:
        name = f"{PREFIX}{self.table}"

        def insert(row: str, n: int) -> str:
            return (
                f"INSERT INTO {TABLE} (company_id, kind, state, n) VALUES ("
                f"{self.company(f'{row}.{self.column}')}, '{self.kind}', {row}.erp_state, {n});"
            )

        return [
            f"CREATE TRIGGER {name}_insert AFTER INSERT ON {self.table} "
            f"BEGIN {insert('NEW', 1)} END;",
            f"CREATE TRIGGER {name}_update AFTER UPDATE OF erp_state, {self.column} "
            f"ON {self.table} WHEN OLD.erp_state IS NOT NEW.erp_state "
            f"OR OLD.{self.column} IS NOT NEW.{self.column} "
            f"BEGIN {insert('OLD', -1)} {insert('NEW', 1)} END;",
            f"CREATE TRIGGER {name}_delete AFTER DELETE ON {self.table} "
            f"BEGIN {insert('OLD', -1)} END;",
        ]

    def drop(self, vendor: str) -> list[str]:
        name = f"{PREFIX}{self.table}"
        drops = [f"DROP TRIGGER IF EXISTS {name}_{e}" for e in ("insert", "update", "delete")]
        if vendor == "postgresql":
            return [f"{d} ON {self.table};" for d in drops] + [f"DROP FUNCTION IF EXISTS {name}();"]
        return [f"{d};" for d in drops]

    def backfill(self) -> str:
        """The rows that make the counts right for the items already there."""
        return (
            f"INSERT INTO {TABLE} (company_id, kind, state, n) "
            f"SELECT {self.company(f't.{self.column}')}, '{self.kind}', t.erp_state, COUNT(*) "
            f"FROM {self.table} t GROUP BY t.{self.column}, t.erp_state;"
        )


def counted_table(model: type[ErpItem]) -> CountedTable:
    """The CountedTable of a kind, from its `erp_company_path` (what its migration installs;
    tests/test_state_counts.py checks that the two agree)."""
    names = model.erp_company_path.split("__")
    first = model._meta.get_field(names[0])
    current = first.related_model
    source = f"{current._meta.db_table} t0"
    for i, name in enumerate(names[1:-1], start=1):
        link = current._meta.get_field(name)
        current = link.related_model
        source += (
            f" JOIN {current._meta.db_table} t{i} ON t{i}.{current._meta.pk.column} = "
            f"t{i - 1}.{link.column}"
        )
    company = f"t{len(names) - 2}.{current._meta.get_field(names[-1]).column}"
    root = first.related_model._meta.pk.column
    return CountedTable(
        table=model._meta.db_table,
        kind=model.erp_kind,
        column=first.column,
        company_of=f"SELECT {company} FROM {source} WHERE t0.{root} = {{}}",
    )


def install(schema_editor: BaseDatabaseSchemaEditor, counted: CountedTable) -> None:
    """Create the table's triggers and count the items it holds (in the migration's
    transaction, so no write falls between the two)."""
    vendor = schema_editor.connection.vendor
    for sql in counted.drop(vendor):
        schema_editor.execute(sql)
    for sql in counted.postgresql() if vendor == "postgresql" else counted.sqlite():
        schema_editor.execute(sql)
    schema_editor.execute(f"DELETE FROM {TABLE} WHERE kind = %s", [counted.kind])
    schema_editor.execute(counted.backfill())


def uninstall(schema_editor: BaseDatabaseSchemaEditor, counted: CountedTable) -> None:
    for sql in counted.drop(schema_editor.connection.vendor):
        schema_editor.execute(sql)
    schema_editor.execute(f"DELETE FROM {TABLE} WHERE kind = %s", [counted.kind])


def counting(counted: CountedTable) -> migrations.RunPython:
    """The migration operation that installs `counted`'s triggers (and removes them when
    migrating back)."""

    def forwards(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
        install(schema_editor, counted)

    def backwards(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
        uninstall(schema_editor, counted)

    return migrations.RunPython(forwards, backwards)


def rebuild(models: list[type[ErpItem]]) -> None:
    """Count every item again from scratch (after a `loaddata`, whose items the triggers
    count on top of the loaded counts). Concurrent writes wait for it, then add their rows
    to the new counts."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Waits for the transactions that wrote rows; blocks new rows until the commit.
            cursor.execute(f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE")
        cursor.execute(f"DELETE FROM {TABLE}")
        for model in models:
            cursor.execute(counted_table(model).backfill())


def missing_triggers(tables: list[str]) -> list[str]:
    """The triggers of `tables` that the database lacks (SQLite drops a table's triggers
    when a migration rebuilds the table; a check of ops and tests)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE %s", [f"{PREFIX}%"])
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
                [f"{PREFIX}%"],
            )
        present = {row[0] for row in cursor.fetchall()}
    wanted = [f"{PREFIX}{t}_{e}" for t in tables for e in ("insert", "update", "delete")]
    return [name for name in wanted if name not in present]


def counts_of(company_id: int) -> dict[str, dict[str, int]]:
    """{kind: {state: count}} of the company's items, for the states that have any."""
    counts: dict[str, dict[str, int]] = {}
    rows = (
        StateCount.objects.filter(company_id=company_id)
        .values_list("kind", "state")
        .annotate(total=Sum("n"))
        .order_by()
    )
    for kind, state, total in rows:
        if total:
            counts.setdefault(kind, {})[state] = total
    return counts


def compact() -> int:
    """Fold every company's rows into one per kind and state (dropping those that sum to
    nothing); how many rows it removed. Safe beside concurrent writes: PostgreSQL deletes and
    sums the same rows in one statement; SQLite writes one transaction at a time."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH gone AS (DELETE FROM {TABLE} RETURNING company_id, kind, state, n), "
                f"kept AS (INSERT INTO {TABLE} (company_id, kind, state, n) "
                "SELECT company_id, kind, state, SUM(n) FROM gone "
                "WHERE company_id IS NOT NULL GROUP BY company_id, kind, state "
                "HAVING SUM(n) <> 0 RETURNING 1) "
                "SELECT (SELECT COUNT(*) FROM gone) - (SELECT COUNT(*) FROM kept)"
            )
            return int(cursor.fetchone()[0])
        cursor.execute(f"SELECT COUNT(*), MAX(id) FROM {TABLE}")
        before, last = cursor.fetchone()
        if not last:
            return 0
        cursor.execute(
            f"INSERT INTO {TABLE} (company_id, kind, state, n) "
            f"SELECT company_id, kind, state, SUM(n) FROM {TABLE} "
            "WHERE id <= %s AND company_id IS NOT NULL GROUP BY company_id, kind, state "
            "HAVING SUM(n) <> 0",
            [last],
        )
        added = cursor.rowcount
        cursor.execute(f"DELETE FROM {TABLE} WHERE id <= %s", [last])
        return int(before) - added
