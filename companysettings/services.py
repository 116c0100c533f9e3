"""Writes of the company settings pages: the point-of-view dictionary, the ERP adapter with
its settings, and the directory's ERP Integrations flags of each member.

Each service is one transaction: it takes the company's row with select_for_update (every
settings write of one company queues there, so two Admins demoting each other cannot leave
the company without an Admin), checks on the server that the user is an Admin of the
company's ERP Integrations tool, and writes an audit row naming the user with what changed
(erpsync.models.ErpEvent, action "edit", on the Company or the CompanyMembership). Secrets
never reach the audit row: a changed secret reads "***". The Django admin's writes of the same
things (`*_admin_*` below) differ only in whose permission they ask: the admin's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from companysettings.delegation import delegation_gaps, kinds_text
from erpsync.adapters import adapter_class
from erpsync.kinds import erp_item_models
from erpsync.models import display_name
from erpsync.ops import settings_changes
from erpsync.services import record_settings_event, require_model_permission
from erpsync.states import ErpAction
from projects.models import Company, CompanyMembership, ExportRight, PointOfView, ToolLevel
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


def lock_company(company: Company, user: Any) -> Company:
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


def _set_dictionary(locked: Company, user: Any, pov: str) -> None:
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


def company_set_dictionary(*, company: Company, user: Any, pov: str) -> Company:
    """Choose the company's point-of-view dictionary (a PointOfView value)."""
    if pov not in PointOfView.values:
        raise ValidationError({"pov_dictionary": "Choose one of the dictionaries listed."})
    with transaction.atomic():
        locked = lock_company(company, user)
        _set_dictionary(locked, user, pov)
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
        locked = lock_company(company, user)
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


def _flag_value(name: str, value: Any) -> str:
    return ToolLevel(value).label if name == "erp_tool_level" else _yes_no(value)


def _validate_flags(flags: dict[str, Any]) -> None:
    unknown = set(flags) - set(FLAGS)
    if unknown:
        raise ValueError(f"Not a directory flag: {', '.join(sorted(unknown))}")
    level = flags.get("erp_tool_level")
    if level is not None and level not in ToolLevel.values:
        raise ValidationError({"erp_tool_level": "Choose one of the levels listed."})


def _keeps_an_admin(company: Company, member: CompanyMembership) -> None:
    """Refuse when `member` is the company's last ERP tool Admin (call with the company's row
    locked, so the count cannot change under it)."""
    others = CompanyMembership.objects.filter(
        company=company, erp_tool_level=ToolLevel.ADMIN
    ).exclude(pk=member.pk)
    if not others.exists():
        raise SettingsRefused(
            f"{display_name(member.user)} is the last Admin of {company.name}'s ERP "
            "Integrations tool: make another member Admin first, so that someone can "
            "still change the company's settings."
        )


def _lock_membership(company: Company, membership: CompanyMembership) -> CompanyMembership:
    return (
        CompanyMembership.objects.select_for_update(of=("self",))
        .select_related("user")
        .get(pk=membership.pk, company=company)
    )


def _validate_kinds(kinds: Iterable[str] | None) -> frozenset[str] | None:
    if kinds is None:
        return None
    chosen = frozenset(kinds)
    known = {m.erp_kind for m in erp_item_models()}
    if chosen - known:
        raise ValidationError({"export_kinds": "Choose among the kinds of item listed."})
    return chosen


def _set_export_kinds(locked: CompanyMembership, kinds: frozenset[str]) -> list[str] | None:
    """Grant and withdraw the member's export rights: [before, after] for the audit row, or
    None when nothing changed."""
    before = frozenset(ExportRight.objects.filter(membership=locked).values_list("kind", flat=True))
    if before == kinds:
        return None
    ExportRight.objects.filter(membership=locked).exclude(kind__in=kinds).delete()
    ExportRight.objects.bulk_create(
        ExportRight(membership=locked, kind=kind) for kind in sorted(kinds - before)
    )
    return [kinds_text(locked.company, before), kinds_text(locked.company, kinds)]


def _delegations_hold(company: Company, member: CompanyMembership) -> None:
    """Refuse a change that would leave a current or future out-of-office period with a
    delegate who cannot decide everything the absent approver could (call with the company's
    row locked)."""
    gaps = delegation_gaps(company, member)
    if gaps:
        raise SettingsRefused(" ".join(gaps))


