"""Approvers' decisions, one item or many. A bulk accept or reject decides its items together
in one transaction (erpsync.bulk); a bulk retry, each item in its own."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from approvals.email_links import ACCEPT, NOT_YOURS, EmailLink, Obstacle, link_obstacle
from approvals.kinds import Kind
from approvals.models import UsedEmailLink
from erpsync.approval import approval_states
from erpsync.bulk import erp_accept_many, erp_reject_many
from erpsync.models import ErpEvent, ErpItem
from erpsync.services import (
    erp_accept,
    erp_reject,
    erp_requeue_export,
    erp_retry_export,
    require_storable,
)
from erpsync.states import AWAITING_APPROVAL, ErpActionRefused
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
    # An accept that was one approval of several: "1 of 2" (the item is partly approved).
    progress: str = ""


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
    """Decide each selected item: one refusal never undoes the others, each is reported."""
    if decision == "reject":
        if not reason.strip():
            raise ValidationError(
                {"reason": "Enter a reason: the senders need it to fix their items."}
            )
        require_storable(reason=reason)
    items = {item.pk: item for item in kind.model.erp_queue(company).filter(pk__in=versions)}
    # Accepts and rejections: all in one transaction, a fixed number of queries
    # (erpsync.bulk); a retry, one transaction per item.
    chosen = list(items.values())
    decided: dict[int, ErpItem | ErpActionRefused | ValidationError] = {}
    if decision == "accept":
        decided = dict(erp_accept_many(items=chosen, user=user, versions=versions))
    elif decision == "reject":
        decided = dict(erp_reject_many(items=chosen, user=user, reason=reason))
    outcomes: list[Outcome] = []
    partial: dict[int, ErpItem] = {}  # outcome index → an item left partly approved
    for item_id, version in versions.items():
        item = items.get(item_id)
        if item is None:
            outcomes.append(Outcome(item_id, f"item {item_id}", False, "No such item."))
            continue
        try:
            result = decided.get(item_id)
            if isinstance(result, Exception):
                raise result
            item = result or decide(
                item=item, user=user, decision=decision, reason=reason, version=version
            )
        except ErpActionRefused as refusal:
            outcomes.append(Outcome(item_id, item.erp_title, False, " ".join(refusal.reasons)))
        except ValidationError as error:
            outcomes.append(Outcome(item_id, item.erp_title, False, " ".join(error.messages)))
        else:
            if decision == "accept" and item.erp_state in AWAITING_APPROVAL:
                partial[len(outcomes)] = item
            outcomes.append(Outcome(item_id, item.erp_title, True, DECISIONS[decision]))
    # How far each partly approved item got: read once for all of them, not once per item.
    states = approval_states(list(partial.values()), company)
    for index, item in partial.items():
        state = states[item.pk]
        progress = f"{state.given} of {state.requirement.count}"
        outcomes[index] = replace(outcomes[index], message="approved", progress=progress)
    return outcomes


def summary(outcomes: list[Outcome], decision: str) -> str:
    """What a bulk decision did, item by item where it matters: '2 accepted; owner invoice
    INV-008 approved (1 of 2), waiting for another approver; 1 skipped: sub job 03-000: You
    sent this sub job: …'."""
    finished = [o for o in outcomes if o.done and not o.progress]
    partial = [o for o in outcomes if o.progress]
    skipped = [o for o in outcomes if not o.done]
    parts = []
    if finished or not partial:
        parts.append(f"{len(finished)} {DECISIONS[decision]}")
    parts += [f"{o.title} approved ({o.progress}), waiting for another approver" for o in partial]
    if skipped:
        parts.append(
            f"{len(skipped)} skipped: " + "; ".join(f"{o.title}: {o.message}" for o in skipped)
        )
    return "; ".join(parts)


class LinkRefused(Exception):
    """An email link that cannot decide any more: used, expired, or its item changed."""

    def __init__(self, obstacle: Obstacle) -> None:
        self.obstacle = obstacle
        super().__init__(" ".join(obstacle.reasons))


def decide_from_email(*, link: EmailLink, user: Any, reason: str = "") -> ErpItem:
    """The decision of an Accept or Reject link from an email, confirmed by its recipient:
    through the tool's own services (erp_accept of the email's version, erp_reject), so every
    rule holds. The link is used up in the same transaction; a refusal leaves it usable.

    Raises PermissionDenied for someone else's link, LookupError for an item that is gone,
    LinkRefused, ErpActionRefused or ValidationError (a rejection without a reason).
    """
    if user is None or link.user_id != user.pk:
        raise PermissionDenied(NOT_YOURS)
    model = link.model()
    with transaction.atomic():
        # The item's row first: a second click, or another approver, waits here until this
        # decision commits, then finds the link used or the item decided.
        item = (
            model.objects.select_for_update(of=("self",))
            .select_related(*model.erp_related)
            .filter(pk=link.item_id)
            .first()
        )
        if item is None:
            raise LookupError(f"No {model.erp_kind_label} {link.item_id}.")
        obstacle = link_obstacle(link, item)
        if obstacle is not None:
            raise LinkRefused(obstacle)
        use = UsedEmailLink(
            nonce=link.nonce,
            user=user,
            kind=link.kind,
            object_id=link.item_id,
            version=link.version,
            action=link.action,
        )
        try:
            with transaction.atomic():
                use.save()
        except IntegrityError:
            obstacle = link_obstacle(link, item)
            raise LinkRefused(obstacle or Obstacle("Link already used", [], 409)) from None
        if link.action == ACCEPT:
            item = erp_accept(item=item, user=user, expected_version=link.version)
        else:
            item = erp_reject(item=item, user=user, reason=reason)
        use.event = (
            ErpEvent.objects.filter(
                content_type=ContentType.objects.get_for_model(item), object_id=item.pk
            )
            .order_by("-id")
            .first()
        )
        use.save(update_fields=["event"])
    return item
