"""What changed between two submitted snapshots, field by field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType

from erpsync.models import ErpEvent, ErpItem
from erpsync.selectors import submitted_snapshot
from erpsync.states import ErpAction, ErpState


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        flat: dict[str, str] = {}
        for key, inner in value.items():
            flat |= flatten(inner, f"{prefix} › {key}" if prefix else str(key))
        return flat
    if isinstance(value, list):
        flat = {}
        for index, inner in enumerate(value, start=1):
            # Lines are matched by their place on the invoice, as a reader compares them.
            flat |= flatten(inner, f"{prefix} {index}")
        return flat
    return {prefix: "" if value is None else str(value)}


def _label(path: str) -> str:
    return path.replace("_", " ").capitalize()


def snapshot_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    before, after = flatten(old), flatten(new)
    return [
        Change(_label(path), before.get(path, "—"), after.get(path, "—"))
        for path in [*before, *(p for p in after if p not in before)]
        if before.get(path) != after.get(path)
    ]


@dataclass(frozen=True)
class SinceRejection:
    rejection: ErpEvent
    changes: list[Change]


def changes_since_rejection(item: ErpItem) -> SinceRejection | None:
    """For a resent item: the last rejection of a pending version and what changed since."""
    rejection = (
        ErpEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(item),
            object_id=item.pk,
            action=ErpAction.REJECT,
            from_state=ErpState.PENDING,
        )
        .select_related("actor")
        .order_by("-pk")
        .first()
    )
    if rejection is None or rejection.version is None or rejection.version >= item.erp_version:
        return None
    rejected = submitted_snapshot(item, rejection.version)
    current = submitted_snapshot(item)
    if rejected is None or current is None:
        return None
    return SinceRejection(
        rejection, snapshot_changes(rejected.snapshot or {}, current.snapshot or {})
    )
