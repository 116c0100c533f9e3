"""The tools a project page offers. Each app registers its own tiles in AppConfig.ready(), so
the base app shows them without importing the apps above it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
