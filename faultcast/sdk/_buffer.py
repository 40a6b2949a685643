"""A bounded buffer in front of a failing sink: keep the records, replay them in order."""

from __future__ import annotations

import contextlib
import inspect
import pickle
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from faultcast.sdk import _types
from faultcast.sdk._errors import BufferFullError, StreamingError, classify
from faultcast.sdk._events import error_fields
from faultcast.sdk._log import get_logger
from faultcast.sdk._types import AsyncSleep, Clock, Sleep

if TYPE_CHECKING:
    import asyncio

__all__ = ["Serializer", "StreamBuffer"]

R = TypeVar("R")

log = get_logger("faultcast.sdk")


class Serializer(Protocol):
    """How spilled records are written to disk (the ``pickle`` module is one)."""

    def dumps(self, obj: Any, /) -> bytes: ...
    def loads(self, data: bytes, /) -> Any: ...


def _is_poison(exc: BaseException) -> bool:
    return classify(exc).category == "data"


class StreamBuffer(Generic[R]):
    """Keep records while a sink fails; replay them in order, once each, when it recovers.

    ``write(record)`` sends a record straight to ``sink`` while nothing is pending.  When the
    sink raises, the record is kept, and so is every record after it (a record never
    overtakes an older one); ``flush()`` (also tried by ``write`` every ``retry_interval``
    seconds) replays them oldest first, removing each only once the sink has returned for it.
    So nothing is lost and nothing is sent twice, given the sink's contract that raising
    means "not written".

    Records past ``memory_records`` spill to segment files under ``spill_dir`` (when given;
    ``True`` means a temporary directory), so a long outage does not grow memory.  At
    ``capacity`` pending records the buffer is full: ``on_full="reject"`` raises
    :class:`~faultcast.sdk.BufferFullError` (the record is not taken; the caller still owns
    it), ``on_full="block"`` applies backpressure: ``write`` waits, retrying the sink, up to
    ``block_timeout`` seconds, then raises.

    A record the sink rejects as bad (a data error, see ``is_poison``) cannot block the
    stream: during a replay it goes to ``dead_letter(record, error)`` (or the
    ``dead_letters`` list); written directly, its error is raised to the caller.

    The sink may be a coroutine function: use :meth:`awrite` / :meth:`aflush` then.

    Examples
    --------
    >>> delivered, down = [], [True]
    >>> def sink(record):
    ...     if down[0]:
    ...         raise ConnectionError("broker unavailable")
    ...     delivered.append(record)
    >>> from structlog.testing import capture_logs
    >>> buffer = StreamBuffer(sink, capacity=100, retry_interval=0)
    >>> with capture_logs() as logs:
    ...     kept = [buffer.write(i) for i in range(3)], buffer.pending
    ...     down[0] = False
    ...     sent = buffer.write(3), delivered, buffer.pending
    >>> kept, sent
    (([False, False, False], 3), (True, [0, 1, 2, 3], 0))
    >>> logs[-1]["recovery_action"], logs[-1]["recovery_outcome"], logs[-1]["replayed"]
    ('buffer_replay', 'succeeded', 4)
    """

    def __init__(
        self,
        sink: Callable[[R], Any],
        *,
        capacity: int = 100_000,
        memory_records: int = 10_000,
        spill_dir: str | Path | bool | None = None,
        on_full: Literal["reject", "block"] = "reject",
        block_timeout: float = 30.0,
        retry_interval: float = 1.0,
        dead_letter: Callable[[R, BaseException], Any] | None = None,
        is_poison: Callable[[BaseException], bool] | None = None,
        serializer: Serializer | None = None,
        name: str = "stream",
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        async_sleep: AsyncSleep | None = None,
    ) -> None:
        if capacity < 1 or memory_records < 1:
            raise ValueError("capacity and memory_records must be at least 1")
        if on_full not in ("reject", "block"):
            raise ValueError(f'on_full must be "reject" or "block", not {on_full!r}')
        self.sink = sink
        self.capacity = capacity
        self.memory_records = memory_records
        self.on_full = on_full
        self.block_timeout = block_timeout
        self.retry_interval = retry_interval
        self.dead_letter = dead_letter
        self.is_poison = is_poison or _is_poison
        self.serializer: Serializer = serializer or pickle
        self.name = name
        self.clock: Clock = clock or _types.monotonic
        self.sleep: Sleep = sleep or _types.sleep
        self.async_sleep: AsyncSleep = async_sleep or _types.async_sleep
        self._owns_dir = False
        self._dir: Path | None = None
        if spill_dir is True:
            self._dir = Path(tempfile.mkdtemp(prefix="faultcast-buffer-"))
            self._owns_dir = True
        elif spill_dir:
            base = Path(spill_dir)
            base.mkdir(parents=True, exist_ok=True)
            self._dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
            self._owns_dir = True
        # Pending records, oldest first: head ++ segments (on disk) ++ tail.
        self._head: deque[R] = deque()
        self._segments: deque[tuple[Path, int]] = deque()
        self._tail: list[R] = []
        self._pending = 0
        self._next_segment = 0
        self._lock = threading.RLock()
        self._alock: asyncio.Lock | None = None
        self._last_attempt = float("-inf")
        self._down_since: float | None = None
        self._down_error: BaseException | None = None
        self._attempts_while_down = 0
        #: Records the sink took, records dead-lettered, records refused as full.
        self.delivered = 0
        self.rejected = 0
        self.dead_letters: list[tuple[R, BaseException]] = []

    # ------------------------------------------------------------------ state
    @property
    def pending(self) -> int:
        """Records kept, waiting for the sink."""
        return self._pending

    @property
    def in_memory(self) -> int:
        """Pending records held in memory."""
        return len(self._head) + len(self._tail)

    @property
    def on_disk(self) -> int:
        """Pending records spilled to disk."""
        return sum(n for _, n in self._segments)

    @property
    def is_full(self) -> bool:
        return self._pending >= self.capacity

    @property
    def healthy(self) -> bool:
        """Whether the sink took the last record offered to it."""
        return self._down_since is None

    # ------------------------------------------------------------------ the queue
    def _push(self, record: R) -> None:
        if self._dir is None or (
            not self._segments and not self._tail and len(self._head) < self.memory_records
        ):
            self._head.append(record)
        else:
            self._tail.append(record)
            if len(self._head) + len(self._tail) > self.memory_records:
                self._spill()
        self._pending += 1

    def _spill(self) -> None:
        assert self._dir is not None
        path = self._dir / f"segment-{self._next_segment:012d}.bin"
        self._next_segment += 1
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(self.serializer.dumps(self._tail))
        tmp.replace(path)
        self._segments.append((path, len(self._tail)))
        self._tail = []

    def _peek(self) -> R:
        if not self._head:
            if self._segments:
                path, _ = self._segments.popleft()
                self._head.extend(self.serializer.loads(path.read_bytes()))
                path.unlink(missing_ok=True)
            else:
                self._head.extend(self._tail)
                self._tail = []
        return self._head[0]

    def _pop(self) -> None:
        self._head.popleft()
        self._pending -= 1

    def _full_error(self, waited: float | None = None) -> BufferFullError:
        self.rejected += 1
        how = (
            f"the sink stayed down for the {waited:.1f} s this write waited"
            if waited is not None
            else "the sink is down"
        )
        return BufferFullError(
            f"stream buffer {self.name!r} is full ({self._pending} of {self.capacity} records "
            f"pending) and {how}; the record was not taken. Retry later, raise capacity, or "
            'use on_full="block" for backpressure',
            context={"buffer": self.name, "pending": self._pending, "capacity": self.capacity},
            cause=self._down_error,
        )

    # ------------------------------------------------------------------ outcomes
    def _sink_failed(self, exc: BaseException, log_event: bool = True) -> None:
        self._last_attempt = self.clock()
        if self._down_since is None:
            self._down_since = self._last_attempt
            self._down_error = exc
            self._attempts_while_down = 0
            if not log_event:
                return
            fields = error_fields(exc, classify(exc), operation=f"stream {self.name}")
            log.warning(
                fields.pop("event"),
                **fields,
                component="stream_buffer",
                buffer=self.name,
                pending=self._pending,
            )
        else:
            self._attempts_while_down += 1

    def _sink_recovered(self, replayed: int) -> None:
        if self._down_since is None:
            return
        error = self._down_error
        down_ms = (self.clock() - self._down_since) * 1000.0
        self._down_since = self._down_error = None
        if error is None:  # pragma: no cover - set together with _down_since
            return
        fields = error_fields(error, classify(error), operation=f"stream {self.name}")
        log.warning(
            fields.pop("event"),
            **fields,
            component="stream_buffer",
            buffer=self.name,
            failure=False,
            recovery_action="buffer_replay",
            recovery_outcome="succeeded",
            retry_count=self._attempts_while_down,
            recovery_ms=round(down_ms, 3),
            replayed=replayed,
        )

    def _due(self) -> bool:
        """Whether to try the sink now: it is healthy, or ``retry_interval`` has passed."""
        return self._down_since is None or (
            self.clock() - self._last_attempt >= self.retry_interval
        )

    def _poisoned(self, record: R, exc: BaseException) -> None:
        if self.dead_letter is not None:
            self.dead_letter(record, exc)
        else:
            self.dead_letters.append((record, exc))

    # ------------------------------------------------------------------ sync
    def write(self, record: R) -> bool:
        """Send or keep one record: True when the sink took it now, False when kept.

        Raises :class:`~faultcast.sdk.BufferFullError` when full (after waiting, with
        ``on_full="block"``), or the sink's own error when it rejects this record as bad and
        nothing is pending.
        """
        with self._lock:
            if self._pending == 0:
                try:
                    self._call_sink(record)
                except Exception as exc:
                    if self.is_poison(exc):
                        if self.dead_letter is None:
                            raise
                        self.dead_letter(record, exc)
                        return False
                    self._push(record)
                    self._sink_failed(exc)
                    return False
                self.delivered += 1
                self._sink_recovered(0)
                return True
            if self.is_full:
                if self.clock() - self._last_attempt >= self.retry_interval:
                    self._flush_locked()
                if self.is_full:
                    self._wait_for_room()
            self._push(record)
            if self._due():
                self._flush_locked()
            return self._pending == 0

    def keep(self, record: R, error: BaseException | None = None) -> None:
        """Keep a record the caller failed to send (``error``), without trying the sink now;
        it is sent, in order, by the next flush.  Raises BufferFullError when full."""
        with self._lock:
            if self.is_full:
                self._wait_for_room()
            self._push(record)
            if error is not None:
                self._sink_failed(error, log_event=False)  # the caller logs it
            else:
                self._last_attempt = self.clock()

    def _wait_for_room(self) -> None:
        if self.on_full == "reject":
            raise self._full_error()
        start = self.clock()
        while True:
            waited = self.clock() - start
            if waited >= self.block_timeout:
                raise self._full_error(waited)
            self.sleep(min(max(self.retry_interval, 0.001), self.block_timeout - waited))
            self._flush_locked()
            if not self.is_full:
                return

    def _call_sink(self, record: R) -> None:
        result = self.sink(record)
        if inspect.isawaitable(result):
            with contextlib.suppress(AttributeError):
                result.close()  # type: ignore[attr-defined]
            raise TypeError("the sink is a coroutine function: use awrite() and aflush() with it")

    def flush(self) -> int:
        """Replay pending records oldest first until the sink fails; returns how many it took."""
        with self._lock:
            return self._flush_locked()

    def _flush_locked(self) -> int:
        done = 0
        while self._pending:
            record = self._peek()
            try:
                self._call_sink(record)
            except Exception as exc:
                if self.is_poison(exc):
                    self._pop()
                    self._poisoned(record, exc)
                    continue
                self._sink_failed(exc)
                return done
            self._pop()
            self.delivered += 1
            done += 1
        self._last_attempt = self.clock()
        self._sink_recovered(done)
        return done

    # ------------------------------------------------------------------ async
    def _async_lock(self) -> asyncio.Lock:
        if self._alock is None:
            import asyncio

            self._alock = asyncio.Lock()
        return self._alock

    async def _acall_sink(self, record: R) -> None:
        result = self.sink(record)
        if inspect.isawaitable(result):
            await result

    async def awrite(self, record: R) -> bool:
        """:meth:`write` for an async sink (or from async code): waits without blocking."""
        async with self._async_lock():
            if self._pending == 0:
                try:
                    await self._acall_sink(record)
                except Exception as exc:
                    if self.is_poison(exc):
                        if self.dead_letter is None:
                            raise
                        self.dead_letter(record, exc)
                        return False
                    with self._lock:
                        self._push(record)
                    self._sink_failed(exc)
                    return False
                self.delivered += 1
                self._sink_recovered(0)
                return True
            if self.is_full:
                if self.clock() - self._last_attempt >= self.retry_interval:
                    await self._aflush_locked()
                if self.is_full:
                    if self.on_full == "reject":
                        raise self._full_error()
                    start = self.clock()
                    while self.is_full:
                        waited = self.clock() - start
                        if waited >= self.block_timeout:
                            raise self._full_error(waited)
                        await self.async_sleep(
                            min(max(self.retry_interval, 0.001), self.block_timeout - waited)
                        )
                        await self._aflush_locked()
            with self._lock:
                self._push(record)
            if self._due():
                await self._aflush_locked()
            return self._pending == 0

    async def aflush(self) -> int:
        """:meth:`flush` for an async sink."""
        async with self._async_lock():
            return await self._aflush_locked()

    async def _aflush_locked(self) -> int:
        done = 0
        while self._pending:
            with self._lock:
                record = self._peek()
            try:
                await self._acall_sink(record)
            except Exception as exc:
                if self.is_poison(exc):
                    with self._lock:
                        self._pop()
                    self._poisoned(record, exc)
                    continue
                self._sink_failed(exc)
                return done
            with self._lock:
                self._pop()
            self.delivered += 1
            done += 1
        self._last_attempt = self.clock()
        self._sink_recovered(done)
        return done

    # ------------------------------------------------------------------ lifetime
    def close(self, *, drop: bool = False) -> None:
        """Flush, then remove the spill files.  Raises StreamingError when records are still
        pending (the sink is down), unless ``drop=True`` says to discard them."""
        with self._lock:
            if self._pending and not inspect.iscoroutinefunction(self.sink):
                self._flush_locked()
            if self._pending and not drop:
                raise StreamingError(
                    f"stream buffer {self.name!r} still holds {self._pending} records the sink "
                    "has not taken; flush() when it is back, or close(drop=True) to discard them",
                    context={"buffer": self.name, "pending": self._pending},
                )
            self._head.clear()
            self._tail = []
            self._segments.clear()
            self._pending = 0
            if self._owns_dir and self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> StreamBuffer[R]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"StreamBuffer({self.name!r}, pending={self._pending}, capacity={self.capacity}, "
            f"on_disk={self.on_disk})"
        )
