"""Message text to HTML: escaped, web links made clickable, nothing else."""

from __future__ import annotations

from functools import partial

import bleach
from bleach.linkifier import LinkifyFilter


def _link_attributes(attrs: dict, new: bool = False) -> dict:
    # Links leave for pages we do not vouch for: no referrer, no window.opener, no SEO.
    attrs[(None, "rel")] = "nofollow noopener noreferrer"
    attrs[(None, "target")] = "_blank"
    return attrs


# tags=set(): every tag the user typed comes out escaped; LinkifyFilter then adds <a>
# only for http(s) URLs, so javascript: and data: never become links.
_cleaner = bleach.sanitizer.Cleaner(
    tags=set(),
    attributes={},
    protocols={"http", "https"},
    strip=False,
    filters=[partial(LinkifyFilter, callbacks=[_link_attributes], parse_email=False,
                     skip_tags={"pre", "code"})],
)


def message_html(text: str) -> str:
    return _cleaner.clean(text)
