"""The ERP transitions of any item. Views, commands and tasks change ERP state only here.

Each transition runs in one transaction on the item's row taken with select_for_update,
checks the state again on that row, applies the django-fsm transition and writes its
audit row. Of two concurrent actions on one item exactly one happens; the other is refused
with who acted and when.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from erpsync.adapters import pulls
from erpsync.approval import (
    ApprovalState,
    approval_state,
    direct_export,
    membership_of,
    standing_in_for,
)
from erpsync.events import ExportRequeued, ItemTransitioned, publish, publish_many
from erpsync.models import Approval, ErpEvent, ErpItem, display_name, when
from erpsync.rows import write_fields
from erpsync.selectors import events_since, stale_export_items
from erpsync.snapshots import edit_changes
from erpsync.states import (
    AWAITING_APPROVAL,
    TRANSITIONS,
    Decision,
    ErpAction,
    ErpActionRefused,
    ErpState,
    Refusal,
    RefusalKind,
    StaleEdit,
)
from projects.models import CompanyMembership, Project
from projects.permissions import approver_required, is_accounting_approver
from projects.terms import terms_for

if TYPE_CHECKING:
    from projects.models import Company

REASON_MAX = 2000
# PostgreSQL text cannot hold NUL. Form CharFields refuse it already (Django's
# ProhibitNullCharactersValidator); these checks cover text that reaches a service otherwise.
NUL = "\x00"


def require_storable(**texts: str) -> None:
    """Refuse, at the field it came in, text the database cannot store."""
    errors = {
        name: (
            f"The {name.replace('_', ' ')} contains a character that cannot be stored "
            "(a NUL character): remove it and try again."
        )
        for name, value in texts.items()
        if NUL in (value or "")
    }
    if errors:
        raise ValidationError(errors)


def storable(text: str) -> str:
    """The ERP's own words (errors, ids) are kept, not refused: NUL becomes U+FFFD."""
    return (text or "").replace(NUL, "\ufffd")


def _lock[Item: ErpItem](item: Item) -> Item:
    model = type(item)
    rows = model.objects.select_for_update(of=("self",)).select_related(*model.erp_related)
    return rows.get(pk=item.pk)


def lock_project(item: ErpItem) -> None:
    """Take the item's project row (FOR NO KEY UPDATE) before the item's own: a send reads
    whether the project is synced, and unlinking the project's job changes that. Both lock
    the project first, so one waits for the other and then reads what it committed (the
    same order everywhere: the project, then the item)."""
    model = type(item)
    project_id = model.objects.filter(pk=item.pk).values(model.erp_project_path)
    list(
        Project.objects.select_for_update(no_key=True)
        .filter(pk__in=project_id)
        .values_list("pk", flat=True)
    )


