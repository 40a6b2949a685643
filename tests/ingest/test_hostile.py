"""Hostile input (issue 14): no chunk crashes the parse, nothing is lost, every odd input gets a
clear reason or error.  Each test checks the exact counts in the store and
``read == stored + duplicates + quarantined``."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import threading
from pathlib import Path

import pytest
from faultcast.ingest import IngestError, Ingestor, Limits, Store
from faultcast.ingest._lines import TRUNCATED_RAW_BYTES, iter_chunks
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

BASE = 1_767_225_600  # 2026-01-01T00:00:00Z


def good(i: int, **extra: object) -> bytes:
    return json.dumps({"timestamp": BASE + i, "event": f"request {i} failed", **extra}).encode()


def counts(store: Store) -> tuple[int, int]:
    c = store.counts()
    return c["events"], c["quarantined"]


def run(store: Store, path: Path, **kwargs: object) -> tuple[int, int, int, int]:
    """Ingest ``path``; the report's (read, stored, duplicates, quarantined), checked balanced."""
    chunk_bytes = kwargs.pop("chunk_bytes", None)
    limits = kwargs.pop("limits", Limits())
    report = Ingestor(store, chunk_bytes=chunk_bytes, limits=limits).run(  # type: ignore[arg-type]
        [path],
        **kwargs,  # type: ignore[arg-type]
    )
    assert report.read == report.stored + report.duplicates + report.quarantined
    return report.read, report.stored, report.duplicates, report.quarantined


def quarantine(store: Store) -> list[tuple[int, str, str]]:
    df = store.query_df(
        "SELECT source_offset, raw, reason FROM store.quarantine ORDER BY source_offset"
    )
    return list(df.itertuples(index=False, name=None))


# -- 1. a chunk with no good line ------------------------------------------------------------
POISON = {
    "invalid UTF-8": b"\xff\xfe not text",
    "NUL": b'{"event": "x\x00y", "timestamp": 1767225600}',
    "both": b"\x00\xff",
}


