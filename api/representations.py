"""TEMPORARY stand-in for the lead's api.representations (issue 13), only so the webhooks
branch can run its tests; dropped when main has the real module."""

from __future__ import annotations

from typing import Any

from erpsync.models import ErpItem


def item_payload(item: ErpItem) -> dict[str, Any]:
    return {
        "kind": item.erp_kind,
        "id": item.pk,
        "state": item.erp_state,
        "version": item.erp_version,
        "snapshot": item.erp_snapshot(),
        "erp_id": item.erp_id,
        "last_error": item.erp_error,
        "urls": {},
    }
