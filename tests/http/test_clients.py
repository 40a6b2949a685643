"""The real clients against one server: sentry-sdk, the OpenTelemetry SDK's OTLP/HTTP exporter,
OTLP JSON with plain requests, and faultcast's own HttpSink; exact counts in the store."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from faultcast.sdk import HttpHandler, HttpSink

from .conftest import Served


def attrs_of(row: dict[str, Any]) -> dict[str, Any]:
    value = row["attrs"]
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def test_sentry_sdk_capturing_exceptions(served: Served) -> None:
    sentry_sdk = pytest.importorskip("sentry_sdk")
    port = served.url.rsplit(":", 1)[1]
    sentry_sdk.init(
        dsn=f"http://{served.keys['ingest']}@127.0.0.1:{port}/1",
        release="shop@1.2.3",
        environment="staging",
        default_integrations=False,
        server_name="web-1",
    )
    try:
        sentry_sdk.add_breadcrumb(category="cart", message="added sku-1")
        sentry_sdk.set_tag("region", "eu")
        for i in range(3):
            try:
                {}[f"sku-{i}"]
            except KeyError:
                sentry_sdk.capture_exception()
        sentry_sdk.capture_message("checkout slow", level="warning")
        sentry_sdk.flush(timeout=20)
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init(dsn=None)
    rows = served.events(service="shop")
    assert len(rows) == 4
    errors = [r for r in rows if r["error_type"] == "KeyError"]
    assert len(errors) == 3 and {r["host"] for r in rows} == {"web-1"}
    attrs = attrs_of(errors[0])
    assert (attrs["release"], attrs["environment"], attrs["tags"]["region"]) == (
        "shop@1.2.3", "staging", "eu",
    )  # fmt: skip
    assert attrs["frames"][-1]["function"] == "test_sentry_sdk_capturing_exceptions"
    assert len({attrs_of(r)["fingerprint"] for r in errors}) == 1  # one issue: same frames
    assert attrs["breadcrumbs"][0]["message"] == "added sku-1"
    assert [r["level"] for r in rows if r["error_type"] is None] == ["warning"]


@pytest.mark.filterwarnings("ignore:.*LoggingHandler.*:DeprecationWarning")
def test_opentelemetry_sdk_exporter_through_logging_handler(served: Served) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(
        resource=Resource.create({"service.name": "otel-app", "host.name": "node-3"})
    )
    exporter = OTLPLogExporter(
        endpoint=f"{served.url}/v1/logs",
        headers={"Authorization": f"Bearer {served.keys['ingest']}"},
    )
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    log = logging.getLogger("otel.checkout")
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    log.addHandler(handler)
    try:
        for i in range(6):
            log.warning("payment %d declined by the bank", i)
        try:
            raise TimeoutError("upstream read timed out")
        except TimeoutError:
            log.exception("charge failed", extra={"order_id": "o-9"})
        provider.force_flush()
    finally:
        log.removeHandler(handler)
        provider.shutdown()
    rows = served.events(service="otel-app")
    assert len(rows) == 7
    [failed] = [r for r in rows if r["error_type"] == "TimeoutError"]
    assert (failed["level"], failed["host"], failed["component"]) == (
        "error",
        "node-3",
        "otel.checkout",
    )
    assert attrs_of(failed)["order_id"] == "o-9"
    assert "upstream read timed out" in attrs_of(failed)["exception"]
    assert {r["level"] for r in rows} == {"warning", "error"}


def test_otlp_json_with_plain_requests(served: Served) -> None:
    requests = pytest.importorskip("requests")
    trace = "5b8efff798038103d269b633813fc60c"
    records = [
        {
            "timeUnixNano": str(1767225600_000_000_000 + i * 1_000_000_000),
            "severityNumber": 17,
            "severityText": "ERROR",
            "body": {"stringValue": f"queue {i} is full"},
            "traceId": trace,
            "spanId": "eee19b7ec3c1b174",
            "attributes": [{"key": "queue", "value": {"intValue": str(i)}}],
        }  # fmt: skip
        for i in range(4)
    ]
    payload = {
        "resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-app"}}]},
            "scopeLogs": [{"scope": {"name": "worker"}, "logRecords": records}],
        }]
    }  # fmt: skip
    headers = {"Authorization": f"Bearer {served.keys['ingest']}"}
    answer = requests.post(f"{served.url}/v1/logs", json=payload, headers=headers, timeout=30)
    assert answer.status_code == 200 and answer.json() == {}
    # An exporter's retry of the same request stores nothing twice.
    requests.post(f"{served.url}/v1/logs", json=payload, headers=headers, timeout=30)
    rows = served.events(service="json-app")
    assert len(rows) == 4 and {r["session_key"] for r in rows} == {trace}
    assert sorted(attrs_of(r)["queue"] for r in rows) == [0, 1, 2, 3]
    missing = requests.post(f"{served.url}/v1/logs", json=payload, timeout=30)
    assert missing.status_code == 401


def test_http_sink_and_handler(served: Served) -> None:
    sink = HttpSink(served.url, served.keys["ingest"], batch_size=40, flush_interval=0.05)
    events = [
        {"event": f"job {i} failed", "level": "error", "service": "sink-app", "ts": 1767225600 + i}
        for i in range(130)
    ]
    for event in events:
        sink.send(event)
    sink.close()
    assert sink.delivered == 130 and not sink.rejected
    handler = HttpHandler(
        served.url, served.keys["ingest"], service="handler-app", flush_interval=0.05
    )
    log = logging.getLogger("faultcast.test.http")
    log.propagate = False
    log.addHandler(handler)
    try:
        try:
            raise ConnectionResetError("peer reset")
        except ConnectionResetError:
            log.exception("sync failed")
        log.warning("slow sync")
    finally:
        log.removeHandler(handler)
        handler.close()
    assert len(served.events(service="sink-app")) == 130
    rows = served.events(service="handler-app")
    assert sorted(str(r["error_type"]) for r in rows) == ["ConnectionResetError", "None"]
