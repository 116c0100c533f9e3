"""Decisions from email: the Accept and Reject links in submission and reminder emails
(README, Approval policy → Decisions from email).

A link is a token signed with the SECRET_KEY (django.core.signing, salted for this use only)
that names its recipient (a user id), the item (kind and id), the version the email was
about, the action, a random nonce and when it was made. It opens a confirm page; nothing is
decided before that page's POST, which goes through the tool's own services, so every rule of
the tool holds. A link works once (approvals.models.UsedEmailLink), for
ERP_EMAIL_LINK_MAX_AGE seconds (ERP_EMAIL_LINK_DAYS days), and only while the item still waits
at that version.

Reads only, besides making tokens; the decision is approvals.services.decide_from_email.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.urls import reverse
from django.utils.text import capfirst

from approvals.models import UsedEmailLink
from erpsync.approval import accept_refusals, approval_states, membership_of
from erpsync.kinds import erp_item_model
from erpsync.models import ErpEvent, ErpItem, display_name, when
from erpsync.states import (
    APPROVER_ACTIONS,
    AWAITING_APPROVAL,
    SENDER_ACTIONS,
    ErpState,
)
from projects.permissions import approves_kind

SALT = "approvals.email_links.decision"
ACCEPT = "accept"
REJECT = "reject"
ACTIONS = (ACCEPT, REJECT)
# A token longer than this was not made here (ours are about 150 characters).
TOKEN_MAX = 600

DAMAGED = (
    "This link is damaged or incomplete: part of it may have been lost when it was copied. "
    "Open the email again and click the link, or decide in the ERP Integrations tool."
)
NOT_YOURS = (
    "This link was emailed to someone else: only its recipient can use it. If it was sent to "
    "you under another login, log out and open it again; otherwise decide in the ERP "
    "Integrations tool."
)


class BadLink(ValueError):
    """The token was not made here, or was changed or cut since."""


@dataclass(frozen=True)
class EmailLink:
    user_id: int
    kind: str
    item_id: int
    version: int
    action: str
    nonce: str
    issued_at: int  # Unix seconds

    @property
    def expires_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(
            self.issued_at + settings.ERP_EMAIL_LINK_MAX_AGE, tz=dt.UTC
        )

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) > (
            self.issued_at + settings.ERP_EMAIL_LINK_MAX_AGE
        )

    def model(self) -> type[ErpItem]:
        """The item's model; LookupError for a kind that no longer exists."""
        return erp_item_model(self.kind)


def make_token(user: Any, item: ErpItem, action: str, *, now: float | None = None) -> str:
    if action not in ACTIONS:
        raise ValueError(f"No email link for {action!r}.")
    payload = {
        "u": user.pk,
        "k": item.erp_kind,
        "i": item.pk,
        "v": item.erp_version,
        "a": action,
        "n": secrets.token_urlsafe(12),
        "t": int(time.time() if now is None else now),
    }
    return signing.Signer(salt=SALT).sign_object(payload)


def decision_url(user: Any, item: ErpItem, action: str) -> str:
    path = reverse("email_decision", args=[make_token(user, item, action)])
    return settings.ERPSYNC_BASE_URL.rstrip("/") + path


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_token(token: str) -> EmailLink:
    """The link a token names; BadLink unless it was made here and is whole."""
    if not token or len(token) > TOKEN_MAX or not token.isascii():
        raise BadLink(DAMAGED)
    try:
        payload = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        raise BadLink(DAMAGED) from None
    if not isinstance(payload, dict):
        raise BadLink(DAMAGED)
    fields = (payload.get(k) for k in ("u", "i", "v", "t"))
    kind, action, nonce = payload.get("k"), payload.get("a"), payload.get("n")
    if not (
        all(_whole(v) for v in fields)
        and isinstance(kind, str)
        and action in ACTIONS
        and isinstance(nonce, str)
        and 0 < len(nonce) <= 32
    ):
        raise BadLink(DAMAGED)
    return EmailLink(
        user_id=payload["u"],
        kind=kind,
        item_id=payload["i"],
        version=payload["v"],
        action=action,
        nonce=nonce,
        issued_at=payload["t"],
    )


