"""Template tags of the list pages: sortable column headings and page links that keep the
query (projects.listing)."""

from __future__ import annotations

from typing import Any

from django import template

from projects.listing import Listing

register = template.Library()


@register.inclusion_tag("lists/sort_th.html")
def sort_th(listing: Listing | None, key: str, label: str, css: str = "") -> dict[str, Any]:
    """<th> whose heading sorts the list by `key` (ascending, then descending)."""
    if listing is None:
        return {"label": label, "css": css, "href": None, "state": None, "key": key}
    href, state = listing.sort_url(key)
    return {"label": label, "css": css, "href": href, "state": state, "key": key}


@register.simple_tag
def page_url(listing: Listing, number: int) -> str:
    """The list's URL for page N, with its filters."""
    return listing.page_url(number)
