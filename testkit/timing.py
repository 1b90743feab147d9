"""One time unit for waits in tests and benchmarks: raise it on a slow machine
(TM_TEST_TIME_SCALE=3). No test asserts a timing; waits only give up later."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

TIME_SCALE = float(os.environ.get("TM_TEST_TIME_SCALE", "1"))

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.02,
               message: str = "") -> T:
    """Poll `condition` until it returns a truthy value; fail after `timeout` units."""
    deadline = time.monotonic() + timeout * TIME_SCALE
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout} units")
        time.sleep(interval)
