"""Capability.UNLINK for Tryton: make sure a synced item's record no longer counts.

- An owner invoice is a customer invoice. Gone when Tryton has no invoice of that id or it
  is cancelled already. A draft (or validated) one is cancelled. A posted one is credited
  with a refund: Tryton's Credit wizard (`account.invoice.credit`, "With Refund") makes a
  credit note for the same lines, posts it, sets its move as the invoice's cancel move and
  cancels the invoice, reconciling the two moves (the credit note, dated as the invoice, then
  reads paid). That works whatever the company's "Cancel
  Customer Invoice" option says (the `cancel` button alone refuses a posted customer invoice
  without it), and the books keep both documents. An invoice with payments booked against it,
  or paid, stays (STILL_THERE): Tryton's wizard offers no refund then, and crediting it would
  leave the payments hanging; a person reverses them in Tryton first.
- A job or a sub job is an analytic account. It is deactivated (`active` False), never
  deleted: its analytic entries (the invoice lines tagged with it) and its history stay, and
  Tryton's searches skip it, so a new export of the item finds no account by its code and
  makes a new one. Gone when Tryton has no account of that id or it is inactive already. An
  account with active sub-accounts stays (STILL_THERE): deactivating it would hide accounts
  still in use.
- Tryton refusing the void (a closed period, access rights) is STILL_THERE with its message;
  an unreachable or busy Tryton raises TransientErpError and nothing is decided.
"""

from __future__ import annotations

import datetime
from typing import Any

from erpsync.adapters.base import PermanentErpError, UnlinkOutcome, UnlinkStatus

CREDIT_WIZARD = "wizard.account.invoice.credit"
# Tryton's searches skip inactive records unless the domain names `active` itself.
ANY_ACTIVE = ["active", "in", [True, False]]


