"""A simulated ERP kept in erpsync's own tables: the embedded default and the demo.

It can be told to fail for a given item, by the item's code or number, in the company's
adapter settings, so that demos and tests show every path:

    {"fail": {"08-000": "permanent", "INV-003": "transient", "03-000": "transient:2"}}

"transient:N" fails the first N calls for that item and then succeeds.

`{"pause_after_write": 5}` makes it wait that many seconds after an export's write is
committed before it answers: long enough to kill the worker between the ERP's write and the
worker recording it (a lost answer), as the recovery tests and a demo of it do.

What happens in the ERP after an export is played with `manage.py erp_sandbox pay|cancel|
delete <ERP id>` (sandbox_pay and friends below): Refresh then reads it back (fetch).

A synced job's or sub job's record is renamed in place by an accepted update (Ready to
Update, Capability.UPDATE), once per update key.
Unlink voids a record (its status becomes cancelled); a record deleted or cancelled already
is gone; an invoice with payments booked against it stays (STILL_THERE), as a real ERP keeps
an invoice that was paid.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, CharField, Count, Value, When
from django.db.models.functions import Cast, Concat, LPad
from django.utils import timezone

from erpsync.adapters.base import (
    Adapter,
    Capability,
    ErpError,
    ErpPayment,
    ErpRecord,
    ErpStatus,
    ExportRequest,
    ExportResults,
    PermanentErpError,
    SettingField,
    SettingKind,
    TransientErpError,
    UnlinkOutcome,
    UnlinkStatus,
    seconds,
)
from erpsync.models import SandboxCall, SandboxRecord
from erpsync.snapshots import format_money, value_at


class SandboxAdapter(Adapter):
    key = "sandbox"
    label = "Sandbox"
    supports = frozenset({"job", "sub_job", "owner_invoice"})
    capabilities = frozenset(
        {Capability.FETCH, Capability.UPDATE, Capability.UNLINK, Capability.EXPORT_MANY}
    )
    # A synced job's or sub job's record is renamed in place; an invoice never changes.
    update_kinds = frozenset({"job", "sub_job"})
    setting_fields = (
        SettingField(
            "fail",
            "Items told to fail",
            SettingKind.JSON,
            help='A JSON map from an item\'s code or number to "permanent", "transient" or '
            '"transient:N", e.g. {"08-000": "permanent"}. Leave it blank for none.',
        ),
        SettingField(
            "pause_after_write",
            "Pause after each export (seconds)",
            SettingKind.NUMBER,
            help="Wait this long after writing an export before answering, to show what a "
            "lost answer does. Leave it blank for none.",
        ),
    )

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[str]:
        problems = []
        pause = settings.get("pause_after_write")
        if pause not in (None, "") and seconds(pause, -1.0) < 0:
            problems.append('"pause_after_write" must be a number of seconds above 0.')
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

    def _told(self, snapshot: dict[str, Any]) -> tuple[str, str, str]:
        """The item's reference and how it is told to fail: ("permanent" | "transient" | "",
        the N of "transient:N" or "")."""
        ref = str(snapshot.get("code") or snapshot.get("number") or "")
        how = str(self.settings.get("fail", {}).get(ref, ""))
        kind, _, count = how.partition(":")
        return ref, kind, count

    def _failure(self, snapshot: dict[str, Any], idempotency_key: str) -> None:
        ref, kind, count = self._told(snapshot)
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
            self._pause()
        except IntegrityError:
            # Another worker exported the same key at the same moment: its record stands.
            SandboxCall.objects.create(
                company=self.company, idempotency_key=idempotency_key, outcome="ok"
            )
            found = self.lookup(kind=kind, idempotency_key=idempotency_key)
            assert found is not None
            return found
        return record.erp_id

    def export_many(self, items: Sequence[ExportRequest]) -> ExportResults:
        """The whole batch in one bulk write: the calls, the new records (a key seen before
        keeps its record: ON CONFLICT DO NOTHING, as a concurrent export() of the same key
        would), their ids, then one read of every key's id. Items told to fail fail alone."""
        results: ExportResults = {}
        counted = [r.idempotency_key for r in items if self._told(r.snapshot)[1] == "transient"]
        calls_so_far = dict(
            SandboxCall.objects.filter(company=self.company, idempotency_key__in=counted)
            .values_list("idempotency_key")
            .annotate(n=Count("pk"))
            .values_list("idempotency_key", "n")
            .order_by()
        )
        calls: list[SandboxCall] = []
        fresh: dict[str, ExportRequest] = {}
        for request in items:
            key = request.idempotency_key
            ref, told, count = self._told(request.snapshot)
            error: ErpError | None = None
            if told == "permanent":
                error = PermanentErpError(
                    f"Sandbox ERP refused {ref}: it is set to fail permanently."
                )
            elif told == "transient" and (not count or calls_so_far.get(key, 0) < int(count)):
                error = TransientErpError(f"Sandbox ERP is busy for {ref}: try again later.")
            outcome = "ok" if error is None else told
            calls.append(SandboxCall(company=self.company, idempotency_key=key, outcome=outcome))
            if error is None:
                fresh[key] = request
            else:
                results[key] = error
        with transaction.atomic():
            SandboxCall.objects.bulk_create(calls)
            SandboxRecord.objects.bulk_create(
                [
                    SandboxRecord(
                        company=self.company,
                        kind=r.kind,
                        idempotency_key=key,
                        erp_id="pending",
                        payload=r.snapshot,
                    )
                    for key, r in fresh.items()
                ],
                ignore_conflicts=True,
            )
            # SBX-<pk, 6 digits at least>, as export() names a record.
            pk_text = Cast("pk", CharField())
            SandboxRecord.objects.filter(
                company=self.company, idempotency_key__in=list(fresh), erp_id="pending"
            ).update(
                erp_id=Concat(
                    Value("SBX-"),
                    Case(
                        When(pk__lt=1_000_000, then=LPad(pk_text, 6, Value("0"))), default=pk_text
                    ),
                    output_field=CharField(),
                )
            )
            results.update(
                SandboxRecord.objects.filter(
                    company=self.company, idempotency_key__in=list(fresh)
                ).values_list("idempotency_key", "erp_id")
            )
        self._pause()
        return results

    def _pause(self) -> None:
        """pause_after_write: the write is committed, the answer not given yet."""
        pause = seconds(self.settings.get("pause_after_write"), 0.0)
        if pause:
            time.sleep(pause)

    def update(
        self,
        *,
        kind: str,
        erp_id: str,
        changes: dict[str, str],
        snapshot: dict[str, Any],
        idempotency_key: str,
    ) -> None:
        """Change the record's fields once per key: the update's key is kept (a SandboxCall
        "updated"), so a retry after a lost answer finds it and changes nothing more."""
        if kind not in self.update_kinds:
            raise PermanentErpError(f"The sandbox ERP cannot update {kind} records.")
        self._failure(snapshot, idempotency_key)
        with transaction.atomic():
            record = (
                SandboxRecord.objects.select_for_update()
                .filter(company=self.company, erp_id=erp_id)
                .first()
            )
            if record is None or record.status == ErpStatus.DELETED:
                raise PermanentErpError(f"The sandbox ERP has no record {erp_id} to update.")
            calls = SandboxCall.objects.filter(
                company=self.company, idempotency_key=idempotency_key
            )
            if calls.filter(outcome="updated").exists():
                SandboxCall.objects.create(
                    company=self.company, idempotency_key=idempotency_key, outcome="ok"
                )
                return
            record.payload = {**record.payload, **changes}
            record.save(update_fields=["payload"])
            SandboxCall.objects.create(
                company=self.company, idempotency_key=idempotency_key, outcome="updated"
            )

    def lookup(self, *, kind: str, idempotency_key: str) -> str | None:
        return (
            SandboxRecord.objects.filter(company=self.company, idempotency_key=idempotency_key)
            .values_list("erp_id", flat=True)
            .first()
        )

    def check(self) -> None:
        return None

    def fetch(self, kind: str, erp_id: str) -> ErpRecord:
        record = SandboxRecord.objects.filter(company=self.company, erp_id=erp_id).first()
        if record is None or record.status == ErpStatus.DELETED:
            return ErpRecord(exists=False, status=ErpStatus.DELETED)
        fields = {
            path: str(value)
            for path in DRIFT_FIELDS.get(kind, ())
            if (value := value_at(record.payload, path)) is not None
        }
        if kind != "owner_invoice":
            status = ErpStatus(record.status)
            return ErpRecord(exists=True, status=status, fields=fields)
        payments = tuple(_payment(p) for p in record.payments)
        total = _invoice_total(record)
        paid = sum((p.amount for p in payments), Decimal("0.00"))
        due = max(total - paid, Decimal("0.00"))
        status = ErpStatus(record.status)
        paid_on = None
        if status == ErpStatus.POSTED and payments and due == 0:
            status = ErpStatus.PAID
            paid_on = max(p.on for p in payments)
        return ErpRecord(
            exists=True,
            status=status,
            fields=fields,
            amount_paid=paid,
            amount_due=due if status != ErpStatus.CANCELLED else Decimal("0.00"),
            paid_on=paid_on,
            payments=payments,
        )

    def unlink(self, kind: str, erp_id: str) -> UnlinkOutcome:
        with transaction.atomic():
            record = (
                SandboxRecord.objects.select_for_update()
                .filter(company=self.company, erp_id=erp_id)
                .first()
            )
            if record is None or record.status == ErpStatus.DELETED:
                return UnlinkOutcome(
                    UnlinkStatus.GONE, f"The sandbox ERP no longer holds {erp_id}."
                )
            if record.status == ErpStatus.CANCELLED:
                return UnlinkOutcome(
                    UnlinkStatus.GONE, f"{erp_id} was already cancelled in the sandbox ERP."
                )
            if record.payments:
                paid = sum((_payment(p).amount for p in record.payments), Decimal("0.00"))
                return UnlinkOutcome(
                    UnlinkStatus.STILL_THERE,
                    f"{erp_id} has payments of {format_money(paid)} booked against it, so the "
                    "sandbox ERP cannot void it: reverse the payments in the ERP first.",
                )
            record.status = ErpStatus.CANCELLED
            record.save(update_fields=["status"])
        return UnlinkOutcome(UnlinkStatus.VOIDED, f"{erp_id} was voided in the sandbox ERP.")


