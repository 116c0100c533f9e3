"""Compare synced items with what the company's ERP holds now (erp_reconcile, nightly job).

Only items synced through the company's current adapter are compared: after a company moves
from one ERP to another, what the old one holds is listed as not checked, not as drift.

For an adapter that can list its drafts (Capability.LIST_DRAFTS), the report also lists the
stray drafts: unposted ERP records carrying an erpsync key that no current export explains.
A draft is explained only when its key is the current version of one of the company's items
that is being exported (accepted), waiting for an approver after a failed export, or synced
as that very record (then the item's own check reports that it is not posted). Any other
draft (an earlier version's, a rejected version's, a second record of a synced item, or a key
naming no item) is one nobody will post or remove: it counts as drift. A key naming another
company's item is left to that company's report.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured

from erpsync import ops
from erpsync.adapters import (
    Adapter,
    Capability,
    ErpDraft,
    ErpError,
    IdempotencyKey,
    TransientErpError,
    adapter_for,
)
from erpsync.events import DriftFound, publish
from erpsync.kinds import erp_item_models
from erpsync.models import ErpEvent
from erpsync.states import ErpAction, ErpState
from projects.models import Company

logger = logging.getLogger(__name__)


def _synced_via(company: Company) -> dict[tuple[int, int], str]:
    """(content type, item id) → the adapter that last synced it, in one query."""
    via: dict[tuple[int, int], str] = {}
    events = ErpEvent.objects.filter(company=company, action=ErpAction.MARK_SYNCED).order_by("pk")
    for ct, object_id, details in events.values_list("content_type_id", "object_id", "details"):
        via[(ct, object_id)] = (details or {}).get("adapter", "")
    return via


def reconcile_company(company: Company) -> dict[str, Any] | None:
    """The company's drift report, or None when its ERP cannot be asked (no reconcile())."""
    entry: dict[str, Any] = {
        "company": company.slug,
        "adapter": company.erp_adapter,
        "checked": 0,
        "not_checked": 0,
        "drift": [],
        "stray_drafts": [],
        "error": None,
    }
    try:
        adapter = adapter_for(company)
    except ImproperlyConfigured as e:
        entry["error"] = str(e)
        return entry
    if not adapter.can(Capability.RECONCILE):
        return None
    via = _synced_via(company)
    for model in erp_item_models():
        content_type = ContentType.objects.get_for_model(model)
        items = (
            model.objects.select_related(*model.erp_related)
            .for_company(company)
            .filter(erp_state=ErpState.SYNCED)
            .order_by("pk")
        )
        snapshots = {
            (e.object_id, e.version): e.snapshot
            for e in ErpEvent.objects.filter(
                content_type=content_type,
                company=company,
                action__in=[ErpAction.SEND, ErpAction.RESEND],
            ).only("object_id", "version", "snapshot")
        }
        for item in items:
            synced_by = via.get((content_type.pk, item.pk), "")
            if synced_by and synced_by != company.erp_adapter:
                entry["not_checked"] += 1
                continue
            entry["checked"] += 1
            snapshot = snapshots.get((item.pk, item.erp_version))
            where = {
                "kind": model.erp_kind,
                "id": item.pk,
                "title": str(item),
                "erp_id": item.erp_id,
            }
            if snapshot is None:
                problems = ["No submitted snapshot to compare with."]
            else:
                try:
                    problems = list(adapter.reconcile(model.erp_kind, item.erp_id, snapshot))
                except TransientErpError as e:
                    entry["error"] = f"The ERP could not be asked: {e.message}"
                    return entry
                except ErpError as e:
                    problems = [f"The ERP refused the comparison: {e.message}"]
            entry["drift"].extend({**where, "problem": p} for p in problems)
    if adapter.can(Capability.LIST_DRAFTS):
        try:
            entry["stray_drafts"] = stray_drafts(company, adapter)
        except ErpError as e:
            entry["error"] = f"The ERP could not list its drafts: {e.message}"
    return entry


# A draft whose key is an item's current version is expected while the item is in one of
# these states: its export is running or will be retried (accepted, export_failed).
_EXPORTING = {ErpState.ACCEPTED, ErpState.EXPORT_FAILED}


def stray_drafts(company: Company, adapter: Adapter) -> list[dict[str, Any]]:
    """The adapter's drafts that no current export of the company's items explains."""
    drafts = [(draft, IdempotencyKey.parse(draft.reference)) for draft in adapter.drafts()]
    models = {model.erp_kind: model for model in erp_item_models()}
    items: dict[tuple[str, int], Any] = {}
    for kind, model in models.items():
        ids = {key.item_id for _, key in drafts if key is not None and key.kind == kind}
        if ids:
            found = model.objects.select_related(*model.erp_related).filter(pk__in=ids)
            items.update(((kind, item.pk), item) for item in found)
    stray = []
    for draft, key in drafts:
        item = items.get((key.kind, key.item_id)) if key is not None else None
        if item is not None and item.erp_company.pk != company.pk:
            continue
        reason = _stray_reason(draft, key, item)
        if reason is None:
            continue
        stray.append(
            {
                "erp_id": draft.erp_id,
                "reference": draft.reference,
                "description": draft.description,
                "kind": key.kind if key is not None else None,
                "id": item.pk if item is not None else None,
                "title": str(item) if item is not None else None,
                "reason": reason,
            }
        )
    return stray


def _stray_reason(draft: ErpDraft, key: IdempotencyKey | None, item: Any) -> str | None:
    """Why nothing will post or remove the draft, or None when a current export explains it."""
    if key is None:
        return "Its reference is not an erpsync key of any item."
    if item is None:
        return f"No {key.kind.replace('_', ' ')} {key.item_id} in erpsync."
    state = ErpState(item.erp_state)
    label = f"{item.erp_kind_label} {item}"
    if key.version < item.erp_version:
        return (
            f"Version {key.version} of {label}, which is now at version {item.erp_version} "
            f"({state.label.lower()})."
        )
    if key.version > item.erp_version:
        return f"Version {key.version} of {label}, which has only {item.erp_version}."
    if state in _EXPORTING:
        return None
    if state == ErpState.SYNCED:
        if item.erp_id == draft.erp_id:
            return None  # the item's own check reports that it is not posted
        return f"A second record of {label}, which is synced as ERP id {item.erp_id}."
    return f"Version {key.version} of {label}, which is {state.label.lower()}."


def reconcile_companies(slug: str | None = None) -> list[dict[str, Any]]:
    """Reports for every company (or one) whose ERP can be asked; raises ops.UnknownCompany."""
    reports = [reconcile_company(company) for company in ops.companies(slug)]
    return [entry for entry in reports if entry is not None]


def drift_count(report: dict[str, Any]) -> int:
    """A company report's drift: its differences plus its stray drafts."""
    return len(report["drift"]) + len(report["stray_drafts"])


def announce_drift(slug: str | None = None) -> int:
    """Reconcile every company (or one) and publish DriftFound for each that differs, holds
    stray drafts or could not be asked; return the number of differences and stray drafts."""
    differences = 0
    for company in ops.companies(slug):
        report = reconcile_company(company)
        if report is None or (not drift_count(report) and not report["error"]):
            continue
        differences += drift_count(report)
        publish(DriftFound(company=company, report=report))
        logger.warning(
            "reconcile %s: %s differences, %s stray drafts",
            company.slug,
            len(report["drift"]),
            len(report["stray_drafts"]),
        )
    return differences
