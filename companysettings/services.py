"""Writes of the company settings pages: the point-of-view dictionary, the ERP adapter with
its settings, and the directory's ERP Integrations flags of each member.

Each service is one transaction: it takes the company's row with select_for_update (every
settings write of one company queues there, so two Admins demoting each other cannot leave
the company without an Admin), checks on the server that the user is an Admin of the
company's ERP Integrations tool, and writes an audit row naming the user with what changed
(erpsync.models.ErpEvent, action "edit", on the Company or the CompanyMembership). Secrets
never reach the audit row: a changed secret reads "***".
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from erpsync.adapters import adapter_class
from erpsync.models import display_name
from erpsync.ops import settings_changes
from erpsync.services import record_settings_event
from projects.models import Company, CompanyMembership, PointOfView, ToolLevel
from projects.permissions import (
    ERP_TOOL_ADMIN_REQUIRED,
    administers_erp_tool,
    erp_tool_level_name,
)

FLAGS = ("erp_tool_level", "can_push_to_accounting", "erp_digest_subscribed")


class SettingsRefused(Exception):
    """A change the rules refuse whatever the input (the last Admin): 409 with the reason."""

    status_code = 409

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


# ----- shared steps -------------------------------------------------------------------------


def _lock_company(company: Company, user: Any) -> Company:
    """The company's row, locked, once the user is found to be an Admin of its ERP tool."""
    locked = Company.objects.select_for_update().get(pk=company.pk)
    membership = None
    if getattr(user, "is_authenticated", False) and user.is_active:
        membership = CompanyMembership.objects.filter(company=locked, user=user).first()
    if not administers_erp_tool(membership):
        raise PermissionDenied(
            ERP_TOOL_ADMIN_REQUIRED.format(level=erp_tool_level_name(membership))
        )
    return locked


def _yes_no(value: bool) -> str:
    return "Yes" if value else "No"


# ----- the point-of-view dictionary --------------------------------------------------------


def company_set_dictionary(*, company: Company, user: Any, pov: str) -> Company:
    """Choose the company's point-of-view dictionary (a PointOfView value)."""
    if pov not in PointOfView.values:
        raise ValidationError({"pov_dictionary": "Choose one of the dictionaries listed."})
    with transaction.atomic():
        locked = _lock_company(company, user)
        if locked.pov_dictionary != pov:
            old = PointOfView(locked.pov_dictionary).label
            locked.pov_dictionary = pov
            locked.save(update_fields=["pov_dictionary"])
            record_settings_event(
                obj=locked,
                company=locked,
                user=user,
                changes={"pov_dictionary": [old, PointOfView(pov).label]},
            )
    return locked


# ----- the ERP adapter ------------------------------------------------------------------------


def _field_of(problem: str, names: list[str]) -> str:
    """Which setting an adapter's problem is about: the first it names in parentheses ('The
    webhook URL (url) is missing.'), starts with it ('fail["08-000"] must be …', '"fail" must …'),
    or mentions it as a word ('The webhook timeout …'); else the whole form."""
    named = [(problem.find(f"({name})"), name) for name in names if f"({name})" in problem]
    if named:
        return min(named)[1]
    for name in names:
        if re.match(rf'"?{re.escape(name)}["\[]', problem):
            return name
    found = [
        (match.start(), name)
        for name in names
        if (match := re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", problem, re.I))
    ]
    return min(found)[1] if found else "__all__"


def company_set_adapter(
    *, company: Company, user: Any, adapter: str, settings: dict[str, Any]
) -> Company:
    """Choose the company's ERP adapter and its complete settings. Refused with the adapter's
    own reasons (validate_settings), at the setting they name, and nothing is saved."""
    if adapter not in django_settings.ERP_ADAPTERS:
        raise ValidationError({"adapter": "Choose one of the ERP adapters listed."})
    cls = adapter_class(adapter)
    problems = cls.validate_settings(settings)
    if problems:
        names = [f.name for f in cls.setting_fields] + sorted(settings)
        errors: dict[str, list[str]] = {}
        for problem in problems:
            errors.setdefault(_field_of(problem, names), []).append(problem)
        raise ValidationError(errors)
    with transaction.atomic():
        locked = _lock_company(company, user)
        old_key, old = locked.erp_adapter, dict(locked.erp_settings or {})
        changes: dict[str, list[str]] = {}
        if old_key != adapter:
            changes["erp_adapter"] = [old_key, adapter]
        changes |= settings_changes(old_key, old, adapter, settings)
        if changes:
            locked.erp_adapter = adapter
            locked.erp_settings = dict(settings)
            locked.save(update_fields=["erp_adapter", "erp_settings"])
            record_settings_event(obj=locked, company=locked, user=user, changes=changes)
    return locked


# ----- the directory's flags ------------------------------------------------------------------


def membership_set_flags(
    *,
    membership: CompanyMembership,
    user: Any,
    erp_tool_level: int | None = None,
    can_push_to_accounting: bool | None = None,
    erp_digest_subscribed: bool | None = None,
) -> CompanyMembership:
    """Set a member's ERP Integrations tool level, 'Can push to accounting' and 'Subscribe to
    ERP digest emails' (None leaves a flag as it is). The company keeps at least one Admin of
    its ERP Integrations tool: removing the last one is refused (SettingsRefused)."""
    if erp_tool_level is not None and erp_tool_level not in ToolLevel.values:
        raise ValidationError({"erp_tool_level": "Choose one of the levels listed."})
    with transaction.atomic():
        company = _lock_company(membership.company, user)
        locked = (
            CompanyMembership.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=membership.pk, company=company)
        )
        wanted = {
            "erp_tool_level": erp_tool_level,
            "can_push_to_accounting": can_push_to_accounting,
            "erp_digest_subscribed": erp_digest_subscribed,
        }
        changes: dict[str, list[str]] = {}
        for name, value in wanted.items():
            old = getattr(locked, name)
            if value is None or value == old:
                continue
            if name == "erp_tool_level":
                changes[name] = [ToolLevel(old).label, ToolLevel(value).label]
            else:
                changes[name] = [_yes_no(old), _yes_no(value)]
            setattr(locked, name, value)
        if not changes:
            return locked
        # A changed level that was Admin is Admin no more.
        demoted = changes.get("erp_tool_level", [""])[0] == ToolLevel.ADMIN.label
        others = CompanyMembership.objects.filter(
            company=company, erp_tool_level=ToolLevel.ADMIN
        ).exclude(pk=locked.pk)
        if demoted and not others.exists():
            raise SettingsRefused(
                f"{display_name(locked.user)} is the last Admin of {company.name}'s ERP "
                "Integrations tool: make another member Admin first, so that someone can "
                "still change the company's settings."
            )
        locked.save(update_fields=[*changes])
        record_settings_event(
            obj=locked,
            company=company,
            user=user,
            changes=changes,
            member=locked.user.get_username(),
        )
    return locked
