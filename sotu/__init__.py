"""sotu: the analytics pipeline of tm (ARCHITECTURE.md, Analytics).

One service over two flatdb instances: the collector (`python -m sotu.collector`), a
reflektor target that counts words and sentiment of posted messages, writes them to
clouddb and tickdb, and sends each scope's live charts through reflektor to the push
nodes, which serve them to browsers (`charts`). Pure cores (`text`, `sentiment`,
`analysis`, `scopes`, `buckets`, `feeds`) sit beside thin aiohttp layers (`collector`,
`charts`, `flatdb_client`). README.md beside this file is the reference.
"""
