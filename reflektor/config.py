"""reflektor's settings in one place, with their defaults and why they are what they are.

`reflektor/__main__.py` fills a `Config` from the command line and the environment;
everything else receives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .queue import DEFAULT_MAX_BYTES, DEFAULT_MAX_ITEMS


@dataclass(frozen=True)
class Config:
    targets: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 8100
    # The admin port can pause and drain delivery: it is only ever bound to loopback.
    admin_host: str = field(default="127.0.0.1", init=False)
    admin_port: int = 8101
    queue_cap: int = DEFAULT_MAX_ITEMS  # waiting items per target
    queue_bytes: int = DEFAULT_MAX_BYTES  # waiting bytes per target
    # tm's events are a few KB; a bigger request is a mistake, answered 413.
    max_body: int = 1024 * 1024
    # On SIGTERM: how long to keep delivering before exiting anyway.
    drain_timeout: float = 10.0
    # One attempt, connect to last byte; a timeout counts as a failure and is retried.
    attempt_timeout: float = 5.0
    retry_base: float = 0.05
    retry_max: float = 2.0
    # Matches the receivers' 60 s signature window (contract/signing.py).
    give_up_after: float = 60.0

    def __post_init__(self) -> None:
        # "http://x:1/" and "http://x:1" are one target; the path is appended to it.
        object.__setattr__(self, "targets", tuple(t.rstrip("/") for t in self.targets))
        if not self.targets:
            raise ValueError("no targets: give --target URL or set REFLEKTOR_TARGETS")
        for target in self.targets:
            if not target.startswith(("http://", "https://")):
                raise ValueError(f"target {target!r} is not an http(s) URL")
        if len(set(self.targets)) != len(self.targets):
            raise ValueError("a target is listed twice")
        for name in ("port", "admin_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise ValueError(f"{name} must be from 0 to 65535")
        for name in ("queue_cap", "queue_bytes", "max_body"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("attempt_timeout", "retry_base", "give_up_after"):
            if not getattr(self, name) > 0:  # also refuses nan
                raise ValueError(f"{name} must be more than 0")
        if not self.drain_timeout >= 0:
            raise ValueError("drain_timeout must be 0 or more")
        if not self.retry_max >= self.retry_base:
            raise ValueError("retry_max must be at least retry_base")
