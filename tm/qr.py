"""QR codes as SVG (segno: pure Python, no image library), in one style."""

from __future__ import annotations

import io

import segno

DARK = "#1f2a37"


def svg(url: str, title: str, scale: int = 8, inline: bool = False) -> str:
    """The QR code of `url` as an SVG document (no XML declaration: fits in a page).
    `inline`: no width and height, a viewBox instead, so the page's CSS sizes it."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=scale, border=2, dark=DARK,
                                    xmldecl=False, title=title, omitsize=inline)
    return buffer.getvalue().decode()
