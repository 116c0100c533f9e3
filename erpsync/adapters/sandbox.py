"""A simulated ERP kept in erpsync's own tables: the embedded default and the demo."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from erpsync.adapters.base import Adapter


class SandboxAdapter(Adapter):
    key = "sandbox"
    label = "Sandbox"
    supports = frozenset({"sub_job", "owner_invoice"})

    def export(self, *, kind: str, snapshot: dict[str, Any], idempotency_key: str) -> str:
        from erpsync.models import SandboxRecord

        existing = self.lookup(kind=kind, idempotency_key=idempotency_key)
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                record = SandboxRecord.objects.create(
                    company=self.company,
                    kind=kind,
                    idempotency_key=idempotency_key,
                    erp_id="pending",
                    payload=snapshot,
                )
                record.erp_id = f"SBX-{record.pk:06d}"
                record.save(update_fields=["erp_id"])
        except IntegrityError:
            # Another worker exported the same key at the same moment: its record stands.
            found = self.lookup(kind=kind, idempotency_key=idempotency_key)
            assert found is not None
            return found
        return record.erp_id

    def lookup(self, *, kind: str, idempotency_key: str) -> str | None:
        from erpsync.models import SandboxRecord

        return (
            SandboxRecord.objects.filter(company=self.company, idempotency_key=idempotency_key)
            .values_list("erp_id", flat=True)
            .first()
        )

    def check(self) -> None:
        return None
