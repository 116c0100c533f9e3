"""Writes of the approval policy (README, Approval policy): the company-wide switches, Direct
Export and the amount rules per kind of item, and approvers' out-of-office periods.

Like the other settings services (companysettings.services): keyword-only, one transaction
each, the company's row taken with select_for_update before anything is read or checked (so
two Admins adding the same threshold, or two overlapping periods, queue there), the user's
permission checked on the server, and an audit row naming the user with what changed (on the
Company for the policy, on the absent approver's CompanyMembership for out-of-office periods).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from companysettings.audit import kind_label
from companysettings.delegation import (
    absence_text,
    approved_kinds,
    kinds_text,
    missing_kinds,
    period_text,
)
from companysettings.services import SettingsRefused, lock_company
from erpsync.kinds import erp_item_model, erp_item_models
from erpsync.models import ApprovalRule, ErpItem, KindPolicy
from erpsync.models.policy import MOST_APPROVALS
from erpsync.names import display_name
from erpsync.services import record_settings_event
from erpsync.snapshots import format_money
from projects.models import Company, CompanyMembership, OutOfOffice
from projects.permissions import administers_erp_tool, approves_kind

FEWEST_DAYS, MOST_DAYS = 1, 60
MOST_AMOUNT = Decimal("999999999999.99")  # 14 digits, 2 of them decimals: the column's limit
OUT_OF_OFFICE_REQUIRED = (
    "Out-of-office periods are for accounting approvers (each sets their own) and for Admins "
    "of the company's ERP Integrations tool (for any approver)."
)


def _yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def _model(kind: str) -> type[ErpItem]:
    try:
        return erp_item_model(kind)
    except LookupError:
        raise ValidationError({"kind": "Choose one of the kinds of item listed."}) from None


def has_amount(model: type[ErpItem]) -> bool:
    """Whether the kind's rules can have thresholds: items without an amount (sub jobs)
    follow a rule from $0.00 only (erpsync.approval.requirement_for)."""
    return model.erp_amount_field is not None


# ----- the company-wide switches and Direct Export ---------------------------------------------


def company_set_approval_policy(
    *,
    company: Company,
    user: Any,
    block_self_approval: bool,
    remind_after_days: int,
    escalate_after_days: int,
    direct_export: Mapping[str, bool],
) -> Company:
    """Block self-approval, the reminder and escalation delays (business days) and Direct
    Export per kind (ErpItem.erp_kind: on or off; kinds left out stay as they are)."""
    errors: dict[str, str] = {}
    for name, days in (
        ("remind_after_days", remind_after_days),
        ("escalate_after_days", escalate_after_days),
    ):
        if not isinstance(days, int) or not FEWEST_DAYS <= days <= MOST_DAYS:
            errors[name] = (
                f"Enter a whole number of business days from {FEWEST_DAYS} to {MOST_DAYS}."
            )
    if not errors and escalate_after_days < remind_after_days:
        errors["escalate_after_days"] = (
            f"Escalate after at least as many business days as the reminder "
            f"({remind_after_days}): Admins are told once the approvers have been reminded."
        )
    for kind in direct_export:
        if kind not in {m.erp_kind for m in erp_item_models()}:
            errors["direct_export"] = "Choose among the kinds of item listed."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = lock_company(company, user)
        changes: dict[str, list[str]] = {}
        switches: dict[str, Any] = {
            "block_self_approval": block_self_approval,
            "remind_after_days": remind_after_days,
            "escalate_after_days": escalate_after_days,
        }
        for name, value in switches.items():
            old = getattr(locked, name)
            if old != value:
                shown = _yes_no if isinstance(value, bool) else str
                changes[name] = [shown(old), shown(value)]
                setattr(locked, name, value)
        fields = [name for name in switches if name in changes]
        if fields:
            locked.save(update_fields=fields)
        current = dict(
            KindPolicy.objects.filter(company=locked).values_list("kind", "direct_export")
        )
        for kind, on in direct_export.items():
            if current.get(kind, False) != on:
                KindPolicy.objects.update_or_create(
                    company=locked, kind=kind, defaults={"direct_export": on}
                )
                changes[f"direct_export.{kind}"] = [_yes_no(not on), _yes_no(on)]
        if changes:
            record_settings_event(obj=locked, company=locked, user=user, changes=changes)
    return locked


# ----- the amount rules ------------------------------------------------------------------------


def _clean_amount(value: Any) -> Decimal:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise ValidationError({"min_amount": "Enter a number."})
    if amount < 0:
        raise ValidationError({"min_amount": "Enter an amount of $0.00 or more."})
    if amount > MOST_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise ValidationError(
            {"min_amount": f"Enter dollars and cents, at most {format_money(MOST_AMOUNT)}."}
        )
    return amount.quantize(Decimal("0.01"))


def approval_rule_add(
    *,
    company: Company,
    user: Any,
    kind: str,
    min_amount: Any,
    approvals_required: int,
    needs_tool_admin: bool,
) -> ApprovalRule:
    """ "Owner invoices of $X or more need N approvals (one of them an ERP tool Admin's)": one
    rule per kind and threshold. It applies from the next decision on, to items already
    waiting too. A kind without an amount (sub jobs) takes a rule from $0.00 only."""
    model = _model(kind)
    amount = _clean_amount(min_amount)
    if not isinstance(approvals_required, int) or not 1 <= approvals_required <= MOST_APPROVALS:
        raise ValidationError(
            {"approvals_required": f"Choose from 1 to {MOST_APPROVALS} approvals."}
        )
    if amount and not has_amount(model):
        raise ValidationError(
            {
                "min_amount": f"{capital(model.erp_kind_label)}s have no amount: a rule for them "
                "applies to all of them, from $0.00."
            }
        )
    with transaction.atomic():
        locked = lock_company(company, user)
        if ApprovalRule.objects.filter(company=locked, kind=kind, min_amount=amount).exists():
            raise ValidationError(
                {
                    "min_amount": f"There is already a rule for {kind_label(model, locked)}s "
                    f"from {format_money(amount)}: remove it first to change it."
                }
            )
        rule = ApprovalRule.objects.create(
            company=locked,
            kind=kind,
            min_amount=amount,
            approvals_required=approvals_required,
            needs_tool_admin=needs_tool_admin,
        )
        record_settings_event(
            obj=locked,
            company=locked,
            user=user,
            changes={"approval_rule": ["", rule.describe(kind_label(model, locked))]},
        )
    return rule


def approval_rule_remove(*, company: Company, user: Any, rule_id: int) -> None:
    """Remove one of the company's rules (ObjectDoesNotExist for another company's)."""
    with transaction.atomic():
        locked = lock_company(company, user)
        rule = ApprovalRule.objects.filter(company=locked, pk=rule_id).first()
        if rule is None:
            raise ObjectDoesNotExist("No such rule.")
        described = rule.describe(kind_label(_model(rule.kind), locked))
        rule.delete()
        record_settings_event(
            obj=locked, company=locked, user=user, changes={"approval_rule": [described, ""]}
        )


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


# ----- out of office ---------------------------------------------------------------------------


def may_set_out_of_office(user_membership: CompanyMembership | None, absent: Any) -> bool:
    """Every approver sets their own periods; an ERP tool Admin sets anyone's."""
    if user_membership is None:
        return False
    if administers_erp_tool(user_membership):
        return True
    return absent.pk == user_membership.pk and approves_kind(user_membership)


