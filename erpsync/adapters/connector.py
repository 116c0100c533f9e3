"""The pull connector: the company runs its own integration, which pulls accepted items.

erpsync never calls the ERP for such a company. Accepted items wait in an export queue; the
company's connector claims a batch through the API, writes each item into its ERP (keyed by
the idempotency key, so a second write finds the first) and reports synced or failed
(erpsync.connector holds the protocol). The export worker and the sweeper skip these
companies because the adapter declares Capability.PULL.
"""

from __future__ import annotations

from typing import Any

from erpsync.adapters.base import Adapter, Capability, PermanentErpError
from erpsync.models import ExportAttempt, ExportOutcome


class ConnectorAdapter(Adapter):
    key = "connector"
    label = "Pull connector (your own integration)"
    # Jobs first among them: a project must be synced before its sub jobs and invoices can go.
    supports = frozenset({"job", "sub_job", "owner_invoice"})
    capabilities = frozenset({Capability.PULL})
    unsupported_reasons = {
        Capability.UPDATE: "The company's pull connector only claims accepted items to create "
        "them in the ERP: its protocol has no update yet, so a synced item cannot be updated.",
        Capability.UNLINK: "The company's own pull connector writes items into the ERP; "
        "erpsync cannot reach the ERP to check that a record is gone or to void it, so Unlink "
        "is not available.",
    }

    def export(self, *, kind: str, snapshot: dict[str, Any], idempotency_key: str) -> str:
        # The export worker skips pull companies (erpsync.exports); reaching this is a bug,
        # and pushing anyway could write the item twice beside the connector.
        raise PermanentErpError(
            "This company's ERP is reached through its own pull connector: erpsync does not "
            "push items to it."
        )

    def lookup(self, *, kind: str, idempotency_key: str) -> str | None:
        """What the connector reported for this key: its reports are our only record."""
        return (
            ExportAttempt.objects.filter(
                company=self.company,
                idempotency_key=idempotency_key,
                outcome=ExportOutcome.SYNCED,
            )
            .values_list("erp_id", flat=True)
            .first()
        )

    def check(self) -> None:
        # Nothing to reach: the connector reaches us.
        return None
