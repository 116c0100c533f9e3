"""The pull connector's protocol: claim a batch of accepted items, report each one back.

A company whose adapter declares Capability.PULL (the `connector` adapter) is never exported
to by erpsync: its accepted items wait in an export queue until the company's own connector
takes them through the API (api.connector, README "Pull connector").

- **Claim** (`claim_batch`): up to `limit` accepted items of the company that no live claim
  holds, oldest accepted first, held for `lease_seconds`. Rows are taken with SELECT … FOR
  UPDATE SKIP LOCKED and the live claims are read again once the rows are ours, so two
  connectors claiming at the same moment never get one item.
- **Lease**: a claim nobody reports expires by itself and its items are claimable again; no
  sweeper is needed, expiry is a comparison with the clock.
- **Report** (`report`): one item's outcome for the version that was claimed. `synced` with
  the ERP's id marks it synced; `failed` with the ERP's words marks it Failed to Export, where
  an approver can Retry (back to the queue) or Reject it, as with any ERP.
- **Idempotency**: the connector writes each item under its idempotency key
  (`erpsync:<kind>:<id>:v<version>`), so writing it twice finds the first record. Reporting
  the same outcome again answers the same result and changes nothing; a different ERP id for
  a synced item is refused (409), since the ERP would then hold it twice.
- **Late reports**: a synced report is accepted whenever the item is still accepted at that
  version, whoever holds a claim on it now, even none: the ERP has the record, and a second
  write by whoever claimed it since finds it by the key. A failed report naming its `claim`
  is refused while another connector's live claim holds the item (that claim's report
  decides); a failed report repeating an already reported claim changes nothing.

Each claim and each report that changes an item writes an audit row whose actor is the
connector's user; a synced or failed report also records an ExportAttempt, so the item's
history and the ops commands show it like any export.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from erpsync.adapters import pulls
from erpsync.exports import idempotency_key
from erpsync.kinds import erp_item_model, erp_item_models
from erpsync.models import (
    ClaimOutcome,
    ConnectorClaim,
    ErpEvent,
    ErpItem,
    ExportAttempt,
    ExportOutcome,
    display_name,
    when,
)
from erpsync.selectors import live_connector_claims, lock_unheld_accepted, worker_leases
from erpsync.services import erp_mark_export_failed, erp_mark_synced, storable
from erpsync.states import ErpAction, ErpState
from projects.models import Company
from projects.permissions import administers_erp_tool, company_membership, views_erp_tool

MAX_BATCH = 100
MIN_LEASE_SECONDS = 10
MAX_LEASE_SECONDS = 3600
DEFAULT_LEASE_SECONDS = 300
ERP_ID_MAX = 100  # ErpItem.erp_id
ERROR_MAX = 4000
OUTCOMES = ("synced", "failed")

CONNECTOR_ADMIN_REQUIRED = (
    "Only an Admin of the company's ERP Integrations tool can claim and report items for the "
    "pull connector: its token's user must be one."
)
CONNECTOR_VIEW_REQUIRED = (
    "The pull connector's queue is for users of the company's ERP Integrations tool (Read "
    "Only or more)."
)


class NotAConnectorCompany(Exception):
    """The company's ERP is not reached through a pull connector: there is no queue to pull."""

    status_code = 409

    def __init__(self, company: Company) -> None:
        self.message = (
            f"{company.name} exports through the {company.erp_adapter!r} ERP adapter, not a pull "
            "connector: erpsync exports its accepted items itself. An Admin can switch it to "
            "the connector adapter on the company settings page (or manage.py erp_configure "
            f"--company {company.slug} --adapter connector)."
        )
        super().__init__(self.message)


def require_connector(*, company: Company, user: Any, write: bool = True) -> None:
    """Refuse a connector call for a company without a pull connector, or from a user who may
    not make it (PermissionDenied). Claiming and reporting decide what the ERP holds, as
    erp_configure and the company settings do: Admins of the ERP Integrations tool only.
    Reading the queue: any user of the tool."""
    if not pulls(company):
        raise NotAConnectorCompany(company)
    membership = company_membership(user, company)
    if write and not administers_erp_tool(membership):
        raise PermissionDenied(CONNECTOR_ADMIN_REQUIRED)
    if not write and not views_erp_tool(membership):
        raise PermissionDenied(CONNECTOR_VIEW_REQUIRED)


