"""StreamBuffer: nothing lost, nothing duplicated, order kept across sink outages; clear
when full; backpressure; spilling to disk; async."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from faultcast.sdk import BufferFullError, DataError, FakeClock, StreamBuffer, StreamingError


class Sink:
    """Takes records unless down; ``flaky`` makes every n-th call fail even when up."""

    def __init__(self, flaky: int = 0) -> None:
        self.down = False
        self.flaky = flaky
        self.calls = 0
        self.got: list[Any] = []

    def __call__(self, record: Any) -> None:
        self.calls += 1
        if self.down or (self.flaky and self.calls % self.flaky == 0):
            raise ConnectionError("sink unavailable")
        self.got.append(record)


OPS = st.one_of(
    st.just(("write", 0.0)),
    st.just(("down", 0.0)),
    st.just(("up", 0.0)),
    st.just(("flush", 0.0)),
    st.tuples(st.just("tick"), st.floats(0.0, 3.0)),
)


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(OPS, min_size=1, max_size=120),
    capacity=st.integers(1, 12),
    memory_records=st.integers(1, 4),
    spill=st.booleans(),
    flaky=st.sampled_from([0, 0, 3, 5]),
)
def test_nothing_lost_nothing_duplicated_order_kept(
    ops: list[tuple[str, float]], capacity: int, memory_records: int, spill: bool, flaky: int
) -> None:
    clock = FakeClock()
    sink = Sink(flaky)
    with tempfile.TemporaryDirectory() as tmp, capture_logs():
        buffer: StreamBuffer[int] = StreamBuffer(
            sink, capacity=capacity, memory_records=memory_records,
            spill_dir=tmp if spill else None, retry_interval=1.0, clock=clock,
        )  # fmt: skip
        accepted: list[int] = []
        rejected: list[int] = []
        n = 0
        for op, dt in ops:
            if op == "write":
                try:
                    buffer.write(n)
                    accepted.append(n)
                except BufferFullError as e:
                    rejected.append(n)
                    assert e.context["pending"] == capacity
                n += 1
            elif op == "down":
                sink.down = True
            elif op == "up":
                sink.down = False
            elif op == "flush":
                buffer.flush()
            else:
                clock.advance(dt)
            assert buffer.pending <= capacity
            if spill:
                assert buffer.in_memory <= memory_records + 1
            # What the sink has is always a prefix of what was accepted, in order.
            assert sink.got == accepted[: len(sink.got)]
        sink.down, sink.flaky = False, 0
        buffer.flush()
        assert sink.got == accepted  # nothing lost, nothing twice, in order
        assert sorted(accepted + rejected) == list(range(n))
        assert buffer.pending == 0 and buffer.on_disk == 0
        assert buffer.delivered == len(accepted) and buffer.rejected == len(rejected)
        buffer.close()
        assert not any(Path(tmp).iterdir())  # spill files removed


def test_full_buffer_rejects_clearly_and_keeps_what_it_has() -> None:
    sink = Sink()
    sink.down = True
    with capture_logs():
        buffer: StreamBuffer[str] = StreamBuffer(sink, capacity=2, retry_interval=0)
        assert buffer.write("a") is False and buffer.write("b") is False
        with pytest.raises(BufferFullError) as caught:
            buffer.write("c")
        message = str(caught.value)
        assert "full" in message and "2 of 2" in message and "not taken" in message
        assert caught.value.category == "streaming"
        sink.down = False
        assert buffer.flush() == 2
    assert sink.got == ["a", "b"]


def test_block_applies_backpressure_then_gives_up() -> None:
    clock = FakeClock()
    sink = Sink()
    sink.down = True
    with capture_logs():
        buffer: StreamBuffer[int] = StreamBuffer(
            sink, capacity=1, on_full="block", block_timeout=5.0, retry_interval=1.0,
            clock=clock, sleep=clock.sleep,
        )  # fmt: skip
        buffer.write(1)
        with pytest.raises(BufferFullError, match="waited"):
            buffer.write(2)
        assert sum(clock.slept) == pytest.approx(5.0)

        # The sink comes back while a writer waits: the write goes through.
        def recover_after(seconds: float) -> None:
            clock.sleep(seconds)
            sink.down = False

        buffer.sleep = recover_after
        buffer.write(3)
    assert sink.got == [1, 3]


def test_records_spill_to_disk_past_memory_records(tmp_path: Path) -> None:
    sink = Sink()
    sink.down = True
    with capture_logs():
        buffer: StreamBuffer[dict[str, int]] = StreamBuffer(
            sink, capacity=1000, memory_records=10, spill_dir=tmp_path, retry_interval=60
        )
        for i in range(100):
            buffer.write({"i": i})
        assert buffer.pending == 100 and buffer.in_memory <= 11 and buffer.on_disk >= 89
        assert list(tmp_path.rglob("segment-*.bin"))
        sink.down = False
        assert buffer.flush() == 100
    assert [r["i"] for r in sink.got] == list(range(100))
    assert not list(tmp_path.rglob("segment-*.bin"))


def test_a_poison_record_goes_to_dead_letters_not_blocking_the_stream() -> None:
    got: list[int] = []
    down = [True]

    def sink(record: int) -> None:
        if down[0]:
            raise ConnectionError("down")
        if record == 2:
            raise DataError("record 2 does not match the schema")
        got.append(record)

    with capture_logs():
        buffer: StreamBuffer[int] = StreamBuffer(sink, retry_interval=0)
        for i in range(4):
            buffer.write(i)
        down[0] = False
        buffer.flush()
        assert got == [0, 1, 3]
        assert [r for r, _ in buffer.dead_letters] == [2]
        # Written directly, a bad record is the caller's to handle.
        with pytest.raises(DataError):
            buffer.write(2)


def test_recovery_is_logged_as_a_faultcast_event() -> None:
    clock = FakeClock()
    sink = Sink()
    sink.down = True
    with capture_logs() as logs:
        buffer: StreamBuffer[int] = StreamBuffer(sink, retry_interval=0, clock=clock)
        buffer.write(1)
        clock.advance(2.5)
        sink.down = False
        buffer.flush()
    down, back = logs
    assert down["log_level"] == "warning" and down["category"] == "communication"
    assert back["recovery_action"] == "buffer_replay" and back["recovery_outcome"] == "succeeded"
    assert back["recovery_ms"] == pytest.approx(2500.0) and back["failure"] is False


def test_close_refuses_to_drop_pending_records() -> None:
    sink = Sink()
    sink.down = True
    with capture_logs():
        buffer: StreamBuffer[int] = StreamBuffer(sink, spill_dir=True, memory_records=1)
        buffer.write(1)
        buffer.write(2)
        with pytest.raises(StreamingError, match="still holds 2 records"):
            buffer.close()
        buffer.close(drop=True)
    assert buffer.pending == 0


def test_async_sink() -> None:
    got: list[int] = []
    down = [True]

    async def sink(record: int) -> None:
        await asyncio.sleep(0)
        if down[0]:
            raise ConnectionError("down")
        got.append(record)

    async def main() -> None:
        buffer: StreamBuffer[int] = StreamBuffer(sink, capacity=3, retry_interval=0)
        for i in range(3):
            assert await buffer.awrite(i) is False
        with pytest.raises(BufferFullError):
            await buffer.awrite(3)
        down[0] = False
        assert await buffer.awrite(4) is True
        assert await buffer.aflush() == 0

    with capture_logs():
        asyncio.run(main())
    assert got == [0, 1, 2, 4]
    with pytest.raises(TypeError, match="awrite"):
        StreamBuffer(sink).write(1)
