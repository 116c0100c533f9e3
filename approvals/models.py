"""The approvals app's own table: the Accept and Reject links from emails that were used.

Its emails are rows of the core's outbox (erpsync.models.OutboxEmail); migration 0002 moved
the old delivery records there.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class UsedEmailLink(models.Model):
    """A decision link from an email (approvals.email_links) that was used: each works once.

    Written in the transaction of the decision it made, so a refused or failed decision
    leaves the link usable; the nonce is unique, so two clicks never both decide.
    """

    nonce = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=40)
    object_id = models.PositiveBigIntegerField()
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=10)
    # The audit row of the decision the link made: who acted, what, when.
    event = models.ForeignKey(
        "erpsync.ErpEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["used_at", "pk"]

    def __str__(self) -> str:
        return f"{self.action} link of {self.kind} {self.object_id} v{self.version}, used"