# ----- claims ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedItem:
    item: ErpItem
    version: int
    idempotency_key: str
    snapshot: dict[str, Any] | None  # exactly what was submitted and accepted


@dataclass(frozen=True)
class Claim:
    token: str
    claimed_at: datetime
    expires_at: datetime
    items: list[ClaimedItem]


def _check_batch(limit: Any, lease_seconds: Any) -> None:
    errors = {}
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_BATCH:
        errors["limit"] = f"Claim between 1 and {MAX_BATCH} items at a time."
    if (
        isinstance(lease_seconds, bool)
        or not isinstance(lease_seconds, int)
        or not MIN_LEASE_SECONDS <= lease_seconds <= MAX_LEASE_SECONDS
    ):
        errors["lease_seconds"] = (
            f"A lease lasts between {MIN_LEASE_SECONDS} and {MAX_LEASE_SECONDS} seconds."
        )
    if errors:
        raise ValidationError(errors)


def _lock_claimable[Item: ErpItem](model: type[Item], company: Company, limit: int) -> list[Item]:
    """Up to `limit` of the company's accepted items of this kind that no live claim holds,
    locked (rows another claimer has locked are skipped). Call inside a transaction."""
    # A company that just switched to its connector: a running export finishes first.
    return lock_unheld_accepted(
        model, company, limit, holds=(live_connector_claims(model), worker_leases(model))
    )


def claim_batch(
    *, company: Company, user: Any, limit: int, lease_seconds: int = DEFAULT_LEASE_SECONDS
) -> Claim:
    """Take up to `limit` accepted items of the company for the connector of `user`, oldest
    accepted first, until `lease_seconds` from now. An empty claim when nothing waits."""
    require_connector(company=company, user=user)
    _check_batch(limit, lease_seconds)
    token = str(uuid.uuid4())
    now = timezone.now()
    expires = now + timedelta(seconds=lease_seconds)
    with transaction.atomic():
        candidates: list[ErpItem] = []
        for model in erp_item_models():
            candidates += _lock_claimable(model, company, limit)
        candidates.sort(key=lambda i: (i.erp_changed_at or now, i.erp_kind, i.pk))
        chosen = candidates[:limit]
        claimed: list[ClaimedItem] = []
        claims: list[ConnectorClaim] = []
        events: list[ErpEvent] = []
        for model in erp_item_models():
            mine = [item for item in chosen if isinstance(item, model)]
            if not mine:
                continue
            content_type = ContentType.objects.get_for_model(model)
            snapshots = ErpEvent.objects.submitted_snapshots(mine)
            for item in mine:
                key = idempotency_key(item)
                claimed.append(ClaimedItem(item, item.erp_version, key, snapshots.get(item.pk)))
                claims.append(
                    ConnectorClaim(
                        token=token,
                        company=company,
                        claimed_by=user,
                        content_type=content_type,
                        object_id=item.pk,
                        version=item.erp_version,
                        idempotency_key=key,
                        claimed_at=now,
                        expires_at=expires,
                    )
                )
                events.append(
                    ErpEvent(
                        content_type=content_type,
                        object_id=item.pk,
                        company=company,
                        action=ErpAction.CONNECTOR_CLAIM,
                        from_state=item.erp_state,
                        to_state=item.erp_state,
                        actor=user,
                        version=item.erp_version,
                        details={"claim": token, "expires_at": expires.isoformat()},
                        created_at=now,
                    )
                )
        ConnectorClaim.objects.bulk_create(claims)
        ErpEvent.objects.bulk_create(events)
    claimed.sort(key=lambda c: (c.item.erp_changed_at or now, c.item.erp_kind, c.item.pk))
    return Claim(token=token, claimed_at=now, expires_at=expires, items=claimed)


# ----- reports --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportResult:
    """What became of one reported item. `status` is the HTTP status it would have on its own:
    200 recorded (or a repeat, `changed` False), 404 no such item of the company, 409 refused
    by the item's state, 422 a report that cannot be read."""

    kind: str
    id: int
    version: int
    status: int
    detail: str
    state: str = ""  # the item's ERP state after the report ("" when there is no such item)
    erp_id: str = ""
    changed: bool = False

    @property
    def ok(self) -> bool:
        return self.status == 200


