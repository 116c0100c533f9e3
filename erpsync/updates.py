"""Ready to Update: changing a synced item (README, Ready to Update).

A synced job's or sub job's sender may change its name (`ErpItem.erp_updatable_fields`). The
change is applied to the item at once and recorded as an update request (`UpdateRequest`)
carrying each field's value in the ERP and the requested one; the item stays synced (GREEN)
with a BLUE "update pending" mark. An accounting approver of the kind accepts it (it is then
exported through the adapter's Capability.UPDATE, exactly once: erpsync.update_exports) or
rejects it with a reason (the fields go back to what the ERP has, and the requester is
emailed). A failed update is retried or rejected by an approver.

Every transition takes the item's row, then the request's, with select_for_update, and writes
an audit row on the item (ErpAction.UPDATE_*). The core announces each as UpdateTransitioned;
it never knows who listens (the export queue, the approvals app's email).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from erpsync.adapters import Capability, adapter_class_for
from erpsync.events import publish
from erpsync.models import (
    OPEN_UPDATE_STATES,
    ErpItem,
    ExportAttempt,
    ExportOutcome,
    UpdateRequest,
    UpdateState,
    display_name,
    when,
)
from erpsync.services import REASON_MAX, _lock, record_event, require_storable
from erpsync.snapshots import Change, edit_changes
from erpsync.states import Decision, ErpAction, ErpActionRefused, ErpState, Refusal, RefusalKind
from projects.permissions import approver_required, is_accounting_approver
from projects.terms import terms_for


@dataclass(frozen=True)
class UpdateTransitioned:
    """An update request changed state; `event` is its audit row on `item`."""

    item: ErpItem
    request: UpdateRequest
    event: Any

    @property
    def action(self) -> str:
        return self.event.action


# ----- reads -----------------------------------------------------------------------------------


def _requests_of(item: ErpItem) -> QuerySet[UpdateRequest]:
    return UpdateRequest.objects.filter(
        content_type=ContentType.objects.get_for_model(type(item)), object_id=item.pk
    )


def open_update(item: ErpItem) -> UpdateRequest | None:
    """The item's update request still waiting, exporting or failed, if any."""
    if item.pk is None:
        return None
    return (
        _requests_of(item)
        .filter(state__in=OPEN_UPDATE_STATES)
        .select_related("requested_by", "decided_by")
        .first()
    )


def last_update(item: ErpItem) -> UpdateRequest | None:
    """The item's newest update request, whatever its state (the item page shows a rejected
    one's reason until the next request)."""
    if item.pk is None:
        return None
    return _requests_of(item).select_related("requested_by", "decided_by").order_by("-pk").first()


def with_update_state[Item: ErpItem](rows: QuerySet[Item]) -> QuerySet[Item]:
    """Annotate each row with `erp_update_state`: the state of its open update request (None
    without one), so that lists mark "update pending" without a query per row."""
    open_requests = UpdateRequest.objects.filter(
        content_type=ContentType.objects.get_for_model(rows.model),
        object_id=OuterRef("pk"),
        state__in=OPEN_UPDATE_STATES,
    ).values("state")[:1]
    return rows.annotate(erp_update_state=Subquery(open_requests))


def update_queue(company: Any, model: type[ErpItem]) -> QuerySet[UpdateRequest]:
    """The kind's open update requests of the company, oldest first: Ready to Update."""
    return (
        UpdateRequest.objects.filter(
            company=company,
            content_type=ContentType.objects.get_for_model(model),
            state__in=OPEN_UPDATE_STATES,
        )
        .select_related("requested_by", "decided_by")
        .order_by("requested_at", "pk")
    )


def change_rows(item: ErpItem, request: UpdateRequest) -> list[Change]:
    """The request's changes labelled in the company's terms: field, value in the ERP (old),
    requested value (new)."""
    return edit_changes(item.erp_snapshot_format, request.changes, terms_for(item.erp_company))


def erp_values(item: ErpItem, snapshot: dict[str, Any] | None) -> dict[str, Any] | None:
    """The submitted `snapshot` with the updates synced since applied: what the ERP should
    hold now (a refresh judges drift on it)."""
    if snapshot is None:
        return None
    values = dict(snapshot)
    synced = _requests_of(item).filter(state=UpdateState.SYNCED, item_version=item.erp_version)
    for changes in synced.order_by("number").values_list("changes", flat=True):
        values.update({name: pair[1] for name, pair in changes.items()})
    return values


