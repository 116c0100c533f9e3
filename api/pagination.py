from __future__ import annotations

from rest_framework.pagination import CursorPagination


class ItemCursor(CursorPagination):
    """Opaque cursors in `next`/`previous`: a page stays right while items are added or change
    state, which numbered pages cannot promise at month-end."""

    ordering = "pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class EventCursor(ItemCursor):
    ordering = "-pk"