# What the sandbox reports back for drift, by kind: paths into the exported snapshot.
DRIFT_FIELDS: dict[str, tuple[str, ...]] = {
    "sub_job": ("code", "name"),
    "owner_invoice": ("number", "totals.amount_due"),
}


def _payment(data: dict[str, Any]) -> ErpPayment:
    return ErpPayment(
        on=date.fromisoformat(data["on"]),
        amount=Decimal(str(data["amount"])),
        reference=str(data.get("reference", "")),
    )


def _invoice_total(record: SandboxRecord) -> Decimal:
    try:
        return Decimal(str(value_at(record.payload, "totals.amount_due") or "0")).quantize(
            Decimal("0.01")
        )
    except InvalidOperation:
        return Decimal("0.00")


class SandboxError(ValueError):
    """A play on the sandbox ERP that makes no sense (no such record, already cancelled)."""


def _record(company: Any, erp_id: str) -> SandboxRecord:
    record = (
        SandboxRecord.objects.select_for_update().filter(company=company, erp_id=erp_id).first()
    )
    if record is None or record.status == ErpStatus.DELETED:
        raise SandboxError(f"The sandbox ERP of {company} has no record {erp_id}.")
    return record


def sandbox_pay(
    *,
    company: Any,
    erp_id: str,
    amount: Decimal | None = None,
    on: date | None = None,
    reference: str = "",
) -> ErpPayment:
    """Book a payment against a sandbox invoice, as the owner paying it would: `amount`
    defaults to what is still due, `on` to today."""
    with transaction.atomic():
        record = _record(company, erp_id)
        if record.kind != "owner_invoice":
            raise SandboxError(f"{erp_id} is a {record.kind.replace('_', ' ')}, not an invoice.")
        if record.status != ErpStatus.POSTED:
            raise SandboxError(f"{erp_id} is {record.status} in the sandbox ERP.")
        paid = sum((_payment(p).amount for p in record.payments), Decimal("0.00"))
        due = _invoice_total(record) - paid
        amount = due if amount is None else amount.quantize(Decimal("0.01"))
        if amount <= 0 or amount > due:
            raise SandboxError(
                f"{erp_id} has {due} due: a payment must be above 0 and at most that."
            )
        payment = ErpPayment(
            on=on or timezone.localdate(),
            amount=amount,
            reference=reference or f"PAY-{record.pk:06d}-{len(record.payments) + 1}",
        )
        record.payments = [
            *record.payments,
            {"on": payment.on.isoformat(), "amount": str(amount), "reference": payment.reference},
        ]
        record.save(update_fields=["payments"])
    return payment


def sandbox_set_status(*, company: Any, erp_id: str, status: ErpStatus) -> None:
    """Cancel (void) or delete a record in the sandbox ERP."""
    with transaction.atomic():
        record = _record(company, erp_id)
        record.status = status
        record.save(update_fields=["status"])
