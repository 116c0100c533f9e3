"""What changed between the rejected version of an item and the version resent since."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType

from erpsync.models import ErpEvent, ErpItem
from erpsync.selectors import submitted_snapshot
from erpsync.snapshots import Change, snapshot_changes
from erpsync.states import AWAITING_APPROVAL, ErpAction
from projects.terms import terms_for


@dataclass(frozen=True)
class SinceRejection:
    rejection: ErpEvent
    changes: list[Change]


def changes_since_rejection(item: ErpItem) -> SinceRejection | None:
    """For a resent item: the last rejection of a pending version and what changed since,
    labelled in the company's terms."""
    rejection = (
        ErpEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(item),
            object_id=item.pk,
            action=ErpAction.REJECT,
            from_state__in=AWAITING_APPROVAL,
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
    changes = snapshot_changes(
        item.erp_snapshot_format,
        rejected.snapshot or {},
        current.snapshot or {},
        terms_for(item.erp_company),
    )
    return SinceRejection(rejection, changes)