def _set_flags(
    company: Company,
    locked: CompanyMembership,
    user: Any,
    flags: dict[str, Any],
    export_kinds: frozenset[str] | None = None,
) -> CompanyMembership:
    changes: dict[str, list[str]] = {}
    was_admin = locked.erp_tool_level == ToolLevel.ADMIN
    for name, value in flags.items():
        old = getattr(locked, name)
        if value is None or value == old:
            continue
        changes[name] = [_flag_value(name, old), _flag_value(name, value)]
        setattr(locked, name, value)
    fields = [*changes]
    if export_kinds is not None:
        locked.company = company
        rights = _set_export_kinds(locked, export_kinds)
        if rights is not None:
            changes["export_rights"] = rights
    if not changes:
        return locked
    if was_admin and locked.erp_tool_level != ToolLevel.ADMIN:
        _keeps_an_admin(company, locked)
    if fields:
        locked.save(update_fields=fields)
    _delegations_hold(company, locked)
    record_settings_event(
        obj=locked, company=company, user=user, changes=changes, member=locked.user.get_username()
    )
    return locked


def membership_set_flags(
    *,
    membership: CompanyMembership,
    user: Any,
    erp_tool_level: int | None = None,
    can_push_to_accounting: bool | None = None,
    erp_digest_subscribed: bool | None = None,
    export_kinds: Iterable[str] | None = None,
) -> CompanyMembership:
    """Set a member's ERP Integrations tool level, 'Can push to accounting', the kinds of item
    they may export (`export_kinds`: ErpItem.erp_kind keys, exactly those) and 'Subscribe to
    ERP digest emails' (None leaves a flag as it is). The company keeps at least one Admin of
    its ERP Integrations tool, and every delegate of a current or future out-of-office period
    keeps what the absent approver could decide: a change that breaks either is refused
    (SettingsRefused) and nothing is saved."""
    flags = {
        "erp_tool_level": erp_tool_level,
        "can_push_to_accounting": can_push_to_accounting,
        "erp_digest_subscribed": erp_digest_subscribed,
    }
    _validate_flags(flags)
    kinds = _validate_kinds(export_kinds)
    with transaction.atomic():
        company = lock_company(membership.company, user)
        return _set_flags(company, _lock_membership(company, membership), user, flags, kinds)


# ----- the Django admin's writes --------------------------------------------------------------
# Its permission is the admin's own (staff with the model's permission, as for items), but the
# lock, the last-Admin rule and the audit row naming the admin are the pages' own.


def _adminlock_company(company: Company, user: Any, action: str, model: type[Any]) -> Company:
    require_model_permission(user, action, model)
    return Company.objects.select_for_update().get(pk=company.pk)


def company_admin_set_dictionary(*, company: Company, user: Any, pov: str) -> Company:
    if pov not in PointOfView.values:
        raise ValidationError({"pov_dictionary": "Choose one of the dictionaries listed."})
    with transaction.atomic():
        locked = _adminlock_company(company, user, "change", Company)
        _set_dictionary(locked, user, pov)
    return locked


def membership_admin_create(
    *, company: Company, user: Any, member: Any, **flags: Any
) -> CompanyMembership:
    """Add a user to the company's directory, with an audit row of the flags given."""
    _validate_flags(flags)
    with transaction.atomic():
        locked = _adminlock_company(company, user, "add", CompanyMembership)
        if CompanyMembership.objects.filter(company=locked, user=member).exists():
            raise ValidationError({"user": f"{display_name(member)} is already a member."})
        created = CompanyMembership.objects.create(company=locked, user=member, **flags)
        record_settings_event(
            obj=created,
            company=locked,
            user=user,
            action=ErpAction.CREATE,
            changes={name: ["", _flag_value(name, getattr(created, name))] for name in FLAGS},
            member=member.get_username(),
        )
    return created


def membership_admin_update(
    *, membership: CompanyMembership, user: Any, **flags: Any
) -> CompanyMembership:
    _validate_flags(flags)
    with transaction.atomic():
        company = _adminlock_company(membership.company, user, "change", CompanyMembership)
        return _set_flags(company, _lock_membership(company, membership), user, flags)


def membership_admin_delete(*, membership: CompanyMembership, user: Any) -> None:
    """Remove a member from the directory; never the company's last ERP tool Admin."""
    with transaction.atomic():
        company = _adminlock_company(membership.company, user, "delete", CompanyMembership)
        locked = _lock_membership(company, membership)
        if locked.erp_tool_level == ToolLevel.ADMIN:
            _keeps_an_admin(company, locked)
        record_settings_event(
            obj=locked,
            company=company,
            user=user,
            changes={"membership": ["member", "removed"]},
            member=locked.user.get_username(),
        )
        locked.delete()