# ----- which links an email carries ---------------------------------------------------------


def decision_urls(user: Any, items: Sequence[ErpItem]) -> dict[tuple[str, int], dict[str, str]]:
    """{(kind, id): {"accept": url, "reject": url}}: a link for each decision `user` may take
    on each item (of one company) now, as the tool would allow it. An item no longer waiting
    gets none, an approver who may not accept an item (their own, say) only Reject. A few
    queries per kind of item."""
    waiting = [i for i in items if i.erp_state in AWAITING_APPROVAL]
    if user is None or not getattr(user, "is_active", False) or not waiting:
        return {}
    membership = membership_of(user, waiting[0].erp_company)
    if membership is None:
        return {}
    by_kind: dict[str, list[ErpItem]] = defaultdict(list)
    for item in waiting:
        by_kind[item.erp_kind].append(item)
    urls: dict[tuple[str, int], dict[str, str]] = {}
    for kind, group in by_kind.items():
        if not approves_kind(membership, kind):
            continue
        states = approval_states(group)
        for item in group:
            links = {}
            if not accept_refusals(item, user, membership, states[item.pk]):
                links[ACCEPT] = decision_url(user, item, ACCEPT)
            links[REJECT] = decision_url(user, item, REJECT)
            urls[(kind, item.pk)] = links
    return urls


# ----- why a link no longer works -----------------------------------------------------------


@dataclass(frozen=True)
class Obstacle:
    title: str
    reasons: list[str]
    status: int


def last_decision(item: ErpItem) -> ErpEvent | None:
    """The item's latest audit row of a person's action (send, accept, reject…)."""
    return (
        ErpEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(item),
            object_id=item.pk,
            action__in=[*APPROVER_ACTIONS, *SENDER_ACTIONS],
        )
        .select_related("actor")
        .order_by("-id")
        .first()
    )


def _who_did(item: ErpItem) -> str:
    """'Accepted by Pat Approver at 10:02 on 24 Nov 2026.'"""
    event = last_decision(item)
    if event is None:
        label = ErpState(item.erp_state).label
        return f"{label}; last changed by {display_name(item.erp_changed_by)} at " + (
            f"{when(item.erp_changed_at)}."
        )
    return f"{event.done_label} by {event.actor_name} at {when(event.created_at)}."


def used_reason(use: UsedEmailLink) -> str:
    event = use.event
    if event is None:
        return f"This link was already used by {display_name(use.user)} at {when(use.used_at)}."
    return (
        f"This link was already used: {event.done_label} by {event.actor_name} at "
        f"{when(event.created_at)}."
    )


def link_obstacle(link: EmailLink, item: ErpItem, *, now: float | None = None) -> Obstacle | None:
    """Why the link cannot decide now, or None: used, expired, or the item changed since the
    email (another version, or decided, retrieved or resent meanwhile)."""
    name = capfirst(item.erp_name_in(item.erp_company))
    use = (
        UsedEmailLink.objects.filter(nonce=link.nonce)
        .select_related("event__actor", "user")
        .first()
    )
    if use is not None:
        return Obstacle("Link already used", [used_reason(use)], 409)
    if link.expired(now):
        days = settings.ERP_EMAIL_LINK_MAX_AGE / 86400
        period = f"{days:g} days" if days >= 1 else f"{settings.ERP_EMAIL_LINK_MAX_AGE} seconds"
        return Obstacle(
            "Link expired",
            [
                f"This link expired at {when(link.expires_at)}: links in emails work for "
                f"{period}. Open {name} in the ERP Integrations tool to decide there."
            ],
            410,
        )
    state = ErpState(item.erp_state).label
    if item.erp_version != link.version:
        return Obstacle(
            "Changed since the email",
            [
                f"{name} changed since this email, which was about version {link.version}: it "
                f"is now version {item.erp_version} ({state}).",
                f"Last change: {_who_did(item)}",
            ],
            409,
        )
    if item.erp_state not in AWAITING_APPROVAL:
        return Obstacle(
            "Already decided",
            [f"{name} no longer waits for an approver (now {state}).", _who_did(item)],
            409,
        )
    return None
