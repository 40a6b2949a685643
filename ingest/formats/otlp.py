"""OpenTelemetry logs (OTLP/HTTP, protobuf or JSON) as faultcast JSON lines.

An ``ExportLogsServiceRequest`` becomes one JSON line per log record, which the JSON-lines
format then parses, redacts, templates and stores like any other line (the same path as a
file).  What maps where:

======================================  ===========================================
OTLP                                    faultcast
======================================  ===========================================
time_unix_nano (else observed time)     ts
severity_text, else severity_number     level (TRACE/DEBUG → debug, ... FATAL → critical)
body (a string; other values as JSON)   message (else ``exception.type: message``)
resource ``service.name``               service
resource ``host.name``                  host
instrumentation scope name              component (the logger)
``exception.type``                      error_type
``exception.stacktrace``                exception (the traceback text, kept in attrs)
trace_id (hex)                          session_key
span_id, other resource attributes      attrs (``span_id``, ``resource``)
log attributes                          their own keys (faultcast fields such as
                                        ``recovery_action`` map; the rest go to attrs)
======================================  ===========================================

Examples
--------
>>> body = b'''{"resourceLogs": [{"resource": {"attributes": [
...   {"key": "service.name", "value": {"stringValue": "checkout"}}]},
...   "scopeLogs": [{"scope": {"name": "app.db"}, "logRecords": [{
...     "timeUnixNano": "1767225600000000000", "severityNumber": 17, "severityText": "ERROR",
...     "body": {"stringValue": "db down"}, "traceId": "5b8efff798038103d269b633813fc60c",
...     "attributes": [{"key": "exception.type", "value": {"stringValue": "TimeoutError"}}]
... }]}]}]}'''
>>> import json
>>> [line] = request_to_lines(body, "application/json")
>>> event = json.loads(line)
>>> event["ts"], event["level"], event["service"], event["component"], event["error_type"]
('2026-01-01T00:00:00.000000Z', 'error', 'checkout', 'app.db', 'TimeoutError')
>>> event["message"], event["session_key"]
('db down', '5b8efff798038103d269b633813fc60c')
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from faultcast.ingest.errors import IngestError

__all__ = ["PayloadError", "request_to_lines", "severity_level"]


class PayloadError(IngestError):  # type: ignore[misc,unused-ignore]
    """A request body that cannot be read at all (the reason says what is wrong)."""


_SEVERITY = ((4, "debug"), (8, "debug"), (12, "info"), (16, "warning"), (20, "error"))


def severity_level(number: int) -> str | None:
    """OTLP's SeverityNumber (1..24) as a faultcast level; None when unspecified (0).

    >>> [severity_level(n) for n in (0, 1, 9, 13, 17, 21)]
    [None, 'debug', 'info', 'warning', 'error', 'critical']
    """
    if number <= 0:
        return None
    for top, level in _SEVERITY:
        if number <= top:
            return level
    return "critical"


def _iso(nanos: int) -> str:
    seconds, rest = divmod(int(nanos), 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{rest // 1000:06d}Z"
    )


# ------------------------------------------------------------------ protobuf values
def _pb_value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_pb_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    return getattr(v, kind)


def _pb_attrs(kvs: Iterable[Any]) -> dict[str, Any]:
    return {kv.key: _pb_value(kv.value) for kv in kvs}


# ------------------------------------------------------------------ JSON values
def _json_value(v: Any) -> Any:
    if not isinstance(v, dict) or not v:
        return None
    kind, value = next(iter(v.items()))
    if kind == "intValue":
        return int(value)
    if kind == "doubleValue":
        return float(value)
    if kind == "arrayValue":
        return [_json_value(x) for x in (value or {}).get("values", [])]
    if kind == "kvlistValue":
        return _json_attrs((value or {}).get("values", []))
    return value  # stringValue, boolValue, bytesValue (base64 text)


def _json_attrs(kvs: Any) -> dict[str, Any]:
    if not isinstance(kvs, list):
        raise PayloadError("OTLP JSON: attributes must be a list of {key, value}")
    return {str(kv.get("key")): _json_value(kv.get("value")) for kv in kvs if isinstance(kv, dict)}


# ------------------------------------------------------------------ one record
def _line(
    resource: dict[str, Any],
    scope: str | None,
    attributes: dict[str, Any],
    nanos: int,
    severity_number: int,
    severity_text: str,
    body: Any,
    trace_id: str,
    span_id: str,
) -> bytes:
    event: dict[str, Any] = dict(attributes)
    error_type = attributes.get("exception.type")
    exc_message = attributes.get("exception.message")
    if body is None or body == "":
        body = f"{error_type}: {exc_message}" if error_type else (exc_message or "")
    event["message"] = body if isinstance(body, str) else orjson.dumps(body).decode()
    if nanos:
        event["ts"] = _iso(nanos)
    level = severity_text.strip().lower() or severity_level(severity_number)
    if level:
        event["level"] = level
    if severity_number:
        event["severity_number"] = severity_number
    service = resource.get("service.name")
    if service is not None:
        event["service"] = str(service)
    host = resource.get("host.name")
    if host is not None:
        event["host"] = str(host)
    if scope:
        event["component"] = scope
    if error_type:
        event["error_type"] = str(error_type)
    stack = attributes.get("exception.stacktrace")
    if stack:
        event["exception"] = str(stack)
    if trace_id:
        event["session_key"] = trace_id
        event["trace_id"] = trace_id
    if span_id:
        event["span_id"] = span_id
    others = {k: v for k, v in resource.items() if k not in ("service.name", "host.name")}
    if others:
        event["resource"] = others
    return orjson.dumps(event, default=str)


def _from_protobuf(body: bytes) -> list[bytes]:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    request = ExportLogsServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as e:
        raise PayloadError(f"OTLP protobuf: not an ExportLogsServiceRequest ({e})") from e
    lines: list[bytes] = []
    for rl in request.resource_logs:
        resource = _pb_attrs(rl.resource.attributes)
        for sl in rl.scope_logs:
            scope = sl.scope.name or None
            for r in sl.log_records:
                lines.append(
                    _line(
                        resource,
                        scope,
                        _pb_attrs(r.attributes),
                        r.time_unix_nano or r.observed_time_unix_nano,
                        int(r.severity_number),
                        r.severity_text,
                        _pb_value(r.body) if r.HasField("body") else None,
                        r.trace_id.hex(),
                        r.span_id.hex(),
                    )
                )
    return lines


def _from_json(body: bytes) -> list[bytes]:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise PayloadError(f"OTLP JSON: invalid JSON ({e})") from e
    if not isinstance(request, dict) or not isinstance(request.get("resourceLogs", []), list):
        raise PayloadError('OTLP JSON: expected an object with a "resourceLogs" list')
    lines: list[bytes] = []
    try:
        for rl in request.get("resourceLogs", []):
            resource = _json_attrs((rl.get("resource") or {}).get("attributes", []))
            for sl in rl.get("scopeLogs", []):
                scope = (sl.get("scope") or {}).get("name") or None
                for r in sl.get("logRecords", []):
                    lines.append(
                        _line(
                            resource,
                            scope,
                            _json_attrs(r.get("attributes", [])),
                            int(r.get("timeUnixNano") or r.get("observedTimeUnixNano") or 0),
                            int(r.get("severityNumber") or 0)
                            if not isinstance(r.get("severityNumber"), str)
                            else _severity_name(r["severityNumber"]),
                            str(r.get("severityText") or ""),
                            _json_value(r.get("body")),
                            str(r.get("traceId") or "").lower(),
                            str(r.get("spanId") or "").lower(),
                        )
                    )
    except (AttributeError, TypeError, ValueError) as e:
        raise PayloadError(f"OTLP JSON: not an ExportLogsServiceRequest ({e})") from e
    return lines


def _severity_name(name: str) -> int:
    """``SEVERITY_NUMBER_ERROR`` (the enum's name, which OTLP JSON allows) as its number."""
    from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber

    try:
        return int(SeverityNumber.Value(name))
    except ValueError:
        return 0


_DECODERS: dict[str, Callable[[bytes], list[bytes]]] = {
    "application/x-protobuf": _from_protobuf,
    "application/protobuf": _from_protobuf,
    "application/json": _from_json,
}


def request_to_lines(body: bytes, content_type: str) -> list[bytes]:
    """The log records of an OTLP/HTTP request body as faultcast JSON lines (one each).

    ``content_type``: ``application/x-protobuf`` or ``application/json`` (parameters such as
    ``; charset=utf-8`` are ignored).  Raises :class:`PayloadError` when the body cannot be read.
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    decode = _DECODERS.get(kind)
    if decode is None:
        raise PayloadError(
            f"OTLP: unsupported Content-Type {content_type!r}: send application/x-protobuf "
            "or application/json"
        )
    return decode(body)