def _lock_for_absence(absent: CompanyMembership, user: Any) -> Company:
    """The company's row, locked, once the user may set `absent`'s periods."""
    company = Company.objects.select_for_update().get(pk=absent.company_id)
    mine = None
    if getattr(user, "is_authenticated", False) and user.is_active:
        mine = (
            CompanyMembership.objects.filter(company=company, user=user)
            .prefetch_related("export_rights")
            .first()
        )
    if not may_set_out_of_office(mine, absent):
        raise PermissionDenied(OUT_OF_OFFICE_REQUIRED)
    return company


def _fresh(membership: CompanyMembership) -> CompanyMembership:
    return (
        CompanyMembership.objects.select_related("user", "company")
        .prefetch_related("export_rights")
        .get(pk=membership.pk)
    )


def _overlapping(membership: CompanyMembership, starts_on: dt.date, ends_on: dt.date) -> Any:
    return OutOfOffice.objects.filter(
        membership=membership, starts_on__lte=ends_on, ends_on__gte=starts_on
    ).first()


def _check_absence(
    company: Company,
    absent: CompanyMembership,
    delegate: CompanyMembership,
    starts_on: dt.date,
    ends_on: dt.date,
) -> None:
    """Every reason the period cannot be recorded, at its field."""
    errors: dict[str, list[str]] = {}

    def refuse(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    away, standing_in = display_name(absent.user), display_name(delegate.user)
    if not approved_kinds(absent):
        refuse(
            "membership",
            f"{away} is not an accounting approver: only approvers hand their approvals to a "
            "delegate.",
        )
    if ends_on < starts_on:
        refuse("ends_on", "An out-of-office period cannot end before it starts.")
    elif ends_on < timezone.localdate():
        refuse("ends_on", "That period is over already: enter today or a later day.")
    if delegate.company_id != company.pk:
        refuse("delegate", "Choose a member of this company as the delegate.")
    elif delegate.pk == absent.pk:
        refuse("delegate", "Choose someone else as the delegate.")
    elif not delegate.user.is_active:
        refuse("delegate", f"{standing_in}'s account is inactive: choose someone else.")
    elif missing := missing_kinds(absent, delegate):
        refuse(
            "delegate",
            f"{standing_in} cannot stand in for {away}: they are not an accounting approver "
            f"for {kinds_text(company, missing)}, which {away} decides. Choose an approver who "
            "holds every export right of theirs, or grant the rights first (Directory).",
        )
    if errors or ends_on < starts_on:
        raise ValidationError(errors)
    clash = _overlapping(absent, starts_on, ends_on)
    if clash is not None:
        refuse(
            "starts_on",
            f"{away} is already out of office {period_text(clash.starts_on, clash.ends_on)}: "
            "periods may not overlap. Cancel that one first, or choose other days.",
        )
    delegate_away = _overlapping(delegate, starts_on, ends_on)
    if delegate_away is not None:
        refuse(
            "delegate",
            f"{standing_in} is out of office themselves "
            f"{period_text(delegate_away.starts_on, delegate_away.ends_on)}: choose someone "
            "who is in.",
        )
    stands_in = (
        OutOfOffice.objects.filter(delegate=absent, starts_on__lte=ends_on, ends_on__gte=starts_on)
        .select_related("membership__user")
        .first()
    )
    if stands_in is not None:
        refuse(
            "__all__",
            f"{away} stands in for {display_name(stands_in.membership.user)} "
            f"{period_text(stands_in.starts_on, stands_in.ends_on)}: choose another delegate "
            "for that period first.",
        )
    if errors:
        raise ValidationError(errors)


def out_of_office_add(
    *,
    membership: CompanyMembership,
    user: Any,
    starts_on: dt.date,
    ends_on: dt.date,
    delegate: CompanyMembership,
) -> OutOfOffice:
    """Record that the approver `membership` is away from `starts_on` to `ends_on` (both
    included), with `delegate` deciding in their stead: someone else, active, holding every
    export right of theirs, not away then; one period at a time per approver."""
    with transaction.atomic():
        company = _lock_for_absence(membership, user)
        absent, stand_in = _fresh(membership), _fresh(delegate)
        _check_absence(company, absent, stand_in, starts_on, ends_on)
        absence = OutOfOffice.objects.create(
            membership=absent, starts_on=starts_on, ends_on=ends_on, delegate=stand_in
        )
        record_settings_event(
            obj=absent,
            company=company,
            user=user,
            changes={"out_of_office": ["", absence_text(absence)]},
            member=absent.user.get_username(),
        )
    return absence


def out_of_office_cancel(*, absence: OutOfOffice, user: Any) -> OutOfOffice | None:
    """Cancel a current or future period: a future one (or one starting today) is deleted, a
    current one ends yesterday (the approver is back today). Returns the shortened period, or
    None when it was deleted. A period that is over is refused (SettingsRefused)."""
    with transaction.atomic():
        company = _lock_for_absence(absence.membership, user)
        locked = (
            OutOfOffice.objects.select_related("membership__user", "delegate__user")
            .filter(pk=absence.pk, membership__company=company)
            .first()
        )
        if locked is None:
            raise ObjectDoesNotExist("No such out-of-office period.")
        today = timezone.localdate()
        if locked.ends_on < today:
            raise SettingsRefused(
                f"That period ({period_text(locked.starts_on, locked.ends_on)}) is over "
                "already: there is nothing to cancel."
            )
        before = absence_text(locked)
        kept: OutOfOffice | None = None
        if locked.starts_on < today:
            locked.ends_on = today - dt.timedelta(days=1)
            locked.save(update_fields=["ends_on"])
            after, kept = f"{absence_text(locked)} (ended early)", locked
        else:
            locked.delete()
            after = ""
        record_settings_event(
            obj=locked.membership,
            company=company,
            user=user,
            changes={"out_of_office": [before, after]},
            member=locked.membership.user.get_username(),
        )
    return kept
