"""Access to prime contracts and owner invoices, on projects.access and projects.permissions."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from invoicing.models import OwnerInvoice, PrimeContract
from projects.access import ProjectAccess


def visible_contracts(access: ProjectAccess) -> QuerySet[PrimeContract]:
    """Contracts the user may see: all but private ones with tool access (private ones to
    tool admins and listed members); otherwise only those naming the user as invoice contact
    or private member."""
    contracts = PrimeContract.objects.filter(project=access.project)
    user = access.user
    if access.manages_contracts:
        return contracts
    if access.sees_all_contracts:
        return contracts.filter(Q(private=False) | Q(private_members=user)).distinct()
    return contracts.filter(Q(invoice_contacts=user) | Q(private_members=user)).distinct()


def get_contract(access: ProjectAccess, contract_id: int) -> PrimeContract:
    contract = visible_contracts(access).filter(pk=contract_id).first()
    if contract is None:
        raise Http404("No such prime contract.")
    return contract


def get_invoice(access: ProjectAccess, invoice_id: int) -> OwnerInvoice:
    invoice = (
        OwnerInvoice.objects.select_related(
            "prime_contract__project__company", "billing_period", "erp_sent_by", "erp_changed_by"
        )
        .filter(pk=invoice_id, prime_contract__in=visible_contracts(access))
        .first()
    )
    if invoice is None:
        raise Http404("No such invoice.")
    return invoice
