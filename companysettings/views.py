"""The company settings pages (ERP Integrations tool Admins) and the company audit log (Read
Only or more on the tool). Thin: reads in companysettings.audit, writes in .services."""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from companysettings import services
from companysettings.access import audit_access, settings_access
from companysettings.audit import (
    AuditFilter,
    Cursor,
    audit_page,
    member_history,
)
from companysettings.export import csv_lines
from companysettings.forms import AdapterForm, DictionaryForm, MemberFlagsForm
from erpsync import ops
from erpsync.adapters import adapter_class
from erpsync.web import apply_errors, refused
from projects.models import CompanyMembership, PointOfView
from projects.permissions import administers_erp_tool
from projects.selectors import company_members
from projects.terms import TERMS, term

SECTIONS = {
    "dictionary": "Dictionary",
    "adapter": "ERP adapter",
    "members": "Directory",
    "policy": "Approval policy",
    "out_of_office": "Out of office",
    "webhooks": "Webhooks",
}


def _context(membership: CompanyMembership, section: str, **extra: Any) -> dict[str, Any]:
    company = membership.company
    return {
        "company": company,
        "membership": membership,
        "section": section,
        "breadcrumbs": [
            (company.name, reverse("home")),
            ("Company settings", reverse("settings_dictionary", args=[company.slug])),
            (SECTIONS.get(section, section), None),
        ],
        **extra,
    }


@login_required
@require_GET
def settings_home(request: HttpRequest, slug: str) -> HttpResponse:
    settings_access(request.user, slug)
    return redirect("settings_dictionary", slug)


# ----- the point-of-view dictionary --------------------------------------------------------


def dictionary_preview(current: str) -> dict[str, Any]:
    """Each dictionary's terms side by side: one column per dictionary, one row per term."""
    columns = [(pov.value, pov.label, pov.value == current) for pov in PointOfView]
    rows = [[(term(pov, key), pov == current) for pov, _, _ in columns] for key in TERMS]
    return {"columns": columns, "rows": rows}


