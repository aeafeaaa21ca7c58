"""How the report writes a value into HTML: escaped text, numbers with a dash for nothing."""

from __future__ import annotations

import html


def escaped(value) -> str:
    return html.escape("" if value is None else str(value))


def number(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"
