"""Compare synced items with what the company's ERP holds now (erp_reconcile, nightly job).

Only items synced through the company's current adapter are compared: after a company moves
from one ERP to another, what the old one holds is listed as not checked, not as drift.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured

from erpsync import ops
from erpsync.adapters import Capability, ErpError, TransientErpError, adapter_for
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
    return entry


def reconcile_companies(slug: str | None = None) -> list[dict[str, Any]]:
    """Reports for every company (or one) whose ERP can be asked; raises ops.UnknownCompany."""
    reports = [reconcile_company(company) for company in ops.companies(slug)]
    return [entry for entry in reports if entry is not None]


def announce_drift(slug: str | None = None) -> int:
    """Reconcile every company (or one) and publish DriftFound for each that differs or could
    not be asked; return the number of differences."""
    differences = 0
    for company in ops.companies(slug):
        report = reconcile_company(company)
        if report is None or (not report["drift"] and not report["error"]):
            continue
        differences += len(report["drift"])
        publish(DriftFound(company=company, report=report))
        logger.warning("reconcile %s: %s differences", company.slug, len(report["drift"]))
    return differences
