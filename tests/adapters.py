"""Adapters the tests register, for ERPs that do not sync every kind of item."""

from erpsync.adapters.base import TransientErpError
from erpsync.adapters.sandbox import SandboxAdapter


class InvoicesOnlyAdapter(SandboxAdapter):
    key = "invoices_only"
    label = "Invoices Only ERP"
    supports = frozenset({"owner_invoice"})


class SubJobsOnlyAdapter(SandboxAdapter):
    key = "sub_jobs_only"
    label = "Sub Jobs Only ERP"
    supports = frozenset({"sub_job"})


class BrokenAdapter(SandboxAdapter):
    """An ERP that cannot be reached: every check fails."""

    key = "broken"
    label = "Broken ERP"

    def check(self) -> None:
        raise TransientErpError("ERP unreachable")
