"""The item as the API shows it, one definition for the API's answers and the event webhooks'
payloads. A page of items costs the same few queries at any size."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db.models import prefetch_related_objects
from django.urls import reverse

from companysettings.audit import AuditRow
from erpsync.approval import ApprovalState, approval_states
from erpsync.models import ErpEvent, ErpItem, UpdateRequest, display_name
from erpsync.selectors import erp_history
from erpsync.updates import last_update
from invoicing.models import OwnerInvoice
from projects.models import Company, Project, ProjectMembership
from projects.permissions import manages_owner_invoices, manages_sub_jobs
from subjobs.models import SubJob


def _person(user: Any, at: Any) -> dict[str, Any] | None:
    # A deleted account still shows that someone acted, and when.
    if at is None:
        return None
    return {"id": user.pk if user else None, "name": display_name(user)}


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def item_url(item: ErpItem, company: Company | None = None) -> str:
    company = company or item.erp_company
    return reverse(
        f"api:{item.erp_kind}-detail",
        kwargs={"company": company.slug, "pk": item.pk},
    )


def _payload(
    item: ErpItem,
    company: Company,
    snapshot: dict[str, Any] | None,
    approval: ApprovalState | None,
) -> dict[str, Any]:
    project = item.erp_project
    return {
        "kind": item.erp_kind,
        "id": item.pk,
        "title": item.erp_title,
        "url": item_url(item, company),
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
        # The last unlink (its audit row names who): the ERP id the item had then.
        "unlinked_erp_id": item.erp_unlinked_id or None,
        "unlinked_at": _iso(item.erp_unlinked_at),
        "still_in_erp": item.erp_unlink_refusal or None,
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


def item_payloads(items: Sequence[ErpItem], company: Company | None = None) -> list[dict[str, Any]]:
    """Items of one kind and one company (`company`, when the caller has it), as the API lists
    them."""
    if not items:
        return []
    # One company for the page: each row's own path to it would cost a query per row.
    company = company or items[0].erp_company
    snapshots = ErpEvent.objects.submitted_snapshots(items)
    states = approval_states(items, company)
    return [_payload(item, company, snapshots.get(item.pk), states.get(item.pk)) for item in items]


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


def update_request_payload(item: ErpItem) -> dict[str, Any] | None:
    """The item's newest update request (Ready to Update), whatever its state: a rejected
    one's reason stays readable until the next request. None when it never had one."""
    request = last_update(item)
    return None if request is None else request_payload(request)


def request_payload(request: UpdateRequest) -> dict[str, Any]:
    """One update request as the API shows it (and as event webhooks send it)."""
    return {
        "number": request.number,
        "state": request.state,
        "state_label": request.get_state_display(),
        "changes": {
            name: {"erp": pair[0], "requested": pair[1]} for name, pair in request.changes.items()
        },
        "idempotency_key": request.idempotency_key,
        "requested_by": _person(request.requested_by, request.requested_at),
        "requested_at": _iso(request.requested_at),
        "decided_by": _person(request.decided_by, request.decided_at),
        "decided_at": _iso(request.decided_at),
        "reason": request.reason or None,
        "error": request.error or None,
    }


def item_payload(item: ErpItem, *, with_history: bool = False) -> dict[str, Any]:
    """One item as the API shows it (and as event webhooks send it); the detail adds its
    history and its update request."""
    [payload] = item_payloads([item])
    if with_history:
        payload["history"] = history(item)
        payload["update_request"] = update_request_payload(item)
    return payload


# ----- what some endpoints add to an item, and the other resources ------------------------


def _money(value: Decimal) -> str:
    # Money is a string with its cents ("1234.50"), never a float: JSON numbers lose cents.
    return str(value)


def sub_job_fields(sub_job: SubJob) -> dict[str, Any]:
    """A sub job's own fields as they are now (the snapshot is what was last submitted)."""
    return {
        "code": sub_job.code,
        "name": sub_job.name,
        "status": sub_job.status,
        "status_label": sub_job.get_status_display(),
        "created_at": _iso(sub_job.created_at),
        "updated_at": _iso(sub_job.updated_at),
    }


def invoice_fields(invoice: OwnerInvoice) -> dict[str, Any]:
    """An owner invoice as it is now: contract, billing period, lines and totals (one query
    for the lines)."""
    contract, period = invoice.prime_contract, invoice.billing_period
    prefetch_related_objects([invoice], "lines")
    lines = list(invoice.lines.all())
    totals = invoice.totals()  # from the prefetched lines, the model's own sums
    return {
        "number": invoice.number,
        "status": invoice.status,
        "status_label": invoice.get_status_display(),
        "prime_contract": {
            "id": contract.pk,
            "number": contract.number,
            "title": contract.title,
            "owner_client": contract.owner_client,
            "status": contract.status,
        },
        "billing_period": None
        if period is None
        else {
            "id": period.pk,
            "number": period.number,
            "start_date": period.start_date.isoformat(),
            "end_date": period.end_date.isoformat(),
            "due_date": period.due_date.isoformat(),
        },
        # The line as a snapshot records it (money as strings), with its id.
        "lines": [{"id": line.pk, **line.snapshot()} for line in lines],
        "totals": {key: _money(value) for key, value in totals.items()},
        "amount_due": _money(totals["amount_due"]),
        "created_at": _iso(invoice.created_at),
        "updated_at": _iso(invoice.updated_at),
    }


def project_payload(project: Project, membership: ProjectMembership | None) -> dict[str, Any]:
    """A project, with what the user may do on it (their project membership, if any)."""
    return {
        "id": project.pk,
        "number": project.number,
        "name": project.name,
        "erp_synced": project.erp_synced,
        "erp_job_id": project.erp_job_id or None,
        "member": membership is not None,
        "manages_sub_jobs": manages_sub_jobs(membership),
        "manages_owner_invoices": manages_owner_invoices(membership),
    }


def event_payload(row: AuditRow) -> dict[str, Any]:
    """One row of the company audit log, as the page shows it."""
    event = row.event
    obj = event.item
    return {
        "id": event.pk,
        "at": event.created_at.isoformat(),
        "kind": row.kind,
        "object": {
            "type": row.item_filter.partition(":")[0] if row.item_filter else None,
            "id": event.object_id,
            "name": row.item,
            "url": item_url(obj) if isinstance(obj, ErpItem) else None,
        },
        "action": event.action,
        "action_label": row.action,
        "from_state": event.from_state or None,
        "to_state": event.to_state or None,
        "actor": {"id": event.actor_id, "name": event.actor_name},
        "reason": event.reason or None,
        "version": event.version,
        "changes": [{"field": field, "old": old, "new": new} for field, old, new in row.changes],
    }
