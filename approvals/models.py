"""What the ERP Integrations tool's emails record so that each goes out at most once."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class EventEmail(models.Model):
    """The email an ERP event caused (a rejection, a submission, a failed export).

    Claimed before the email is sent: once it exists, running the task again sends nothing;
    a failed send deletes it so that the retry sends the email.
    """

    event = models.OneToOneField(
        "erpsync.ErpEvent", on_delete=models.CASCADE, related_name="email_delivery"
    )
    recipients = models.JSONField(default=list, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Email for event {self.event_id}"


class DigestDelivery(models.Model):
    """One "ERP Integrations Daily Summary" sent to one approver of one company on one day."""

    company = models.ForeignKey(
        "projects.Company", on_delete=models.CASCADE, related_name="digest_deliveries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_deliveries"
    )
    day = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "digest deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["company", "user", "day"], name="one_digest_per_approver_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"Daily summary for {self.user} at {self.company} on {self.day}"
