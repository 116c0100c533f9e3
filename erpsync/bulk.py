"""The approver's Accept and Reject on many items at once: erpsync.services.erp_accept's and
erp_reject's rules, in one transaction and a fixed number of queries however many items
(README, Bulk decisions).

Part of the services layer (ERP state changes only in services): erp_accept_many takes the
rows with SELECT … FOR UPDATE SKIP LOCKED, decides each in memory under the company's approval
policy (the same functions erp_decide and erp_accept use, read once for the lot), applies
each item's django-fsm transition (its guard included), then writes the rows, the audit rows
and the approvals in a few statements and publishes ItemTransitioned for each accepted item
(publish_many). An item refused here is left as it was and reported; it never undoes
another. An item another transaction holds is not waited for: it is refused with a reason,
so two overlapping bulk decisions never block each other and never decide an item twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from erpsync.approval import accept_decisions, approval_states, membership_of, standing_in_for
from erpsync.events import ItemTransitioned, publish_many
from erpsync.models import Approval, ErpEvent, ErpItem
from erpsync.services import approval_action, approval_details, clean_reason, stale_version
from erpsync.states import Decision, ErpAction, ErpActionRefused, Refusal, RefusalKind
from projects.models import Company
from projects.permissions import approver_required, is_accounting_approver


def _fields(row: ErpItem) -> dict[str, Any]:
    """Every column's value: compared before and after a transition, so that whatever the
    transition wrote (and only that) is written; an approval leaves the export fields alone."""
    return {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields}


@dataclass
class _Step:
    """One item's transition in a bulk: the row after it, and what it was before."""

    row: Any
    action: ErpAction
    from_state: str
    before: dict[str, Any]


def busy_refusal(item: ErpItem) -> Refusal:
    return Refusal(
        RefusalKind.STATE,
        f"Another person is deciding this {item.erp_kind_label} right now: reload the page in "
        "a moment to see what they decided.",
    )


def _lock_skipping[Item: ErpItem](model: type[Item], items: Sequence[Item]) -> dict[int, Item]:
    """The rows of `items` this transaction could lock, in id order (the same order for
    everyone); rows another transaction holds are skipped, not waited for."""
    related = (*model.erp_related, "erp_sent_by", "erp_accepted_by", "erp_changed_by")
    rows = (
        model.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related(*related)
        .filter(pk__in=[item.pk for item in items])
        .order_by("pk")
    )
    return {row.pk: row for row in rows}


def _record(
    model: type[ErpItem],
    company: Company,
    user: Any,
    decided: Sequence[_Step],
    now: Any,
    reason: str = "",
    details: Mapping[int, dict[str, Any]] | None = None,
) -> list[ErpEvent]:
    """Write what the transitions changed and their audit rows: what record_event writes for
    each item, in one INSERT."""
    _write(model, decided, now)
    content_type = ContentType.objects.get_for_model(model)
    return ErpEvent.objects.bulk_create(
        ErpEvent(
            content_type=content_type,
            object_id=step.row.pk,
            company=company,
            action=step.action,
            from_state=step.from_state,
            to_state=step.row.erp_state,
            actor=user,
            reason=reason,
            version=step.row.erp_version,
            details=(details or {}).get(step.row.pk, {}),
            created_at=now,
        )
        for step in decided
    )


def erp_accept_many[Item: ErpItem](
    *,
    items: Sequence[Item],
    user: Any,
    versions: Mapping[int, int | None],
    export: bool = True,
) -> dict[int, Item | ErpActionRefused]:
    """Accept (or approve, under an amount rule) each of `items`, one kind of one company, at
    the version `versions` names for it (None: whatever version it has). {item id: the item
    after its transition, or why it was refused}, in the order of `items`.

    The exports of the accepted items are queued together once the transaction commits.
    """
    if not items:
        return {}
    model = type(items[0])
    company = items[0].erp_company
    with transaction.atomic():
        locked = _lock_skipping(model, items)
        rows = list(locked.values())
        membership = membership_of(user, company)
        states = approval_states(rows, company)
        decisions = accept_decisions(rows, user, membership, company, states)
        stand_ins = standing_in_for(membership, model.erp_kind)
        as_admin = membership is not None and membership.is_erp_tool_admin
        now = timezone.now()
        results: dict[int, Item | ErpActionRefused] = {}
        decided: list[_Step] = []
        for item in items:
            row = locked.get(item.pk)
            if row is None:
                refusal = busy_refusal(item)
                results[item.pk] = ErpActionRefused(Decision(ErpAction.ACCEPT, (refusal,)))
                continue
            decision = decisions[row.pk]
            stale = stale_version(row, versions.get(row.pk)) if decision.allowed else None
            if stale is not None:
                decision = Decision(ErpAction.ACCEPT, (stale,))
            if not decision.allowed:
                results[row.pk] = ErpActionRefused(decision)
                continue
            action = approval_action(states[row.pk])
            step = _Step(row, action, row.erp_state, _fields(row))
            getattr(row, action.value)(by=user, at=now)  # the transition, with its guard
            decided.append(step)
            results[row.pk] = row
        if decided:
            details = {s.row.pk: approval_details(states[s.row.pk], stand_ins) for s in decided}
            events = _record(model, company, user, decided, now, details=details)
            Approval.objects.bulk_create(
                Approval(
                    content_type=event.content_type,
                    object_id=step.row.pk,
                    version=step.row.erp_version,
                    approver=user,
                    as_tool_admin=as_admin,
                    event=event,
                )
                for step, event in zip(decided, events, strict=True)
            )
            publish_many(
                [
                    ItemTransitioned(item=step.row, event=event, queue_export=export)
                    for step, event in zip(decided, events, strict=True)
                ]
            )
    return results


