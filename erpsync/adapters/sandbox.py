"""A simulated ERP kept in erpsync's own tables: the embedded default and the demo.

It can be told to fail for a given item, by the item's code or number, in the company's
adapter settings, so that demos and tests show every path:

    {"fail": {"08-000": "permanent", "INV-003": "transient", "03-000": "transient:2"}}

"transient:N" fails the first N calls for that item and then succeeds.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from erpsync.adapters.base import (
    Adapter,
    PermanentErpError,
    SettingField,
    SettingKind,
    TransientErpError,
)
from erpsync.models import SandboxCall, SandboxRecord


class SandboxAdapter(Adapter):
    key = "sandbox"
    label = "Sandbox"
    supports = frozenset({"job", "sub_job", "owner_invoice"})
    setting_fields = (
        SettingField(
            "fail",
            "Items told to fail",
            SettingKind.JSON,
            help='A JSON map from an item\'s code or number to "permanent", "transient" or '
            '"transient:N", e.g. {"08-000": "permanent"}. Leave it blank for none.',
        ),
    )

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[str]:
        problems = []
        fail = settings.get("fail", {})
        if not isinstance(fail, dict):
            return ['"fail" must map an item code or number to "permanent" or "transient[:N]".']
        for code, how in fail.items():
            kind, _, count = str(how).partition(":")
            if kind not in ("permanent", "transient") or (count and not count.isdigit()):
                problems.append(
                    f'fail["{code}"] must be "permanent", "transient" or "transient:N".'
                )
        return problems

    def _failure(self, snapshot: dict[str, Any], idempotency_key: str) -> None:
        ref = str(snapshot.get("code") or snapshot.get("number") or "")
        how = str(self.settings.get("fail", {}).get(ref, ""))
        kind, _, count = how.partition(":")
        calls = SandboxCall.objects.filter(company=self.company, idempotency_key=idempotency_key)
        if kind == "permanent":
            SandboxCall.objects.create(
                company=self.company, idempotency_key=idempotency_key, outcome="permanent"
            )
            raise PermanentErpError(f"Sandbox ERP refused {ref}: it is set to fail permanently.")
        if kind == "transient" and (not count or calls.count() < int(count)):
            SandboxCall.objects.create(
                company=self.company, idempotency_key=idempotency_key, outcome="transient"
            )
            raise TransientErpError(f"Sandbox ERP is busy for {ref}: try again later.")

    def export(self, *, kind: str, snapshot: dict[str, Any], idempotency_key: str) -> str:
        self._failure(snapshot, idempotency_key)
        existing = self.lookup(kind=kind, idempotency_key=idempotency_key)
        if existing is not None:
            SandboxCall.objects.create(
                company=self.company, idempotency_key=idempotency_key, outcome="ok"
            )
            return existing
        try:
            with transaction.atomic():
                SandboxCall.objects.create(
                    company=self.company, idempotency_key=idempotency_key, outcome="ok"
                )
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
            SandboxCall.objects.create(
                company=self.company, idempotency_key=idempotency_key, outcome="ok"
            )
            found = self.lookup(kind=kind, idempotency_key=idempotency_key)
            assert found is not None
            return found
        return record.erp_id

    def lookup(self, *, kind: str, idempotency_key: str) -> str | None:
        return (
            SandboxRecord.objects.filter(company=self.company, idempotency_key=idempotency_key)
            .values_list("erp_id", flat=True)
            .first()
        )

    def check(self) -> None:
        return None
