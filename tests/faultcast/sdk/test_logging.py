"""The structlog processor and the logging handler write events the ingest stores whole."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import structlog

import faultcast
from faultcast.sdk import (
    BudgetError,
    FakeClock,
    FaultcastHandler,
    FaultcastProcessor,
    SecurityViolationError,
    guard,
)

SECRET = "hunter2-s3cr3t"


def app_logger(file: Any) -> Any:
    """What the README tells an application to configure, writing to ``file``."""
    return structlog.wrap_logger(
        structlog.PrintLogger(file),
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            FaultcastProcessor(service="checkout", host="web-1"),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )


def ingest(tmp_path: Path, log_file: Path) -> tuple[Any, Any]:
    fc = faultcast.connect(tmp_path / "store.duckdb")
    report = fc.ingest(log_file)
    events = fc.events()
    fc.close()
    return report, events


def test_processor_output_ingests_with_nothing_quarantined(tmp_path: Path) -> None:
    log_file = tmp_path / "app.jsonl"
    clock = FakeClock()
    with open(log_file, "w") as f:
        log = app_logger(f)
        attempts: list[int] = []

        @guard(attempts=3, sleep=clock.sleep, logger=log, component="payments",
               session_key=lambda order_id, password: order_id)  # fmt: skip
        def charge(order_id: str, password: str) -> str:
            attempts.append(1)
            if len(attempts) < 2:
                raise TimeoutError(f"gateway timed out (password={password})")
            return "charged"

        @guard(logger=log, fallback=lambda: "cheap model")
        def ask() -> str:
            raise BudgetError("LLM budget spent", context={"api_key": SECRET, "limit": 100})

        @guard(logger=log)
        def parse() -> None:
            raise ValueError("amount 'abc' is not a number")

        assert charge("order-1", SECRET) == "charged"
        assert ask() == "cheap model"
        with pytest.raises(ValueError):
            parse()
        with pytest.raises(SecurityViolationError):
            guard(logger=log)(lambda: (_ for _ in ()).throw(SecurityViolationError("bad token")))()
        try:
            {}["missing"]
        except KeyError:
            log.exception("lookup failed", request_id="req-9", token=SECRET)
        log.critical("payments down", failure=True)
        log.info("request served", request_id="req-10")
    text = log_file.read_text()
    assert SECRET not in text
    report, events = ingest(tmp_path, log_file)
    assert report.read == 7 and report.quarantined == 0 and report.stored == 7
    rows = {r["message"].split(":")[0]: r for r in events.to_dict("records")}
    charge_row = rows["charge"]
    assert charge_row["error_type"] == "TimeoutError" and charge_row["category"] == "communication"
    assert charge_row["recovery_action"] == "retry_with_backoff"
    assert charge_row["recovery_outcome"] == "succeeded" and charge_row["retry_count"] == 1
    assert charge_row["recovery_ms"] >= 0 and not charge_row["failure"]
    assert charge_row["service"] == "checkout" and charge_row["host"] == "web-1"
    assert charge_row["component"] == "payments" and charge_row["session_key"] == "order-1"
    assert charge_row["level"] == "warning"
    assert rows["ask"]["category"] == "budget" and rows["ask"]["recovery_action"] == "fallback"
    assert rows["parse"]["category"] == "data" and rows["parse"]["failure"]
    assert rows["parse"]["level"] == "error" and pd.isna(rows["parse"]["recovery_action"])
    security = events[events["category"] == "security"].iloc[0]
    assert security["failure"] and security["error_type"] == "SecurityViolationError"
    lookup = events[events["message"] == "lookup failed"].iloc[0]
    assert lookup["error_type"] == "KeyError" and lookup["category"] == "data"
    assert lookup["session_key"] == "req-9"
    assert bool(events[events["message"] == "payments down"].iloc[0]["failure"])
    served = events[events["message"] == "request served"].iloc[0]
    assert served["level"] == "info" and pd.isna(served["category"])


def test_processor_fills_level_and_timestamp_and_scrubs_nested_secrets() -> None:
    p = FaultcastProcessor(service="api")
    out = p(None, "warn", {"event": "x", "headers": {"Authorization": "Bearer abc"}, "pwd": 1})
    assert out["level"] == "warning" and out["timestamp"].endswith("Z")
    assert out["headers"] == {"Authorization": "[REDACTED]"} and out["pwd"] == "[REDACTED]"
    assert "error_type" not in out and out["service"] == "api" and out["host"]


def test_logging_handler_output_ingests_with_nothing_quarantined(tmp_path: Path) -> None:
    log_file = tmp_path / "stdlib.jsonl"
    handler = FaultcastHandler(log_file, service="billing", host="b-1")
    logger = logging.getLogger("tests.faultcast.billing")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.info("below the handler's level")
        logger.warning("slow response", extra={"request_id": "r-1", "latency_ms": 812})
        try:
            raise ConnectionRefusedError(f"db refused (password={SECRET})")
        except ConnectionRefusedError:
            logger.exception("charge failed", extra={"api_key": SECRET})
        logger.critical("billing down")
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = log_file.read_text()
    assert SECRET not in text and len(text.splitlines()) == 3
    report, events = ingest(tmp_path, log_file)
    assert report.quarantined == 0 and report.stored == 3
    failed = events[events["message"] == "charge failed"].iloc[0]
    assert failed["error_type"] == "ConnectionRefusedError"
    assert (
        failed["category"] == "communication" and failed["component"] == "tests.faultcast.billing"
    )
    assert failed["service"] == "billing" and failed["level"] == "error"
    slow = events[events["message"] == "slow response"].iloc[0]
    assert slow["session_key"] == "r-1" and json.loads(slow["attrs"])["latency_ms"] == 812
    assert bool(events[events["message"] == "billing down"].iloc[0]["failure"])


def test_handler_writes_to_text_and_binary_streams() -> None:
    for stream in (io.StringIO(), io.BytesIO()):
        handler = FaultcastHandler(stream=stream, service="s")
        record = logging.LogRecord("n", logging.ERROR, __file__, 1, "boom %s", ("x",), None)
        handler.emit(record)
        raw = stream.getvalue()
        line = json.loads(raw if isinstance(raw, str) else raw.decode())
        assert line["event"] == "boom x" and line["level"] == "error"