def stale_updates() -> list[int]:
    """Accepted update requests whose export has not finished in time and that nothing is
    working on (no live lease, no retry due): the sweeper queues them again, as it does for
    exports."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.ERP_SWEEP_AFTER_SECONDS)
    lease = timedelta(seconds=settings.ERP_EXPORT_LEASE_SECONDS)
    retry_window = lease + timedelta(seconds=settings.ERP_EXPORT_BACKOFF_MAX_SECONDS * 1.5)
    rows = UpdateRequest.objects.filter(state=UpdateState.ACCEPTED, changed_at__lte=cutoff)
    ids = []
    for request in rows.only("pk", "kind", "object_id", "item_version", "number"):
        key = request.idempotency_key
        held = ExportAttempt.objects.filter(idempotency_key=key)
        if held.filter(outcome=ExportOutcome.STARTED, started_at__gte=now - lease).exists():
            continue
        if held.filter(
            outcome=ExportOutcome.TRANSIENT, finished_at__gte=now - retry_window
        ).exists():
            continue
        ids.append(request.pk)
    return ids


# ----- decisions -------------------------------------------------------------------------------


def _adapter_refusal(item: ErpItem) -> Refusal | None:
    adapter = adapter_class_for(item.erp_company)
    if adapter.can_update(item.erp_kind):
        return None
    if not adapter.can(Capability.UPDATE):
        return Refusal(RefusalKind.PRECONDITION, adapter.cannot(Capability.UPDATE))
    return Refusal(
        RefusalKind.PRECONDITION,
        f"The company's ERP integration ({adapter.label}) cannot update {item.erp_kind_label}s.",
    )


def update_refusals(item: ErpItem, open_state: str | None) -> list[Refusal]:
    """Why the synced item's updatable fields cannot change now, the user's permission aside;
    `open_state` is the state of its open update request (None: none), which lists read from
    `with_update_state` without a query per row."""
    refusals: list[Refusal] = []
    this = f"This {item.erp_kind_label}"
    if item.erp_state != ErpState.SYNCED:
        refusals.append(
            Refusal(RefusalKind.STATE, f"{this} is not synced with the ERP: edit it instead.")
        )
    elif not item.erp_updatable_fields:
        refusals.append(Refusal(RefusalKind.PRECONDITION, item.erp_not_updatable()))
    else:
        refusal = _adapter_refusal(item)
        if refusal is not None:
            refusals.append(refusal)
    if open_state == UpdateState.ACCEPTED:
        refusals.append(
            Refusal(
                RefusalKind.STATE,
                f"{this}'s update was accepted and is being sent to the ERP: change it again "
                "once it is synced.",
            )
        )
    elif open_state == UpdateState.FAILED:
        refusals.append(
            Refusal(
                RefusalKind.STATE,
                f"{this}'s update failed in the ERP: an accounting approver must retry or "
                "reject it first.",
            )
        )
    return refusals


def update_request_decision(item: ErpItem, user: Any, *, open_state: str | None) -> Decision:
    """Whether `user` may change the synced item's updatable fields now (an update request),
    with every reason why not."""
    refusals = update_refusals(item, open_state)
    if not item.erp_sender_may(user):
        refusals.append(Refusal(RefusalKind.PERMISSION, item.erp_sender_permission_message))
    return Decision(action=ErpAction.UPDATE_REQUEST, refusals=tuple(refusals))


_DECIDABLE = {
    ErpAction.UPDATE_ACCEPT: (UpdateState.PENDING,),
    ErpAction.UPDATE_REJECT: (UpdateState.PENDING, UpdateState.FAILED),
    ErpAction.UPDATE_RETRY: (UpdateState.FAILED,),
}


def update_decision(
    request: UpdateRequest, item: ErpItem, action: ErpAction, user: Any
) -> Decision:
    """Whether `user` may accept, reject or retry the update request now."""
    refusals: list[Refusal] = []
    label = item.erp_kind_label
    if request.state not in _DECIDABLE[action]:
        who, at = display_name(request.decided_by), when(request.decided_at)
        text = {
            UpdateState.ACCEPTED: f"This update was already accepted by {who} at {at} and is "
            "being sent to the ERP.",
            UpdateState.SYNCED: f"This update is already synced with the ERP (accepted by {who}).",
            UpdateState.REJECTED: f"This update was already rejected by {who} at {at}.",
            UpdateState.WITHDRAWN: "This update was withdrawn: the field is back to what the "
            "ERP has.",
            UpdateState.FAILED: "This update failed in the ERP: retry or reject it.",
            UpdateState.PENDING: "This update waits for an accounting approver: accept or "
            "reject it.",
        }[UpdateState(request.state)]
        refusals.append(Refusal(RefusalKind.STATE, text))
    if action in (ErpAction.UPDATE_ACCEPT, ErpAction.UPDATE_RETRY):
        refusal = _adapter_refusal(item)
        if refusal is not None:
            refusals.append(refusal)
    if not is_accounting_approver(user, item.erp_company, item.erp_kind):
        refusals.append(Refusal(RefusalKind.PERMISSION, approver_required(label)))
    elif (
        action == ErpAction.UPDATE_ACCEPT
        and item.erp_company.block_self_approval
        and request.requested_by_id is not None
        and request.requested_by_id == getattr(user, "pk", None)
    ):
        refusals.append(
            Refusal(
                RefusalKind.POLICY,
                f"You requested this update of the {label}: another approver must accept it "
                "(the company does not allow anyone to approve their own changes).",
            )
        )
    return Decision(action=action, refusals=tuple(refusals))


# ----- services --------------------------------------------------------------------------------


def _next_number(item: ErpItem) -> int:
    last = _requests_of(item).order_by("-number").values_list("number", flat=True).first()
    return (last or 0) + 1


def _lock_request(request_id: int) -> UpdateRequest:
    return (
        UpdateRequest.objects.select_for_update(of=("self",))
        .select_related("requested_by", "decided_by")
        .get(pk=request_id)
    )


def _about(request: UpdateRequest) -> dict[str, Any]:
    """What an update's audit row names: the update and its key. Not the row's `version`,
    which history reads as a submitted version (an update submits none)."""
    return {"update": request.number, "key": request.idempotency_key}


def _announce(item: ErpItem, request: UpdateRequest, event: Any) -> None:
    publish(UpdateTransitioned(item=item, request=request, event=event))


def erp_request_update[Item: ErpItem](
    *, item: Item, user: Any, values: dict[str, str]
) -> UpdateRequest | None:
    """Change a synced item's updatable `values` ({field: new value}) and record them as an
    update request (or amend the one still waiting). Returns the request; None when nothing
    changed. A value set back to what the ERP has drops out of the request, and a request
    left with no change is withdrawn. Raises ErpActionRefused, or ValidationError at a field
    the kind refuses (the item's own validation)."""
    with transaction.atomic():
        locked = _lock(item)
        open_request = open_update(locked)
        decision = update_request_decision(
            locked, user, open_state=open_request.state if open_request else None
        )
        if not decision.allowed:
            raise ErpActionRefused(decision)
        unknown = set(values) - set(locked.erp_updatable_fields)
        if unknown:
            raise ValidationError(
                {
                    name: f"The {name} of a synced {locked.erp_kind_label} cannot change: it is "
                    "its key in the ERP."
                    for name in sorted(unknown)
                }
            )
        current = locked.erp_update_values()
        values = {name: str(value).strip() for name, value in values.items()}
        changed = {name: value for name, value in values.items() if value != current[name]}
        if not changed:
            return open_request
        locked.erp_update_apply(changed)
        now = timezone.now()
        in_erp = {
            name: pair[0] for name, pair in (open_request.changes if open_request else {}).items()
        }
        after = locked.erp_update_values()
        changes = {
            name: [in_erp.get(name, current[name]), after[name]]
            for name in {*in_erp, *changed}
            if after[name] != in_erp.get(name, current[name])
        }
        edited = {name: [current[name], after[name]] for name in changed}
        if open_request is None:
            request = UpdateRequest.objects.create(
                content_type=ContentType.objects.get_for_model(type(locked)),
                object_id=locked.pk,
                company=locked.erp_company,
                number=_next_number(locked),
                item_version=locked.erp_version,
                kind=locked.erp_kind,
                changes=changes,
                snapshot=locked.erp_snapshot(),
                requested_by=user,
                requested_at=now,
                changed_at=now,
            )
        else:
            request = _lock_request(open_request.pk)
            request.changes = changes
            request.revision += 1
            request.snapshot = locked.erp_snapshot()
            request.requested_by, request.requested_at, request.changed_at = user, now, now
            if not changes:
                request.state = UpdateState.WITHDRAWN
            request.save()
        event = record_event(
            item=locked,
            action=ErpAction.UPDATE_REQUEST,
            actor=user,
            from_state=locked.erp_state,
            reason="" if changes else "Withdrawn: back to what the ERP has.",
            details={"changes": edited, **_about(request)},
        )
        _announce(locked, request, event)
    return request


def _decide(request: UpdateRequest, user: Any, action: ErpAction) -> tuple[ErpItem, UpdateRequest]:
    """Lock the request's item, then the request, and check the decision on the locked rows."""
    item = request.item
    if item is None:
        raise ErpActionRefused(
            Decision(action, (Refusal(RefusalKind.STATE, "The item no longer exists."),))
        )
    locked = _lock(item)
    request = _lock_request(request.pk)
    decision = update_decision(request, locked, action, user)
    if not decision.allowed:
        raise ErpActionRefused(decision)
    return locked, request


def erp_accept_update(
    *, request: UpdateRequest, user: Any, expected_revision: int | None = None
) -> UpdateRequest:
    """Accept the update: it is exported (Capability.UPDATE) once this transaction commits.
    With `expected_revision`, only if the request was not amended since it was reviewed."""
    with transaction.atomic():
        item, request = _decide(request, user, ErpAction.UPDATE_ACCEPT)
        if expected_revision is not None and request.revision != expected_revision:
            raise ErpActionRefused(
                Decision(
                    ErpAction.UPDATE_ACCEPT,
                    (
                        Refusal(
                            RefusalKind.STATE,
                            f"This update changed since you opened it: "
                            f"{display_name(request.requested_by)} amended it at "
                            f"{when(request.changed_at)}: reload the page and review it again.",
                        ),
                    ),
                )
            )
        now = timezone.now()
        request.state = UpdateState.ACCEPTED
        request.decided_by, request.decided_at, request.changed_at = user, now, now
        request.error, request.attempts = "", 0
        request.save()
        event = record_event(
            item=item,
            action=ErpAction.UPDATE_ACCEPT,
            actor=user,
            from_state=item.erp_state,
            details={"changes": request.changes, **_about(request)},
        )
        _announce(item, request, event)
    return request


def erp_retry_update(*, request: UpdateRequest, user: Any) -> UpdateRequest:
    with transaction.atomic():
        item, request = _decide(request, user, ErpAction.UPDATE_RETRY)
        request.state = UpdateState.ACCEPTED
        request.changed_at = timezone.now()
        request.save()
        event = record_event(
            item=item,
            action=ErpAction.UPDATE_RETRY,
            actor=user,
            from_state=item.erp_state,
            details=_about(request),
        )
        _announce(item, request, event)
    return request


def erp_reject_update(*, request: UpdateRequest, user: Any, reason: str) -> UpdateRequest:
    """Reject the update (a reason is required unless it failed in the ERP, whose error is
    then the reason): the item's fields go back to what the ERP has; the requester is
    emailed the reason."""
    reason = (reason or "").strip()
    require_storable(reason=reason)
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": f"Keep the reason under {REASON_MAX} characters."})
    with transaction.atomic():
        item, request = _decide(request, user, ErpAction.UPDATE_REJECT)
        if not reason and request.state != UpdateState.FAILED:
            raise ValidationError(
                {
                    "reason": "Enter a reason: the requester needs it to know why the change was "
                    "not made."
                }
            )
        reason = reason or request.error
        item.erp_update_apply({name: pair[0] for name, pair in request.changes.items()})
        now = timezone.now()
        request.state = UpdateState.REJECTED
        request.reason = reason
        request.decided_by, request.decided_at, request.changed_at = user, now, now
        request.save()
        event = record_event(
            item=item,
            action=ErpAction.UPDATE_REJECT,
            actor=user,
            from_state=item.erp_state,
            reason=reason,
            details={"changes": request.changes, **_about(request), "reverted": True},
        )
        _announce(item, request, event)
    return request


def erp_mark_update(*, request_id: int, error: str = "", attempts: int = 1) -> UpdateRequest | None:
    """The update worker's outcome: synced (no `error`) or failed with the ERP's words. None
    when the request is no longer accepted (another worker recorded it first)."""
    with transaction.atomic():
        request = UpdateRequest.objects.filter(pk=request_id).first()
        item = request.item if request is not None else None
        if item is None:
            return None
        item = _lock(item)
        request = _lock_request(request_id)
        if request.state != UpdateState.ACCEPTED:
            return None
        now = timezone.now()
        request.attempts += attempts
        request.changed_at = now
        if error:
            request.state, request.error = UpdateState.FAILED, error
            action = ErpAction.UPDATE_FAILED
        else:
            request.state, request.error, request.synced_at = UpdateState.SYNCED, "", now
            action = ErpAction.UPDATE_SYNCED
        request.save()
        event = record_event(
            item=item,
            action=action,
            actor=None,
            from_state=item.erp_state,
            reason=error,
            details={
                **_about(request),
                "attempts": request.attempts,
                **({} if error else {"erp_id": item.erp_id}),
            },
        )
        _announce(item, request, event)
    return request
