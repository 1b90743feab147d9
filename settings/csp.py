"""The Content-Security-Policy, built from where the page's scripts must connect.

One policy for every page: scripts only from our origin (no inline script), so user
text that ever slipped through as HTML still could not run. connect-src adds the push
nodes' origins (http(s) for SSE, ws(s) for WebSocket).
"""

from urllib.parse import urlsplit


def push_sources(push_urls: list[str]) -> list[str]:
    sources: list[str] = []
    for url in push_urls:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        socket_scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        for source in (origin, f"{socket_scheme}://{parts.netloc}"):
            if source not in sources:
                sources.append(source)
    return sources


def parse_pairs(text: str) -> dict[str, str]:
    """ "sotu=https://a,debate=https://b" -> {"sotu": "https://a", "debate": "https://b"}."""
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {name.strip(): value.strip() for name, value in pairs}


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def policy(push_urls: list[str]) -> dict:
    return {
        "DIRECTIVES": {
            "default-src": ["'self'"],
            "script-src": ["'self'"],
            "style-src": ["'self'"],
            "img-src": ["'self'", "data:"],
            "connect-src": ["'self'", *push_sources(push_urls)],
            "object-src": ["'none'"],
            "base-uri": ["'none'"],
            "form-action": ["'self'"],
            "frame-ancestors": ["'none'"],
            "frame-src": ["'none'"],  # the event dashboard opens it for its video
        }
    }
