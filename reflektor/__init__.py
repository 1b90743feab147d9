"""reflektor: the local queueing HTTP proxy between tm and its downstream targets.

tm posts each event here; reflektor answers 202 at once and replays the request, unchanged
(signature included), to every target (ekg push nodes, the sotu collector), each from
its own FIFO queue with retries. Modules:

- queue.py: the pure core (FIFO with caps and overflow, retry schedule, pause/drain marks)
- metrics.py: per-target counters and latency percentiles
- sender.py: one delivery task per target over one aiohttp ClientSession
- server.py: the intake and admin aiohttp apps
- service.py: start, signals, drain, stop
- config.py, __main__.py: settings and the command line

How to run it and the policies it follows: reflektor/README.md.
"""
