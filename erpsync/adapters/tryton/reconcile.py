"""Capability.RECONCILE and Capability.LIST_DRAFTS for Tryton: how a synced record differs
from what was exported, and the draft customer invoices that carry an erpsync key."""

from __future__ import annotations

from typing import Any

from erpsync.adapters.base import ErpDraft
from erpsync.adapters.tryton.money import CENT, money


class TrytonReconcile:
    """Mixed into TrytonAdapter; uses its search_read and company_id."""

    search_read: Any
    company_id: int
    INVOICE_FIELDS: list[str]

    def drafts(self) -> list[ErpDraft]:
        """Every draft customer invoice of the company whose reference is an erpsync key."""
        rows = self.search_read(
            "account.invoice",
            [
                ["reference", "like", "erpsync:%"],
                ["type", "=", "out"],
                ["company", "=", self.company_id],
                ["state", "=", "draft"],
            ],
            ["reference", "invoice_date", "total_amount"],
        )
        return [
            ErpDraft(
                erp_id=str(row["id"]),
                reference=row["reference"],
                description=(
                    f"draft customer invoice {row['id']} dated {row['invoice_date'] or '-'} "
                    f"totalling {row['total_amount']}"
                ),
            )
            for row in rows
            # LIKE ignores case on some databases: keep what really starts with the prefix.
            if str(row["reference"] or "").startswith("erpsync:")
        ]

    def reconcile(self, kind: str, erp_id: str, snapshot: dict[str, Any]) -> list[str]:
        """How the ERP's record differs from what we exported; empty when they agree."""
        try:
            record_id = int(erp_id)
        except (TypeError, ValueError):
            return [f"ERP id {erp_id!r} is not a Tryton id."]
        if kind == "owner_invoice":
            rows = self.search_read(
                "account.invoice", [["id", "=", record_id]], self.INVOICE_FIELDS, limit=1
            )
            if not rows:
                return [f"Tryton has no invoice {record_id}."]
            row, problems = rows[0], []
            if row["state"] not in ("posted", "paid"):
                problems.append(f"Tryton invoice {record_id} is {row['state']}, not posted.")
            expected = money((snapshot.get("totals") or {}).get("amount_due", "0"), "amount due")
            if row["total_amount"].quantize(CENT) != expected.quantize(CENT):
                problems.append(
                    f"Tryton invoice {row.get('number') or record_id} totals "
                    f"{row['total_amount']}, ours {expected}."
                )
            return problems
        if kind in ("sub_job", "job"):
            rows = self.search_read(
                "analytic_account.account", [["id", "=", record_id]], ["code"], limit=1
            )
            if not rows:
                return [f"Tryton has no analytic account {record_id}."]
            code = str(snapshot.get("code" if kind == "sub_job" else "number") or "")
            if rows[0]["code"] != code:
                return [
                    f"Tryton analytic account {record_id} has code {rows[0]['code']!r}, "
                    f"ours {code!r}."
                ]
            return []
        return [f"The Tryton adapter does not reconcile {kind} items."]
