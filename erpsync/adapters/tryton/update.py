"""Capability.UPDATE for Tryton: rename a synced job's or sub job's analytic account.

A job or sub job is an analytic account named "<code> <name>" (erpsync.adapters.tryton), so a
rename writes that name again with the new name. Writing the same name twice changes nothing,
so the update is idempotent by nature: a retry after a lost answer reads the account, finds
the name already there and writes nothing. An owner invoice is a posted invoice, which Tryton
never lets change: it is not among `update_kinds`.
"""

from __future__ import annotations

from typing import Any

from erpsync.adapters.base import PermanentErpError


class TrytonUpdate:
    """Mixed into TrytonAdapter (first, so its `update_kinds` is the adapter's); uses its
    search_read and call."""

    update_kinds = frozenset({"job", "sub_job"})

    search_read: Any
    call: Any

    def update(
        self,
        *,
        kind: str,
        erp_id: str,
        changes: dict[str, str],
        snapshot: dict[str, Any],
        idempotency_key: str,
    ) -> None:
        if kind not in self.update_kinds:
            raise PermanentErpError(f"The Tryton adapter cannot update {kind} records.")
        unknown = set(changes) - {"name"}
        if unknown:
            raise PermanentErpError(
                f"The Tryton adapter can only rename a {kind.replace('_', ' ')}, not change its "
                f"{', '.join(sorted(unknown))}."
            )
        try:
            account_id = int(erp_id)
        except (TypeError, ValueError):
            raise PermanentErpError(f"ERP id {erp_id!r} is not a Tryton id.") from None
        rows = self.search_read(
            "analytic_account.account", [["id", "=", account_id]], ["code", "name"], limit=1
        )
        if not rows:
            raise PermanentErpError(
                f"Tryton has no analytic account {account_id} any more: it was deleted there."
            )
        code = str(rows[0]["code"] or "").strip()
        name = f"{code} {changes.get('name') or snapshot.get('name') or ''}".strip()[:250]
        if rows[0]["name"] == name:
            return  # an earlier try (or a person) already renamed it
        self.call("analytic_account.account", "write", [account_id], {"name": name})