def _invalid(kind: str, item_id: int, version: int, why: str) -> ReportResult:
    return ReportResult(kind, item_id, version, 422, why)


def _read_report(
    kind: str, item_id: int, version: int, outcome: str, erp_id: str, error: str, claim: str
) -> tuple[type[ErpItem] | None, str]:
    """The kind's model and, when the report cannot be read, why."""
    try:
        model = erp_item_model(kind)
    except LookupError:
        kinds = ", ".join(m.erp_kind for m in erp_item_models())
        return None, f"Unknown kind {kind!r}: use one of {kinds}."
    if outcome not in OUTCOMES:
        return model, f"Unknown status {outcome!r}: report synced or failed."
    if outcome == "synced":
        if not erp_id.strip():
            return model, "A synced report needs the ERP's id of the record (erp_id)."
        if len(erp_id) > ERP_ID_MAX:
            return model, f"Keep the ERP id under {ERP_ID_MAX} characters."
    elif not error.strip():
        return model, "A failed report needs the ERP's words (error): approvers read them."
    elif len(error) > ERROR_MAX:
        return model, f"Keep the error under {ERROR_MAX} characters."
    if claim and _uuid(claim) is None:
        return model, f"{claim!r} is not a claim: send the claim id the claims call answered."
    return model, ""


def report(
    *,
    company: Company,
    user: Any,
    kind: str,
    item_id: int,
    version: int,
    outcome: str,
    erp_id: str = "",
    error: str = "",
    claim: str = "",
) -> ReportResult:
    """Record what the connector did with one claimed item (module docstring: the rules)."""
    require_connector(company=company, user=user)
    model, problem = _read_report(kind, item_id, version, outcome, erp_id, error, claim)
    if model is None or problem:
        return _invalid(kind, item_id, version, problem)
    erp_id, error = storable(erp_id.strip()), storable(error.strip())
    with transaction.atomic():
        item = (
            model.objects.select_for_update(of=("self",))
            .select_related(*model.erp_related)
            .for_company(company)
            .filter(pk=item_id)
            .first()
        )
        if item is None:
            return ReportResult(
                kind, item_id, version, 404, f"No {model.erp_kind_label} {item_id} in this company."
            )
        if outcome == "synced":
            return _synced(item, user=user, version=version, erp_id=erp_id, claim=claim)
        return _failed(item, user=user, version=version, error=error, claim=claim)


def _result(item: ErpItem, version: int, status: int, detail: str, changed: bool) -> ReportResult:
    return ReportResult(
        kind=item.erp_kind,
        id=item.pk,
        version=version,
        status=status,
        detail=detail,
        state=item.erp_state,
        erp_id=item.erp_id,
        changed=changed,
    )


def _version_refusal(item: ErpItem, version: int) -> ReportResult | None:
    if version == item.erp_version:
        return None
    this = f"This {item.erp_kind_label}"
    if version > item.erp_version:
        why = f"{this} has no version {version}: it is at version {item.erp_version}."
    else:
        why = (
            f"{this} is now at version {item.erp_version} "
            f"({ErpState(item.erp_state).label.lower()}): version {version} is no longer the "
            "one to export. If the ERP holds a record of it, remove it there."
        )
    return _result(item, version, 409, why, False)


def _claims_of(item: ErpItem) -> Any:
    return ConnectorClaim.objects.filter(
        content_type=ContentType.objects.get_for_model(item), object_id=item.pk
    )


def _close_claims(item: ErpItem, outcome: ClaimOutcome, now: datetime) -> ConnectorClaim | None:
    """Mark the item's unreported claims reported; the newest of them (the one whose lease the
    attempt is counted from), if any."""
    open_claims = _claims_of(item).filter(reported_at__isnull=True)
    newest = open_claims.order_by("-claimed_at", "-id").first()
    open_claims.update(reported_at=now, outcome=outcome)
    return newest