class TrytonUnlink:
    """Mixed into TrytonAdapter; uses its JSON-RPC session (call, search_read, _post)."""

    call: Any
    search_read: Any
    login: Any
    _post: Any
    _context: dict[str, Any]

    def unlink(self, kind: str, erp_id: str) -> UnlinkOutcome:
        try:
            record_id = int(erp_id)
        except (TypeError, ValueError):
            return UnlinkOutcome(
                UnlinkStatus.GONE, f"Tryton holds no record {erp_id!r}: it is not a Tryton id."
            )
        if kind == "owner_invoice":
            return self._unlink_invoice(record_id)
        if kind in ("job", "sub_job"):
            return self._unlink_account(record_id)
        raise PermanentErpError(f"The Tryton adapter does not unlink {kind} items.")

    # ----- owner invoices -------------------------------------------------------------------

    def _unlink_invoice(self, invoice_id: int) -> UnlinkOutcome:
        rows = self.search_read(
            "account.invoice",
            [["id", "=", invoice_id]],
            ["state", "number", "payment_lines", "invoice_date"],
            limit=1,
        )
        if not rows:
            return UnlinkOutcome(UnlinkStatus.GONE, f"Tryton has no invoice {invoice_id}.")
        row = rows[0]
        name = f"Tryton invoice {row['number'] or invoice_id}"
        state = row["state"]
        if state == "cancelled":
            return UnlinkOutcome(UnlinkStatus.GONE, f"{name} was already cancelled.")
        if state == "paid" or row["payment_lines"]:
            return UnlinkOutcome(
                UnlinkStatus.STILL_THERE,
                f"{name} is {'paid' if state == 'paid' else 'partly paid'}: Tryton does not "
                "credit an invoice with payments booked against it. Reverse the payments in "
                "Tryton first, then unlink again.",
            )
        try:
            if state in ("draft", "validated"):
                self.call("account.invoice", "cancel", [invoice_id])
                return UnlinkOutcome(UnlinkStatus.VOIDED, f"{name} was not posted: cancelled.")
            credit = self._credit_with_refund(invoice_id, row["invoice_date"])
        except PermanentErpError as refused:
            return UnlinkOutcome(
                UnlinkStatus.STILL_THERE, f"Tryton refused to void {name}: {refused.message}"
            )
        (after,) = self.search_read("account.invoice", [["id", "=", invoice_id]], ["state"])
        if after["state"] != "cancelled":
            return UnlinkOutcome(
                UnlinkStatus.STILL_THERE,
                f"{name} is still {after['state']} after its credit note {credit}.",
            )
        return UnlinkOutcome(
            UnlinkStatus.VOIDED,
            f"{name} was credited with a refund by credit note {credit} and is cancelled.",
        )

    def _credit_with_refund(self, invoice_id: int, on: datetime.date | None) -> str:
        """Run Tryton's Credit wizard with "With Refund" on the posted invoice, as the Credit
        button does in the client; return the credit note's number (or id). The credit note
        is dated as the invoice it cancels: Tryton numbers customer invoices in date order,
        and a credit note dated today would stop the item's next version, dated at its
        billing period's end like the first, from being numbered."""
        self.login()
        context = {
            **self._context,
            "active_model": "account.invoice",
            "active_id": invoice_id,
            "active_ids": [invoice_id],
        }
        session, _start, _end = self._post(f"{CREDIT_WIZARD}.create", [context])
        # The start form's values, then the Credit button.
        data = {"start": {"with_refund": True, "invoice_date": on}}
        try:
            answer = self._post(f"{CREDIT_WIZARD}.execute", [session, data, "credit", context])
        finally:
            self._post(f"{CREDIT_WIZARD}.delete", [session, context])
        credit_ids = _credited_ids(answer)
        if not credit_ids:
            return "(number unknown)"
        rows = self.search_read("account.invoice", [["id", "in", credit_ids]], ["number"])
        return ", ".join(str(r["number"] or r["id"]) for r in rows) or str(credit_ids[0])

    # ----- jobs and sub jobs: analytic accounts ----------------------------------------------

    def _unlink_account(self, account_id: int) -> UnlinkOutcome:
        rows = self.search_read(
            "analytic_account.account",
            [["id", "=", account_id], ANY_ACTIVE],
            ["code", "name", "active"],
            limit=1,
        )
        if not rows:
            return UnlinkOutcome(UnlinkStatus.GONE, f"Tryton has no analytic account {account_id}.")
        row = rows[0]
        name = f"Tryton analytic account {row['code'] or account_id} ({row['name']})"
        if not row["active"]:
            return UnlinkOutcome(UnlinkStatus.GONE, f"{name} was already deactivated.")
        children = self.search_read(
            "analytic_account.account", [["parent", "=", account_id]], ["code"], limit=6
        )
        if children:
            codes = ", ".join(str(c["code"] or c["id"]) for c in children[:5])
            return UnlinkOutcome(
                UnlinkStatus.STILL_THERE,
                f"{name} has active sub-accounts ({codes}{', …' if len(children) > 5 else ''}): "
                "deactivate or move them in Tryton first.",
            )
        try:
            self.call("analytic_account.account", "write", [account_id], {"active": False})
        except PermanentErpError as refused:
            return UnlinkOutcome(
                UnlinkStatus.STILL_THERE, f"Tryton refused to deactivate {name}: {refused.message}"
            )
        return UnlinkOutcome(
            UnlinkStatus.VOIDED, f"{name} was deactivated; its analytic entries are kept."
        )


def _credited_ids(answer: Any) -> list[int]:
    """The credit notes' ids from the wizard's answer: its action's `res_id` data."""
    ids: list[int] = []
    for action in (answer or {}).get("actions") or []:
        if isinstance(action, list) and len(action) > 1 and isinstance(action[1], dict):
            res_id = action[1].get("res_id")
            ids += [int(i) for i in (res_id if isinstance(res_id, list) else [res_id]) if i]
    return ids
