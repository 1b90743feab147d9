"""The contract between tm's services, with no Django: what tm, ekg_py, sotu and flatdb
all stand on, so that none of the services imports tm.

- events.py: the event envelope, its vocabulary and its checks
- names.py: room names, event names, analytics scopes, the event a room feeds
- signing.py: signatures on internal calls, and the follow tickets of the push nodes
- service.py: the aiohttp service shell (serving until SIGTERM, JSON errors, signed
  internal calls and the events they carry, browser origins, SSE headers, start-up
  logging)
- addresses.py: the client's address behind trusted proxies
- logs.py: service logs without client addresses

docs/contracts.md describes every call between the services as built.
"""
