"""JSON-lines ingest: field mapping, accounting, idempotence, resume, quarantine reasons."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest
import structlog
from faultcast.ingest import IngestError

import faultcast
from tests.conftest import event


def _structlog_lines(processors_extra: list[object]) -> list[str]:
    """Real structlog JSONRenderer output, captured."""
    buf = io.StringIO()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *processors_extra,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(file=buf),
        cache_logger_on_first_use=False,
    )
    log = structlog.get_logger()
    log.info("user logged in", service="auth", user="alice", request_id="r-1")
    log.warning("budget at 91%", service="billing", budget_pct=91, tenant="acme")
    try:
        raise TimeoutError("db did not answer")
    except TimeoutError:
        log.exception(
            "query failed",
            service="orders",
            retry_count=2,
            recovery_action="retry_with_backoff",
            recovery_outcome="succeeded",
            recovery_ms=120.5,
        )
    log.critical("orders is down", service="orders", host="orders-1")
    structlog.reset_defaults()
    return buf.getvalue().splitlines()


@pytest.mark.parametrize(
    "processor",
    [structlog.processors.format_exc_info, structlog.processors.dict_tracebacks],
    ids=["format_exc_info", "dict_tracebacks"],
)
def test_structlog_output_maps_onto_the_schema(tmp_path: Path, processor: object) -> None:
    path = tmp_path / "app.log"
    path.write_text("\n".join(_structlog_lines([processor])) + "\n")
    fc = faultcast.connect(tmp_path / "s.duckdb")
    report = fc.ingest(path)
    assert (report.read, report.stored, report.quarantined) == (4, 4, 0)
    ev = fc.events().set_index("message")
    login = ev.loc["user logged in"]
    assert login["level"] == "info" and login["service"] == "auth" and login["session_key"] == "r-1"
    assert json.loads(login["attrs"]) == {"user": "alice"}
    assert pd.isna(login["category"])  # info without an error type is not an error
    budget = ev.loc["budget at 91%"]
    assert budget["level"] == "warning" and budget["category"] == "budget"
    assert json.loads(budget["attrs"]) == {"budget_pct": 91, "tenant": "acme"}
    failed = ev.loc["query failed"]
    assert failed["level"] == "error"
    assert failed["error_type"] == "TimeoutError" and failed["category"] == "communication"
    assert failed["retry_count"] == 2 and failed["recovery_ms"] == 120.5
    assert (
        failed["recovery_action"] == "retry_with_backoff"
        and failed["recovery_outcome"] == "succeeded"
    )
    assert "exception" in json.loads(failed["attrs"])  # the traceback is kept
    assert not failed["failure"]
    down = ev.loc["orders is down"]
    assert down["level"] == "critical" and bool(down["failure"]) and down["host"] == "orders-1"
    assert str(down["ts"].tz) in ("UTC", "Etc/UTC")


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("WARN", "warning"),
        ("Fatal", "critical"),
        ("SEVERE", "critical"),
        ("err", "error"),
        ("TRACE", "debug"),
        ("notice", "info"),
        (40, "error"),
        (50, "critical"),
        ("  Warning ", "warning"),
    ],
)
def test_levels_are_normalised(write_lines, tmp_path: Path, raw: object, level: str) -> None:
    path = write_lines([event(1, level=raw)])
    fc = faultcast.connect(tmp_path / "s.duckdb")
    assert fc.ingest(path).stored == 1
    assert fc.events()["level"].tolist() == [level]


@pytest.mark.parametrize(
    ("error_type", "category"),
    [
        ("StreamingError", "streaming"),
        ("BudgetError", "budget"),
        ("SecurityViolationError", "security"),
        ("MemoryError", "memory"),
        ("MemoryPressureError", "memory"),
        ("TimeoutError", "communication"),
        ("ConnectionResetError", "communication"),
        ("PermissionError", "security"),
        ("ValueError", "data"),
        ("requests.exceptions.ConnectTimeout", "communication"),
        ("WeirdThing", "unknown"),
    ],
)
def test_category_comes_from_the_error_type(
    write_lines, tmp_path: Path, error_type: str, category: str
) -> None:
    fc = faultcast.connect(tmp_path / "s.duckdb")
    fc.ingest(write_lines([event(1, error_type=error_type)]))
    assert fc.events()["category"].tolist() == [category]


def test_generic_json_keys_and_epoch_timestamps(write_lines, tmp_path: Path) -> None:
    lines = [
        {
            "message": "disk full on /var",
            "levelname": "ERROR",
            "time": 1767225600,
            "hostname": "h1",
            "logger": "storage",
            "trace_id": "t-9",
            "extra": {"a": 1},
        },
        {
            "msg": "slow",
            "severity": "warning",
            "@timestamp": "2026-01-01T00:00:01+02:00",
            "app": "web",
        },
        {"event": "ms epoch", "timestamp": 1767225600123},
        {"event": "text time", "timestamp": "2026-01-01 00:00:02,500"},
        {"event": "both keys", "message": "kept in attrs", "timestamp": "2026-01-01T00:00:03Z"},
    ]
    fc = faultcast.connect(tmp_path / "s.duckdb")
    report = fc.ingest(write_lines(lines))
    assert report.stored == 5, fc.quarantine()
    ev = fc.events().set_index("message")
    first = ev.loc["disk full on /var"]
    assert (first["level"], first["host"], first["component"], first["session_key"]) == (
        "error",
        "h1",
        "storage",
        "t-9",
    )
    assert first["ts"] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert json.loads(first["attrs"]) == {"extra": {"a": 1}}
    assert ev.loc["slow"]["service"] == "web"
    assert ev.loc["slow"]["ts"] == pd.Timestamp("2025-12-31T22:00:01Z")
    assert ev.loc["ms epoch"]["ts"] == pd.Timestamp("2026-01-01T00:00:00.123Z")
    assert ev.loc["text time"]["ts"] == pd.Timestamp("2026-01-01T00:00:02.500Z")
    assert json.loads(ev.loc["both keys"]["attrs"]) == {"message": "kept in attrs"}
    assert ev.loc["ms epoch"]["level"] == "info"


def test_service_option_fills_missing_service_and_session_key_names_a_field(
    write_lines, tmp_path: Path
) -> None:
    path = write_lines(
        [
            {"event": "a", "timestamp": "2026-01-01T00:00:00Z", "job": "j-1"},
            {"event": "b", "timestamp": "2026-01-01T00:00:01Z", "service": "own", "job": "j-2"},
        ]
    )
    fc = faultcast.connect(tmp_path / "s.duckdb")
    fc.ingest(path, service="batch", session_key="job")
    ev = fc.events()
    assert ev["service"].tolist() == ["batch", "own"]
    assert ev["session_key"].tolist() == ["j-1", "j-2"]


def test_reingest_is_a_no_op_and_accounting_balances(write_lines, tmp_path: Path) -> None:
    path = write_lines([event(i) for i in range(500)] + ["not json", ""])
    fc = faultcast.connect(tmp_path / "s.duckdb")
    first = fc.ingest(path)
    assert (first.read, first.stored, first.duplicates, first.quarantined) == (502, 500, 0, 2)
    again = fc.ingest(path)
    assert again.read == 0  # the checkpoint says everything was read
    forced = fc.ingest(path, from_start=True)
    assert (forced.read, forced.stored, forced.duplicates, forced.quarantined) == (502, 0, 502, 0)
    assert forced.balanced and first.balanced
    assert len(fc.events()) == 500 and len(fc.quarantine()) == 2
    assert fc.events()["event_id"].is_unique


def test_appended_lines_resume_from_the_checkpoint(write_lines, tmp_path: Path) -> None:
    path = write_lines([event(i) for i in range(10)])
    fc = faultcast.connect(tmp_path / "s.duckdb")
    fc.ingest(path)
    with open(path, "ab") as f:
        for i in range(10, 15):
            f.write(json.dumps(event(i)).encode() + b"\n")
    report = fc.ingest(path)
    assert (report.read, report.stored) == (5, 5)
    assert report.sources[0].resumed_at_line == 11
    assert sorted(fc.events()["source_offset"]) == list(range(1, 16))


def test_a_replaced_file_is_read_from_its_start(write_lines, tmp_path: Path) -> None:
    path = write_lines([event(i) for i in range(10)])
    fc = faultcast.connect(tmp_path / "s.duckdb")
    fc.ingest(path)
    os.remove(path)
    write_lines([event(i) for i in range(100, 104)])  # same path, new file
    report = fc.ingest(path)
    assert (report.read, report.stored) == (4, 4)


def test_producer_event_ids_dedupe_across_files(write_lines, tmp_path: Path) -> None:
    a = write_lines([event(i, event_id=f"id-{i}") for i in range(5)], name="a.jsonl")
    b = write_lines(
        [event(i, event_id=f"id-{i}") for i in range(3, 8)] + [event(9, event_id="id-9")] * 2,
        name="b.jsonl",
    )
    fc = faultcast.connect(tmp_path / "s.duckdb")
    fc.ingest(a)
    report = fc.ingest(b)
    assert (report.read, report.stored, report.duplicates) == (7, 4, 3)  # 5, 6, 7, 9 new
    assert sorted(fc.events()["event_id"]) == sorted(f"id-{i}" for i in [0, 1, 2, 3, 4, 5, 6, 7, 9])


def test_gzip_and_stdin(write_lines, tmp_path: Path, cli) -> None:
    plain = write_lines([event(i) for i in range(20)])
    gz = tmp_path / "events.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    fc = faultcast.connect(tmp_path / "s.duckdb")
    assert fc.ingest(gz).stored == 20
    fc.close()
    db = str(tmp_path / "stdin.duckdb")
    result = cli("ingest", "-", "--db", db, "--json", input=plain.read_bytes())
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["stored"] == 20 and report["sources"][0]["source"] == "<stdin>"
    again = json.loads(cli("ingest", "-", "--db", db, "--json", input=plain.read_bytes()).stdout)
    assert (again["stored"], again["duplicates"]) == (0, 20)


BAD_LINES: list[tuple[bytes, str]] = [
    (b"{not json", "invalid JSON"),
    (b"[1, 2, 3]", "a JSON array, not an object"),
    (b"42", "a JSON number, not an object"),
    (b'"just a string"', "a JSON string, not an object"),
    (b"", "empty line"),
    (b"   ", "empty line"),
    (b'{"event": "no time"}', "no timestamp"),
    (
        b'{"event": "x", "timestamp": "yesterday-ish"}',
        'field "timestamp" is not a timestamp I can read',
    ),
    (b'{"event": "x", "timestamp": {"a": 1}}', 'field "timestamp" is not a timestamp I can read'),
    (
        b'{"event": "x", "timestamp": 1e300}',
        'field "timestamp" out of range: the number 1e300 is not an epoch',
    ),
    (
        b'{"event": {"nested": true}, "timestamp": "2026-01-01T00:00:00Z"}',
        'field "event" must be text',
    ),
    (
        b'{"event": "x", "timestamp": "2026-01-01T00:00:00Z", "level": "chatty"}',
        'field "level" is not a level',
    ),
    (
        b'{"event": "x", "timestamp": "2026-01-01T00:00:00Z", "retry_count": "three"}',
        'field "retry_count" must be a whole number >= 0',
    ),
    (
        b'{"event": "x", "timestamp": "2026-01-01T00:00:00Z", "retry_count": -1}',
        'field "retry_count" must be a whole number >= 0',
    ),
    (
        b'{"event": "x", "timestamp": "2026-01-01T00:00:00Z", "recovery_ms": "fast"}',
        'field "recovery_ms" must be a number >= 0',
    ),
    (
        b'{"event": "x", "timestamp": "2026-01-01T00:00:00Z", "failure": "maybe"}',
        'field "failure" must be true or false',
    ),
    (
        b'{"event": "x", "timestamp": "2026-01-01T00:00:00Z", "recovery_outcome": "meh"}',
        'field "recovery_outcome" must be succeeded or failed',
    ),
    (
        b'{"event": "x", "timestamp": "2026-01-01T00:00:00Z", "service": ["a"]}',
        'field "service" must be text',
    ),
    (
        b'{"event": "' + b"x" * 70000 + b'", "timestamp": "2026-01-01T00:00:00Z"}',
        'field "event" too long',
    ),
    (b'{"event": "ok \xff\xfe", "timestamp": "2026-01-01T00:00:00Z"}', "invalid UTF-8"),
    (b'{"event": "nul\x00byte", "timestamp": "2026-01-01T00:00:00Z"}', "NUL byte"),
]


def test_every_kind_of_bad_line_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = [json.dumps(event(i)).encode() for i in range(3)]
    path.write_bytes(b"\n".join([good[0], *[b for b, _ in BAD_LINES], good[1], good[2]]) + b"\n")
    fc = faultcast.connect(tmp_path / "s.duckdb")
    report = fc.ingest(path, format="json")
    assert (report.read, report.stored, report.quarantined) == (
        len(BAD_LINES) + 3,
        3,
        len(BAD_LINES),
    )
    q = fc.quarantine().set_index("source_offset")
    for offset, (raw, reason) in enumerate(BAD_LINES, start=2):
        row = q.loc[offset]
        assert row["reason"].startswith(reason), (offset, raw[:60], row["reason"])
        assert row["source"] == str(path.resolve())
        if b"\xff" not in raw and b"\x00" not in raw:
            assert row["raw"] == raw.decode()  # the raw text is kept as it was
    assert q.loc[2]["reason"].startswith("invalid JSON: Expecting")  # says where the JSON breaks
    assert sum(report.reasons.values()) == len(BAD_LINES)
    assert report.reasons["empty line"] == 2


def test_overlong_line_is_quarantined_truncated_with_its_length_and_hash(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    line = json.dumps(
        {"event": "big", "timestamp": "2026-01-01T00:00:00Z", "blob": "y" * 2_000_000}
    )
    path.write_text(line + "\n")
    fc = faultcast.connect(tmp_path / "s.duckdb")
    report = fc.ingest(path)
    assert report.quarantined == 1
    q = fc.quarantine()
    assert q["reason"][0].startswith(f"line too long: {len(line)} bytes; ")
    assert hashlib.sha256(line.encode()).hexdigest() in q["reason"][0]  # the line is identified
    assert q["raw"][0] == line[:4096]  # a few KiB, not the whole line


def test_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(b"\r\n".join(json.dumps(event(i)).encode() for i in range(3)))
    fc = faultcast.connect(tmp_path / "s.duckdb")
    report = fc.ingest(path)
    assert (report.read, report.stored) == (3, 3)


def test_clear_errors_for_unusable_inputs(tmp_path: Path) -> None:
    fc = faultcast.connect(tmp_path / "s.duckdb")
    with pytest.raises(IngestError, match="no such file"):
        fc.ingest(tmp_path / "missing.jsonl")
    with pytest.raises(IngestError, match="is a directory"):
        fc.ingest(tmp_path)
    text = tmp_path / "app.log"
    text.write_text("2026-01-01 00:00:00 INFO started\n")
    # Beside a JSON-lines file (format auto), a text log is refused: one run, one format.
    lines = tmp_path / "app.jsonl"
    lines.write_text('{"ts": "2026-01-01T00:00:00Z", "message": "started"}\n')
    with pytest.raises(IngestError, match="does not look like JSON lines.*--format text"):
        fc.ingest([lines, text])
    # A JSON-lines file whose first line is damaged is not taken for a text log.
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text('oops\n{"ts": "2026-01-01T00:00:00Z", "message": "started"}\n')
    with pytest.raises(IngestError, match="does not look like JSON lines"):
        fc.ingest(damaged)
    # Alone, it is a text log: its layout detected (format auto).
    report = fc.ingest(text)
    assert (report.read, report.stored, report.quarantined) == (1, 1, 0)
    assert list(report.layouts) == [str(text)]


def test_memory_store_works_end_to_end(write_lines) -> None:
    fc = faultcast.connect(":memory:")
    assert fc.ingest(write_lines([event(i) for i in range(7)])).stored == 7
    assert len(fc.events(service="svc-1")) == 2
    assert len(fc.events(level=["error"], limit=3)) == 3


def test_events_filters(write_lines, tmp_path: Path) -> None:
    fc = faultcast.connect(tmp_path / "s.duckdb")
    fc.ingest(write_lines([event(i) for i in range(40)]))
    assert set(fc.events(service=["svc-0", "svc-1"])["service"]) == {"svc-0", "svc-1"}
    assert len(fc.events(since="2026-01-01T00:00:30Z")) == 10
    with pytest.raises(TypeError, match="unknown filters"):
        fc.events(colour="red")


@pytest.mark.slow
def test_every_line_read_is_accounted_for_across_many_chunks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAULTCAST_CHUNK_BYTES", "4096")
    # About 25 chunks of 4 KiB, every one with good and bad lines (each chunk costs a fixed
    # parse and commit, so more lines would test nothing more).
    n = 700
    lines = []
    for i in range(n):
        lines.append(json.dumps(event(i)).encode() if i % 7 else b"{broken")
    path = tmp_path / "many.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert path.stat().st_size > 20 * 4096
    fc = faultcast.connect(tmp_path / "s.duckdb")
    report = fc.ingest(path)
    assert report.balanced and report.read == n
    assert report.quarantined == sum(1 for i in range(n) if i % 7 == 0)
    offsets = sorted(
        fc.events()["source_offset"].tolist() + fc.quarantine()["source_offset"].tolist()
    )
    assert offsets == list(range(1, n + 1))


def test_session_key_regex_on_json_messages(write_lines, tmp_path: Path) -> None:
    fc = faultcast.connect(tmp_path / "s.duckdb")
    fc.ingest(
        write_lines([event(1, event="read blk_-42 failed"), event(2, event="no block here")]),
        session_key=r"blk_-?[0-9]+",
    )
    keys = fc.events()["session_key"]
    assert keys[0] == "blk_-42" and pd.isna(keys[1])
