"""OTLP and Sentry payloads as faultcast JSON lines: the edge cases of each wire format."""

from __future__ import annotations

import json

import pytest
from faultcast.ingest.formats import otlp, sentry


def test_envelope_items_with_and_without_length_and_other_types() -> None:
    event = json.dumps({"event_id": "b" * 32, "message": "boom", "level": "warning"}).encode()
    attachment = b"line one\nline two\n"
    body = b"\n".join(
        [
            b'{"event_id": "' + b"b" * 32 + b'", "dsn": "http://k@h/1"}',
            b'{"type": "attachment", "length": %d}' % len(attachment),
            attachment,
            b'{"type": "session"}',
            b'{"sid": "s1", "status": "ok"}',
            b'{"type": "event", "length": %d}' % len(event),
            event,
        ]
    )
    [(event_id, line)] = sentry.envelope_to_lines(body, "3")
    parsed = json.loads(line)
    assert event_id == "b" * 32
    assert (parsed["message"], parsed["level"], parsed["service"]) == (
        "boom",
        "warning",
        "sentry-3",
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"not json\n", "invalid JSON"),
        (b'{}\n{"type": "event", "length": 999}\n{}', "passes the end"),
        (b'{}\n{"type": "event"}\n[1, 2]', "must be a JSON object"),
    ],
)
def test_unreadable_envelopes_say_why(body: bytes, reason: str) -> None:
    with pytest.raises(otlp.PayloadError, match=reason):
        sentry.envelope_to_lines(body, "1")


def test_chained_exceptions_keep_the_last_as_the_error() -> None:
    event = {
        "exception": {
            "values": [
                {"type": "KeyError", "value": "'sku'"},
                {"type": "CheckoutError", "value": "cart broken", "mechanism": {"handled": False},
                 "stacktrace": {"frames": [{"module": "lib", "function": "f", "in_app": False},
                                           {"module": "shop", "function": "g", "in_app": True}]}},
            ]
        },
        "user": {"email": "a@b.example", "ip_address": "{{auto}}"},
    }  # fmt: skip
    _, line = sentry.event_to_line(event, "1")
    parsed = json.loads(line)
    assert (parsed["error_type"], parsed["handled"], parsed["chained"][0]["type"]) == (
        "CheckoutError", False, "KeyError",
    )  # fmt: skip
    assert "user" not in parsed and "source_ip" not in parsed and "a@b" not in line.decode()
    moved = dict(event, exception={"values": [dict(event["exception"]["values"][1])]})
    moved["exception"]["values"][0]["stacktrace"]["frames"][1]["lineno"] = 99
    assert json.loads(sentry.event_to_line(moved, "1")[1])["fingerprint"] == parsed["fingerprint"]


def test_otlp_json_enum_names_kvlists_and_missing_body() -> None:
    body = json.dumps(
        {"resourceLogs": [{"scopeLogs": [{"logRecords": [{
            "observedTimeUnixNano": 1767225600000000000,
            "severityNumber": "SEVERITY_NUMBER_FATAL",
            "attributes": [
                {"key": "exception.type", "value": {"stringValue": "OSError"}},
                {"key": "exception.message", "value": {"stringValue": "disk full"}},
                {"key": "ctx", "value": {"kvlistValue": {"values": [
                    {"key": "ids", "value": {"arrayValue": {"values": [{"intValue": "7"}]}}}]}}},
            ],
        }]}]}]}
    ).encode()  # fmt: skip
    [line] = otlp.request_to_lines(body, "application/json; charset=utf-8")
    event = json.loads(line)
    assert (event["level"], event["message"], event["ctx"]) == (
        "critical", "OSError: disk full", {"ids": [7]},
    )  # fmt: skip
    assert event["ts"] == "2026-01-01T00:00:00.000000Z" and "service" not in event


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"{}", "text/plain", "unsupported Content-Type"),
        (b"{", "application/json", "invalid JSON"),
        (b'{"resourceLogs": 3}', "application/json", "resourceLogs"),
        (b"\x0a\xff\xff", "application/x-protobuf", "not an ExportLogsServiceRequest"),
    ],
)
def test_unreadable_otlp_says_why(body: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(otlp.PayloadError, match=reason):
        otlp.request_to_lines(body, content_type)
