from __future__ import annotations

from typing import Any

from django import template

from erpsync.models import ErpItem, display_name
from erpsync.states import ICONS
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
    """1234.5 → 1,234.50, from a Decimal, never through float."""
    if value is None or value == "":
        return ""
    from decimal import Decimal

    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    whole, cents = f"{abs(amount):.2f}".split(".")
    return f"{sign}${int(whole):,}.{cents}"