def erp_reject_many[Item: ErpItem](
    *, items: Sequence[Item], user: Any, reason: str
) -> dict[int, Item | ErpActionRefused | ValidationError]:
    """Reject each of `items` (one kind of one company) with one reason: what erp_reject does
    to each, in one transaction. {item id: the item after, or why not}; each sender is
    emailed the reason (the emails listener's batch form)."""
    if not items:
        return {}
    model = type(items[0])
    company = items[0].erp_company
    with transaction.atomic():
        locked = _lock_skipping(model, items)
        # erp_decide's answer for a rejection: the state, and the approver's right for the kind
        # (the same for every item, so read once).
        permitted = is_accounting_approver(user, company, model.erp_kind)
        now = timezone.now()
        results: dict[int, Item | ErpActionRefused | ValidationError] = {}
        decided: list[_Step] = []
        cleaned = ""
        for item in items:
            row = locked.get(item.pk)
            refusals = [busy_refusal(item)] if row is None else []
            if row is not None and not can_proceed(row.reject, check_conditions=False):
                refusals.append(Refusal(RefusalKind.STATE, row.erp_state_refusal(ErpAction.REJECT)))
            if row is not None and not permitted:
                refusals.append(
                    Refusal(RefusalKind.PERMISSION, approver_required(row.erp_kind_label))
                )
            if row is None or refusals:
                results[item.pk] = ErpActionRefused(Decision(ErpAction.REJECT, tuple(refusals)))
                continue
            try:
                cleaned = clean_reason(row, reason)
            except ValidationError as error:
                results[row.pk] = error
                continue
            step = _Step(row, ErpAction.REJECT, row.erp_state, _fields(row))
            row.reject(by=user, at=now, reason=cleaned)  # the transition, with its guard
            decided.append(step)
            results[row.pk] = row
        if decided:
            events = _record(model, company, user, decided, now, reason=cleaned)
            publish_many(
                [
                    ItemTransitioned(item=step.row, event=event)
                    for step, event in zip(decided, events, strict=True)
                ]
            )
    return results


def _write(model: type[ErpItem], decided: Sequence[_Step], now: Any) -> None:
    """What the transitions changed, in one UPDATE per action and former state (a few at
    most), each guarded by that state as ConcurrentTransitionMixin.save guards one row."""
    stamped = [f.attname for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
    # The fields an action's transition wrote, on any row: the same values on every row
    # (the actor, the time, cleared fields), which one UPDATE can set.
    written: defaultdict[ErpAction, set[str]] = defaultdict(set)
    for step in decided:
        after = _fields(step.row)
        written[step.action] |= {n for n, v in after.items() if v != step.before[n]}
    groups: defaultdict[tuple[Any, ...], list[int]] = defaultdict(list)
    for step in decided:
        for name in stamped:
            setattr(step.row, name, now)  # what save() would stamp (updated_at)
        values = tuple((n, getattr(step.row, n)) for n in [*sorted(written[step.action]), *stamped])
        groups[(step.from_state, values)].append(step.row.pk)
    for (from_state, values), ids in groups.items():
        updated = model.objects.filter(pk__in=ids, erp_state=from_state).update(**dict(values))
        if updated != len(ids):  # the rows are locked here: nothing else can have moved them
            raise RuntimeError(f"{updated} of {len(ids)} {model.__name__} rows written")
    for step in decided:
        step.row._update_initial_state()
