"""Refresh: read a synced item back from the company's ERP (Capability.FETCH).

A refresh stores what the kind keeps of the ERP record (an owner invoice's amounts paid and
due), writes a "Payment received" audit row for each payment the ERP booked that erpsync has
not recorded yet (once each, however often it runs), and flags the item at once when the
record was deleted, cancelled or changed in the ERP (`erp_drift`), announcing it as
DriftFound like the nightly reconciliation does. A person's Refresh always leaves an audit row
saying what changed; the scheduled refresh leaves one only when something did.

The ERP is asked before the row is locked: a slow ERP must not hold the item's lock.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from erpsync.adapters import (
    Capability,
    ErpError,
    ErpRecord,
    ErpStatus,
    adapter_class,
    adapter_class_for,
    adapter_for,
    pull_adapter_keys,
)
from erpsync.events import DriftFound, publish
from erpsync.kinds import erp_item_model, erp_item_models
from erpsync.models import ErpEvent, ErpItem
from erpsync.selectors import submitted_snapshot
from erpsync.services import _lock, record_event
from erpsync.snapshots import format_money, value_at
from erpsync.states import Decision, ErpAction, ErpActionRefused, ErpState, Refusal, RefusalKind
from erpsync.updates import erp_values
from projects.models import Company
from projects.permissions import is_accounting_approver, is_erp_tool_admin

logger = logging.getLogger(__name__)

REFRESH_PERMISSION = (
    "Only the company's accounting approvers and ERP Integrations tool Admins can refresh "
    "items from the ERP."
)


def refresh_decision(item: ErpItem, user: Any) -> Decision:
    """Whether `user` may refresh the item now; `user` None is the scheduled refresh."""
    refusals: list[Refusal] = []
    if item.erp_state != ErpState.SYNCED:
        refusals.append(
            Refusal(
                RefusalKind.STATE,
                f"This {item.erp_kind_label} is not synced with the ERP: there is nothing to "
                "refresh.",
            )
        )
    adapter = adapter_class_for(item.erp_company)
    if not adapter.can(Capability.FETCH):
        refusals.append(Refusal(RefusalKind.PRECONDITION, adapter.cannot(Capability.FETCH)))
    company = item.erp_company
    if user is not None and not (
        is_accounting_approver(user, company, item.erp_kind) or is_erp_tool_admin(user, company)
    ):
        refusals.append(Refusal(RefusalKind.PERMISSION, REFRESH_PERMISSION))
    return Decision(action=ErpAction.REFRESH, refusals=tuple(refusals))


def _same(ours: Any, theirs: str) -> bool:
    try:
        return Decimal(str(ours)) == Decimal(theirs)
    except (InvalidOperation, ValueError):
        return str(ours).strip() == theirs.strip()


def drift_of(item: ErpItem, record: ErpRecord) -> str:
    """What is wrong with the item's ERP record, in a sentence or two; '' when nothing."""
    if not record.exists:
        return f"Deleted in the ERP: it no longer holds ERP id {item.erp_id}."
    if record.status == ErpStatus.CANCELLED:
        return f"Cancelled in the ERP (ERP id {item.erp_id})."
    submitted = submitted_snapshot(item)
    # What the ERP should hold: the exported version with its synced updates (a rename).
    snapshot = erp_values(item, submitted.snapshot if submitted is not None else None)
    problems = []
    for path, theirs in sorted(record.fields.items()):
        ours = value_at(snapshot, path)
        if ours is not None and not _same(ours, theirs):
            problems.append(f"{path} is {theirs} in the ERP but {ours} in erpsync")
    return f"Changed in the ERP: {'; '.join(problems)}." if problems else ""


def _recorded_payments(item: ErpItem) -> set[str]:
    events = ErpEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(item),
        object_id=item.pk,
        action=ErpAction.PAYMENT,
    )
    return {(d or {}).get("payment", "") for d in events.values_list("details", flat=True)}


