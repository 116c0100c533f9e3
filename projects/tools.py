"""The tools a project page offers. Each app registers its own tiles in AppConfig.ready(), so
the base app shows them without importing the apps above it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.urls import reverse

if TYPE_CHECKING:
    from projects.access import ProjectAccess
    from projects.models import Company


@dataclass(frozen=True)
class ToolTile:
    key: str
    order: int
    url_name: str  # takes the project's id
    title: Callable[[Company], str]
    description: Callable[[Company], str]
    visible: Callable[[ProjectAccess], bool]


_tiles: dict[str, ToolTile] = {}


def register_tile(tile: ToolTile) -> None:
    _tiles[tile.key] = tile


def tiles_for(access: ProjectAccess) -> list[tuple[str, str, str]]:
    """(title, url, description) of each tool the user may open, in order."""
    company = access.project.company
    return [
        (t.title(company), reverse(t.url_name, args=[access.project.pk]), t.description(company))
        for t in sorted(_tiles.values(), key=lambda t: (t.order, t.key))
        if t.visible(access)
    ]


# A panel on the project page itself (the project's ERP job, say): (template, context), or None
# when this user sees none. Registered like tiles, so this app never imports the one showing it.
ProjectPanel = Callable[["ProjectAccess"], tuple[str, dict[str, Any]] | None]
_panels: dict[str, ProjectPanel] = {}


def register_panel(key: str, panel: ProjectPanel) -> None:
    _panels[key] = panel


def panels_for(access: ProjectAccess) -> list[tuple[str, dict[str, Any]]]:
    """(template, context) of each panel the user sees on the project page, by key."""
    shown = (_panels[key](access) for key in sorted(_panels))
    return [panel for panel in shown if panel is not None]
