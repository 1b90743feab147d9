"""ekg: the push node. Browsers connect over WebSocket (SSE as fallback); events come
from reflektor on the signed internal API. `rooms.py` is the pure core, `server.py` the
aiohttp layer, `__main__.py` the command line; README.md has the protocol."""
