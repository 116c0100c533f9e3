"""What every form of the pages shares."""

from __future__ import annotations

from typing import Any


class FullInput:
    """Keep what the user typed: browsers cut text to an input's maxlength without a word, so
    the pages send it whole and the server's own check says what is too long (at the field,
    with the limit and the length typed)."""

    fields: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.pop("maxlength", None)
