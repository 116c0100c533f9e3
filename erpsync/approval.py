"""The company's approval policy applied to items: who may accept one, how many approvals its
amount needs, and who stands in for an approver who is away (README, Approval policy).

Reads only; the decisions (erpsync.models.items.ErpItem.erp_decide) and the accept service
(erpsync.services) use them. Every read here costs a fixed number of queries for a whole page
of items of one kind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import prefetch_related_objects
from django.utils import timezone

from erpsync.adapters import adapter_class_for
from erpsync.models.policy import Approval, ApprovalRule, KindPolicy
from erpsync.models.records import ErpEvent
from erpsync.states import AWAITING_APPROVAL, Decision, ErpAction, ErpState, Refusal, RefusalKind
from projects.models import CompanyMembership, OutOfOffice
from projects.permissions import approver_required, approves_kind

if TYPE_CHECKING:
    from erpsync.models.items import ErpItem
    from projects.models import Company


@dataclass(frozen=True)
class Requirement:
    """How many approvals from different approvers an item's version needs."""

    count: int = 1
    needs_tool_admin: bool = False
    rule: ApprovalRule | None = None


@dataclass
class ApprovalState:
    """An item's submitted version: what it needs and the approvals it has so far."""

    requirement: Requirement
    approvals: list[Approval] = field(default_factory=list)
    last_editor_id: int | None = None

    @property
    def given(self) -> int:
        return len(self.approvals)

    @property
    def remaining(self) -> int:
        return max(self.requirement.count - self.given, 0)

    @property
    def has_tool_admin(self) -> bool:
        return any(a.as_tool_admin for a in self.approvals)

    @property
    def progress(self) -> str:
        """'1 of 2 approvals' (empty when one approval is all it needs)."""
        count = self.requirement.count
        return f"{self.given} of {count} approvals" if count > 1 else ""

    def approved_by(self, user: Any) -> Approval | None:
        return next((a for a in self.approvals if a.approver_id == user.pk), None)


