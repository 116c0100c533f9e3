"""The ERP core's models: the item mixin every kind uses, the audit trail and the export
records, the email outbox. One module each; everything is importable from here."""

from erpsync.models.connector import ClaimOutcome, ConnectorClaim
from erpsync.models.counts import StateCount
from erpsync.models.items import ErpItem, ErpItemQuerySet
from erpsync.models.outbox import EmailStatus, OutboxEmail
from erpsync.models.policy import Approval, ApprovalRule, KindPolicy
from erpsync.models.records import (
    ErpEvent,
    ExportAttempt,
    ExportOutcome,
    SandboxCall,
    SandboxRecord,
)
from erpsync.models.updates import OPEN_UPDATE_STATES, UpdateRequest, UpdateState
from erpsync.names import DELETED_USER, SYSTEM_NAME, display_name, when

__all__ = [
    "DELETED_USER",
    "OPEN_UPDATE_STATES",
    "SYSTEM_NAME",
    "Approval",
    "ApprovalRule",
    "ClaimOutcome",
    "ConnectorClaim",
    "EmailStatus",
    "ErpEvent",
    "ErpItem",
    "ErpItemQuerySet",
    "ExportAttempt",
    "ExportOutcome",
    "KindPolicy",
    "OutboxEmail",
    "SandboxCall",
    "SandboxRecord",
    "StateCount",
    "UpdateRequest",
    "UpdateState",
    "display_name",
    "when",
]
