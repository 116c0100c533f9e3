"""Writing many rows' fields in one UPDATE, for the export batches (erpsync.batch_exports)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from django.db import connection, models
from django.db.models.expressions import RawSQL


def _json(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def write_fields(model: type[models.Model], objs: Sequence[models.Model], fields: list[str]) -> int:
    """One UPDATE writing `fields` of `objs` as they are in memory, as bulk_update does, but
    without its CASE WHEN per row and field (whose building in Python cost more than the
    statement itself: about 0.3 s for 100 items): a value every row shares is written as it is;
    one that differs is read from a JSON map of primary key → value, cast to the column's
    type. Returns the number of rows written."""
    if not objs:
        return 0
    pk = model._meta.pk
    assert pk is not None
    values: dict[str, Any] = {}
    for name in fields:
        field = model._meta.get_field(name)
        assert isinstance(field, models.Field)
        by_pk = {obj.pk: getattr(obj, field.attname) for obj in objs}
        distinct = set(map(repr, by_pk.values()))
        if len(distinct) == 1:
            values[field.attname] = next(iter(by_pk.values()))
            continue
        mapping = json.dumps({str(key): _json(value) for key, value in by_pk.items()})
        column = connection.ops.quote_name(pk.column)
        values[field.attname] = RawSQL(
            f"((%s::jsonb ->> {column}::text)::{field.db_type(connection)})", [mapping]
        )
    return model._default_manager.filter(pk__in=[obj.pk for obj in objs]).update(**values)
