"""The Approval policy page (ERP tool Admins) and the Out of office page (every accounting
approver for themselves, ERP tool Admins for anyone). Thin: writes in companysettings.policy."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from companysettings import policy
from companysettings.access import settings_access
from companysettings.audit import kind_label
from companysettings.delegation import (
    absence_text,
    approved_kinds,
    approver_choices,
    current_absences,
    kinds_text,
)
from companysettings.policy_forms import ApprovalPolicyForm, ApprovalRuleForm, OutOfOfficeForm
from companysettings.services import SettingsRefused
from companysettings.views import _context
from erpsync.kinds import erp_item_models
from erpsync.models import ApprovalRule, ErpItem, KindPolicy
from erpsync.names import display_name
from erpsync.web import apply_errors, refused
from projects.access import company_access
from projects.models import CompanyMembership, OutOfOffice
from projects.permissions import administers_erp_tool, approves_kind

# ----- the approval policy ----------------------------------------------------------------------


def _kind_sections(
    membership: CompanyMembership, rule_forms: dict[str, ApprovalRuleForm]
) -> list[dict[str, Any]]:
    """Per kind of item: Direct Export, its rules in force with what could keep them from
    being met, and the form that adds one."""
    company = membership.company
    rules: dict[str, list[ApprovalRule]] = {}
    for rule in ApprovalRule.objects.filter(company=company).order_by("min_amount"):
        rules.setdefault(rule.kind, []).append(rule)
    direct = dict(KindPolicy.objects.filter(company=company).values_list("kind", "direct_export"))
    approvers = list(approver_choices(company))
    sections = []
    for model in erp_item_models():
        kind = model.erp_kind
        label, singular = model.erp_tab_label(company), kind_label(model, company)
        deciding = [m for m in approvers if approves_kind(m, kind)]
        admins = [m for m in deciding if m.is_erp_tool_admin]
        rows = []
        for rule in rules.get(kind, []):
            warnings = []
            if len(deciding) < rule.approvals_required:
                warnings.append(
                    f"Only {len(deciding)} approver(s) can export {label}: items under this "
                    f"rule cannot get their {rule.approvals_required} approvals. Grant the "
                    "right to more approvers (Directory)."
                )
            if rule.needs_tool_admin and not admins:
                warnings.append(
                    f"No ERP Integrations tool Admin can export {label}: items under this rule "
                    "cannot get an Admin's approval."
                )
            rows.append({"rule": rule, "text": rule.describe(singular), "warnings": warnings})
        sections.append(
            {
                "kind": kind,
                "label": label,
                "has_amount": policy.has_amount(model),
                "direct": direct.get(kind, False),
                "rules": rows,
                "approver_count": len(deciding),
                "form": rule_forms.get(kind) or ApprovalRuleForm(model=model),
            }
        )
    return sections


def _policy_page(
    request: HttpRequest,
    membership: CompanyMembership,
    *,
    form: ApprovalPolicyForm | None = None,
    rule_forms: dict[str, ApprovalRuleForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    company = membership.company
    context = _context(
        membership,
        "policy",
        form=form or ApprovalPolicyForm(company=company),
        kinds=_kind_sections(membership, rule_forms or {}),
    )
    return render(request, "companysettings/approval_policy.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def settings_approval_policy(request: HttpRequest, slug: str) -> HttpResponse:
    membership = settings_access(request.user, slug)
    if request.method == "GET":
        return _policy_page(request, membership)
    form = ApprovalPolicyForm(request.POST, company=membership.company)
    if form.is_valid():
        try:
            policy.company_set_approval_policy(
                company=membership.company, user=request.user, **form.service_kwargs()
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Approval policy saved: it applies from the next decision.")
            return redirect("settings_approval_policy", slug)
    return _policy_page(request, membership, form=form, status=422)


def _kind_model(kind: str) -> type[ErpItem]:
    for model in erp_item_models():
        if model.erp_kind == kind:
            return model
    raise Http404("No such kind of item.")


@login_required
@require_POST
def settings_rule_add(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    membership = settings_access(request.user, slug)
    model = _kind_model(kind)
    form = ApprovalRuleForm(request.POST, model=model)
    if form.is_valid():
        try:
            rule = policy.approval_rule_add(
                company=membership.company, user=request.user, kind=kind, **form.cleaned_data
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            text = rule.describe(kind_label(model, membership.company))
            messages.success(request, f"Rule added: {text}.")
            return redirect(reverse("settings_approval_policy", args=[slug]) + f"#rules-{kind}")
    return _policy_page(request, membership, rule_forms={kind: form}, status=422)


@login_required
@require_POST
def settings_rule_remove(request: HttpRequest, slug: str, rule_id: int) -> HttpResponse:
    membership = settings_access(request.user, slug)
    try:
        policy.approval_rule_remove(company=membership.company, user=request.user, rule_id=rule_id)
    except ObjectDoesNotExist:
        raise Http404("No such rule.") from None
    messages.success(request, "Rule removed: it no longer applies from the next decision.")
    return redirect("settings_approval_policy", slug)


# ----- out of office -----------------------------------------------------------------------------


def _absence_access(user: Any, slug: str) -> CompanyMembership:
    """404 outside the company; 403 unless an accounting approver or an ERP tool Admin."""
    membership = company_access(user, slug)
    prefetch_related_objects([membership], "export_rights")
    if not (administers_erp_tool(membership) or approves_kind(membership)):
        raise PermissionDenied(policy.OUT_OF_OFFICE_REQUIRED)
    return membership


def _absence_rows(membership: CompanyMembership) -> list[dict[str, Any]]:
    admin = administers_erp_tool(membership)
    company = membership.company
    absences = current_absences(company, None if admin else membership)
    return [
        {
            "absence": absence,
            "started": absence.starts_on <= timezone.localdate(),
            "mine": absence.membership_id == membership.pk,
            "standing_in": absence.delegate_id == membership.pk,
            "may_cancel": policy.may_set_out_of_office(membership, absence.membership),
        }
        for absence in absences
    ]


def _absence_page(
    request: HttpRequest,
    membership: CompanyMembership,
    form: OutOfOfficeForm | None = None,
    status: int = 200,
) -> HttpResponse:
    company = membership.company
    admin = administers_erp_tool(membership)
    form = form or _absence_form(membership)
    context = _context(
        membership,
        "out_of_office",
        form=form,
        is_admin=admin,
        is_approver=approves_kind(membership),
        my_kinds=kinds_text(company, approved_kinds(membership)),
        rows=_absence_rows(membership),
    )
    if not admin:
        # Approvers reach this page from the ERP Integrations tool, not from the settings.
        context["breadcrumbs"] = [
            (company.name, reverse("home")),
            ("ERP Integrations", reverse("erp_tool", args=[company.slug])),
            ("Out of office", None),
        ]
    return render(request, "companysettings/out_of_office.html", context, status=status)


def _absence_form(membership: CompanyMembership, data: Any = None) -> OutOfOfficeForm:
    return OutOfOfficeForm(
        data,
        approvers=approver_choices(membership.company),
        chooses_approver=administers_erp_tool(membership),
        initial={"membership": membership.pk},
    )


@login_required
@require_http_methods(["GET", "POST"])
def out_of_office(request: HttpRequest, slug: str) -> HttpResponse:
    membership = _absence_access(request.user, slug)
    if request.method == "GET":
        return _absence_page(request, membership)
    form = _absence_form(membership, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        absent = data.get("membership") or membership
        try:
            absence = policy.out_of_office_add(
                membership=absent,
                user=request.user,
                starts_on=data["starts_on"],
                ends_on=data["ends_on"],
                delegate=data["delegate"],
            )
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, f"Out of office saved: {_describe(absence)}.")
            return redirect("out_of_office", slug)
    return _absence_page(request, membership, form, status=422)


def _form_errors(form: OutOfOfficeForm, error: ValidationError) -> None:
    """A service's errors at the form's fields; `membership` above the form when the form has
    no such field (an approver's own page)."""
    for name, problems in error.message_dict.items():
        for problem in problems:
            form.add_error(name if name in form.fields else None, problem)


def _describe(absence: OutOfOffice) -> str:
    return f"{display_name(absence.membership.user)} away {absence_text(absence)}"


@login_required
@require_POST
def out_of_office_cancel(request: HttpRequest, slug: str, absence_id: int) -> HttpResponse:
    membership = _absence_access(request.user, slug)
    absence = (
        OutOfOffice.objects.select_related("membership__user", "delegate__user")
        .filter(pk=absence_id, membership__company=membership.company)
        .first()
    )
    if absence is None:
        raise Http404("No such out-of-office period.")
    try:
        kept = policy.out_of_office_cancel(absence=absence, user=request.user)
    except SettingsRefused as refusal:
        return refused(request, [refusal.message], refusal.status_code, title="Not cancelled")
    except ObjectDoesNotExist:
        raise Http404("No such out-of-office period.") from None
    if kept is None:
        messages.success(request, f"Cancelled: {_describe(absence)}.")
    else:
        messages.success(request, f"Ended early: {_describe(kept)}.")
    return redirect("out_of_office", slug)
