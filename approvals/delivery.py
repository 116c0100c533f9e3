"""What the daily emails (the summary, the reminders) share: which companies a run covers,
how one keyed outbox row is delivered there and then, and what each email's result says."""

from __future__ import annotations

from django.db.models import QuerySet

from erpsync.models import OutboxEmail
from erpsync.outbox import deliver_email
from projects.models import Company

# What happened to each email (erp_daily_summary and erp_remind print it).
SENT = "sent"
ALREADY_SENT = "already sent"
WOULD_SEND = "would send"
FAILED = "failed"


def companies_to_run(company_id: int | None) -> QuerySet[Company]:
    """One company, or every company, in the order the results list them."""
    companies = Company.objects.order_by("name", "pk")
    return companies if company_id is None else companies.filter(pk=company_id)


def deliver_now(key: str) -> tuple[str, str]:
    """(status, error) of the outbox row `key`, delivered here and now rather than on commit:
    the run reports what happened to each of its emails."""
    row = OutboxEmail.objects.get(key=key)
    outcome = deliver_email(row.pk)
    if outcome in ("sent", "nothing"):
        return SENT, ""
    if outcome in ("retrying", "failed"):
        row.refresh_from_db(fields=["last_error"])
        return FAILED, row.last_error
    return ALREADY_SENT, ""  # sent before, or another worker is sending it this instant
