"""Adapters the tests register, for ERPs that do not sync every kind of item."""

from erpsync.adapters.sandbox import SandboxAdapter


class InvoicesOnlyAdapter(SandboxAdapter):
    key = "invoices_only"
    label = "Invoices Only ERP"
    supports = frozenset({"owner_invoice"})


class SubJobsOnlyAdapter(SandboxAdapter):
    key = "sub_jobs_only"
    label = "Sub Jobs Only ERP"
    supports = frozenset({"sub_job"})
