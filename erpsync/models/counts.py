"""How many of each company's items are in each state, kept by the database (erpsync.counts)."""

from __future__ import annotations

from django.db import models


class StateCount(models.Model):
    """A change of `n` items of `kind` in `state` for the company: the sum of a company's rows
    per kind and state is how many of its items are in that state now. Triggers on every
    item table write them (a row per statement and state changed, never an update, so that
    concurrent transitions never wait for one another); beat folds them together
    (erpsync.counts.compact). `company_id` is a plain number, not a foreign key: a company's
    deletion deletes its items, whose triggers still write their rows."""

    company_id = models.BigIntegerField(null=True)
    kind = models.CharField(max_length=30)
    state = models.CharField(max_length=30)
    n = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["company_id", "kind", "state"], name="erpsync_count_company")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.state} {self.n:+d} (company {self.company_id})"
