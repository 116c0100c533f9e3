"""Capability.EXPORT_MANY for Tryton: a batch of owner invoices in a handful of calls.

One search finds what earlier tries made (by reference, the idempotency key), one ``create``
makes the rest as drafts, one ``post`` posts every draft and one ``read`` checks the totals:
four round trips for a batch of 100 instead of about seven per invoice. The promise per key is
export()'s: one invoice per key, a draft left by a dead try is posted rather than remade.

Tryton runs each call in one transaction, so one invoice it refuses makes it refuse the whole
``create`` or ``post``; the call is then made again one invoice at a time, and only the
refused invoice fails. Jobs and sub jobs (analytic accounts, rarely many at once) go one at a
time through export().
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from erpsync.adapters.base import (
    ErpError,
    ExportRequest,
    ExportResults,
    PermanentErpError,
)
from erpsync.adapters.tryton.money import CENT, money, payment_date

# The invoices the batch posts: those it creates, and those an earlier try left unposted.
UNPOSTED = ("new", "draft", "validated")


class TrytonBatch:
    """Needs the adapter's invoice helpers (find, values, post, discard) and its RPC."""

    INVOICE_FIELDS: list[str]
    call: Any
    search_read: Any
    company_id: int
    export: Any
    invoice_values: Any
    discard_earlier_drafts: Any
    login: Any

    def export_many(self, items: Sequence[ExportRequest]) -> ExportResults:
        results: ExportResults = {}
        invoices: list[ExportRequest] = []
        for request in items:
            if request.kind == "owner_invoice":
                invoices.append(request)
                continue
            try:
                results[request.idempotency_key] = self.export(
                    kind=request.kind,
                    snapshot=request.snapshot,
                    idempotency_key=request.idempotency_key,
                )
            except ErpError as error:
                results[request.idempotency_key] = error
        if invoices:
            results.update(InvoiceBatch(self, invoices).run())
        return results


class InvoiceBatch:
    """Owner invoices exported together (export() makes a batch of one): each step settles
    some keys (an id or an error) and passes the rest on. An error that concerns a whole call
    settles every key still open."""

    def __init__(self, tryton: TrytonBatch, requests: list[ExportRequest]) -> None:
        self.tryton = tryton
        self.requests = {r.idempotency_key: r for r in requests}
        self.results: ExportResults = {}
        self.ids: dict[str, int] = {}  # key → the invoice to post and check

    def open_keys(self) -> list[str]:
        return [k for k in self.requests if k not in self.results]

    def settle_all(self, error: ErpError) -> None:
        for key in self.open_keys():
            self.results[key] = error

    def run(self) -> ExportResults:
        try:
            self.tryton.login()
            self.discard_drafts()
            found = self.find()
            self.redate([k for k in self.open_keys() if found.get(k, {}).get("state") == "draft"])
            self.create([k for k in self.open_keys() if k not in found])
            state = {k: row["state"] for k, row in found.items()}
            self.post([k for k in self.open_keys() if state.get(k, "new") in UNPOSTED])
            self.check()
        except ErpError as error:
            # Unreachable, timed out, refused the login: the keys not settled yet wait for the
            # retry, whose lookup finds whatever this try made.
            self.settle_all(error)
        return self.results

    def discard_drafts(self) -> None:
        """The drafts earlier versions of a resent item left (the adapter's no stale drafts);
        nothing to do, and no call, for a first version."""
        for key in self.open_keys():
            try:
                self.tryton.discard_earlier_drafts(key)
            except PermanentErpError as error:
                self.results[key] = error

    def find(self) -> dict[str, dict[str, Any]]:
        """What earlier tries made, by reference, in one search."""
        keys = self.open_keys()
        if not keys:
            return {}
        rows = self.tryton.search_read(
            "account.invoice",
            [
                ["reference", "in", keys],
                ["type", "=", "out"],
                ["company", "=", self.tryton.company_id],
                ["state", "!=", "cancelled"],
            ],
            self.tryton.INVOICE_FIELDS,
        )
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            found.setdefault(row["reference"], row)
        for key, row in found.items():
            self.ids[key] = int(row["id"])
        return found

    def create(self, keys: list[str]) -> None:
        values: dict[str, dict[str, Any]] = {}
        for key in keys:
            try:
                values[key] = self.tryton.invoice_values(self.requests[key].snapshot, key)
            except PermanentErpError as error:
                self.results[key] = error
        if not values:
            return
        try:
            made = self.tryton.call("account.invoice", "create", list(values.values()))
        except PermanentErpError:
            # One invoice Tryton refuses undoes the whole call: make them one by one.
            for key, one in values.items():
                try:
                    (self.ids[key],) = self.tryton.call("account.invoice", "create", [one])
                except PermanentErpError as error:
                    self.results[key] = error
            return
        for key, invoice_id in zip(values, made, strict=True):
            self.ids[key] = int(invoice_id)

    def redate(self, keys: list[str]) -> None:
        """A draft left by an earlier try: its payment date may have passed since."""
        for key in keys:
            due = payment_date(self.requests[key].snapshot)
            if due is None:
                continue
            try:
                self.tryton.call(
                    "account.invoice", "write", [self.ids[key]], {"payment_term_date": due}
                )
            except PermanentErpError as error:
                self.results[key] = error

    def post(self, keys: list[str]) -> None:
        to_post = {k: self.ids[k] for k in keys if k in self.ids}
        if not to_post:
            return
        try:
            self.tryton.call("account.invoice", "post", list(to_post.values()))
        except PermanentErpError:
            for key, invoice_id in to_post.items():
                try:
                    self.tryton.call("account.invoice", "post", [invoice_id])
                except PermanentErpError as error:
                    # Left a draft, as export() would: a resend's version deletes it.
                    self.results[key] = error

    def check(self) -> None:
        """Each posted invoice totals its snapshot's amount due (export()'s check)."""
        keys = [k for k in self.open_keys() if k in self.ids]
        if not keys:
            return
        rows = self.tryton.call(
            "account.invoice", "read", [self.ids[k] for k in keys], self.tryton.INVOICE_FIELDS
        )
        by_id = {int(row["id"]): row for row in rows}
        for key in keys:
            invoice_id = self.ids[key]
            row = by_id.get(invoice_id)
            if row is None:
                self.results[key] = PermanentErpError(f"Tryton lost invoice {invoice_id}.")
                continue
            snapshot = self.requests[key].snapshot
            try:
                expected = money((snapshot.get("totals") or {}).get("amount_due", "0"), "amount")
            except PermanentErpError as error:
                self.results[key] = error
                continue
            if row["total_amount"].quantize(CENT) != expected.quantize(CENT):
                self.results[key] = PermanentErpError(
                    f"Tryton invoice {row.get('number') or invoice_id} totals "
                    f"{row['total_amount']}, not the amount due {expected}."
                )
                continue
            self.results[key] = str(invoice_id)
