"""The item as the API shows it, one definition for the API's answers and the event webhooks'
payloads. A page of items costs the same few queries at any size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from api.access import kind_path
from erpsync.approval import ApprovalState, approval_states
from erpsync.models import ErpEvent, ErpItem, display_name
from erpsync.selectors import erp_history
from erpsync.states import ErpAction


def _person(user: Any, at: Any) -> dict[str, Any] | None:
    # A deleted account still shows that someone acted, and when.
    if at is None:
        return None
    return {"id": user.pk if user else None, "name": display_name(user)}


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def _snapshots(items: Sequence[ErpItem]) -> dict[int, dict[str, Any] | None]:
    """{item id: the snapshot its current version was submitted with}: one query."""
    if not items:
        return {}
    model = type(items[0])
    versions = {item.pk: item.erp_version for item in items if item.erp_version}
    found: dict[int, dict[str, Any] | None] = {}
    if versions:
        rows = (
            ErpEvent.objects.filter(
                content_type=ContentType.objects.get_for_model(model),
                object_id__in=list(versions),
                action__in=[ErpAction.SEND, ErpAction.RESEND],
            )
            .order_by("id")
            .values_list("object_id", "version", "snapshot")
        )
        for object_id, version, snapshot in rows:
            if versions.get(object_id) == version:
                found[object_id] = snapshot
    return found


def item_url(item: ErpItem) -> str:
    company = item.erp_company
    return reverse(
        f"api:{item.erp_kind}-detail",
        kwargs={"company": company.slug, "pk": item.pk},
    )


def _payload(
    item: ErpItem, snapshot: dict[str, Any] | None, approval: ApprovalState | None
) -> dict[str, Any]:
    project = item.erp_project
    company = item.erp_company
    return {
        "kind": item.erp_kind,
        "id": item.pk,
        "title": item.erp_title,
        "url": item_url(item),
        "page_url": item.get_absolute_url(),
        "company": company.slug,
        "project": {"id": project.pk, "number": project.number, "name": project.name},
        "state": item.erp_state,
        "state_label": item.get_erp_state_display(),
        "version": item.erp_version,
        "erp_id": item.erp_id or None,
        "last_error": item.erp_error or None,
        "rejection_reason": item.erp_rejection_reason or None,
        "export_attempts": item.erp_export_attempts,
        "sent": _person(item.erp_sent_by, item.erp_sent_at),
        "sent_at": _iso(item.erp_sent_at),
        "accepted": _person(item.erp_accepted_by, item.erp_accepted_at),
        "accepted_at": _iso(item.erp_accepted_at),
        "changed": _person(item.erp_changed_by, item.erp_changed_at),
        "changed_at": _iso(item.erp_changed_at),
        "approvals": {
            "given": approval.given if approval else 0,
            "needed": approval.requirement.count if approval else 1,
            "approvers": [
                {"id": a.approver_id, "name": display_name(a.approver)}
                for a in (approval.approvals if approval else [])
            ],
        },
        "snapshot": snapshot,
    }


def item_payloads(items: Sequence[ErpItem]) -> list[dict[str, Any]]:
    """Items of one kind and one company, as the API lists them."""
    if not items:
        return []
    snapshots = _snapshots(items)
    states = approval_states(items, items[0].erp_company)
    return [_payload(item, snapshots.get(item.pk), states.get(item.pk)) for item in items]


def history(item: ErpItem) -> list[dict[str, Any]]:
    return [
        {
            "id": event.pk,
            "action": event.action,
            "label": event.done_label,
            "from_state": event.from_state or None,
            "to_state": event.to_state or None,
            "actor": {"id": event.actor_id, "name": event.actor_name},
            "at": event.created_at.isoformat(),
            "version": event.version,
            "reason": event.reason or None,
        }
        for event in erp_history(item)
    ]


def item_payload(item: ErpItem, *, with_history: bool = False) -> dict[str, Any]:
    """One item as the API shows it (and as event webhooks send it)."""
    [payload] = item_payloads([item])
    if with_history:
        payload["history"] = history(item)
    return payload


__all__ = ["item_payload", "item_payloads", "item_url", "kind_path"]
