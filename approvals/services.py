"""Approvers' decisions, one item or many. Each item is decided in its own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from approvals.kinds import Kind
from erpsync.models import ErpItem
from erpsync.services import (
    erp_accept,
    erp_reject,
    erp_requeue_export,
    erp_retry_export,
    require_storable,
)
from erpsync.states import ErpActionRefused
from projects.models import Company

DECISIONS = {
    "accept": "accepted",
    "reject": "rejected",
    "retry": "queued for export again",
    # "Export now" on a stuck export: no transition, the item stays accepted.
    "export": "queued for export again",
}


@dataclass(frozen=True)
class Outcome:
    item_id: int
    title: str
    done: bool
    message: str


def decide(
    *, item: ErpItem, user: Any, decision: str, reason: str = "", version: int | None = None
) -> ErpItem:
    """Accept (the version shown, when given), reject with a reason, retry a failed export,
    or queue a stuck export again."""
    if decision == "accept":
        return erp_accept(item=item, user=user, expected_version=version)
    if decision == "reject":
        return erp_reject(item=item, user=user, reason=reason)
    if decision == "retry":
        return erp_retry_export(item=item, user=user)
    if decision == "export":
        return erp_requeue_export(item=item, user=user)
    raise ValueError(f"Unknown decision {decision!r}")


def decide_many(
    *,
    company: Company,
    kind: Kind,
    user: Any,
    decision: str,
    versions: dict[int, int | None],
    reason: str = "",
) -> list[Outcome]:
    """Decide each selected item on its own: one refusal never undoes the others."""
    if decision == "reject":
        if not reason.strip():
            raise ValidationError(
                {"reason": "Enter a reason: the senders need it to fix their items."}
            )
        require_storable(reason=reason)
    items = {item.pk: item for item in kind.model.erp_queue(company).filter(pk__in=versions)}
    outcomes = []
    for item_id, version in versions.items():
        item = items.get(item_id)
        if item is None:
            outcomes.append(Outcome(item_id, f"item {item_id}", False, "No such item."))
            continue
        try:
            decide(item=item, user=user, decision=decision, reason=reason, version=version)
        except ErpActionRefused as refusal:
            outcomes.append(Outcome(item_id, item.erp_title, False, " ".join(refusal.reasons)))
        except ValidationError as error:
            outcomes.append(Outcome(item_id, item.erp_title, False, " ".join(error.messages)))
        else:
            outcomes.append(Outcome(item_id, item.erp_title, True, DECISIONS[decision]))
    return outcomes


def summary(outcomes: list[Outcome], decision: str) -> str:
    """'12 accepted, 1 refused: sub job 03-000: This sub job was already retrieved …'."""
    done = sum(o.done for o in outcomes)
    parts = [f"{done} {DECISIONS[decision]}"]
    parts += [f"{o.title}: {o.message}" for o in outcomes if not o.done]
    return "; ".join(parts)
