"""Split a byte stream into numbered lines as Arrow arrays, in bounded chunks, without a Python loop.

Newlines are found with NumPy; the line endings (``\\n`` or ``\\r\\n``) are dropped from one copy
of the chunk's bytes, over which the lines are an Arrow array built from offsets.  Lines that are
over the line limit, not valid UTF-8 or that hold NUL bytes are taken out here, with the reason,
for the quarantine: an over-long line never reaches DuckDB, and only its first
:data:`TRUNCATED_RAW_BYTES`, its length and its SHA-256 are kept (a line longer than a chunk is
hashed as it streams past, never held whole).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024
#: The line limit when the caller gives none (``Limits.max_line_bytes``' default).
DEFAULT_MAX_LINE_BYTES = 1024 * 1024
#: How much of an over-long line the quarantine keeps.
TRUNCATED_RAW_BYTES = 4096


@dataclass
class BadLine:
    line_no: int
    raw: str
    reason: str


@dataclass
class LineChunk:
    """Complete lines ``first_line .. first_line + len(lines) - 1`` ending at byte ``end_byte``."""

    first_line: int
    end_byte: int
    lines: pa.LargeStringArray
    line_numbers: pa.Int64Array
    bad: list[BadLine] = field(default_factory=list)
    #: True when the last line had no newline and was taken because the input ended.
    unterminated_tail: bool = False
    #: Byte offset (in the stream) just after each line, bad lines included.
    line_ends: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.lines) + len(self.bad)


def _escape(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="backslashreplace")
    return text.replace("\x00", "\\x00")


def too_long_reason(length: int, limit: int, sha256: str) -> str:
    """The quarantine reason of a line of ``length`` bytes over ``limit``.

    >>> too_long_reason(5000, 1000, "ab" * 32)  # doctest: +ELLIPSIS
    'line too long: 5000 bytes; the limit is 1000 (sha256 abab...; raw keeps its first 4096 bytes)'
    """
    return (
        f"line too long: {length} bytes; the limit is {limit} "
        f"(sha256 {sha256}; raw keeps its first {TRUNCATED_RAW_BYTES} bytes)"
    )


def _too_long(raw: bytes | bytearray | memoryview, line_no: int, limit: int) -> BadLine:
    return BadLine(
        line_no,
        _escape(bytes(raw[:TRUNCATED_RAW_BYTES])),
        too_long_reason(len(raw), limit, hashlib.sha256(raw).hexdigest()),
    )


def _utf8_error(raw: bytes) -> str | None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"invalid UTF-8 at byte {e.start + 1} of the line ({raw[e.start : e.start + 4]!r})"
    return None


def _split_plain(
    data: bytes | bytearray, first_line: int, start_byte: int, final: bool, max_line_bytes: int
) -> tuple[LineChunk, int] | None:
    """:func:`split_lines` for the common case, in Arrow's C++ (one pass, no per-byte masks):
    ``\n`` endings only, no NUL byte, valid UTF-8, no line over the limit.  None when the data
    is not that case (the general path then finds and explains each odd line)."""
    end = data.rfind(b"\n")
    consumed = end + 1
    unterminated = final and consumed < len(data)
    if unterminated:
        consumed = len(data)
    if not consumed or data.find(b"\r", 0, consumed) >= 0 or data.find(b"\x00", 0, consumed) >= 0:
        return None
    whole = pa.LargeBinaryArray.from_buffers(  # the data as one value, not copied
        pa.large_binary(),
        1,
        [None, pa.py_buffer(np.array([0, consumed], dtype=np.int64)), pa.py_buffer(data)],
    )
    parts = pc.split_pattern(whole, b"\n").flatten()
    if not unterminated:
        parts = parts.slice(0, len(parts) - 1)  # the empty piece after the last "\n"
    if len(parts) and pc.max(pc.binary_length(parts)).as_py() > max_line_bytes:
        return None
    try:
        lines = parts.cast(pa.large_string())
    except pa.ArrowInvalid:
        return None
    n = len(lines)
    offsets = np.frombuffer(parts.buffers()[1], dtype=np.int64)[parts.offset : parts.offset + n + 1]
    line_ends = start_byte + offsets[1:] - offsets[0] + np.arange(1, n + 1, dtype=np.int64)
    if unterminated:
        line_ends[-1] -= 1  # the last line has no terminator
    chunk = LineChunk(
        first_line=first_line,
        end_byte=start_byte + consumed,
        lines=lines,
        line_numbers=pa.array(np.arange(first_line, first_line + n, dtype=np.int64)),
        bad=[],
        unterminated_tail=unterminated,
        line_ends=line_ends,
    )
    return chunk, consumed


def split_lines(
    data: bytes | bytearray,
    first_line: int,
    start_byte: int,
    final: bool,
    event_start: str | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> tuple[LineChunk, int]:
    """Split ``data`` (which begins at a line start) into a chunk of complete lines.

    Returns the chunk and the number of bytes consumed; the unconsumed tail is an unfinished
    line (kept for the next call), unless ``final``, when it is taken as the last line.  With
    ``event_start`` (a regular expression) and not ``final``, the chunk also stops before the
    last line that starts an event, so continuation lines never part from their event.  Lines
    over ``max_line_bytes`` (their ending not counted) go to ``bad``, truncated.
    """
    if event_start is not None and not final:
        chunk, consumed = split_lines(
            data, first_line, start_byte, False, max_line_bytes=max_line_bytes
        )
        if len(chunk.lines) > 1:
            starts = pc.match_substring_regex(chunk.lines, event_start).to_numpy(
                zero_copy_only=False
            )
            hits = np.flatnonzero(starts)
            if len(hits) and hits[-1] > 0:
                cut_line = int(chunk.line_numbers[int(hits[-1])].as_py()) - first_line
                if cut_line > 0:
                    cut_byte = int(chunk.line_ends[cut_line - 1]) - start_byte
                    return split_lines(
                        data[:cut_byte], first_line, start_byte, False,
                        max_line_bytes=max_line_bytes,
                    )  # fmt: skip
        return chunk, consumed
    plain = _split_plain(data, first_line, start_byte, final, max_line_bytes)
    if plain is not None:
        return plain
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    consumed = int(newlines[-1]) + 1 if len(newlines) else 0
    unterminated = False
    ends = newlines
    if final and consumed < len(data):
        ends = np.append(newlines, len(data))
        consumed = len(data)
        unterminated = True
    n = len(ends)
    # Line i is data[starts[i]:ends[i]] without its "\n" (and a "\r" before it).  Drop the
    # terminators from a copy of the bytes so the Arrow values are the bare lines.
    starts = np.empty(n, dtype=np.int64)
    starts[:1] = 0
    starts[1:] = newlines[: n - 1] + 1
    crlf = np.zeros(n, dtype=bool)
    terminated = newlines if not unterminated else newlines[: n - 1]
    if len(terminated):
        crlf[: len(terminated)] = (terminated > starts[: len(terminated)]) & (
            buf[np.maximum(terminated - 1, 0)] == 13
        )
    keep = np.ones(consumed, dtype=bool)
    keep[terminated] = False
    keep[terminated[crlf[: len(terminated)]] - 1] = False
    removed_before = np.zeros(n + 1, dtype=np.int64)
    removed_before[1:] = np.cumsum(1 + crlf.astype(np.int64))
    if unterminated:
        removed_before[-1] -= 1  # the last line has no terminator
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[:n] = starts
    offsets[n] = consumed
    offsets -= removed_before
    clean = buf[:consumed][keep].tobytes() if n else b""
    numbers = np.arange(first_line, first_line + n, dtype=np.int64)
    line_ends = start_byte + offsets[1:] + removed_before[1:]
    binary = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(clean)]
    )
    bad_index: dict[int, str] = {}
    long_rows = set(np.flatnonzero(np.diff(offsets) > max_line_bytes).tolist())
    for row in long_rows:
        bad_index[row] = "too long"  # the reason (with the hash) is made below
    nul = np.flatnonzero(buf[:consumed] == 0)
    if len(nul):
        rows = np.searchsorted(starts, nul, side="right") - 1
        for row, pos in zip(rows.tolist(), nul.tolist(), strict=True):
            if row not in bad_index:
                bad_index[row] = f"NUL byte at column {pos - int(starts[row]) + 1}"
    try:
        lines = binary.cast(pa.large_string())
    except pa.ArrowInvalid:
        lines = None
    if lines is None:
        # Rare path: find the lines that are not UTF-8 (one decode per line of this chunk only).
        for i in range(n):
            if i in bad_index:
                continue
            raw = clean[offsets[i] : offsets[i + 1]]
            err = _utf8_error(raw)
            if err is not None and i not in bad_index:
                bad_index[i] = err
    bad: list[BadLine] = []
    if bad_index:
        keep = np.ones(n, dtype=bool)
        bad_rows = sorted(bad_index)
        keep[bad_rows] = False
        view = memoryview(clean)
        for i in bad_rows:
            if i in long_rows:
                bad.append(
                    _too_long(view[offsets[i] : offsets[i + 1]], first_line + i, max_line_bytes)
                )
                continue
            raw = clean[offsets[i] : offsets[i + 1]]
            bad.append(BadLine(first_line + i, _escape(raw), bad_index[i]))
        mask = pa.array(keep)
        binary = binary.filter(mask)
        numbers = numbers[keep]
        lines = binary.cast(pa.large_string())
    assert lines is not None
    chunk = LineChunk(
        first_line=first_line,
        end_byte=start_byte + consumed,
        lines=lines,
        line_numbers=pa.array(numbers, pa.int64()),
        bad=bad,
        unterminated_tail=unterminated,
        line_ends=line_ends,
    )
    return chunk, consumed


def _read_into(stream: IO[bytes], target: memoryview) -> int:
    """Fill ``target`` from ``stream`` as far as it goes (short reads are retried); bytes read."""
    total = 0
    while total < len(target):
        got = stream.readinto(target[total:])  # type: ignore[attr-defined]
        if not got:
            break
        total += got
    return total


def _skip_long_line(
    stream: IO[bytes], head: bytes | bytearray, chunk_bytes: int
) -> tuple[bytes, int, str, int, bytes, bool]:
    """Read past the rest of a line that began with ``head`` (no newline in it), keeping only
    its first bytes: (kept bytes, length, sha256, bytes consumed with the newline, what follows
    the newline, whether the newline came; without it the stream ended first)."""
    # A CR at the end of what was read so far may be half of a CRLF ending: it is held back
    # until the next byte says.
    held = b""
    if head.endswith(b"\r"):
        head, held = head[:-1], b"\r"
    kept = bytes(head[:TRUNCATED_RAW_BYTES])
    digest = hashlib.sha256(head)
    length = len(head)
    while True:
        data = stream.read(chunk_bytes)
        if not data:
            if held:
                digest.update(held)
                length += len(held)
                if len(kept) < TRUNCATED_RAW_BYTES:
                    kept += held
            return kept, length, digest.hexdigest(), length, b"", False
        data = held + data
        held = b""
        end = data.find(b"\n")
        if end < 0 and data.endswith(b"\r"):
            data, held = data[:-1], b"\r"
        line_part = data if end < 0 else data[:end]
        if end >= 0 and line_part.endswith(b"\r"):  # a CRLF ending is not part of the line
            line_part = line_part[:-1]
        if len(kept) < TRUNCATED_RAW_BYTES:  # a limit under the kept size
            kept += line_part[: TRUNCATED_RAW_BYTES - len(kept)]
        if end < 0:
            digest.update(data)
            length += len(data)
            continue
        digest.update(line_part)
        length += len(line_part)
        consumed = length + (end - len(line_part)) + 1
        return kept, length, digest.hexdigest(), consumed, data[end + 1 :], True


def iter_chunks(
    stream: IO[bytes],
    *,
    first_line: int = 1,
    start_byte: int = 0,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    final: bool = True,
    event_start: str | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    keep_tail: Callable[[bytes], bool] | None = None,
) -> Iterator[LineChunk]:
    """Read ``stream`` to its end in chunks of about ``chunk_bytes``.

    With ``final=False`` an unfinished last line is not returned (a follower waits for it);
    the last chunk's ``end_byte`` then stops before it.  With ``final`` and ``keep_tail``, an
    unfinished last line is returned only when ``keep_tail(line)`` says it is complete (else it
    waits, as without ``final``).  A line over ``max_line_bytes`` is never held whole: past the
    limit it is hashed as it streams by and comes out as a bad line, truncated.
    """
    pending: bytes | bytearray = b""
    line = first_line
    byte = start_byte
    while True:
        data: bytes | bytearray
        if not pending:
            data = stream.read(chunk_bytes)
            got = len(data)
        else:
            # After the unfinished line of the last chunk, into one buffer (no concatenation).
            buffer = bytearray(len(pending) + chunk_bytes)
            buffer[: len(pending)] = pending
            got = _read_into(stream, memoryview(buffer)[len(pending) :])
            data = buffer if got == chunk_bytes else buffer[: len(pending) + got]
        eof = got == 0
        if not data:
            return
        if eof and not final and data.rfind(b"\n") < 0:
            return  # only an unfinished line left: it waits
        if not eof and data.rfind(b"\n") < 0:
            if len(data) <= max_line_bytes:
                pending = data  # a line longer than the chunk: keep reading
                continue
            # Over the limit and still no newline: stream past the rest of it.
            kept, length, sha, consumed, rest, ended = _skip_long_line(stream, data, chunk_bytes)
            if not ended and not final:
                return  # unfinished: read again once its newline arrives
            bad = BadLine(line, _escape(kept), too_long_reason(length, max_line_bytes, sha))
            yield LineChunk(
                first_line=line,
                end_byte=byte + consumed,
                lines=pa.array([], pa.large_string()),
                line_numbers=pa.array([], pa.int64()),
                bad=[bad],
                unterminated_tail=not ended,
                line_ends=np.array([byte + consumed], dtype=np.int64),
            )
            line += 1
            byte += consumed
            pending = rest
            if not ended:
                return
            continue
        take_tail = eof and final
        if take_tail and keep_tail is not None:
            tail_start = data.rfind(b"\n") + 1
            tail = data[tail_start:]
            # A tail ending in CR may be a CRLF caught half-written: it waits too.
            if 0 < len(tail) <= max_line_bytes and (
                tail.endswith(b"\r") or not keep_tail(bytes(tail))
            ):
                take_tail = False  # an unfinished last line: it waits for the next run
                if tail_start == 0:
                    return
        chunk, consumed = split_lines(
            data, line, byte, final=take_tail, event_start=event_start,
            max_line_bytes=max_line_bytes,
        )  # fmt: skip
        pending = data[consumed:]
        if len(chunk):
            yield chunk
        line += len(chunk)
        byte += consumed
        if eof:
            return
