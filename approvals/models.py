"""The approvals app keeps no tables of its own: its emails are rows of the core's outbox
(erpsync.models.OutboxEmail). Migration 0002 moved the old delivery records there."""
