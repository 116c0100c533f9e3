"""The ERP states, actions and icons shared by every kind of item."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import models


class ErpState(models.TextChoices):
    NOT_SENT = "not_sent", "Not sent"
    PENDING = "pending", "Pending acceptance"
    # Approved by some of the approvers its amount needs (README, Approval policy).
    PARTIALLY_APPROVED = "partially_approved", "Partly approved"
    REJECTED = "rejected", "Rejected"
    RETRIEVED = "retrieved", "Retrieved"
    ACCEPTED = "accepted", "Exporting"
    SYNCED = "synced", "Synced"
    EXPORT_FAILED = "export_failed", "Export failed"


class ErpAction(models.TextChoices):
    # Transitions of the state machine (the value is the transition method's name).
    SEND = "send", "Send to ERP"
    RESEND = "resend", "Resend to ERP"
    RETRIEVE = "retrieve", "Retrieve from ERP"
    ACCEPT = "accept", "Accept"
    # One approval of several the item's amount needs; the last one is the acceptance.
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    MARK_SYNCED = "mark_synced", "Synced"
    MARK_EXPORT_FAILED = "mark_export_failed", "Export failed"
    RETRY_EXPORT = "retry_export", "Retry export"
    # Writes that do not change the ERP state, kept in the same audit trail.
    CREATE = "create", "Created"
    EDIT = "edit", "Edited"
    # An approver queued a stuck export again ("Export now"); the item stays accepted.
    REQUEUE_EXPORT = "requeue_export", "Export queued again"
    # The company's pull connector took the accepted version to write it into the ERP.
    CONNECTOR_CLAIM = "connector_claim", "Claimed by the connector"
    # A synced item read back from the ERP (Refresh, or the scheduled refresh), and a payment
    # that refresh found booked against it in the ERP.
    REFRESH = "refresh", "Refresh"
    PAYMENT = "payment", "Payment received"
    # Ready to Update (erpsync.updates): a change to a synced item, asked for by its sender,
    # decided by an approver and exported as an update; the item stays synced throughout.
    UPDATE_REQUEST = "update_request", "Update requested"
    UPDATE_ACCEPT = "update_accept", "Accept update"
    UPDATE_REJECT = "update_reject", "Reject update"
    UPDATE_RETRY = "update_retry", "Retry update"
    UPDATE_SYNCED = "update_synced", "Update synced"
    UPDATE_FAILED = "update_failed", "Update failed"
    # An ERP tool Admin unlinked a synced item (erpsync.unlink): its ERP record is gone or was
    # voided, and the item is back to Not sent (the transition `unlink`, taken by that
    # service only). An attempt the ERP stood in the way of (the record exists and cannot be voided)
    # leaves the item synced and flagged.
    UNLINK = "unlink", "Unlink from ERP"
    UNLINK_REFUSED = "unlink_refused", "Still in the ERP"


# What an audit row says happened, for lists of events ("Rejected by Pat at 10:02").
DONE_LABELS: dict[str, str] = {
    "send": "Sent to ERP",
    "resend": "Resent to ERP",
    "retrieve": "Retrieved from ERP",
    "accept": "Accepted",
    "approve": "Approved",
    "reject": "Rejected",
    "mark_synced": "Synced",
    "mark_export_failed": "Export failed",
    "retry_export": "Export retried",
    "requeue_export": "Export queued again",
    "connector_claim": "Claimed by the connector",
    "refresh": "Refreshed from the ERP",
    "payment": "Payment received",
    "update_request": "Update requested",
    "update_accept": "Update accepted",
    "update_reject": "Update rejected",
    "update_retry": "Update retried",
    "update_synced": "Update synced",
    "update_failed": "Update failed",
    "unlink": "Unlinked from the ERP",
    "unlink_refused": "Still in the ERP: not unlinked",
    "create": "Created",
    "edit": "Edited",
}

TRANSITIONS = frozenset(
    {
        ErpAction.SEND,
        ErpAction.RESEND,
        ErpAction.RETRIEVE,
        ErpAction.ACCEPT,
        ErpAction.APPROVE,
        ErpAction.REJECT,
        ErpAction.MARK_SYNCED,
        ErpAction.MARK_EXPORT_FAILED,
        ErpAction.RETRY_EXPORT,
    }
)
SENDER_ACTIONS = frozenset({ErpAction.SEND, ErpAction.RESEND, ErpAction.RETRIEVE})
APPROVER_ACTIONS = frozenset(
    {ErpAction.ACCEPT, ErpAction.APPROVE, ErpAction.REJECT, ErpAction.RETRY_EXPORT}
)
# Waiting for approvers: listed under Ready to Export, locked for the sender but retrievable.
AWAITING_APPROVAL = frozenset({ErpState.PENDING, ErpState.PARTIALLY_APPROVED})
SYSTEM_ACTIONS = frozenset(
    {
        ErpAction.MARK_SYNCED,
        ErpAction.MARK_EXPORT_FAILED,
        ErpAction.UPDATE_SYNCED,
        ErpAction.UPDATE_FAILED,
    }
)
# An item's own fields may change only in these states: anywhere else it is with the ERP tool.
EDITABLE_STATES = frozenset({ErpState.NOT_SENT, ErpState.REJECTED, ErpState.RETRIEVED})


class Colour(StrEnum):
    BLUE = "blue"
    YELLOW = "yellow"
    GREEN = "green"
    RED = "red"


@dataclass(frozen=True)
class Icon:
    colour: Colour
    label: str
    meaning: str


ICONS: dict[str, Icon] = {
    ErpState.PENDING: Icon(
        Colour.BLUE,
        "Pending acceptance",
        "Sent to the ERP Integrations tool, waiting for an accounting approver to accept it.",
    ),
    ErpState.PARTIALLY_APPROVED: Icon(
        Colour.BLUE,
        "Partly approved",
        "Approved by some of the approvers its amount needs, waiting for the others.",
    ),
    ErpState.REJECTED: Icon(
        Colour.YELLOW,
        "Rejected",
        "Rejected by an accounting approver: fix it and resend it.",
    ),
    ErpState.RETRIEVED: Icon(
        Colour.YELLOW,
        "Retrieved",
        "Retrieved from the ERP Integrations tool by a user before a decision.",
    ),
    ErpState.ACCEPTED: Icon(
        Colour.BLUE,
        "Exporting",
        "Accepted by an accounting approver; the export to the ERP is queued or running.",
    ),
    ErpState.SYNCED: Icon(Colour.GREEN, "Synced", "Synced between erpsync and the ERP."),
    ErpState.EXPORT_FAILED: Icon(
        Colour.RED,
        "Export failed",
        "The ERP refused the export or the retries ran out; an approver can retry or reject it.",
    ),
}


class RefusalKind(StrEnum):
    STATE = "state"
    PRECONDITION = "precondition"
    PERMISSION = "permission"
    # The company's approval policy stands in the way (self-approval, a second approval, an
    # Admin's approval): the button is shown greyed out with the reason; a forged request 403.
    POLICY = "policy"


@dataclass(frozen=True)
class Refusal:
    kind: RefusalKind
    message: str


@dataclass(frozen=True)
class Decision:
    """Whether a user may take an action on an item now, and every reason why not."""

    action: ErpAction
    refusals: tuple[Refusal, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.refusals

    @property
    def reasons(self) -> list[str]:
        return [r.message for r in self.refusals]

    @property
    def fits_state(self) -> bool:
        """The action belongs to the item's current state (its button is on the page)."""
        return not any(r.kind is RefusalKind.STATE for r in self.refusals)

    @property
    def permitted(self) -> bool:
        """The user holds the permission the action needs."""
        return not any(r.kind is RefusalKind.PERMISSION for r in self.refusals)

    @property
    def by_policy(self) -> bool:
        return any(r.kind is RefusalKind.POLICY for r in self.refusals)

    @property
    def status_code(self) -> int:
        """The HTTP status for a refused request: 403 for permissions and the approval
        policy, 409 otherwise."""
        return 403 if not self.permitted or self.by_policy else 409


class ErpActionRefused(Exception):
    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(" ".join(decision.reasons))

    @property
    def reasons(self) -> list[str]:
        return self.decision.reasons

    @property
    def status_code(self) -> int:
        return self.decision.status_code


class StaleEdit(Exception):
    """A save from a form opened before someone else changed the item: `changes` are the
    audit rows written since (what changed meanwhile, by whom, when)."""

    status_code = 409

    def __init__(self, message: str, changes: list[Any]) -> None:
        self.message = message
        self.changes = changes
        super().__init__(message)


class ItemLocked(Exception):
    """An edit was refused because the item is with the ERP Integrations tool."""

    status_code = 409

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)
