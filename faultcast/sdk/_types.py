"""Types shared by the recovery tools: injectable clocks and sleeps (tests pass fakes)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

#: Seconds from an arbitrary origin, never going backwards (``time.monotonic``).
Clock = Callable[[], float]
#: Blocks for some seconds (``time.sleep``).
Sleep = Callable[[float], None]
#: Waits some seconds without blocking the event loop (``asyncio.sleep``).
AsyncSleep = Callable[[float], Awaitable[None]]

monotonic: Clock = time.monotonic
sleep: Sleep = time.sleep


async def async_sleep(seconds: float) -> None:
    """``asyncio.sleep`` (looked up at call time, so tests may patch it)."""
    import asyncio  # here, not at import: asyncio is most of an import's cost

    await asyncio.sleep(seconds)


class FakeClock:
    """A clock for tests and simulations: time moves only when told (or when "slept").

    Examples
    --------
    >>> clock = FakeClock()
    >>> clock(), clock.sleep(2.5), clock()
    (0.0, None, 2.5)
    >>> import asyncio
    >>> asyncio.run(clock.async_sleep(1.0)); clock.slept
    [2.5, 1.0]
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = float(start)
        #: Every sleep, in order.
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)
