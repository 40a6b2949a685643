"""Ingest sources: opening files (plain, .gz, stdin), their heads, checkpoints and resume points,
and reading ahead on a background thread."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Full, Queue
from typing import IO, Any, TypeVar

import structlog
from faultcast.ingest.errors import IngestError
from faultcast.ingest.store import Store

log = structlog.get_logger("faultcast.ingest.pipeline")

STDIN = "-"
#: How much of a file's head a format's sniff sees.
HEAD_BYTES = 1024 * 1024

#: (file_id, prefix_len, prefix_md5, byte_offset, next line number) of a source.
Checkpoint = tuple[str, int, str, int, int]


@dataclass
class Opened:
    source: str  # absolute path, or "<stdin>"
    stream: IO[bytes]
    file_id: str | None  # device:inode for regular files
    size: int | None
    is_regular: bool

    @property
    def is_gzip(self) -> bool:
        return self.source.endswith(".gz")


def source_name(path: str) -> str:
    return "<stdin>" if path == STDIN else str(Path(path).expanduser().resolve())


def check_path(path: str) -> None:
    """Refuse, with what to do, a path that is not a file to read."""
    if path == STDIN:
        return
    p = Path(path).expanduser()
    if not p.exists():
        raise IngestError(f"no such file: {path}")
    if p.is_dir():
        raise IngestError(f"{path} is a directory; pass the log files in it (e.g. {path}/*.jsonl)")


def open_source(path: str) -> Opened:
    if path == STDIN:
        return Opened("<stdin>", sys.stdin.buffer, None, None, False)
    check_path(path)
    p = Path(path).expanduser()
    try:
        raw = p.open("rb")
    except OSError as e:
        raise IngestError(f"cannot read {path}: {e.strerror}") from e
    st = os.fstat(raw.fileno())
    stream: IO[bytes] = raw
    if path.endswith(".gz"):
        stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    return Opened(str(p.resolve()), stream, f"{st.st_dev}:{st.st_ino}", st.st_size, True)


def read_head(path: str, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of a file (decompressed for .gz); stdin has no head to read."""
    if path == STDIN:
        return b""
    opener: Callable[..., IO[bytes]] = gzip.open if path.endswith(".gz") else open  # type: ignore[assignment]
    with opener(Path(path).expanduser(), "rb") as f:
        return f.read(size)


def prefix_md5(path: str, length: int) -> str:
    with open(path, "rb") as f:
        return hashlib.md5(f.read(length)).hexdigest()


def stored_checkpoint(store: Store, source: str) -> Checkpoint | None:
    if not store.exists() or store.schema_version() < 2:
        return None
    with store.reading() as con:
        rows = con.execute(
            "SELECT file_id, prefix_len, prefix_md5, byte_offset, line_no "
            "FROM store.ingest_checkpoints WHERE source = ?",
            [source],
        ).fetchall()
    if not rows:
        return None
    r = rows[0]
    return (str(r[0]), int(r[1]), str(r[2]), int(r[3]), int(r[4]))


def resume_point(store: Store, opened: Opened, from_start: bool) -> tuple[int, int]:
    """(byte offset, next line number) to start reading this source at: where its checkpoint
    says, unless the path now names another file (or one whose start changed)."""
    if from_start or not opened.is_regular:
        return 0, 1
    cp = stored_checkpoint(store, opened.source)
    if cp is None:
        return 0, 1
    file_id, prefix_len, md5, byte_offset, next_line = cp
    size_ok = opened.size is not None and (opened.is_gzip or opened.size >= byte_offset)
    same = file_id == opened.file_id and size_ok and prefix_md5(opened.source, prefix_len) == md5
    if not same:
        log.debug("ingest.source_replaced", source=opened.source)
        return 0, 1
    return byte_offset, next_line


def seek(opened: Opened, start_byte: int, block: int) -> None:
    """Position the stream at ``start_byte`` (a .gz is decompressed and skipped)."""
    if opened.is_regular and not opened.is_gzip:
        opened.stream.seek(start_byte)
        return
    remaining = start_byte
    while remaining:
        got = opened.stream.read(min(remaining, block))
        if not got:
            break
        remaining -= len(got)


T = TypeVar("T")


def prefetch(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Produce ``items`` on a background thread, at most ``depth`` ahead (bounded memory)."""
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queue.put(("item", item), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(("done", None))
        except BaseException as e:  # handed to the consumer
            queue.put(("error", e))

    thread = threading.Thread(target=produce, name="faultcast-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = queue.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(Empty):
                queue.get_nowait()
            thread.join(timeout=0.05)
