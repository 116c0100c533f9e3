"""The adapter interface: one small class per ERP, chosen per company by key.

An adapter's errors say what should happen next: a TransientErpError is retried,
a PermanentErpError needs a person (it is shown to approvers under Failed to Export).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from projects.models import Company


class ErpError(Exception):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class TransientErpError(ErpError):
    """The ERP could not be reached or asked us to wait: try again later."""


class PermanentErpError(ErpError):
    """The ERP refused the item: retrying the same payload will not help."""


class Adapter:
    key: ClassVar[str]
    label: ClassVar[str]
    # The kinds of item (ErpItem.erp_kind) this ERP can take.
    supports: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, *, company: Company, settings: dict[str, Any] | None = None) -> None:
        self.company = company
        self.settings = dict(settings or {})

    def export(self, *, kind: str, snapshot: dict[str, Any], idempotency_key: str) -> str:
        """Create the item in the ERP (or find what an earlier try made) and return its ERP id."""
        raise NotImplementedError

    def lookup(self, *, kind: str, idempotency_key: str) -> str | None:
        """The ERP id of what an earlier export with this key made, or None."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise an ErpError when the ERP cannot be reached with these settings."""
        raise NotImplementedError
