"""The Prime Contracts and Invoicing tools, as in the owner invoice seed page: contract list →
contract → Invoices tab → invoice → Edit → Save → Resend to ERP.

Views only read input and render: every write goes through invoicing.services, which checks
the permission and the ERP lock again.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from erpsync.selectors import latest_event_id
from erpsync.states import ItemLocked, StaleEdit
from erpsync.web import apply_errors, erp_panel, locked, refused, seen_event_of, sender_action
from invoicing.access import get_contract, get_invoice
from invoicing.forms import (
    LINE_FIELDS,
    BillingPeriodForm,
    OwnerInvoiceForm,
    PrimeContractForm,
    PrimeContractStatusForm,
    line_formset,
)
from invoicing.models import OwnerInvoice, PrimeContract
from invoicing.selectors import (
    billing_periods,
    contract_csv_columns,
    contract_invoice_listing,
    contract_listing,
    contracts_with_invoice_counts,
    invoice_csv_columns,
    project_invoice_listing,
)
from invoicing.services import (
    LineEdit,
    LineError,
    billing_period_create,
    owner_invoice_create,
    owner_invoice_save,
    prime_contract_create,
    prime_contract_update,
)
from projects.access import ProjectAccess, project_access
from projects.listing import CSV_CHUNK, Column, Listing, csv_filename, csv_response, wants_csv
from projects.permissions import INVOICE_ADMIN_REQUIRED, PRIME_CONTRACT_ADMIN_REQUIRED
from projects.terms import term
from projects.views import page_context

# A POST whose form has errors is re-rendered with them, as 422 (as the Sub Jobs pages do).
INVALID = 422
Crumbs = list[tuple[str, str | None]]


def _data(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


# ----- lists: filtered pages and their CSV -----------------------------------------------------


def _wants_csv(request: HttpRequest) -> bool:
    return request.method == "GET" and wants_csv(request.GET)


def _list_status(listing: Listing) -> int:
    """400 when a filter could not be read (the page shows why at the field)."""
    return 200 if listing.valid else 400


def _csv(
    request: HttpRequest, listing: Listing, name: tuple[str, ...], columns: list[Column]
) -> HttpResponse:
    """The list as filtered, every page of it, streamed as CSV."""
    if not listing.valid:
        return refused(request, listing.error_messages, 400, title="Not downloaded")
    filename = csv_filename(*name, filtered=listing.active)
    return csv_response(filename, columns, listing.rows.iterator(chunk_size=CSV_CHUNK))


# ----- breadcrumbs ------------------------------------------------------------------------


def _contracts_crumb(access: ProjectAccess, *, link: bool = True) -> tuple[str, str | None]:
    url = reverse("contract_list", args=[access.project.pk]) if link else None
    return (term(access.project.company, "prime_contracts"), url)


def _contract_crumbs(access: ProjectAccess, contract: PrimeContract) -> Crumbs:
    url = reverse("contract_detail", args=[access.project.pk, contract.pk])
    return [_contracts_crumb(access), (contract.number, url)]


def _invoice_crumbs(access: ProjectAccess, invoice: OwnerInvoice, *, link: bool) -> Crumbs:
    contract = invoice.prime_contract
    project_id = access.project.pk
    return [
        _contracts_crumb(access),
        (contract.number, reverse("contract_detail", args=[project_id, contract.pk])),
        ("Invoices", reverse("contract_invoices", args=[project_id, contract.pk])),
        (str(invoice), reverse("invoice_detail", args=[project_id, invoice.pk]) if link else None),
    ]


# ----- Prime Contracts tool -----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def contract_list(request: HttpRequest, project_id: int) -> HttpResponse:
    access = project_access(request.user, project_id)
    contracts = contracts_with_invoice_counts(access)
    company = access.project.company
    tool = term(company, "prime_contracts")
    access.require(
        access.sees_all_contracts or contracts.exists(),
        f"You need Read Only or more on the project's {tool} tool.",
    )
    if _wants_csv(request):
        listing = contract_listing(access, request.GET)
        return _csv(request, listing, (access.project.number, tool), contract_csv_columns(company))
    form = PrimeContractForm(_data(request))
    if request.method == "POST":
        access.require(access.manages_contracts, PRIME_CONTRACT_ADMIN_REQUIRED)
        if form.is_valid():
            try:
                contract = prime_contract_create(
                    project=access.project, user=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(
                    request,
                    f"{term(access.project.company, 'prime_contract')} {contract.number} created.",
                )
                return redirect("contract_detail", project_id, contract.pk)
    listing = contract_listing(access, request.GET)
    context = page_context(
        access,
        [_contracts_crumb(access, link=False)],
        contracts=listing.page or [],
        listing=listing,
        form=form,
    )
    status = INVALID if request.method == "POST" else _list_status(listing)
    return render(request, "invoicing/contract_list.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def contract_detail(request: HttpRequest, project_id: int, contract_id: int) -> HttpResponse:
    """The contract's General tab; a tool admin changes its status here (e.g. to Approved)."""
    access = project_access(request.user, project_id)
    contract = get_contract(access, contract_id)
    form = PrimeContractStatusForm(_data(request), initial={"status": contract.status})
    if request.method == "POST":
        access.require(access.manages_contracts, PRIME_CONTRACT_ADMIN_REQUIRED)
        if form.is_valid():
            try:
                prime_contract_update(
                    contract=contract, user=request.user, status=form.cleaned_data["status"]
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, "Saved.")
                return redirect("contract_detail", project_id, contract.pk)
    crumbs = [_contracts_crumb(access), (contract.number, None)]
    context = page_context(
        access,
        crumbs,
        contract=contract,
        status_form=form,
        invoice_count=contract.invoices.count(),
        tab="general",
    )
    status = INVALID if request.method == "POST" else 200
    return render(request, "invoicing/contract_detail.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def contract_invoices(request: HttpRequest, project_id: int, contract_id: int) -> HttpResponse:
    """The contract's Invoices tab, with New invoice for invoice admins."""
    access = project_access(request.user, project_id)
    contract = get_contract(access, contract_id)
    company = access.project.company
    if _wants_csv(request):
        listing = contract_invoice_listing(access, contract, request.GET)
        name = (access.project.number, contract.number, "invoices")
        return _csv(request, listing, name, invoice_csv_columns(company))
    form = OwnerInvoiceForm(_data(request), project=access.project)
    if request.method == "POST":
        access.require(access.manages_invoices, INVOICE_ADMIN_REQUIRED)
        if form.is_valid():
            try:
                invoice = owner_invoice_create(
                    prime_contract=contract, user=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, f"{invoice} created: add its lines.")
                return redirect("invoice_edit", project_id, invoice.pk)
    crumbs = [*_contract_crumbs(access, contract), ("Invoices", None)]
    listing = contract_invoice_listing(access, contract, request.GET)
    context = page_context(
        access,
        crumbs,
        contract=contract,
        invoices=listing.page or [],
        listing=listing,
        form=form,
        tab="invoices",
    )
    status = INVALID if request.method == "POST" else _list_status(listing)
    return render(request, "invoicing/contract_invoices.html", context, status=status)


# ----- one invoice ---------------------------------------------------------------------------


@login_required
@require_GET
def invoice_detail(request: HttpRequest, project_id: int, invoice_id: int) -> HttpResponse:
    access = project_access(request.user, project_id)
    invoice = get_invoice(access, invoice_id)
    prefetch_related_objects([invoice], "lines")  # for the table and for totals()
    context = page_context(
        access,
        _invoice_crumbs(access, invoice, link=False),
        invoice=invoice,
        lines=invoice.lines.all(),
        totals=invoice.totals(),
        can_edit=access.manages_invoices and not invoice.erp_locked,
        **erp_panel(invoice, request.user, request.path),
    )
    return render(request, "invoicing/invoice_detail.html", context)


@login_required
@require_POST
def invoice_erp_action(
    request: HttpRequest, project_id: int, invoice_id: int, action: str
) -> HttpResponse:
    """Send, Resend or Retrieve; erpsync.web.sender_action and the service check everything."""
    access = project_access(request.user, project_id)
    invoice = get_invoice(access, invoice_id)
    next_url = reverse("invoice_detail", args=[project_id, invoice.pk])
    return sender_action(request, invoice, action, next_url=next_url)


@login_required
@require_http_methods(["GET", "POST"])
def invoice_edit(request: HttpRequest, project_id: int, invoice_id: int) -> HttpResponse:
    """Number, billing period, status and the lines, saved together or not at all."""
    access = project_access(request.user, project_id)
    invoice = get_invoice(access, invoice_id)
    access.require(access.manages_invoices, INVOICE_ADMIN_REQUIRED)
    reason = invoice.erp_lock_reason()
    if reason is not None:
        return locked(request, ItemLocked(reason))
    form = OwnerInvoiceForm(
        _data(request),
        project=access.project,
        initial={
            "number": invoice.number,
            "billing_period": invoice.billing_period_id,
            "status": invoice.status,
        },
    )
    lines = line_formset(invoice, _data(request))
    status = INVALID if request.method == "POST" else 200
    stale: StaleEdit | None = None
    if request.method == "POST":
        try:
            seen_event = seen_event_of(request)
        except ValueError as error:
            return refused(request, [str(error)], 422, title="Not saved")
        # Validate both, so every error shows at once.
        valid = form.is_valid()
        valid = lines.is_valid() and valid
        if valid:
            try:
                saved = _save_invoice(invoice, request.user, form, lines, seen_event)
            except ItemLocked as error:
                return locked(request, error)
            except StaleEdit as error:
                stale, status, saved = error, error.status_code, False
            if saved:
                messages.success(request, "Saved.")
                return redirect("invoice_detail", project_id, invoice.pk)
    context = page_context(
        access,
        [*_invoice_crumbs(access, invoice, link=True), ("Edit", None)],
        invoice=invoice,
        item=invoice,
        form=form,
        lines=lines,
        stale=stale,
        # After a refused stale save the form carries the newest row: saving again is a
        # deliberate overwrite of what the user has now seen.
        seen_event=latest_event_id(invoice),
    )
    return render(request, "invoicing/invoice_edit.html", context, status=status)


def _save_invoice(
    invoice: OwnerInvoice,
    user: Any,
    form: forms.Form,
    lines: forms.BaseModelFormSet,
    seen_event: int | None,
) -> bool:
    """Save through owner_invoice_save; put a refusal at the field of the form it is about.
    Returns whether it saved."""
    deleted = lines.deleted_forms
    edits: list[LineEdit] = []
    line_forms: list[forms.BaseForm] = []
    for line_form in lines.forms:
        line = line_form.instance if line_form.instance.pk is not None else None
        if line_form in deleted:
            edits.append(LineEdit(line=line, delete=True))
        elif line_form.has_changed():  # else an untouched line, or a blank extra row
            fields = {name: line_form.cleaned_data[name] for name in LINE_FIELDS}
            edits.append(LineEdit(line=line, fields=fields))
        else:
            continue
        line_forms.append(line_form)
    try:
        owner_invoice_save(
            invoice=invoice,
            user=user,
            data=form.cleaned_data,
            lines=edits,
            seen_event=seen_event,
        )
    except LineError as refusal:
        apply_errors(line_forms[refusal.index], refusal.error)
        return False
    except ValidationError as error:
        apply_errors(form, error)
        return False
    return True


# ----- Invoicing tool -------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def invoicing(request: HttpRequest, project_id: int) -> HttpResponse:
    """Billing periods (created by Prime Contracts admins) and every visible owner invoice."""
    access = project_access(request.user, project_id)
    company = access.project.company
    access.require(
        access.sees_all_contracts,
        f"The {term(company, 'invoicing')} tool needs Read Only or more on the project's "
        f"{term(company, 'prime_contracts')} or Commitments tool.",
    )
    if _wants_csv(request):
        listing = project_invoice_listing(access, request.GET)
        name = (access.project.number, term(company, "owner_invoices"))
        return _csv(request, listing, name, invoice_csv_columns(company))
    form = BillingPeriodForm(_data(request))
    if request.method == "POST":
        access.require(access.manages_contracts, PRIME_CONTRACT_ADMIN_REQUIRED)
        if form.is_valid():
            try:
                period = billing_period_create(
                    project=access.project, user=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, f"Billing period {period.number} created.")
                return redirect("invoicing", project_id)
    listing = project_invoice_listing(access, request.GET)
    context = page_context(
        access,
        [(term(company, "invoicing"), None)],
        periods=billing_periods(access),
        invoices=listing.page or [],
        listing=listing,
        form=form,
    )
    status = INVALID if request.method == "POST" else _list_status(listing)
    return render(request, "invoicing/invoicing.html", context, status=status)
