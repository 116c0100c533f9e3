"""The approver's Accept on many items at once: erpsync.services.erp_accept's rules, in one
transaction and a fixed number of queries however many items (README, Bulk decisions).

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
from django.db import transaction
from django.utils import timezone

from erpsync.approval import accept_decisions, approval_states, membership_of, standing_in_for
from erpsync.events import ItemTransitioned, publish_many
from erpsync.models import Approval, ErpEvent, ErpItem
from erpsync.services import approval_action, approval_details, stale_version
from erpsync.states import Decision, ErpAction, ErpActionRefused, Refusal, RefusalKind

# What the transitions of an accept may write: compared before and after, so that only what
# the transition changed is written (an approval leaves the export fields alone).
_WRITTEN = (
    "erp_state",
    "erp_error",
    "erp_accepted_by_id",
    "erp_accepted_at",
    "erp_export_attempts",
    "erp_changed_by_id",
    "erp_changed_at",
)


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
        # In id order, so that the locks are taken in the same order by everyone; rows
        # another transaction holds are skipped (refused below), not waited for.
        locked: dict[int, Item] = {
            row.pk: row
            for row in model.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related(*model.erp_related, "erp_sent_by", "erp_accepted_by", "erp_changed_by")
            .filter(pk__in=[item.pk for item in items])
            .order_by("pk")
        }
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
            step = _Step(row, action, row.erp_state, {n: getattr(row, n) for n in _WRITTEN})
            getattr(row, action.value)(by=user, at=now)  # the transition, with its guard
            decided.append(step)
            results[row.pk] = row
        if decided:
            _write(model, decided, now)
            content_type = ContentType.objects.get_for_model(model)
            events = ErpEvent.objects.bulk_create(
                ErpEvent(
                    content_type=content_type,
                    object_id=step.row.pk,
                    company=company,
                    action=step.action,
                    from_state=step.from_state,
                    to_state=step.row.erp_state,
                    actor=user,
                    version=step.row.erp_version,
                    details=approval_details(states[step.row.pk], stand_ins),
                    created_at=now,
                )
                for step in decided
            )
            Approval.objects.bulk_create(
                Approval(
                    content_type=content_type,
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


def _write(model: type[ErpItem], decided: Sequence[_Step], now: Any) -> None:
    """What the transitions changed, in one UPDATE per action and former state (four at
    most), each guarded by that state as ConcurrentTransitionMixin.save guards one row."""
    stamped = [f.attname for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
    # The fields an action's transition wrote, on any row: the same values on every row
    # (the actor, the time, cleared fields), which one UPDATE can set.
    written: defaultdict[ErpAction, set[str]] = defaultdict(set)
    for step in decided:
        written[step.action] |= {n for n in _WRITTEN if getattr(step.row, n) != step.before[n]}
    groups: defaultdict[tuple[Any, ...], list[int]] = defaultdict(list)
    for step in decided:
        for name in stamped:
            setattr(step.row, name, now)  # what save() would stamp (updated_at)
        values = tuple((n, getattr(step.row, n)) for n in [*sorted(written[step.action]), *stamped])
        groups[(step.from_state, values)].append(step.row.pk)
    for (from_state, values), ids in groups.items():
        updated = model.objects.filter(pk__in=ids, erp_state=from_state).update(**dict(values))
        # The rows are locked by this transaction: nothing else can have moved them.
        assert updated == len(ids), (updated, len(ids))
    for step in decided:
        step.row._update_initial_state()
