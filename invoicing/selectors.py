"""Reads for the Prime Contracts and Invoicing pages, in a constant number of queries."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from invoicing.access import visible_contracts
from invoicing.models import BillingPeriod, OwnerInvoice, PrimeContract
from projects.access import ProjectAccess


def contracts_with_invoice_counts(access: ProjectAccess) -> QuerySet[PrimeContract]:
    # distinct: visible_contracts may join the member tables, which would multiply the count.
    return (
        visible_contracts(access)
        .annotate(invoice_count=Count("invoices", distinct=True))
        .order_by("number")
    )


def invoices_for_list(invoices: QuerySet[OwnerInvoice]) -> QuerySet[OwnerInvoice]:
    """Invoices with what a list row shows (contract, period, amount due from the lines)."""
    return invoices.select_related("prime_contract", "billing_period").prefetch_related("lines")


def invoices_of_contract(contract: PrimeContract) -> QuerySet[OwnerInvoice]:
    return invoices_for_list(OwnerInvoice.objects.filter(prime_contract=contract)).order_by(
        "number"
    )


def project_invoices(access: ProjectAccess) -> QuerySet[OwnerInvoice]:
    """Every owner invoice of the project on a contract the user may see."""
    invoices = OwnerInvoice.objects.filter(prime_contract__in=visible_contracts(access))
    return invoices_for_list(invoices).order_by("prime_contract__number", "number")


def billing_periods(access: ProjectAccess) -> QuerySet[BillingPeriod]:
    return BillingPeriod.objects.filter(project=access.project).order_by("number")