def record_event(
    *,
    item: ErpItem,
    action: ErpAction,
    actor: Any,
    from_state: str,
    reason: str = "",
    version: int | None = None,
    snapshot: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> ErpEvent:
    return ErpEvent.objects.create(
        content_type=ContentType.objects.get_for_model(item),
        object_id=item.pk,
        company=item.erp_company,
        action=action,
        from_state=from_state,
        to_state=item.erp_state,
        actor=actor,
        reason=reason,
        version=version,
        snapshot=snapshot,
        details=details or {},
    )


# What an export result names only for its audit row: the ERP's adapter (erp_reconcile reads
# it) and the claim of the pull connector that reported it.
_AUDIT_ONLY = ("adapter", "claim")


def _transition[Item: ErpItem](
    *,
    item: Item,
    action: ErpAction,
    user: Any,
    reason: str = "",
    expected_version: int | None = None,
    as_system: bool = False,
    export: bool = True,
    **kwargs: Any,
) -> Item:
    assert action in TRANSITIONS
    with transaction.atomic():
        if action in (ErpAction.SEND, ErpAction.RESEND):
            lock_project(item)
        locked = _lock(item)
        decision = locked.erp_decide(action, user)
        if as_system:
            # Ops acting from the command line: the state and preconditions still rule.
            decision = Decision(
                action=action,
                refusals=tuple(r for r in decision.refusals if r.kind != RefusalKind.PERMISSION),
            )
        if not decision.allowed:
            raise ErpActionRefused(decision)
        stale = stale_version(locked, expected_version)
        if stale is not None:
            raise ErpActionRefused(Decision(action=action, refusals=(stale,)))
        if action == ErpAction.REJECT:
            reason = clean_reason(locked, reason)
        step: dict[str, Any] = {}
        if action == ErpAction.ACCEPT:
            action, step = _approval_step(locked, user)
        direct = action in (ErpAction.SEND, ErpAction.RESEND) and direct_export(
            locked.erp_company, locked.erp_kind
        )
        from_state = locked.erp_state
        now = timezone.now()
        if action in (ErpAction.MARK_SYNCED, ErpAction.MARK_EXPORT_FAILED):
            kwargs = {k: storable(v) if k in ("erp_id", "error") else v for k, v in kwargs.items()}
            # The adapter's key and a connector's claim only go into the audit row.
            getattr(locked, action.value)(
                at=now, **{k: v for k, v in kwargs.items() if k not in _AUDIT_ONLY}
            )
        elif action == ErpAction.REJECT:
            locked.reject(by=user, at=now, reason=reason)
        else:
            getattr(locked, action.value)(by=user, at=now)
        locked.save()
        snapshot = None
        if action in (ErpAction.SEND, ErpAction.RESEND):
            snapshot = locked.erp_snapshot()
        event = record_event(
            item=locked,
            action=action,
            actor=user,
            from_state=from_state,
            reason=reason or kwargs.get("error", ""),
            version=locked.erp_version,
            snapshot=snapshot,
            details={
                **{k: kwargs[k] for k in ("erp_id", "attempts", *_AUDIT_ONLY) if kwargs.get(k)},
                # No actor on purpose, unlike a user deleted since (ErpEvent.actor_name).
                **({"by_ops": True} if as_system else {}),
                **step.get("details", {}),
                **({"direct_export": True} if direct else {}),
            },
        )
        if "approval" in step:
            Approval.objects.create(
                content_type=ContentType.objects.get_for_model(locked),
                object_id=locked.pk,
                version=locked.erp_version,
                approver=user,
                as_tool_admin=step["approval"]["as_tool_admin"],
                event=event,
            )
        publish(ItemTransitioned(item=locked, event=event, queue_export=export))
        if direct:
            _export_directly(locked, user=user, at=now)
    return locked


def stale_version(locked: ErpItem, expected_version: int | None) -> Refusal | None:
    """Why a decision on the version the approver reviewed no longer applies, if it does not."""
    if expected_version is None or locked.erp_version == expected_version:
        return None
    return Refusal(
        RefusalKind.STATE,
        f"This {locked.erp_kind_label} changed since you opened it: "
        f"{display_name(locked.erp_changed_by)} last acted on it at "
        f"{when(locked.erp_changed_at)} (version {expected_version} is now "
        f"{locked.erp_version}): reload the page and review it again.",
    )


def _approval_step(locked: ErpItem, user: Any) -> tuple[ErpAction, dict[str, Any]]:
    """An approver's Accept under the company's policy: the acceptance when it is the last
    approval the item's amount needs, else one approval (the item is then partly approved).
    The approval is recorded per approver and version; the audit row names whom a delegate
    stands in for."""
    state = approval_state(locked)
    membership = membership_of(user, locked.erp_company)
    stand_ins = standing_in_for(membership, locked.erp_kind)
    as_admin = membership is not None and membership.is_erp_tool_admin
    action = approval_action(state)
    details = approval_details(state, stand_ins)
    return action, {"details": details, "approval": {"as_tool_admin": as_admin}}


def approval_action(state: ApprovalState) -> ErpAction:
    """The acceptance when this is the last approval the item needs, else one approval."""
    return ErpAction.ACCEPT if state.remaining <= 1 else ErpAction.APPROVE


def approval_details(state: ApprovalState, stand_ins: list[CompanyMembership]) -> dict[str, Any]:
    """What an approval's audit row adds: '2 of 3', and whom a delegate stands in for."""
    details: dict[str, Any] = {}
    if state.requirement.count > 1:
        details["approval"] = f"{state.given + 1} of {state.requirement.count}"
    if stand_ins:
        details["for"] = [display_name(m.user) for m in stand_ins]
    return details


def _export_directly(locked: ErpItem, *, user: Any, at: Any) -> None:
    """Direct Export: the company lets this kind skip the approvers, so a send is accepted at
    once, by the sender, in the same transaction; the audit row says so."""
    from_state = locked.erp_state
    locked.accept(by=user, at=at)
    locked.save()
    event = record_event(
        item=locked,
        action=ErpAction.ACCEPT,
        actor=user,
        from_state=from_state,
        version=locked.erp_version,
        details={"direct_export": True},
    )
    publish(ItemTransitioned(item=locked, event=event))


def clean_reason(item: ErpItem, reason: str) -> str:
    reason = (reason or "").strip()
    require_storable(reason=reason)
    if item.erp_state in AWAITING_APPROVAL and not reason:
        raise ValidationError(
            {"reason": f"Enter a reason: the sender needs it to fix the {item.erp_kind_label}."}
        )
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": f"Keep the reason under {REASON_MAX} characters."})
    return reason


# ----- the sender's actions ---------------------------------------------------------------


def erp_send[Item: ErpItem](*, item: Item, user: Any) -> Item:
    return _transition(item=item, action=ErpAction.SEND, user=user)


def erp_resend[Item: ErpItem](*, item: Item, user: Any) -> Item:
    return _transition(item=item, action=ErpAction.RESEND, user=user)


def erp_retrieve[Item: ErpItem](*, item: Item, user: Any) -> Item:
    return _transition(item=item, action=ErpAction.RETRIEVE, user=user)


# ----- the accounting approver's actions --------------------------------------------------


def erp_accept[Item: ErpItem](
    *, item: Item, user: Any, expected_version: int | None = None, export: bool = True
) -> Item:
    """Accept the submitted version; with `expected_version`, only if it is still that one.

    The export is queued when the transaction commits; `export=False` leaves it to the
    sweeper (the demo uses it to show an item in the Exporting state).
    """
    return _transition(
        item=item,
        action=ErpAction.ACCEPT,
        user=user,
        expected_version=expected_version,
        export=export,
    )


def erp_reject[Item: ErpItem](*, item: Item, user: Any, reason: str) -> Item:
    """Reject a pending item (reason required) or a failed export (comment optional)."""
    return _transition(item=item, action=ErpAction.REJECT, user=user, reason=reason)


def erp_retry_export[Item: ErpItem](*, item: Item, user: Any) -> Item:
    return _transition(item=item, action=ErpAction.RETRY_EXPORT, user=user)


def erp_retry_export_by_ops[Item: ErpItem](*, item: Item, reason: str) -> Item:
    """Requeue a failed export from the command line (erp_retry_failed): no user, a reason."""
    return _transition(
        item=item, action=ErpAction.RETRY_EXPORT, user=None, reason=reason, as_system=True
    )


def requeue_export_decision(item: ErpItem, user: Any) -> Decision:
    """Whether `user` may queue the item's export again now ("Export now"): an accounting
    approver, on an accepted item whose export is stuck (erpsync.selectors.stale_export_items)."""
    action = ErpAction.REQUEUE_EXPORT
    refusals: list[Refusal] = []
    # A pull connector's item waits for the connector: nothing erpsync queues would help.
    if item.erp_state != ErpState.ACCEPTED or pulls(item.erp_company):
        refusals.append(Refusal(RefusalKind.STATE, item.erp_state_refusal(action)))
    elif not stale_export_items(type(item)).filter(pk=item.pk).exists():
        who, at = display_name(item.erp_accepted_by), when(item.erp_accepted_at)
        refusals.append(
            Refusal(
                RefusalKind.STATE,
                f"This {item.erp_kind_label} was accepted by {who} at {at} and is being "
                "exported: a worker holds it, or its export was queued moments ago. Export "
                f"now is offered when it has not finished after "
                f"{settings.ERP_SWEEP_AFTER_SECONDS} seconds.",
            )
        )
    if not is_accounting_approver(user, item.erp_company, item.erp_kind):
        refusals.append(Refusal(RefusalKind.PERMISSION, approver_required(item.erp_kind_label)))
    return Decision(action=action, refusals=tuple(refusals))


def erp_requeue_export[Item: ErpItem](*, item: Item, user: Any) -> Item:
    """ "Export now": queue a stuck export again once this transaction commits, with an audit
    row naming the approver. The item stays accepted (no transition); the export itself is
    exactly-once whatever else queued it (state, lease, idempotency key). With eager tasks
    (the embedded demo) it runs in this process at commit."""
    with transaction.atomic():
        locked = _lock(item)
        decision = requeue_export_decision(locked, user)
        if not decision.allowed:
            raise ErpActionRefused(decision)
        event = record_event(
            item=locked,
            action=ErpAction.REQUEUE_EXPORT,
            actor=user,
            from_state=locked.erp_state,
            version=locked.erp_version,
        )
        publish(ExportRequeued(item=locked, event=event))
    return locked


# ----- the export worker's results --------------------------------------------------------


def erp_mark_synced[Item: ErpItem](
    *,
    item: Item,
    erp_id: str,
    attempts: int = 1,
    adapter: str = "",
    user: Any = None,
    claim: str = "",
) -> Item:
    """Record the ERP's id; `adapter` names the ERP that holds it (for erp_reconcile). `user`
    is None for the export worker, or the user of the pull connector that reported it (its
    `claim` goes into the audit row)."""
    return _transition(
        item=item,
        action=ErpAction.MARK_SYNCED,
        user=user,
        erp_id=erp_id,
        attempts=attempts,
        adapter=adapter,
        claim=claim,
    )


# What mark_synced changes on an item's row (ErpItem.mark_synced), for the batch's one UPDATE.
_SYNCED_FIELDS = ["erp_state", "erp_id", "erp_export_attempts", "erp_error", "erp_changed_by",
                  "erp_changed_at"]  # fmt: skip


def erp_mark_synced_many[Item: ErpItem](
    *, model: type[Item], erp_ids: dict[int, str], adapter: str = ""
) -> list[Item]:
    """erp_mark_synced for a batch of one kind ({item id: ERP id}), by the export worker, in
    one transaction: the rows locked together (in id order, so two batches never deadlock),
    each transition checked and applied by the state machine on its locked row, then one
    UPDATE of the rows and one INSERT of their audit rows, and ItemTransitioned published for
    them all (publish_many). An item that is no longer accepted (another worker recorded it
    first) is left as it is and not returned."""
    if not erp_ids:
        return []
    # No savepoint: nothing here raises on purpose (a refused item is skipped), and anything
    # that does (a listener) must roll back the caller's whole transaction, as for one item.
    with transaction.atomic(savepoint=False):
        rows = (
            model.objects.select_for_update(of=("self",))
            .select_related(*model.erp_related)
            .filter(pk__in=list(erp_ids))
            .order_by("pk")
        )
        now = timezone.now()
        marked: list[Item] = []
        for locked in rows:
            if not locked.erp_decide(ErpAction.MARK_SYNCED, None).allowed:
                continue
            locked.mark_synced(at=now, erp_id=storable(erp_ids[locked.pk]))
            marked.append(locked)
        if not marked:
            return []
        write_fields(model, marked, _SYNCED_FIELDS)
        content_type = ContentType.objects.get_for_model(model)
        events = ErpEvent.objects.bulk_create(
            ErpEvent(
                content_type=content_type,
                object_id=item.pk,
                company=item.erp_company,
                action=ErpAction.MARK_SYNCED,
                from_state=ErpState.ACCEPTED,
                to_state=item.erp_state,
                actor=None,
                version=item.erp_version,
                created_at=now,
                details={
                    "erp_id": item.erp_id,
                    "attempts": 1,
                    **({"adapter": adapter} if adapter else {}),
                },
            )
            for item in marked
        )
        for item in marked:
            item._update_initial_state()  # saved: django-fsm's concurrency check starts anew
        # At once: the webhooks' subscriptions are read once for the batch, not per item.
        publish_many(
            [ItemTransitioned(item=i, event=e) for i, e in zip(marked, events, strict=True)]
        )
    return marked


def erp_mark_export_failed[Item: ErpItem](
    *, item: Item, error: str, attempts: int = 1, user: Any = None, claim: str = ""
) -> Item:
    """Record why the export failed; `user` and `claim` as for erp_mark_synced."""
    return _transition(
        item=item,
        action=ErpAction.MARK_EXPORT_FAILED,
        user=user,
        error=error,
        attempts=attempts,
        claim=claim,
    )


# ----- edits --------------------------------------------------------------------------------


def locked_for_edit[Item: ErpItem](item: Item, *, seen_event: int | None = None) -> Item:
    """Take the item's row for an edit; raise ItemLocked while it is with the ERP tool, and
    StaleEdit when `seen_event` (the newest audit row the user's form showed) is no longer
    the newest: someone changed the item meanwhile, and the last save must not silently win.

    Call inside transaction.atomic().
    """
    locked = _lock(item)
    locked.erp_assert_editable()
    if seen_event is not None:
        changes = events_since(locked, seen_event)
        if changes:
            raise StaleEdit(stale_message(locked, changes), changes)
    return locked


def stale_message(item: ErpItem, changes: list[ErpEvent]) -> str:
    """'This sub job changed since you opened it: Pat Admin edited it at 10:02 on 1 Dec 2026
    (name: "Old" → "New"). Review the changes; saving again overwrites them.'"""
    parts = []
    terms = terms_for(item.erp_company)
    for event in changes:
        edited = (event.details or {}).get("changes", {})
        what = "; ".join(
            f"{c.field}: “{c.old}” → “{c.new}”"
            for c in edit_changes(item.erp_snapshot_format, edited, terms)
        )
        verb = event.get_action_display().lower()
        text = f"{event.actor_name} {verb} at {when(event.created_at)}"
        parts.append(f"{text} ({what})" if what else text)
    return (
        f"This {item.erp_kind_label} changed since you opened it: {'; '.join(parts)}. "
        "Review the changes below; saving again overwrites them."
    )


def record_settings_event(
    *,
    obj: models.Model,
    company: Company,
    user: Any,
    changes: dict[str, list[Any]],
    action: ErpAction = ErpAction.EDIT,
    **extra: Any,
) -> ErpEvent:
    """The audit row of a change to a company's settings (on the Company) or its directory (on
    a CompanyMembership), kept beside the items' rows so the company audit log shows both.
    `user` None with by_ops=True is ops on the command line (erp_configure). Callers mask
    secrets first (ops.settings_changes)."""
    return ErpEvent.objects.create(
        content_type=ContentType.objects.get_for_model(obj),
        object_id=obj.pk,
        company=company,
        action=action,
        from_state="",
        to_state="",
        actor=user,
        details={"changes": changes, **extra},
    )


def require_model_permission(user: Any, action: str, model: type[Any]) -> None:
    """The Django admin's own rule for a write: staff with the model's add, change or delete
    permission. It stands in for the project's permission there; the lock, the validation and
    the audit row stay the pages' own."""
    opts = model._meta
    if not (
        getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
        and user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
    ):
        raise PermissionDenied(
            f"You need the admin's {action} permission on {opts.verbose_name_plural}."
        )


def record_edit(
    *, item: ErpItem, user: Any, changes: dict[str, Any], created: bool = False
) -> None:
    record_event(
        item=item,
        action=ErpAction.CREATE if created else ErpAction.EDIT,
        actor=user,
        from_state=item.erp_state,
        details={"changes": changes},
    )


def assign_fields(obj: Any, fields: dict[str, Any], *, allowed: set[str]) -> dict[str, list[str]]:
    """Set `fields` on `obj` and return what changed as {field: [old, new]} for the audit row."""
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Not editable here: {', '.join(sorted(unknown))}")
    changes: dict[str, list[str]] = {}
    for name, value in fields.items():
        old = getattr(obj, name)
        if _differs(old, value):
            changes[name] = [_audit_value(old), _audit_value(value)]
            setattr(obj, name, value)
    return changes


def _differs(old: Any, new: Any) -> bool:
    try:
        return bool(old != new)
    except ArithmeticError:
        # A signalling NaN compares with nothing; the model's validation refuses it next.
        return True


def _audit_value(value: Any) -> str:
    return "" if value is None else str(value)
