"""The tabs of the ERP Integrations tool: one per kind of ERP item.

A new kind of item appears here by subclassing ErpItem and giving it `erp_queue` and a cell
template `approvals/cells/<kind>.html`; nothing in the tool itself changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404

from erpsync.kinds import erp_item_models
from erpsync.models import ErpItem
from projects.models import Company


@dataclass(frozen=True)
class Kind:
    key: str
    model: type[ErpItem]
    label: str

    @property
    def cell_template(self) -> str:
        return f"approvals/cells/{self.key}.html"


def kinds_for(company: Company) -> list[Kind]:
    return [
        Kind(key=m.erp_kind, model=m, label=m.erp_tab_label(company)) for m in erp_item_models()
    ]


def kind_for(company: Company, key: str) -> Kind:
    for kind in kinds_for(company):
        if kind.key == key:
            return kind
    raise Http404("No such kind of item.")
