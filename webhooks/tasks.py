"""Celery tasks of the webhooks app: thin, the work is in webhooks.outbox."""

from __future__ import annotations

import logging

from celery import shared_task

from webhooks.outbox import deliver_webhook, due_deliveries, queue_deliveries

logger = logging.getLogger(__name__)

__all__ = ["deliver_webhook", "sweep_webhooks"]


@shared_task(ignore_result=True)
def sweep_webhooks() -> int:
    """Queue the deliveries that are due: retries whose backoff has passed, and rows whose
    queued task was lost (the broker down at commit, a killed worker)."""
    ids = due_deliveries()
    queue_deliveries(ids)
    if ids:
        logger.info("webhook sweeper queued %s deliveries", len(ids))
    return len(ids)
