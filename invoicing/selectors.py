"""Reads for the Prime Contracts and Invoicing pages, in a constant number of queries."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, DecimalField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.urls import reverse

from erpsync.filters import erp_csv_columns
from invoicing.access import visible_contracts
from invoicing.filters import AMOUNT_DUE, ContractFilterSet, InvoiceFilterSet
from invoicing.models import BillingPeriod, OwnerInvoice, PrimeContract
from projects.access import ProjectAccess
from projects.listing import Column, Listing, attr, build_listing
from projects.models import Company
from projects.terms import term


def contracts_with_invoice_counts(access: ProjectAccess) -> QuerySet[PrimeContract]:
    # distinct: visible_contracts may join the member tables, which would multiply the count.
    return (
        visible_contracts(access)
        .annotate(invoice_count=Count("invoices", distinct=True))
        .order_by("number")
    )


def contract_listing(access: ProjectAccess, data: QueryDict) -> Listing:
    """One page of the contracts the user may see, searched, filtered and sorted."""
    filters = ContractFilterSet(data, contracts_with_invoice_counts(access))
    return build_listing(filters, reverse("contract_list", args=[access.project.pk]))


def invoices_for_list(invoices: QuerySet[OwnerInvoice]) -> QuerySet[OwnerInvoice]:
    """Invoices with what a list row shows: contract, period, and the amount due summed from
    the lines' stored amounts in SQL (0.00 without lines), so that it can be filtered and
    sorted."""
    amount = Coalesce(
        Sum("lines__amount_due"),
        Value(Decimal("0.00")),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )
    return invoices.select_related(
        "prime_contract", "billing_period", "erp_sent_by", "erp_accepted_by"
    ).annotate(**{AMOUNT_DUE: amount})


def invoices_of_contract(contract: PrimeContract) -> QuerySet[OwnerInvoice]:
    return invoices_for_list(OwnerInvoice.objects.filter(prime_contract=contract)).order_by(
        "number"
    )


def project_invoices(access: ProjectAccess) -> QuerySet[OwnerInvoice]:
    """Every owner invoice of the project on a contract the user may see."""
    invoices = OwnerInvoice.objects.filter(prime_contract__in=visible_contracts(access))
    return invoices_for_list(invoices).order_by("prime_contract__number", "number")


def contract_invoice_listing(
    access: ProjectAccess, contract: PrimeContract, data: QueryDict
) -> Listing:
    """A contract's Invoices tab, searched, filtered and sorted."""
    invoices = invoices_of_contract(contract)
    filters = InvoiceFilterSet(
        data, invoices, company=access.project.company, default=("number", "pk")
    )
    path = reverse("contract_invoices", args=[access.project.pk, contract.pk])
    return build_listing(filters, path)


def project_invoice_listing(access: ProjectAccess, data: QueryDict) -> Listing:
    """The Invoicing tool's invoices (on contracts the user may see), searched and filtered."""
    default = ("prime_contract__number", "number", "pk")
    filters = InvoiceFilterSet(
        data, project_invoices(access), company=access.project.company, default=default
    )
    return build_listing(filters, reverse("invoicing", args=[access.project.pk]))


def invoice_csv_columns(company: Company) -> list[Column]:
    return [
        ("Invoice", attr("number")),
        (term(company, "prime_contract"), attr("prime_contract.number")),
        ("Billing period", attr("billing_period.number")),
        ("Period start", attr("billing_period.start_date")),
        ("Period end", attr("billing_period.end_date")),
        ("Status", attr("get_status_display")),
        ("Amount due", attr(AMOUNT_DUE)),
        *erp_csv_columns(),
        ("Created at", attr("created_at")),
    ]


def contract_csv_columns(company: Company) -> list[Column]:
    return [
        ("Number", attr("number")),
        ("Title", attr("title")),
        (term(company, "owner_client"), attr("owner_client")),
        ("Status", attr("get_status_display")),
        ("Private", attr("private")),
        ("Invoices", attr("invoice_count")),
        ("Created at", attr("created_at")),
    ]


def billing_periods(access: ProjectAccess) -> QuerySet[BillingPeriod]:
    return BillingPeriod.objects.filter(project=access.project).order_by("number")
