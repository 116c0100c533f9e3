"""Celery tasks of the API app (scheduled by beat in settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import logging

from celery import shared_task

from api.services import idempotency_prune

log = logging.getLogger(__name__)


@shared_task
def prune_idempotency_records() -> int:
    deleted = idempotency_prune()
    if deleted:
        log.info("Pruned %d idempotency records older than 24 h.", deleted)
    return deleted
