"""What the tests and the benchmarks share, so that neither imports the other: the time
unit of waits, free ports, services run as real subprocesses (started, their "listening
on" line read, stopped with SIGTERM then SIGKILL), a throwaway PostgreSQL cluster, the
raw stream handshake of a client that reads its own socket, and browser pages that
follow a room with the scripts tm ships.

    timing.py     TIME_SCALE (TM_TEST_TIME_SCALE) and wait_until
    ports.py      free_port
    services.py   Service: one subprocess, its log, its ports, its stop
    postgres.py   start_cluster: PostgreSQL as production runs it, on a free port
    rawstream.py  a WebSocket or SSE handshake by hand, for clients that own their socket
    pages.py      Page: a browser page following a room, the shipped live.js and feed.js
                  under Node (pages/host.js; `npm ci` in pages/, which make test runs)
"""