def amount(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def requirement_for(amount_due: Decimal | None, rules: Sequence[ApprovalRule]) -> Requirement:
    """The rule with the highest threshold at or below the amount; without an amount, a rule
    from $0.00 only; no rule: one approval."""
    for rule in sorted(rules, key=lambda r: r.min_amount, reverse=True):
        if (amount_due is None and not rule.min_amount) or (
            amount_due is not None and amount_due >= rule.min_amount
        ):
            return Requirement(rule.approvals_required, rule.needs_tool_admin, rule)
    return Requirement()


# Approvals of an item's current version exist only once it has left Pending (one approval
# makes it partly approved; a resend starts a new version).
_MAY_HAVE_APPROVALS = frozenset(ErpState) - {ErpState.NOT_SENT, ErpState.PENDING}


def approval_states(
    items: Sequence[ErpItem], company: Company | None = None
) -> dict[int, ApprovalState]:
    """{item id: its state} for items of one kind and one company (`company`, when the caller
    has it, saves reading it through each item): four queries at most. Approvals are read only
    when an item may have some, and the last editors only when the company blocks
    self-approval."""
    if not items:
        return {}
    model = type(items[0])
    company = company or items[0].erp_company
    content_type = ContentType.objects.get_for_model(model)
    ids = [item.pk for item in items]
    rules = list(ApprovalRule.objects.filter(company=company, kind=model.erp_kind))
    amounts: dict[int, Decimal | None] = {}
    if any(rule.min_amount for rule in rules):
        amounts = {
            item_id: model.erp_snapshot_amount(snapshot or {})
            for item_id, snapshot in ErpEvent.objects.submitted_snapshots(items).items()
        }
    approvals: dict[int, list[Approval]] = {}
    if any(item.erp_state in _MAY_HAVE_APPROVALS for item in items):
        found = Approval.objects.filter(content_type=content_type, object_id__in=ids)
        for approval in found.select_related("approver", "event__actor"):
            approvals.setdefault(approval.object_id, []).append(approval)
    editors: dict[int, int | None] = {}
    if company.block_self_approval:
        # Oldest first, so the last edit of each item wins (the same on SQLite and PostgreSQL).
        editors = dict(
            ErpEvent.objects.filter(
                content_type=content_type,
                object_id__in=ids,
                action__in=[ErpAction.CREATE, ErpAction.EDIT],
            )
            .order_by("id")
            .values_list("object_id", "actor_id")
        )
    return {
        item.pk: ApprovalState(
            requirement=requirement_for(amounts.get(item.pk), rules),
            approvals=[a for a in approvals.get(item.pk, []) if a.version == item.erp_version],
            last_editor_id=editors.get(item.pk),
        )
        for item in items
    }


def approval_state(item: ErpItem) -> ApprovalState:
    return approval_states([item])[item.pk]


def accept_decisions(
    items: Sequence[ErpItem],
    user: Any,
    membership: CompanyMembership | None,
    company: Company,
    states: dict[int, ApprovalState] | None = None,
) -> dict[int, Decision]:
    """{item id: the user's Accept decision} for a page of items of one kind of `company`:
    what item.erp_decide(ErpAction.ACCEPT, user) answers, with every reason, at the cost of
    approval_states for the whole page (`states`, when the caller has them) instead of a few
    queries per item. `membership` is the user's, read once with its export rights."""
    if membership is not None:
        prefetch_related_objects([membership], "export_rights")  # once; no-op when done
    if states is None:
        states = approval_states(items, company)
    supported = items[0].erp_kind in adapter_class_for(company).supports if items else True
    decisions = {}
    for item in items:
        # Each row's company is this one: say so, so the reasons below read no row again.
        item.erp_project.company = company
        refusals: list[Refusal] = []
        if item.erp_state not in AWAITING_APPROVAL:
            refusals.append(Refusal(RefusalKind.STATE, item.erp_state_refusal(ErpAction.ACCEPT)))
        if not supported:
            refusals.append(Refusal(RefusalKind.PRECONDITION, item._unsupported_message()))
        if refusals:  # as erp_decide: the state rules it out, the policy would only add noise
            if not approves_kind(membership, item.erp_kind):
                refusals.append(
                    Refusal(RefusalKind.PERMISSION, approver_required(item.erp_kind_label))
                )
        else:
            refusals += accept_refusals(item, user, membership, states[item.pk])
        decisions[item.pk] = Decision(action=ErpAction.ACCEPT, refusals=tuple(refusals))
    return decisions


def membership_of(user: Any, company: Company) -> CompanyMembership | None:
    """The user's directory record with their export rights (two queries)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return (
        CompanyMembership.objects.filter(company=company, user=user)
        .prefetch_related("export_rights")
        .first()
    )


def accept_refusals(
    item: ErpItem, user: Any, membership: CompanyMembership | None, state: ApprovalState
) -> list[Refusal]:
    """Why `user` may not accept (or approve) `item` now under the company's policy: the
    right for its kind, no self-approval, one approval per approver, an Admin's approval."""
    label = item.erp_kind_label
    if not approves_kind(membership, item.erp_kind):
        return [Refusal(RefusalKind.PERMISSION, approver_required(label))]
    refusals = []
    if item.erp_company.block_self_approval:
        if item.erp_sent_by_id is not None and item.erp_sent_by_id == user.pk:
            refusals.append(
                Refusal(
                    RefusalKind.POLICY,
                    f"You sent this {label}: another approver must accept it (the company "
                    "does not allow anyone to approve their own items).",
                )
            )
        elif state.last_editor_id is not None and state.last_editor_id == user.pk:
            refusals.append(
                Refusal(
                    RefusalKind.POLICY,
                    f"You last edited this {label}: another approver must accept it (the "
                    "company does not allow anyone to approve their own items).",
                )
            )
    mine = state.approved_by(user)
    if mine is not None:
        refusals.append(
            Refusal(
                RefusalKind.POLICY,
                f"You already approved version {mine.version}: its "
                f"{state.requirement.count} approvals must come from different approvers.",
            )
        )
    elif (
        state.remaining == 1
        and state.requirement.needs_tool_admin
        and not state.has_tool_admin
        and not (membership is not None and membership.is_erp_tool_admin)
    ):
        refusals.append(
            Refusal(
                RefusalKind.POLICY,
                f"One of this {label}'s {state.requirement.count} approvals must be an ERP "
                "Integrations tool Admin's, and only one remains.",
            )
        )
    return refusals


def away_on(day: dt.date) -> Iterable[OutOfOffice]:
    return OutOfOffice.objects.filter(starts_on__lte=day, ends_on__gte=day)


def standing_in_for(
    membership: CompanyMembership | None, kind: str, day: dt.date | None = None
) -> list[CompanyMembership]:
    """The approvers of `kind` away on `day` (today) whom `membership` stands in for."""
    if membership is None:
        return []
    absences = (
        away_on(day or timezone.localdate())
        .filter(delegate=membership, membership__export_rights__kind=kind)
        .select_related("membership__user")
        .distinct()
    )
    return [absence.membership for absence in absences]


def direct_export(company: Company, kind: str) -> bool:
    """Send skips the approvers for this kind (Procore's Direct Export)."""
    return KindPolicy.objects.filter(company=company, kind=kind, direct_export=True).exists()
