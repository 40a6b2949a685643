"""Ingest sources: opening files (plain, .gz, FIFOs, stdin), their heads, checkpoints and resume
points, and reading ahead on a background thread.

A path that is not a file to read (a directory, a device, a socket, a dangling symbolic link or a
loop of them) is refused with what it is.  A FIFO is read like stdin: to its end, with no
sniffing of its head (that would consume it) and no checkpoint.  A corrupt or truncated .gz is
read up to the damage; :class:`GzipReader` then reports where it is instead of raising."""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import os
import stat
import sys
import threading
import zlib
from collections.abc import Iterator
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


#: A .gz is decompressed at most this much at a time (`read1`: what one step gives, so the
#: step that meets the damage has nothing of the good part in hand).
GZIP_PIECE = 256 * 1024


class GzipReader:
    """A .gz stream that stops at corruption or truncation instead of raising: what came before
    is read as usual, then the stream ends and :attr:`error` says what was wrong and where."""

    def __init__(self, path: str, raw: IO[bytes]) -> None:
        self.path = path
        self._raw = raw
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")
        #: Decompressed bytes delivered so far.
        self.delivered = 0
        #: What went wrong, once it has (the stream has then ended).
        self.error: str | None = None

    def _fail(self, e: BaseException) -> None:
        at = self._raw.tell()
        if isinstance(e, EOFError):
            what = f"is truncated: its data ends at byte {at} before the end of the gzip stream"
        else:
            what = f"is corrupt near byte {at} of the file ({type(e).__name__}: {e})"
        self.error = (
            f"{self.path} {what}; read up to byte {self.delivered} of its decompressed data"
        )

    def read(self, size: int = -1) -> bytes:
        if self.error is not None:
            return b""
        out: list[bytes] = []
        want = size if size >= 0 else sys.maxsize
        while want > 0:
            try:
                piece = self._gzip.read1(min(want, GZIP_PIECE))
            except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
                self._fail(e)
                break
            if not piece:
                break
            out.append(piece)
            self.delivered += len(piece)
            want -= len(piece)
        return b"".join(out)

    def readinto(self, target: memoryview) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._gzip.close()
        self._raw.close()


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def check_path(path: str) -> os.stat_result | None:
    """Refuse, with what to do, a path that is not a file to read; its stat when it is one."""
    if path == STDIN:
        return None
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except FileNotFoundError:
        if p.is_symlink():
            raise IngestError(
                f"{path} is a symbolic link to {os.readlink(p)!r}, which does not exist"
            ) from None
        raise IngestError(f"no such file: {path}") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise IngestError(
                f"{path} is a loop of symbolic links (each points on to another, never to a "
                "file); point it at the log file"
            ) from None
        raise IngestError(f"cannot read {path}: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise IngestError(f"{path} is a directory; pass the log files in it (e.g. {path}/*.jsonl)")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        raise IngestError(
            f"{path} is a {_kind(st.st_mode)}, not a file: faultcast reads regular files, FIFOs "
            f"and stdin (to read it anyway: cat {path} | faultcast ingest -)"
        )
    return st


def is_fifo(path: str) -> bool:
    """Whether ``path`` names a FIFO (read like stdin: no head, no checkpoint, no follow)."""
    if path == STDIN:
        return False
    with contextlib.suppress(OSError):
        return stat.S_ISFIFO(Path(path).expanduser().stat().st_mode)
    return False


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
    if not stat.S_ISREG(st.st_mode):  # a FIFO: a stream, like stdin
        return Opened(str(p.resolve()), raw, None, None, False)
    stream: IO[bytes] = raw
    if path.endswith(".gz"):
        stream = GzipReader(str(p.resolve()), raw)  # type: ignore[assignment]
    return Opened(str(p.resolve()), stream, f"{st.st_dev}:{st.st_ino}", st.st_size, True)


def read_error(opened: Opened) -> str | None:
    """What stopped the reading of ``opened`` before its end (a corrupt .gz), if anything."""
    return opened.stream.error if isinstance(opened.stream, GzipReader) else None


def read_head(path: str, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of a file (decompressed for .gz); stdin has no head to read."""
    if path == STDIN or is_fifo(path):
        return b""  # a stream's head cannot be read twice
    p = Path(path).expanduser()
    with open(p, "rb") as raw:
        if path.endswith(".gz"):
            return GzipReader(path, raw).read(size)  # up to any damage; the run reports it
        return raw.read(size)


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
    return _after_late_newline(opened, byte_offset), next_line


def _after_late_newline(opened: Opened, byte_offset: int) -> int:
    """The resume offset past the newline of a last line that was read before it had one (a
    complete JSON object, a text line): that newline ends the line read, it is no empty line."""
    if opened.is_gzip or byte_offset == 0:
        return byte_offset
    with open(opened.source, "rb") as f:
        f.seek(byte_offset - 1)
        around = f.read(3)
    if around[:1] == b"\n":
        return byte_offset
    if around[1:2] == b"\n":
        return byte_offset + 1
    if around[1:3] == b"\r\n":
        return byte_offset + 2
    return byte_offset


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
