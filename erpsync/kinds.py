"""The kinds of ERP item (sub jobs, owner invoices, …), found by their model."""

from __future__ import annotations

from django.apps import apps

from erpsync.models import ErpItem


def erp_item_models() -> list[type[ErpItem]]:
    """Every concrete kind of ERP item, in the order of the ERP Integrations tool's tabs; a new
    kind appears here by subclassing ErpItem."""
    models = [m for m in apps.get_models() if issubclass(m, ErpItem)]
    return sorted(models, key=lambda m: (m.erp_tab_order, m.erp_kind))


def erp_item_model(kind: str) -> type[ErpItem]:
    for model in erp_item_models():
        if model.erp_kind == kind:
            return model
    raise LookupError(f"No ERP item kind {kind!r}.")