@login_required
@require_http_methods(["GET", "POST"])
def settings_dictionary(request: HttpRequest, slug: str) -> HttpResponse:
    membership = settings_access(request.user, slug)
    company = membership.company
    form = DictionaryForm(
        request.POST if request.method == "POST" else None,
        initial={"pov_dictionary": company.pov_dictionary},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.company_set_dictionary(
                    company=company, user=request.user, pov=form.cleaned_data["pov_dictionary"]
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, "Dictionary saved: every page now uses its terms.")
                return redirect("settings_dictionary", slug)
        status = 422
    context = _context(
        membership, "dictionary", form=form, preview=dictionary_preview(company.pov_dictionary)
    )
    return render(request, "companysettings/dictionary.html", context, status=status)


# ----- the ERP adapter ----------------------------------------------------------------------


NO_SUCH_ADAPTER = "There is no ERP adapter {key!r}: choose one of the adapters listed."


def _known(key: str) -> bool:
    return key in django_settings.ERP_ADAPTERS


def _adapter_page(
    request: HttpRequest,
    membership: CompanyMembership,
    form: AdapterForm,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    company = membership.company
    context = _context(
        membership,
        "adapter",
        form=form,
        current_label=_label(company.erp_adapter),
        **extra,
    )
    template = "companysettings/adapter.html"
    if request.htmx and request.method == "GET" and not request.htmx.history_restore_request:
        # The adapter picker swaps the form in place; a history restore wants the page.
        template += "#adapter-form"
    return render(request, template, context, status=status)


def _label(key: str) -> str:
    try:
        return adapter_class(key).label
    except ImproperlyConfigured:
        return f"{key} (not installed)"


@login_required
@require_http_methods(["GET", "POST"])
def settings_adapter(request: HttpRequest, slug: str) -> HttpResponse:
    membership = settings_access(request.user, slug)
    company = membership.company
    if request.method == "GET":
        key = request.GET.get("adapter") or company.erp_adapter
        if not _known(key):
            if "adapter" in request.GET:
                return refused(request, [NO_SUCH_ADAPTER.format(key=key)], 400)
            key = django_settings.ERP_DEFAULT_ADAPTER
        return _adapter_page(request, membership, AdapterForm(company=company, adapter_key=key))

    key = request.POST.get("fields_for", "")
    if not _known(key):
        return refused(request, [NO_SUCH_ADAPTER.format(key=key)], 400)
    form = AdapterForm(request.POST, company=company, adapter_key=key)
    if not form.is_valid():
        return _adapter_page(request, membership, form, 422)
    if form.shows_other_adapter:
        other = form.cleaned_data["adapter"]
        fresh = AdapterForm(company=company, adapter_key=other)
        note = f"Enter the settings of the {_label(other)} adapter, then save."
        return _adapter_page(request, membership, fresh, note=note)
    try:
        services.company_set_adapter(
            company=company, user=request.user, adapter=key, settings=form.new_settings()
        )
    except ValidationError as error:
        for name, problems in error.message_dict.items():
            for problem in problems:
                form.add_error(form.field_name(name), problem)
        return _adapter_page(request, membership, form, 422)
    messages.success(
        request, f"ERP adapter saved: {_label(key)}. Check the connection to make sure."
    )
    return redirect("settings_adapter", slug)


@login_required
@require_POST
def settings_adapter_check(request: HttpRequest, slug: str) -> HttpResponse:
    """Ask the company's ERP whether it answers with the saved settings. The request runs
    outside any transaction (the adapter may wait on the network)."""
    membership = settings_access(request.user, slug)
    company = membership.company
    result = ops.check_company(company)
    context = _context(
        membership, "adapter", check=result, current_label=_label(company.erp_adapter)
    )
    if request.htmx:
        return render(request, "companysettings/adapter.html#check-result", context)
    if result.ok:
        messages.success(
            request, f"Connection checked: the {_label(company.erp_adapter)} ERP answers."
        )
    else:
        messages.error(request, f"The connection check failed: {result.error}")
    return redirect("settings_adapter", slug)


# ----- the directory's flags ----------------------------------------------------------------


def _member_row(
    membership: CompanyMembership, form: MemberFlagsForm | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "member": membership,
        "form": form or MemberFlagsForm(membership=membership),
        **extra,
    }


@login_required
@require_GET
def settings_members(request: HttpRequest, slug: str) -> HttpResponse:
    membership = settings_access(request.user, slug)
    company = membership.company
    rows = []
    for member in company_members(company).prefetch_related("export_rights"):
        member.company = company  # each row's form names the kinds in the company's terms
        rows.append(_member_row(member))
    return render(
        request, "companysettings/members.html", _context(membership, "members", rows=rows)
    )


def _company_member(membership: CompanyMembership, member_id: int) -> CompanyMembership:
    found = (
        CompanyMembership.objects.select_related("user", "company")
        .filter(company=membership.company, pk=member_id)
        .first()
    )
    if found is None:
        raise Http404("No such member.")
    return found


@login_required
@require_POST
def settings_member(request: HttpRequest, slug: str, member_id: int) -> HttpResponse:
    """Save one member's flags; with htmx the row answers in place."""
    membership = settings_access(request.user, slug)
    member = _company_member(membership, member_id)
    form = MemberFlagsForm(request.POST, membership=member)
    back = reverse("settings_members", args=[slug])
    if not form.is_valid():
        return _row_or_refusal(request, membership, member, form, 422, list(form.errors.values()))
    try:
        member = services.membership_set_flags(
            membership=member, user=request.user, **form.service_kwargs()
        )
    except services.SettingsRefused as refusal:
        return _row_or_refusal(
            request, membership, member, form, refusal.status_code, [refusal.message]
        )
    except ValidationError as error:
        return _row_or_refusal(request, membership, member, form, 422, error.messages)
    name = member.user.get_full_name() or member.user.get_username()
    message = f"Saved {name}'s ERP Integrations settings."
    if member.user_id == request.user.pk and not administers_erp_tool(member):
        # The user just gave up their own Admin: the settings pages are closed to them now.
        messages.success(
            request, f"{message} You are no longer an Admin of the ERP Integrations tool."
        )
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = reverse("home")
            return response
        return redirect("home")
    if request.htmx:
        context = _context(membership, "members", row=_member_row(member, saved=message))
        return render(request, "companysettings/members.html#row", context)
    messages.success(request, message)
    return redirect(back)


def _row_or_refusal(
    request: HttpRequest,
    membership: CompanyMembership,
    member: CompanyMembership,
    form: MemberFlagsForm,
    status: int,
    reasons: list[Any],
) -> HttpResponse:
    flat = [
        str(r) for reason in reasons for r in (reason if isinstance(reason, list) else [reason])
    ]
    if not request.htmx:
        return refused(request, flat, status, title="Not saved")
    fresh = CompanyMembership.objects.select_related("user").get(pk=member.pk)
    row = _member_row(fresh, MemberFlagsForm(membership=fresh), error=" ".join(flat))
    context = _context(membership, "members", row=row)
    return render(request, "companysettings/members.html#row", context, status=status)


@login_required
@require_GET
def settings_member_history(request: HttpRequest, slug: str, member_id: int) -> HttpResponse:
    membership = settings_access(request.user, slug)
    member = _company_member(membership, member_id)
    context = _context(membership, "members", member=member, history=member_history(member))
    name = member.user.get_full_name() or member.user.get_username()
    context["breadcrumbs"][-1] = ("Directory", reverse("settings_members", args=[slug]))
    context["breadcrumbs"].append((name, None))
    return render(request, "companysettings/member_history.html", context)


# ----- the company audit log ----------------------------------------------------------------


def _audit_filters(request: HttpRequest, membership: CompanyMembership) -> AuditFilter:
    return AuditFilter(request.GET, company=membership.company)


@login_required
@require_GET
def audit_log(request: HttpRequest, slug: str) -> HttpResponse:
    """Every transition and edit across the company, newest first, filtered from the URL."""
    membership = audit_access(request.user, slug)
    company = membership.company
    filters = _audit_filters(request, membership)
    try:
        after = Cursor.parse(request.GET.get("after"))
        before = Cursor.parse(request.GET.get("before"))
    except ValueError as error:
        return refused(request, [str(error)], 400, title="Damaged link")
    page, status = None, 200
    if filters.is_valid():
        page = audit_page(filters.qs, membership, after=after, before=before)
    else:
        status = 400
    context = {
        "company": company,
        "membership": membership,
        "filters": filters,
        "page": page,
        "is_admin": administers_erp_tool(membership),
        "breadcrumbs": [(company.name, reverse("home")), ("Audit log", None)],
    }
    return render(request, "companysettings/audit.html", context, status=status)


@login_required
@require_GET
def audit_export(request: HttpRequest, slug: str) -> HttpResponse:
    """The filtered log as CSV, streamed row by row."""
    membership = audit_access(request.user, slug)
    company = membership.company
    filters = _audit_filters(request, membership)
    if not filters.is_valid():
        reasons = [f"{name}: {' '.join(errors)}" for name, errors in filters.errors.items()]
        return refused(request, reasons, 400, title="Not exported")
    name = f"{company.slug}-audit-{timezone.localdate():%Y-%m-%d}.csv"
    return StreamingHttpResponse(
        csv_lines(filters.qs, company),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
