"""Splitting a chunk into lines: the fast path (Arrow's split, for chunks with nothing odd in
them) gives exactly what the general path gives, line for line, on any bytes."""

from __future__ import annotations

import io

import pytest
from faultcast.ingest import _lines
from hypothesis import given, settings
from hypothesis import strategies as st

PIECES = [
    b"a",
    b"{",
    b"}",
    b'"',
    b" ",
    b"\n",
    b"\n",
    b"\r\n",
    b"\x00",
    "é".encode(),
    b"\xff",
    b"x" * 9,
]


def _general(data: bytes, first_line: int, start_byte: int, final: bool) -> tuple[object, int]:
    original = _lines._split_plain
    _lines._split_plain = lambda *args: None  # type: ignore[assignment]
    try:
        return _lines.split_lines(data, first_line, start_byte, final)
    finally:
        _lines._split_plain = original


def _facts(chunk: _lines.LineChunk) -> tuple[object, ...]:
    return (
        chunk.lines.to_pylist(),
        chunk.line_numbers.to_pylist(),
        [int(e) for e in chunk.line_ends],
        chunk.end_byte,
        chunk.unterminated_tail,
        [(b.line_no, b.raw, b.reason) for b in chunk.bad],
    )


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=40), final=st.booleans())
def test_fast_split_equals_the_general_split(pieces: list[bytes], final: bool) -> None:
    data = b"".join(pieces)
    fast, consumed = _lines.split_lines(data, 7, 100, final)
    general, general_consumed = _general(data, 7, 100, final)
    assert consumed == general_consumed
    assert _facts(fast) == _facts(general)  # type: ignore[arg-type]


@pytest.mark.parametrize("chunk_bytes", [1, 3, 16, 1 << 20])
def test_chunks_cover_every_line_once(chunk_bytes: int) -> None:
    lines = [f'{{"n": {i}, "pad": "{"z" * (i % 7)}"}}'.encode() for i in range(50)]
    data = b"\n".join(lines) + b"\npartial"
    stream = io.BytesIO(data)
    got = [
        (n, line)
        for chunk in _lines.iter_chunks(stream, chunk_bytes=chunk_bytes, final=True)
        for n, line in zip(chunk.line_numbers.to_pylist(), chunk.lines.to_pylist(), strict=True)
    ]
    assert got == [(i + 1, line.decode()) for i, line in enumerate([*lines, b"partial"])]
    following = list(_lines.iter_chunks(io.BytesIO(data), chunk_bytes=chunk_bytes, final=False))
    assert sum(len(c) for c in following) == 50  # the unfinished line waits
    assert following[-1].end_byte == len(data) - len(b"partial")
