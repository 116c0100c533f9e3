"""Moving an item to a given ERP state through the real services, as users would."""

from __future__ import annotations

from typing import Any

from erpsync.models import ApprovalRule
from erpsync.services import (
    erp_accept,
    erp_mark_export_failed,
    erp_mark_synced,
    erp_reject,
    erp_retrieve,
    erp_send,
)
from tests import factories as f


def drive_to(item: Any, state: str, *, sender: Any, approver: Any) -> Any:
    if state == "not_sent":
        return item
    item = erp_send(item=item, user=sender)
    if state == "pending":
        return item
    if state == "retrieved":
        return erp_retrieve(item=item, user=sender)
    if state == "rejected":
        return erp_reject(item=item, user=approver, reason="Wrong cost code")
    if state == "partially_approved":
        # Two approvals needed; another approver gives the first, `approver` may give the last.
        ApprovalRule.objects.get_or_create(
            company=item.erp_company, kind=item.erp_kind, min_amount=0, approvals_required=2
        )
        return erp_accept(item=item, user=f.approver(item.erp_company))
    item = erp_accept(item=item, user=approver)
    if state == "accepted":
        return item
    if state == "synced":
        return erp_mark_synced(item=item, erp_id="ERP-42")
    if state == "export_failed":
        return erp_mark_export_failed(item=item, error="Period closed")
    raise ValueError(state)
