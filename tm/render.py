"""Message text to HTML: escaped, web links made clickable, nothing else."""

from __future__ import annotations

from html import escape

from bleach.linkifier import PROTO_RE, LinkifyFilter, build_url_re

# bleach finds the links; the escaping is ours. bleach's cleaner leaves anything that
# looks like a character reference alone, so "&lt;" typed by a student came out as "<"
# (and "&#8238;" as a hidden direction override): text must show exactly as typed.
# Only http(s) URLs (and bare domains, as http) become links: never javascript: or data:.
_URL_RE = build_url_re(protocols={"http", "https"})
# Links leave for pages we do not vouch for: no referrer, no window.opener, no SEO.
_LINK_ATTRIBUTES = 'rel="nofollow noopener noreferrer" target="_blank"'


def _text(value: str) -> str:
    return escape(value, quote=False)


def message_html(text: str) -> str:
    parts: list[str] = []
    end = 0
    for match in _URL_RE.finditer(text):
        if text[max(match.start() - 3, 0):match.start()] == "://":
            continue  # the host of an ftp:// or other non-web URL: leave it as text
        # The pattern over-matches brackets and trailing punctuation; bleach's own
        # trimming (it keeps no state) hands those back as plain text.
        url, prefix, suffix = LinkifyFilter.strip_non_url_bits(None, match.group(0))
        scheme = PROTO_RE.search(url)
        href = url[:scheme.end()].lower() + url[scheme.end():] if scheme else f"http://{url}"
        parts += [_text(text[end:match.start()]), _text(prefix),
                  f'<a href="{escape(href)}" {_LINK_ATTRIBUTES}>{_text(url)}</a>',
                  _text(suffix)]
        end = match.end()
    parts.append(_text(text[end:]))
    return "".join(parts)