def _attempt(
    item: ErpItem, claim: ConnectorClaim | None, outcome: ExportOutcome, now: datetime, **kw: str
) -> None:
    key = idempotency_key(item)
    ExportAttempt.objects.create(
        content_type=ContentType.objects.get_for_model(item),
        object_id=item.pk,
        company=item.erp_company,
        version=item.erp_version,
        idempotency_key=key,
        try_number=ExportAttempt.objects.filter(idempotency_key=key).count() + 1,
        outcome=outcome,
        started_at=claim.claimed_at if claim is not None else now,
        finished_at=now,
        **kw,
    )


def _synced(item: ErpItem, *, user: Any, version: int, erp_id: str, claim: str) -> ReportResult:
    if refused := _version_refusal(item, version):
        return refused
    this = f"This {item.erp_kind_label}"
    state = item.erp_state
    if state == ErpState.SYNCED:
        if item.erp_id == erp_id:
            return _result(item, version, 200, f"Already synced as ERP id {erp_id}.", False)
        return _result(
            item,
            version,
            409,
            f"{this} is already synced as ERP id {item.erp_id}: {erp_id} would be a second ERP "
            "record of it. Look the item up by its idempotency key before writing it, and "
            f"remove {erp_id} from the ERP.",
            False,
        )
    if state != ErpState.ACCEPTED:
        return _result(item, version, 409, _not_exporting(item, erp_id), False)
    now = timezone.now()
    held = _close_claims(item, ClaimOutcome.SYNCED, now)
    _attempt(item, held, ExportOutcome.SYNCED, now, erp_id=erp_id)
    synced = erp_mark_synced(item=item, erp_id=erp_id, adapter="connector", user=user, claim=claim)
    return _result(synced, version, 200, f"Synced as ERP id {erp_id}.", True)


def _not_exporting(item: ErpItem, erp_id: str) -> str:
    """Why a synced report for an item that is no longer being exported is refused."""
    this = f"This {item.erp_kind_label}"
    who, at = display_name(item.erp_changed_by), when(item.erp_changed_at)
    if item.erp_state == ErpState.EXPORT_FAILED:
        return (
            f"{this}'s export was reported failed at {at}: an approver must Retry export first. "
            f"The connector then claims it again and finds {erp_id} by its idempotency key."
        )
    if item.erp_state == ErpState.REJECTED:
        return (
            f"{this} was rejected by {who} at {at} after its export failed: the ERP must not "
            f"keep {erp_id}; remove it there."
        )
    return f"{this} is not waiting for the connector (it is {item.erp_state})."


def _failed(item: ErpItem, *, user: Any, version: int, error: str, claim: str) -> ReportResult:
    if refused := _version_refusal(item, version):
        return refused
    this = f"This {item.erp_kind_label}"
    state = item.erp_state
    if state == ErpState.EXPORT_FAILED:
        return _result(item, version, 200, f"Already reported failed: {item.erp_error}", False)
    if state == ErpState.SYNCED:
        return _result(
            item,
            version,
            409,
            f"{this} is already synced as ERP id {item.erp_id}: a failure cannot undo that.",
            False,
        )
    if state != ErpState.ACCEPTED:
        return _result(item, version, 409, f"{this} is not waiting for the connector.", False)
    if claim:
        mine = _claims_of(item).filter(token=_uuid(claim)).order_by("-id").first()
        if mine is not None and mine.reported_at is not None:
            return _result(
                item,
                version,
                200,
                f"This claim was already reported ({mine.outcome}) at {when(mine.reported_at)}; "
                f"{this} has been put back in the queue since.",
                False,
            )
        other = (
            _claims_of(item)
            .filter(reported_at__isnull=True, expires_at__gt=timezone.now())
            .exclude(token=_uuid(claim))
            .order_by("-expires_at")
            .first()
        )
        if other is not None:
            return _result(
                item,
                version,
                409,
                f"Your claim on {item.erp_kind_label} {item.pk} is no longer live: another "
                f"connector run claimed it at {when(other.claimed_at)} until "
                f"{when(other.expires_at)}, and its report decides.",
                False,
            )
    now = timezone.now()
    held = _close_claims(item, ClaimOutcome.FAILED, now)
    _attempt(item, held, ExportOutcome.PERMANENT, now, error=error)
    failed = erp_mark_export_failed(item=item, error=error, user=user, claim=claim)
    return _result(failed, version, 200, "Recorded as Failed to Export.", True)


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(text))
    except ValueError:
        return None
