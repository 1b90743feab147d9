"""sotu: the analytics pipeline of tm (ARCHITECTURE.md, Analytics).

Two services over two flatdb instances: the collector (`python -m sotu.collector`), a
reflektor target that counts words and sentiment of posted messages and writes them
to clouddb and tickdb, and pulse (`python -m sotu.pulse`), which streams them to
browsers. Pure cores (`text`, `sentiment`, `analysis`, `scopes`, `buckets`, `feeds`)
sit beside thin aiohttp layers (`collector`, `pulse`, `flatdb_client`). README.md
beside this file is the reference.
"""
