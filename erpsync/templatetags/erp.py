from __future__ import annotations

from typing import Any

from django import template

from erpsync.models import ErpItem, display_name
from erpsync.snapshots import format_money
from erpsync.states import ICONS, ErpState
from erpsync.updates import open_update, update_refusals
from projects.terms import term as lookup_term

register = template.Library()


@register.simple_tag(takes_context=True)
def term(context: template.Context, key: str) -> str:
    """The company's word for `key` in its dictionary: {% term "prime_contracts" %}."""
    return lookup_term(context.get("company"), key)


@register.filter
def person(user: Any) -> str:
    """A user's name as display_name gives it: {{ item.erp_sent_by|person }}, never a 500 for
    an account deleted since (it reads "a deleted user")."""
    return display_name(user)


@register.inclusion_tag("erp/icon.html")
def erp_icon(item: ErpItem) -> dict[str, Any]:
    return {"icon": ICONS.get(item.erp_state), "state": item.erp_state}


@register.filter
def money(value: Any) -> str:
    """1234.5 → $1,234.50, from a Decimal, never through float."""
    return format_money(value)


@register.filter
def index(sequence: Any, position: int) -> Any:
    """The item at `position`: {{ table.numeric|index:forloop.counter0 }}."""
    try:
        return sequence[position]
    except (IndexError, KeyError, TypeError):
        return None


@register.simple_tag(takes_context=True)
def item_name(context: template.Context, item: ErpItem) -> str:
    """The item's title in the company's dictionary: {% item_name item %}."""
    company = context.get("company")
    return item.erp_name_in(company) if company is not None else item.erp_title


@register.simple_tag(takes_context=True)
def lock_reason(context: template.Context, item: ErpItem) -> str | None:
    """Why the item cannot be edited, told to the user looking at it."""
    request = context.get("request")
    return item.erp_lock_reason(getattr(request, "user", None))


_UNREAD = object()


def _open_update_state(item: ErpItem) -> str | None:
    state = getattr(item, "erp_update_state", _UNREAD)
    if state is _UNREAD:
        request = open_update(item) if item.erp_state == ErpState.SYNCED else None
        state = request.state if request is not None else None
    return state


@register.simple_tag
def update_state(item: ErpItem) -> str | None:
    """The state of the item's open update request (Ready to Update), None without one: from
    the list's annotation (erpsync.updates.with_update_state), else read for this one item."""
    return _open_update_state(item)


@register.simple_tag
def update_refused(item: ErpItem) -> list[str] | None:
    """Why a synced item's name cannot be changed now (an update request), for a greyed-out
    Edit: [] when it can, None when the item is not synced (its ordinary lock applies). Lists
    annotate `erp_update_state` (erpsync.updates.with_update_state); a page of one item reads
    its open request here. The user's permission is the template's to check."""
    if item.erp_state != ErpState.SYNCED:
        return None
    return [r.message for r in update_refusals(item, _open_update_state(item))]