@pytest.mark.parametrize("kind", sorted(POISON))
def test_a_file_of_one_poison_line_is_quarantined_and_checkpointed(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "one.jsonl"
    path.write_bytes(POISON[kind] + b"\n" + POISON["invalid UTF-8"] + b"\n")
    with Store(tmp_path / "s.duckdb") as store:
        assert run(store, path, format="json") == (2, 0, 0, 2)
        assert counts(store) == (0, 2)
        reasons = [r for _, _, r in quarantine(store)]
        assert reasons[0].startswith("NUL byte" if kind != "invalid UTF-8" else "invalid UTF-8")
        # The checkpoint moved past them: the next run reads nothing.
        assert run(store, path, format="json") == (0, 0, 0, 0)
        assert counts(store) == (0, 2)


def test_a_text_log_of_one_poison_line_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "one.log"
    path.write_bytes(b"2026-01-01 00:00:01 INFO ok \xff\n")
    with Store(tmp_path / "s.duckdb") as store:
        fmt = "<Date> <Time> <Level> <Content>"
        assert run(store, path, format="text", log_format=fmt) == (1, 0, 0, 1)
        assert counts(store) == (0, 1)


def test_a_poison_line_appended_alone_to_a_followed_file(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(good(0) + b"\n")
    with Store(tmp_path / "s.duckdb") as store:
        follower = Ingestor(store).follower([path])
        try:
            assert follower.poll().stored == 1
            with open(path, "ab") as f:
                f.write(b"\xff\x00 poison\n")
            polled = follower.poll()
            assert (polled.read, polled.stored, polled.quarantined) == (1, 0, 1)
            with open(path, "ab") as f:
                f.write(good(1) + b"\n")
            assert follower.poll().stored == 1
        finally:
            follower.close()
        assert follower.report.balanced
        assert counts(store) == (2, 1)


@pytest.mark.parametrize("message", [b"\xff\xfe", b"\x00", None, b"x" * 70_000])
def test_one_poison_message_alone_is_quarantined(tmp_path: Path, message: bytes | None) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        ingestor = Ingestor(store, limits=Limits(max_line_bytes=65_536))
        result = ingestor.ingest_lines([message], source="kafka:t:0", offsets=[41])
        assert (result.report.read, result.report.stored, result.report.quarantined) == (1, 0, 1)
        assert [offset for offset, _ in result.quarantined] == [41]
        assert counts(store) == (0, 1)
        again = ingestor.ingest_lines([message], source="kafka:t:0", offsets=[41]).report
        assert (again.read, again.quarantined, again.duplicates) == (1, 0, 1)
        assert counts(store) == (0, 1)


# -- 1. lines over the limit never reach DuckDB ------------------------------------------------
@pytest.mark.parametrize("chunk_bytes", [16 * 1024, 4 * 1024 * 1024])
def test_over_long_line_quarantined_truncated_and_the_next_line_stored(
    tmp_path: Path, chunk_bytes: int
) -> None:
    """Longer than a chunk (streamed past, never held whole) and within one chunk."""
    big = b'{"event": "big", "timestamp": 1767225600, "blob": "' + b"y" * 300_000 + b'"}'
    path = tmp_path / "big.jsonl"
    path.write_bytes(good(0) + b"\n" + big + b"\r\n" + good(1) + b"\n")
    limits = Limits(max_line_bytes=64 * 1024)
    with Store(tmp_path / "s.duckdb") as store:
        assert run(store, path, limits=limits, chunk_bytes=chunk_bytes) == (3, 2, 0, 1)
        assert counts(store) == (2, 1)
        [(offset, raw, reason)] = quarantine(store)
        assert offset == 2
        assert raw == big[:TRUNCATED_RAW_BYTES].decode()
        assert reason.startswith(f"line too long: {len(big)} bytes; the limit is 65536")
        assert hashlib.sha256(big).hexdigest() in reason
        assert run(store, path, limits=limits, chunk_bytes=chunk_bytes) == (0, 0, 0, 0)


def test_over_long_invalid_utf8_line_is_reported_as_too_long(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"\xff" * 5000 + b"\n")
    with Store(tmp_path / "s.duckdb") as store:
        assert run(store, path, format="json", limits=Limits(max_line_bytes=1000)) == (1, 0, 0, 1)
        [(_, raw, reason)] = quarantine(store)
    assert reason.startswith("line too long: 5000 bytes")
    assert raw == "\\xff" * TRUNCATED_RAW_BYTES


def test_unfinished_over_long_line_of_a_followed_file_waits(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(good(0) + b"\n" + b'{"blob": "' + b"z" * 50_000)
    with Store(tmp_path / "s.duckdb") as store:
        ingestor = Ingestor(store, chunk_bytes=8192, limits=Limits(max_line_bytes=10_000))
        follower = ingestor.follower([path])
        try:
            first = follower.poll()
            assert (first.read, first.stored, first.quarantined) == (1, 1, 0)
            with open(path, "ab") as f:
                f.write(b'"}\n' + good(1) + b"\n")
            second = follower.poll()
            assert (second.read, second.stored, second.quarantined) == (2, 1, 1)
        finally:
            follower.close()
        assert counts(store) == (2, 1)


@settings(max_examples=60, deadline=None)
# A CRLF split across two reads past the limit: the CR is not part of the line.
@example(
    lengths=[0, 0, 0, 0, 0, 0, 109, 0], chunk_bytes=64, limit=10, crlf=True, last_newline=False
)
@given(
    lengths=st.lists(st.integers(0, 3000), min_size=1, max_size=12),
    chunk_bytes=st.integers(64, 4096),
    limit=st.integers(10, 2000),
    crlf=st.booleans(),
    last_newline=st.booleans(),
)
def test_chunks_keep_every_line_and_cut_only_the_over_long(
    lengths: list[int], chunk_bytes: int, limit: int, crlf: bool, last_newline: bool
) -> None:
    lines = [(b"%d:" % i + b"a" * n)[: max(n, 1)] for i, n in enumerate(lengths)]
    end = b"\r\n" if crlf else b"\n"
    data = b"".join(line + end for line in lines)
    if not last_newline:
        data = data[: -len(end)]  # the input ends inside its last line: it is taken as is
    got: dict[int, tuple[str, str | None]] = {}
    for chunk in iter_chunks(io.BytesIO(data), chunk_bytes=chunk_bytes, max_line_bytes=limit):
        for n, text in zip(chunk.line_numbers.to_pylist(), chunk.lines.to_pylist(), strict=True):
            got[n] = (text, None)
        for b in chunk.bad:
            got[b.line_no] = (b.raw, b.reason)
    assert sorted(got) == list(range(1, len(lines) + 1))
    for n, line in enumerate(lines, start=1):
        text, reason = got[n]
        if len(line) > limit:
            assert text == line[:TRUNCATED_RAW_BYTES].decode()
            assert reason is not None
            assert reason.startswith(f"line too long: {len(line)} bytes; the limit is {limit}")
            assert hashlib.sha256(line).hexdigest() in reason
        else:
            assert (text, reason) == (line.decode(), None)


# -- 4. nothing lost ---------------------------------------------------------------------------
def test_half_written_last_line_waits_for_the_next_run(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    second = good(1)
    path.write_bytes(good(0) + b"\n" + second[:20])
    with Store(tmp_path / "s.duckdb") as store:
        assert run(store, path) == (1, 1, 0, 0)
        assert run(store, path) == (0, 0, 0, 0)  # still unfinished: still waits
        with open(path, "ab") as f:
            f.write(second[20:] + b"\n")
        assert run(store, path) == (1, 1, 0, 0)
        assert counts(store) == (2, 0)
        offsets = store.query_df("SELECT source_offset FROM store.events ORDER BY 1")
    assert offsets["source_offset"].tolist() == [1, 2]


def test_complete_last_line_without_newline_is_read(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(good(0) + b"\n" + good(1))
    log = tmp_path / "app.log"
    # A text line has no end marker: taken (Loghub's files end so).
    log.write_bytes(b"2026-01-01 10:00:00 INFO one\n2026-01-01 10:00:01 ERROR two")
    with Store(tmp_path / "s.duckdb") as store:
        assert run(store, path) == (2, 2, 0, 0)
        assert run(store, log, log_format="<Date> <Time> <Level> <Content>") == (2, 2, 0, 0)
        assert counts(store) == (4, 0)


def test_empty_or_blank_event_id_is_missing(tmp_path: Path) -> None:
    blanks = ["", " ", "  ", "\t", " \n "]
    lines = [good(i, event_id=blanks[i % len(blanks)]) for i in range(15)]
    lines += [good(100, event_id="given-1"), good(101, event_id="given-1")]
    path = tmp_path / "ids.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with Store(tmp_path / "s.duckdb") as store:
        assert run(store, path) == (17, 16, 1, 0)
        assert run(store, path, from_start=True) == (17, 0, 17, 0)
        assert counts(store) == (16, 0)
        ids = store.query_df("SELECT event_id FROM store.events")["event_id"]
    assert "given-1" in set(ids) and not any(i.strip() == "" for i in ids)


def test_repeated_keys_keep_every_value(tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    path.write_bytes(
        b'{"timestamp": 1767225600, "event": "first", "event": "second", "user": "a", '
        b'"user": "b", "user#2": "c", "user": "d"}\n' + good(1) + b"\n"
    )
    with Store(tmp_path / "s.duckdb") as store:
        assert run(store, path) == (2, 2, 0, 0)
        row = store.query_df(
            'SELECT message, "user", attrs FROM store.events WHERE source_offset = 1'
        ).iloc[0]
    assert row["message"] == "first" and row["user"] == "a"
    assert json.loads(row["attrs"]) == {
        "event#2": "second",
        "user": "a",
        "user#2": "c",
        "user#3": "b",
        "user#4": "d",
    }


EPOCHS = [
    (1_767_225_600, "2026-01-01 00:00:00"),  # seconds
    (1_767_225_600.5, "2026-01-01 00:00:00.5"),
    (1_767_225_600_123, "2026-01-01 00:00:00.123"),  # milliseconds
    (1_767_225_600_123_456, "2026-01-01 00:00:00.123456"),  # microseconds
    (1_767_225_600_123_456_789, "2026-01-01 00:00:00.123457"),  # nanoseconds
    ("1767225600", "2026-01-01 00:00:00"),
    (253_402_300_800, None),  # year 10000 in seconds: not 1978 in milliseconds
    ("253402300800", None),
    (99_999_999_999, None),  # 11 digits: no unit
    (7_258_118_401, None),  # past 2200 in seconds
    (10**22, None),
    (1e300, None),
]


@pytest.mark.parametrize(("value", "expected"), EPOCHS)
def test_epochs_out_of_range_for_every_unit_are_quarantined(
    tmp_path: Path, value: float | str, expected: str | None
) -> None:
    path = tmp_path / "epoch.jsonl"
    path.write_bytes(json.dumps({"timestamp": value, "event": "x"}).encode() + b"\n")
    with Store(tmp_path / "s.duckdb") as store:
        if expected is None:
            assert run(store, path) == (1, 0, 0, 1)
            [(_, _, reason)] = quarantine(store)
            assert reason.startswith('field "timestamp" out of range: ')
            assert "between 1970 and 2200" in reason
        else:
            assert run(store, path) == (1, 1, 0, 0)
            ts = store.query_df(
                "SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f') AS t FROM store.events"
            )
            assert ts["t"][0].rstrip("0").rstrip(".") == expected


COUNTS = [
    (3, 3, None),
    (3.0, 3, None),
    (2**31 - 1, 2**31 - 1, None),
    (3.5, None, 'field "retry_count" must be a whole number, got a fraction: the number 3.5'),
    (2**31, None, 'field "retry_count" out of range: the number 2147483648 is over 2147483647'),
    (2**64, None, 'field "retry_count" out of range: the number 18446744073709551616 is over'),
    (-1, None, 'field "retry_count" must be a whole number >= 0, got the number -1'),
]


@pytest.mark.parametrize(("value", "stored", "reason"), COUNTS)
def test_counts_are_whole_and_in_range(
    tmp_path: Path, value: float, stored: int | None, reason: str | None
) -> None:
    path = tmp_path / "count.jsonl"
    path.write_bytes(good(0, retry_count=value) + b"\n" + good(1) + b"\n")
    with Store(tmp_path / "s.duckdb") as store:
        if reason is None:
            assert run(store, path) == (2, 2, 0, 0)
            got = store.query_df("SELECT retry_count FROM store.events WHERE source_offset = 1")
            assert int(got["retry_count"][0]) == stored
        else:
            assert run(store, path) == (2, 1, 0, 1)
            [(_, _, why)] = quarantine(store)
            assert why.startswith(reason)


def test_invalid_json_reason_says_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"event": "abc\n{"event": "x" "y"}\n')
    with Store(tmp_path / "s.duckdb") as store:
        assert run(store, path, format="json") == (2, 0, 0, 2)
        reasons = [r for _, _, r in quarantine(store)]
    assert reasons[0] == "invalid JSON: Unterminated string starting at column 11"
    assert reasons[1] == "invalid JSON: Expecting ',' delimiter at column 15"
    assert not any("at at" in r for r in reasons)


# -- 4. damaged .gz and files that are not files ------------------------------------------------
def _gz_lines(n: int) -> bytes:
    return b"".join(good(i, pad="p" * 200) + b"\n" for i in range(n))


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_gzip_keeps_the_good_part_and_names_file_and_offset(
    tmp_path: Path, damage: str
) -> None:
    packed = gzip.compress(_gz_lines(4000), compresslevel=1)
    path = tmp_path / "app.jsonl.gz"
    if damage == "truncated":
        path.write_bytes(packed[: len(packed) // 2])
    else:  # the trailer's CRC: every line decompresses, the check at the end fails
        path.write_bytes(packed[:-8] + bytes(b ^ 0xFF for b in packed[-8:-4]) + packed[-4:])
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(IngestError) as caught:
            run(store, path)
        message = str(caught.value)
        assert str(path) in message and "byte" in message
        assert ("truncated" if damage == "truncated" else "corrupt") in message
        events, quarantined = counts(store)
        run_row = store.query_df(
            "SELECT read, stored, duplicates, quarantined FROM store.ingest_runs"
        ).iloc[0]
    assert run_row["read"] == run_row["stored"] + run_row["duplicates"] + run_row["quarantined"]
    assert (run_row["stored"], run_row["quarantined"]) == (events, quarantined)
    if damage == "corrupt":
        assert (events, quarantined) == (4000, 0)
    else:
        assert events > 1000 and quarantined <= 1  # at most the line cut in half
        assert f"the {events + quarantined} lines before it are ingested" in message


def test_fifo_is_read_like_stdin_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    payload = b"".join(good(i) + b"\n" for i in range(50))

    def write() -> None:
        with open(fifo, "wb") as f:
            f.write(payload)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    with Store(tmp_path / "s.duckdb") as store:
        assert run(store, fifo) == (50, 50, 0, 0)  # format auto: no sniff of the FIFO's head
        assert counts(store) == (50, 0)
        with pytest.raises(IngestError, match="--follow tails plain files"):
            run(store, fifo, follow=True)
    writer.join(5)


@pytest.mark.parametrize("kind", ["directory", "device", "loop", "dangling", "missing"])
def test_paths_that_are_not_files_say_what_they_are(tmp_path: Path, kind: str) -> None:
    path: Path | str
    expected = {
        "directory": "is a directory",
        "device": "is a character device, not a file",
        "loop": "is a loop of symbolic links",
        "dangling": "which does not exist",
        "missing": "no such file",
    }[kind]
    if kind == "directory":
        path = tmp_path
    elif kind == "device":
        path = "/dev/null"
    elif kind == "loop":
        path = tmp_path / "a.jsonl"
        os.symlink(tmp_path / "b.jsonl", path)
        os.symlink(path, tmp_path / "b.jsonl")
    elif kind == "dangling":
        path = tmp_path / "a.jsonl"
        os.symlink(tmp_path / "gone.jsonl", path)
    else:
        path = tmp_path / "missing.jsonl"
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(IngestError) as caught:
            Ingestor(store).run([path])
        assert not store.exists() or counts(store) == (0, 0)
    assert str(path) in str(caught.value) and expected in str(caught.value)


# -- all of it at once: exact counts over any mix -------------------------------------------------
#: (line, stored, quarantined): what each hostile line must come to.
CATALOGUE: list[tuple[bytes, int, int]] = [
    (good(0), 1, 0),
    (b"\xff\xfe", 0, 1),
    (b'{"event": "nul \x00"}', 0, 1),
    (b"", 0, 1),
    (b"   ", 0, 1),
    (b'{"event": "long", "timestamp": 1767225600, "blob": "' + b"q" * 5000 + b'"}', 0, 1),
    (good(1, retry_count=3.5), 0, 1),
    (good(2, retry_count=2**31), 0, 1),
    (json.dumps({"timestamp": 253_402_300_800, "event": "y10k"}).encode(), 0, 1),
    (good(3, event_id=""), 1, 0),
    (good(4, event_id=" "), 1, 0),
    (b'{"timestamp": 1767225605, "event": "a", "event": "b"}', 1, 0),
    (b"[1, 2]", 0, 1),
    (b'{"event": "unterminated', 0, 1),
]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    picks=st.lists(st.integers(0, len(CATALOGUE) - 1), min_size=1, max_size=25),
    chunk_bytes=st.sampled_from([256, 4096, 1 << 20]),
    crlf=st.booleans(),
)
def test_any_mix_of_hostile_lines_comes_to_exact_counts(
    tmp_path_factory: pytest.TempPathFactory, picks: list[int], chunk_bytes: int, crlf: bool
) -> None:
    tmp = tmp_path_factory.mktemp("mix")
    end = b"\r\n" if crlf else b"\n"
    path = tmp / "mix.jsonl"
    # Each line made unique (its own timestamp offset in a field the parse ignores is not
    # enough for hashed ids: the line number makes them unique already).
    path.write_bytes(b"".join(CATALOGUE[i][0] + end for i in picks))
    stored = sum(CATALOGUE[i][1] for i in picks)
    quarantined = sum(CATALOGUE[i][2] for i in picks)
    with Store(tmp / "s.duckdb") as store:
        read = run(store, path, format="json", chunk_bytes=chunk_bytes,
                   limits=Limits(max_line_bytes=4096))  # fmt: skip
        assert read == (len(picks), stored, 0, quarantined)
        assert counts(store) == (stored, quarantined)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(0, 10 * 60), crlf=st.booleans())
@example(cut=54, crlf=False)  # a whole object, its newline not yet written
@example(cut=55, crlf=True)  # between the CR and the LF
def test_a_file_cut_anywhere_loses_nothing_once_it_is_finished(
    tmp_path_factory: pytest.TempPathFactory, cut: int, crlf: bool
) -> None:
    """A writer caught at any byte: the first run stores the complete lines, the second the
    rest; nothing quarantined, nothing twice, line numbers as in the finished file."""
    tmp = tmp_path_factory.mktemp("cut")
    end = b"\r\n" if crlf else b"\n"
    data = b"".join(good(i) + end for i in range(10))
    cut = min(cut, len(data))
    path = tmp / "app.jsonl"
    path.write_bytes(data[:cut])
    with Store(tmp / "s.duckdb") as store:
        first = run(store, path)
        with open(path, "ab") as f:
            f.write(data[cut:])
        second = run(store, path)
        assert first[1] + second[1] == 10 and first[3] + second[3] == 0
        assert counts(store) == (10, 0)
        offsets = store.query_df("SELECT source_offset FROM store.events ORDER BY 1")
    assert offsets["source_offset"].tolist() == list(range(1, 11))
