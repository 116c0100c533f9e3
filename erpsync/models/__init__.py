"""The ERP core's models: the item mixin every kind uses, the audit trail and the export
records, the email outbox. One module each; everything is importable from here."""

from erpsync.models.items import (
    DELETED_USER,
    SYSTEM_NAME,
    ErpItem,
    ErpItemQuerySet,
    display_name,
    when,
)
from erpsync.models.outbox import EmailStatus, OutboxEmail
from erpsync.models.records import (
    ErpEvent,
    ExportAttempt,
    ExportOutcome,
    SandboxCall,
    SandboxRecord,
)

__all__ = [
    "DELETED_USER",
    "SYSTEM_NAME",
    "EmailStatus",
    "ErpEvent",
    "ErpItem",
    "ErpItemQuerySet",
    "ExportAttempt",
    "ExportOutcome",
    "OutboxEmail",
    "SandboxCall",
    "SandboxRecord",
    "display_name",
    "when",
]
