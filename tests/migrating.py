"""Data-migration tests: rows written with the models as they were at an older migration,
then every migration since run on them."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def apps_at(target: list[tuple[str, str]]) -> Any:
    """Migrate the test database back to `target`; the models as they were there."""
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def migrate_to_latest() -> None:
    # A new executor: the one that migrated back still holds the old state.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