def erp_refresh[Item: ErpItem](*, item: Item, user: Any) -> Item:
    """Read the synced item back from the ERP and record what changed. Raises
    ErpActionRefused when `user` may not, and the adapter's ErpError when the ERP cannot be
    asked (nothing is written then)."""
    decision = refresh_decision(item, user)
    if not decision.allowed:
        raise ErpActionRefused(decision)
    erp_id = item.erp_id
    record = adapter_for(item.erp_company).fetch(item.erp_kind, erp_id)
    with transaction.atomic():
        locked = _lock(item)
        if locked.erp_state != ErpState.SYNCED or locked.erp_id != erp_id:
            return locked  # unlinked or re-exported while the ERP was asked: nothing to apply
        extra = {} if user is not None else {"by_ops": True, "scheduled": True}
        known = _recorded_payments(locked)
        for payment in sorted(record.payments, key=lambda p: (p.on, p.reference)):
            if payment.key in known:
                continue
            record_event(
                item=locked,
                action=ErpAction.PAYMENT,
                actor=user,
                from_state=locked.erp_state,
                reason=f"Payment received {format_money(payment.amount)} on "
                f"{payment.on.strftime('%-d %b %Y')} (reference {payment.reference}).",
                details={
                    **extra,
                    "payment": payment.key,
                    "amount": str(payment.amount),
                    "on": payment.on.isoformat(),
                    "reference": payment.reference,
                },
            )
        names = [f.attname for f in type(locked)._meta.concrete_fields if not f.primary_key]
        before = {name: getattr(locked, name) for name in names}
        changes = locked.erp_apply_fetched(record)
        drift = drift_of(locked, record)
        new_drift = drift and drift != locked.erp_drift
        if drift != locked.erp_drift:
            changes.append(drift or "No longer differs from the ERP.")
        locked.erp_drift = drift
        locked.erp_refreshed_at = timezone.now()
        changed = [n for n in names if n != "erp_state" and getattr(locked, n) != before[n]]
        type(locked).objects.filter(pk=locked.pk).update(
            **{name: getattr(locked, name) for name in {*changed, "erp_drift", "erp_refreshed_at"}}
        )
        if changes or user is not None:
            record_event(
                item=locked,
                action=ErpAction.REFRESH,
                actor=user,
                from_state=locked.erp_state,
                reason="; ".join(changes) or "No change in the ERP.",
                details={**extra, "status": str(record.status), "refreshed": changes},
            )
        if new_drift:
            publish(DriftFound(company=locked.erp_company, report=_report(locked, drift)))
    return locked


def _report(item: ErpItem, drift: str) -> dict[str, Any]:
    """A one-item drift report in the nightly reconciliation's shape (erpsync.reconcile)."""
    return {
        "company": item.erp_company.slug,
        "adapter": item.erp_company.erp_adapter,
        "source": "refresh",
        "checked": 1,
        "not_checked": 0,
        "drift": [
            {
                "kind": item.erp_kind,
                "id": item.pk,
                "title": str(item),
                "erp_id": item.erp_id,
                "problem": drift,
            }
        ],
        "stray_drafts": [],
        "error": None,
    }


# ----- the scheduled refresh --------------------------------------------------------------


def fetching_companies() -> list[Company]:
    """Companies whose adapter can read records back (and which erpsync pushes to)."""
    keys = [
        key for key in settings.ERP_ADAPTERS if key not in pull_adapter_keys() and _can_fetch(key)
    ]
    return list(Company.objects.filter(erp_adapter__in=keys).order_by("pk"))


def _can_fetch(key: str) -> bool:
    return adapter_class(key).can(Capability.FETCH)


def due_for_refresh(limit: int | None = None) -> list[tuple[str, int]]:
    """(kind, id) of synced items of fetching companies not refreshed within the interval,
    least recently refreshed first, at most `limit` (ERP_REFRESH_BATCH) in all."""
    limit = limit or settings.ERP_REFRESH_BATCH
    companies = fetching_companies()
    if not companies:
        return []
    since = timezone.now() - timedelta(seconds=settings.ERP_REFRESH_EVERY_SECONDS * 0.9)
    due: list[tuple[str, int]] = []
    for model in erp_item_models():
        company_path = model.erp_company_path
        rows = (
            model.objects.filter(erp_state=ErpState.SYNCED)
            .filter(**{f"{company_path}__in": companies})
            .filter(Q(erp_refreshed_at__isnull=True) | Q(erp_refreshed_at__lt=since))
            .order_by(F("erp_refreshed_at").asc(nulls_first=True), "pk")
            .values_list("pk", flat=True)[: limit - len(due)]
        )
        due.extend((model.erp_kind, pk) for pk in rows)
        if len(due) >= limit:
            break
    return due


def refresh_by_id(*, kind: str, item_id: int) -> str:
    """The scheduled refresh of one item, by id: "refreshed", "skipped" (gone, no longer
    synced, or its ERP can no longer be read back) or "error" (the ERP could not be asked;
    the item stays due and the next round tries again)."""
    model = erp_item_model(kind)
    item = model.objects.select_related(*model.erp_related).filter(pk=item_id).first()
    if item is None:
        return "skipped"
    try:
        erp_refresh(item=item, user=None)
    except ErpActionRefused:
        return "skipped"
    except ErpError as e:
        logger.warning("refresh %s %s: %s", kind, item_id, e.message)
        return "error"
    return "refreshed"
