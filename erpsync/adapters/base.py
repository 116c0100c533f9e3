"""The adapter interface: one small class per ERP, chosen per company by key.

An adapter's errors say what should happen next: a TransientErpError is retried,
a PermanentErpError needs a person (it is shown to approvers under Failed to Export).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from projects.models import Company


class ErpError(Exception):
    def __init__(self, message: str) -> None:
        # The ERP's words are stored and shown; PostgreSQL text cannot hold NUL.
        self.message = message.replace("\x00", "\ufffd")
        super().__init__(self.message)


class TransientErpError(ErpError):
    """The ERP could not be reached or asked us to wait: try again later."""


class PermanentErpError(ErpError):
    """The ERP refused the item: retrying the same payload will not help."""


# An update of a synced item (Capability.UPDATE) adds `:u<number>` to the key of the version it
# updates; a key without it is an export's, as it always was.
_KEY = re.compile(
    r"erpsync:(?P<kind>[a-z][a-z0-9_]*):(?P<item_id>[0-9]+):v(?P<version>[0-9]+)"
    r"(?::u(?P<update>[0-9]+))?"
)


@dataclass(frozen=True)
class IdempotencyKey:
    """What an export tells the ERP it is: `erpsync:<kind>:<item id>:v<version>`, the same
    for every try of one accepted version. ERPs store it (Tryton as the invoice's reference),
    so it is also how an ERP record is traced back to the item and version that made it."""

    kind: str
    item_id: int
    version: int
    # The number of an update of that synced version (erpsync.updates), None for the export.
    update: int | None = None

    def __str__(self) -> str:
        suffix = f":u{self.update}" if self.update is not None else ""
        return f"{self.item_prefix}{self.version}{suffix}"

    @property
    def item_prefix(self) -> str:
        """What the keys of every version of this item start with."""
        return f"erpsync:{self.kind}:{self.item_id}:v"

    @classmethod
    def parse(cls, text: str) -> IdempotencyKey | None:
        match = _KEY.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            return None
        update = int(match["update"]) if match["update"] is not None else None
        return cls(match["kind"], int(match["item_id"]), int(match["version"]), update)


@dataclass(frozen=True)
class ErpDraft:
    """A record the ERP holds unposted (not booked) that carries an erpsync key."""

    erp_id: str
    reference: str  # the idempotency key as the ERP stores it
    description: str  # for people: what it is, its date and total


class SettingKind(StrEnum):
    """How a setting is entered on the company settings page."""

    TEXT = "text"
    URL = "url"
    NUMBER = "number"  # kept as the text entered; validate_settings says what it accepts
    SECRET = "secret"  # never shown again once saved; masked in the audit log
    JSON = "json"  # a JSON value (e.g. the sandbox's map of items told to fail)


@dataclass(frozen=True)
class SettingField:
    """One setting an adapter reads, as the company settings page offers it. validate_settings
    stays the judge of what is acceptable; this only says how to ask for it."""

    name: str
    label: str
    kind: SettingKind = SettingKind.TEXT
    required: bool = False
    help: str = ""

    @property
    def secret(self) -> bool:
        return self.kind == SettingKind.SECRET


class Capability(StrEnum):
    """What an adapter may do beyond export, lookup and check; each is declared, never
    discovered: callers ask `Adapter.can(capability)`."""

    RECONCILE = "reconcile"
    LIST_DRAFTS = "list drafts"
    # erpsync never pushes: accepted items wait in an export queue that the company's own
    # connector claims and reports on through the API (erpsync.connector). The export worker
    # and the sweeper leave such companies' items alone; export() is never called.
    PULL = "pull"
    # Read a synced record back (Refresh, and the scheduled refresh): its status, and for
    # invoices what the owner has paid.
    FETCH = "fetch"
    # Change a synced record (Ready to Update): e.g. rename a job or sub job. Which kinds it
    # can change is `Adapter.update_kinds`.
    UPDATE = "update"
    # Unlink a synced item: make sure its ERP record is gone, or void it (erpsync.unlink).
    UNLINK = "unlink"
    # Export a batch of accepted items in one call (erpsync.batch_exports): fewer round trips
    # to the ERP. Without it a batch is exported one item at a time through export().
    EXPORT_MANY = "export many"


class ErpStatus(StrEnum):
    """A fetched record's status, in erpsync's words whatever the ERP calls it."""

    DRAFT = "draft"
    POSTED = "posted"
    PAID = "paid"
    CANCELLED = "cancelled"
    DELETED = "deleted"


@dataclass(frozen=True)
class ErpPayment:
    """One payment the ERP booked against an invoice; `reference` tells two payments of the
    same amount on the same day apart (the ERP's own id for it)."""

    on: date
    amount: Decimal
    reference: str

    @property
    def key(self) -> str:
        return f"{self.on.isoformat()}|{self.amount}|{self.reference}"


@dataclass(frozen=True)
class ErpRecord:
    """What Capability.FETCH reads back of one ERP record. `fields` holds what drift is
    judged on, keyed by the snapshot's own dotted paths (e.g. "totals.amount_due"); the
    amounts are for invoices only (None for other kinds)."""

    exists: bool
    status: ErpStatus = ErpStatus.POSTED
    fields: dict[str, str] = field(default_factory=dict)
    amount_paid: Decimal | None = None
    amount_due: Decimal | None = None
    paid_on: date | None = None
    payments: tuple[ErpPayment, ...] = ()


class UnlinkStatus(StrEnum):
    """What Capability.UNLINK found or did to an item's ERP record."""

    GONE = "gone"  # the ERP no longer holds it (deleted, or already voided there)
    VOIDED = "voided"  # the adapter voided it now (cancelled, credited, deactivated)
    STILL_THERE = "still_there"  # it exists and the adapter cannot void it: not unlinked


@dataclass(frozen=True)
class UnlinkOutcome:
    """The answer of `Adapter.unlink`: the status and, in the ERP's terms, what happened or
    why the record must stay (shown to people and kept in the audit row)."""

    status: UnlinkStatus
    detail: str

    @property
    def unlinked(self) -> bool:
        return self.status != UnlinkStatus.STILL_THERE


@dataclass(frozen=True)
class ExportRequest:
    """One item of a batch export (Capability.EXPORT_MANY): what export() takes for one item."""

    kind: str
    snapshot: dict[str, Any]
    idempotency_key: str


# export_many's answer: for each request's idempotency key, the ERP id, or the ErpError that
# item met (transient or permanent, judged per item as for export()).
ExportResults = dict[str, str | ErpError]


class UnsupportedCapability(PermanentErpError):
    """The adapter was asked for a capability it does not declare."""


class Adapter:
    """One ERP. Required: export, lookup and check. Optional: the capabilities it declares in
    `capabilities`, each a method below whose default raises UnsupportedCapability."""

    key: ClassVar[str]
    label: ClassVar[str]
    # The kinds of item (ErpItem.erp_kind) this ERP can take.
    supports: ClassVar[frozenset[str]] = frozenset()
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    # The settings it reads (Company.erp_settings), for the company settings page.
    setting_fields: ClassVar[tuple[SettingField, ...]] = ()
    # Why a capability is not declared, for the greyed-out button that would use it.
    unsupported_reasons: ClassVar[dict[Capability, str]] = {}
    # Capability.UPDATE: the kinds of item whose synced records it can change.
    update_kinds: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, *, company: Company, settings: dict[str, Any] | None = None) -> None:
        self.company = company
        self.settings = dict(settings or {})

    @classmethod
    def can(cls, capability: Capability) -> bool:
        return capability in cls.capabilities

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[str]:
        """Readable problems with `settings` (erp_configure refuses to save them); the default
        accepts anything."""
        return []

    @classmethod
    def cannot(cls, capability: Capability) -> str:
        """Why the adapter cannot do `capability`, in words for a greyed-out button."""
        return cls.unsupported_reasons.get(
            capability, f"The {cls.label} ERP adapter cannot {capability.value}."
        )

    @classmethod
    def can_update(cls, kind: str) -> bool:
        return cls.can(Capability.UPDATE) and kind in cls.update_kinds

    def _unsupported(self, capability: Capability) -> UnsupportedCapability:
        return UnsupportedCapability(self.cannot(capability))

    def export(self, *, kind: str, snapshot: dict[str, Any], idempotency_key: str) -> str:
        """Create the item in the ERP (or find what an earlier try made) and return its ERP id."""
        raise NotImplementedError

    def lookup(self, *, kind: str, idempotency_key: str) -> str | None:
        """The ERP id of what an earlier export with this key made, or None."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise an ErpError when the ERP cannot be reached with these settings."""
        raise NotImplementedError

    # ----- optional capabilities ---------------------------------------------------------

    def can_export_many(self) -> bool:
        """Whether export_many may be called: Capability.EXPORT_MANY, or, for an adapter whose
        ERP says so in the company's settings (the webhook's batch_url), those settings."""
        return self.can(Capability.EXPORT_MANY)

    def export_many(self, items: Sequence[ExportRequest]) -> ExportResults:
        """Capability.EXPORT_MANY: export() for each of `items` in as few calls as the ERP
        allows, with the same promise per key (one record per key; a key seen before answers
        the id of what it made). Every request's key is in the answer. An error that concerns
        the whole call (the ERP cannot be reached) may be raised instead: it then stands for
        every item."""
        raise self._unsupported(Capability.EXPORT_MANY)

    def reconcile(self, kind: str, erp_id: str, snapshot: dict[str, Any]) -> list[str]:
        """Capability.RECONCILE: what differs between the ERP's record `erp_id` and the
        snapshot that was exported (empty when they match)."""
        raise self._unsupported(Capability.RECONCILE)

    def drafts(self) -> list[ErpDraft]:
        """Capability.LIST_DRAFTS: every record the ERP holds unposted whose reference is an
        erpsync key, of any item or version; erp_reconcile tells which no current export
        accounts for (stray drafts)."""
        raise self._unsupported(Capability.LIST_DRAFTS)

    def fetch(self, kind: str, erp_id: str) -> ErpRecord:
        """Capability.FETCH: the ERP's record `erp_id` as it is now; `exists=False` when the
        ERP no longer has it."""
        raise self._unsupported(Capability.FETCH)

    def update(
        self,
        *,
        kind: str,
        erp_id: str,
        changes: dict[str, str],
        snapshot: dict[str, Any],
        idempotency_key: str,
    ) -> None:
        """Capability.UPDATE: change the ERP's record `erp_id` so that `changes` ({field: new
        value}) hold; `snapshot` is the whole item as it will then be. Idempotent by key: a
        second call with the same key (a retry after a lost answer) changes nothing more."""
        raise self._unsupported(Capability.UPDATE)

    def unlink(self, kind: str, erp_id: str) -> UnlinkOutcome:
        """Capability.UNLINK: make sure the ERP's record `erp_id` no longer counts, voiding it
        when the ERP allows; STILL_THERE (with the reason) when it exists and cannot be
        voided. Idempotent: a record voided by an earlier try answers GONE."""
        raise self._unsupported(Capability.UNLINK)


# ----- checks on adapter settings, shared by the adapters that reach an ERP over HTTP --------


def seconds(value: Any, default: float) -> float:
    """A timeout setting as seconds: a finite number above 0, else `default`."""
    if isinstance(value, bool):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) and number > 0 else default


def timeout_problems(value: Any, label: str) -> list[str]:
    """Readable problems with an optional `timeout` setting (unset or blank is fine)."""
    if value is None or value == "" or seconds(value, 0.0) > 0:
        return []
    return [f"The {label} timeout {value!r} must be a number of seconds above 0."]


def url_problems(url: Any, label: str) -> list[str]:
    """Readable problems with an http(s) URL setting that is present and text."""
    if not isinstance(url, str) or not url.strip():
        return []
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return [f"The {label} {url!r} is not a valid URL."]
    if parts.scheme not in ("http", "https"):
        return [f"The {label} {url!r} must start with http:// or https://."]
    if not parts.hostname:
        return [f"The {label} {url!r} has no host."]
    return []
