"""Unlink: take a synced item back out of the ERP (Capability.UNLINK), for ERP tool Admins.

The company's adapter is asked first, outside any transaction (a slow ERP must not hold the
item's lock): it checks that the item's ERP record is gone, or voids it when it can
(UnlinkStatus GONE or VOIDED), or says why the record must stay (STILL_THERE). Then, on the
item's row taken with select_for_update:

- gone or voided: the `unlink` transition (Synced → Not sent) keeps the old ERP id as
  `erp_unlinked_id` with who and when, clears the ERP id and what was read back from the old
  record; an "Unlinked from the ERP" audit row names the old id and what the ERP did, and
  ItemTransitioned is published like every transition (a job's project is then no longer
  synced: jobs.listeners). Sending it again is a new version, so a new idempotency key and a
  new ERP record;
- still there: nothing is unlinked; the item is flagged "Still in the ERP" with the reason
  (`erp_unlink_refusal`) and a "Still in the ERP" audit row records the attempt. The refusal
  (StillInErp) is raised after that commits.

An ERP that cannot be reached raises its ErpError and nothing is written.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from erpsync.adapters import Capability, UnlinkOutcome, adapter_class_for, adapter_for
from erpsync.events import ItemTransitioned, publish
from erpsync.models import ErpItem, display_name, when
from erpsync.services import _lock, lock_project, record_event
from erpsync.states import Decision, ErpAction, ErpActionRefused, ErpState, Refusal, RefusalKind
from erpsync.updates import open_update
from projects.permissions import is_erp_tool_admin

UNLINK_PERMISSION = "Only the company's ERP Integrations tool Admins can unlink items from the ERP."


class StillInErp(ErpActionRefused):
    """The ERP record exists and cannot be voided: the item stays synced, flagged; the
    attempt is in the audit trail."""

    def __init__(self, item: ErpItem, outcome: UnlinkOutcome) -> None:
        self.outcome = outcome
        message = (
            f"Still in the ERP: {outcome.detail} The {item.erp_kind_label} stays synced "
            f"(ERP id {item.erp_id}) and was not unlinked."
        )
        super().__init__(
            Decision(
                action=ErpAction.UNLINK, refusals=(Refusal(RefusalKind.PRECONDITION, message),)
            )
        )


def unlink_decision(item: ErpItem, user: Any) -> Decision:
    """Whether `user` may unlink the item now, with every reason why not."""
    refusals: list[Refusal] = []
    label = item.erp_kind_label
    if item.erp_state != ErpState.SYNCED:
        refusals.append(
            Refusal(
                RefusalKind.STATE,
                f"This {label} is not synced with the ERP: there is nothing to unlink.",
            )
        )
    else:
        refusals += [Refusal(RefusalKind.PRECONDITION, m) for m in item.erp_unlink_preconditions()]
        if (waiting := _update_waiting(item)) is not None:
            refusals.append(Refusal(RefusalKind.PRECONDITION, waiting))
    adapter = adapter_class_for(item.erp_company)
    if not adapter.can(Capability.UNLINK):
        refusals.append(Refusal(RefusalKind.PRECONDITION, adapter.cannot(Capability.UNLINK)))
    if not is_erp_tool_admin(user, item.erp_company):
        refusals.append(Refusal(RefusalKind.PERMISSION, UNLINK_PERMISSION))
    return Decision(action=ErpAction.UNLINK, refusals=tuple(refusals))


def _update_waiting(item: ErpItem) -> str | None:
    """Why an item whose update request is still open cannot be unlinked: the update would
    then be exported to a record that is gone, or be left waiting on an item not synced."""
    request = open_update(item)
    if request is None:
        return None
    return (
        f"An update of this {item.erp_kind_label} ({request.get_state_display().lower()}, "
        f"requested by {display_name(request.requested_by)}) is open under Ready to Update: "
        "accept or reject it before unlinking."
    )


def erp_unlink[Item: ErpItem](*, item: Item, user: Any) -> Item:
    """Unlink the synced item (see the module's docstring). Raises ErpActionRefused when
    `user` may not or the state does not allow it, StillInErp when the ERP keeps the record,
    and the adapter's ErpError when the ERP cannot be asked."""
    decision = unlink_decision(item, user)
    if not decision.allowed:
        raise ErpActionRefused(decision)
    erp_id = item.erp_id
    company = item.erp_company
    outcome = adapter_for(company).unlink(item.erp_kind, erp_id)
    with transaction.atomic():
        lock_project(item)  # sends of the project's items wait, or are seen (a job's)
        locked = _lock(item)
        if locked.erp_state != ErpState.SYNCED or locked.erp_id != erp_id:
            # Another Admin unlinked it while the ERP was asked (the ERP then found it gone).
            who, at = display_name(locked.erp_changed_by), when(locked.erp_changed_at)
            raise ErpActionRefused(
                Decision(
                    action=ErpAction.UNLINK,
                    refusals=(
                        Refusal(
                            RefusalKind.STATE,
                            f"This {locked.erp_kind_label} was changed by {who} at {at} while "
                            "the ERP was asked: it is no longer synced as ERP id "
                            f"{erp_id}. Reload the page.",
                        ),
                    ),
                )
            )
        # Again under the locks: what was sent or requested while the ERP was asked.
        waiting = _update_waiting(locked)
        held = [*locked.erp_unlink_preconditions(), *([waiting] if waiting else [])]
        if held:
            refusals = tuple(Refusal(RefusalKind.PRECONDITION, m) for m in held)
            raise ErpActionRefused(Decision(action=ErpAction.UNLINK, refusals=refusals))
        details = {"erp_id": erp_id, "adapter": company.erp_adapter, "outcome": outcome.status}
        if outcome.unlinked:
            locked.unlink(by=user, at=timezone.now())
            locked.save()
            event = record_event(
                item=locked,
                action=ErpAction.UNLINK,
                actor=user,
                from_state=ErpState.SYNCED,
                reason=outcome.detail,
                version=locked.erp_version,
                details=details,
            )
            publish(ItemTransitioned(item=locked, event=event))
            return locked
        # Not a transition: the state stays; only the flag and the audit row are written.
        type(locked).objects.filter(pk=locked.pk).update(erp_unlink_refusal=outcome.detail)
        locked.erp_unlink_refusal = outcome.detail
        record_event(
            item=locked,
            action=ErpAction.UNLINK_REFUSED,
            actor=user,
            from_state=locked.erp_state,
            reason=outcome.detail,
            version=locked.erp_version,
            details=details,
        )
    raise StillInErp(locked, outcome)
