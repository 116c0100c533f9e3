"""Point-of-view dictionaries: every tool name and term a page or email shows comes from here.

The three columns of the table in the owner-invoice seed page: general contractors (default),
owners, specialty contractors. Singular forms and the invoice name follow the same columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from projects.models import PointOfView

if TYPE_CHECKING:
    from projects.models import Company

GC, OWNER, SC = (
    PointOfView.GENERAL_CONTRACTOR,
    PointOfView.OWNER,
    PointOfView.SPECIALTY_CONTRACTOR,
)

TERMS: dict[str, dict[str, str]] = {
    "invoicing": {GC: "Invoicing", OWNER: "Invoicing", SC: "Progress Billings"},
    "owner": {GC: "Owner", OWNER: "Funding", SC: "Owner"},
    "owner_client": {GC: "Owner/Client", OWNER: "Owner/Client", SC: "GC/Client"},
    "prime_contract_change_order": {
        GC: "Prime Contract Change Order",
        OWNER: "Funding Change Order",
        SC: "Client Contract Change Order",
    },
    "prime_contracts": {GC: "Prime Contracts", OWNER: "Funding", SC: "Client Contracts"},
    "prime_contract": {GC: "Prime Contract", OWNER: "Funding", SC: "Client Contract"},
    "revenue": {GC: "Revenue", OWNER: "Funding", SC: "Revenue"},
    "subcontract": {GC: "Subcontract", OWNER: "Contract", SC: "Subcontract"},
    "subcontractor": {GC: "Subcontractor", OWNER: "Contractor", SC: "Subcontractor"},
    "ssov": {
        GC: "Subcontractor Schedule of Values (SSOV)",
        OWNER: "Contractor Schedule of Values (CSOV)",
        SC: "Subcontractor Schedule of Values (SSOV)",
    },
    "owner_invoice": {GC: "Owner Invoice", OWNER: "Funding Invoice", SC: "Owner Invoice"},
    "owner_invoices": {GC: "Owner Invoices", OWNER: "Funding Invoices", SC: "Owner Invoices"},
}


def term(pov: str | Company | None, key: str) -> str:
    """The word for `key` in a company's dictionary (or a dictionary's key itself)."""
    if pov is None:
        pov = GC
    elif not isinstance(pov, str):
        pov = pov.pov_dictionary
    try:
        column = TERMS[key]
    except KeyError:
        raise KeyError(f"No point-of-view term {key!r}; add it to projects.terms.TERMS.") from None
    return column.get(pov, column[GC])


def terms_for(pov: str | Company | None) -> dict[str, str]:
    """Every term in one dictionary, for templates and emails."""
    return {key: term(pov, key) for key in TERMS}
