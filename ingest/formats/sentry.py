"""Sentry SDK events (an envelope, or the older store body) as faultcast JSON lines.

An application keeps its Sentry SDK and points the DSN at faultcast; each error event becomes
one JSON line, parsed, redacted, templated and stored like any other line.  What maps where:

=================================  ==================================================
Sentry                             faultcast
=================================  ==================================================
event_id                           event_id (a resent event is stored once)
timestamp                          ts
level (fatal → critical)           level
exception (the last value)         error_type, message ``Type: value``; every frame in
                                   attrs ``frames``; ``fingerprint``: a hash of the
                                   type and the in-app frames (module, function)
message / logentry                 message, when there is no exception
tags ``service``, else the         service
release's name (``app@1.2``),
else ``sentry-<project>``
server_name                        host
logger                             component
contexts.trace.trace_id            session_key
user (id, else username)           user; ip_address → source_ip; nothing else of it
release, environment, tags,        attrs
transaction, breadcrumbs (last 20)
=================================  ==================================================

Examples
--------
>>> envelope = (b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\\n'
...             b'{"type":"event"}\\n'
...             b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","level":"error",'
...             b'"timestamp":1767225600.5,"release":"shop@1.2.0","environment":"prod",'
...             b'"exception":{"values":[{"type":"KeyError","value":"sku",'
...             b'"stacktrace":{"frames":[{"module":"shop.cart","function":"add",'
...             b'"in_app":true,"lineno":3}]}}]}}\\n')
>>> import json
>>> [(event_id, line)] = envelope_to_lines(envelope, project_id="1")
>>> event = json.loads(line)
>>> event_id, event["error_type"], event["message"], event["service"], event["environment"]
('9ec79c33ec9942ab8353589fcb2e04dc', 'KeyError', 'KeyError: sku', 'shop', 'prod')
>>> event["ts"], event["frames"][0]["function"], len(event["fingerprint"])
('2026-01-01T00:00:00.500000Z', 'add', 16)
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
from faultcast.ingest.formats.otlp import PayloadError

__all__ = ["envelope_to_lines", "event_to_line", "store_to_lines"]

#: Breadcrumbs kept per event (the most recent).
MAX_BREADCRUMBS = 20
_FRAME_KEYS = ("filename", "abs_path", "module", "function", "lineno", "colno", "in_app")


def _ts(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def _exceptions(event: dict[str, Any]) -> list[dict[str, Any]]:
    exc = event.get("exception")
    values = exc.get("values") if isinstance(exc, dict) else exc
    return [v for v in (values or []) if isinstance(v, dict)]


def _fingerprint(error_type: str | None, frames: list[dict[str, Any]]) -> str:
    """Type + the in-app frames (module or file, function): stable across line edits."""
    in_app = [f for f in frames if f.get("in_app")] or frames
    parts = [error_type or ""] + [
        f"{f.get('module') or f.get('filename') or ''}:{f.get('function') or ''}" for f in in_app
    ]
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]


def event_to_line(event: dict[str, Any], project_id: str) -> tuple[str | None, bytes]:
    """One Sentry event as (its event id, a faultcast JSON line)."""
    if not isinstance(event, dict):
        raise PayloadError("Sentry: an event must be a JSON object")
    out: dict[str, Any] = {}
    event_id = event.get("event_id")
    if event_id:
        out["event_id"] = str(event_id)
    ts = _ts(event.get("timestamp"))
    if ts:
        out["ts"] = ts
    level = event.get("level")
    out["level"] = "critical" if level == "fatal" else (level or "error")
    tags = event.get("tags") or {}
    if isinstance(tags, list):  # [[key, value], ...] is allowed too
        tags = {str(t[0]): t[1] for t in tags if isinstance(t, (list, tuple)) and len(t) == 2}
    release = event.get("release")
    service = tags.get("service") if isinstance(tags, dict) else None
    if not service and isinstance(release, str) and "@" in release:
        service = release.split("@", 1)[0]
    out["service"] = str(service or f"sentry-{project_id}")
    if event.get("server_name"):
        out["host"] = str(event["server_name"])
    if event.get("logger"):
        out["component"] = str(event["logger"])
    excs = _exceptions(event)
    logentry = event.get("logentry") or {}
    text = event.get("message")
    if isinstance(text, dict):
        text = text.get("formatted") or text.get("message")
    text = text or (logentry.get("formatted") or logentry.get("message"))
    if excs:
        last = excs[-1]
        error_type = str(last.get("type") or "Error")
        value = last.get("value")
        out["error_type"] = error_type
        out["message"] = f"{error_type}: {value}" if value else error_type
        frames = [
            {k: f[k] for k in _FRAME_KEYS if k in f}
            for f in ((last.get("stacktrace") or {}).get("frames") or [])
            if isinstance(f, dict)
        ]
        out["frames"] = frames
        out["fingerprint"] = _fingerprint(error_type, frames)
        if len(excs) > 1:
            out["chained"] = [{"type": e.get("type"), "value": e.get("value")} for e in excs[:-1]]
        mechanism = last.get("mechanism")
        if isinstance(mechanism, dict) and "handled" in mechanism:
            out["handled"] = bool(mechanism["handled"])
        if text:
            out["log_message"] = str(text)
    else:
        out["message"] = str(text or "")
    contexts = event.get("contexts") or {}
    trace = contexts.get("trace") if isinstance(contexts, dict) else None
    if isinstance(trace, dict) and trace.get("trace_id"):
        out["session_key"] = str(trace["trace_id"])
        if trace.get("span_id"):
            out["span_id"] = str(trace["span_id"])
    user = event.get("user")
    if isinstance(user, dict):
        who = user.get("id") or user.get("username")
        if who is not None:
            out["user"] = str(who)
        if user.get("ip_address") and user["ip_address"] != "{{auto}}":
            out["source_ip"] = str(user["ip_address"])
    for key in ("release", "environment", "transaction", "platform", "dist"):
        if event.get(key):
            out[key] = event[key]
    if tags:
        out["tags"] = tags
    crumbs = event.get("breadcrumbs")
    if isinstance(crumbs, dict):
        crumbs = crumbs.get("values")
    if isinstance(crumbs, list) and crumbs:
        out["breadcrumbs"] = [
            {k: c.get(k) for k in ("timestamp", "category", "level", "message") if c.get(k)}
            for c in crumbs[-MAX_BREADCRUMBS:]
            if isinstance(c, dict)
        ]
    out["sentry_project"] = project_id
    return (str(event_id) if event_id else None), orjson.dumps(out, default=str)


def _loads(raw: bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise PayloadError(f"Sentry {what}: invalid JSON ({e})") from e


def envelope_to_lines(body: bytes, project_id: str) -> list[tuple[str | None, bytes]]:
    """The error events of a Sentry envelope (its other items, such as sessions and client
    reports, are accepted and skipped), each as (event id, faultcast JSON line)."""
    header_end = body.find(b"\n")
    header = body if header_end < 0 else body[:header_end]
    if not header.strip():
        raise PayloadError("Sentry envelope: empty")
    envelope_header = _loads(header, "envelope header")
    if not isinstance(envelope_header, dict):
        raise PayloadError("Sentry envelope: the header must be a JSON object")
    pos = len(body) if header_end < 0 else header_end + 1
    out: list[tuple[str | None, bytes]] = []
    while pos < len(body):
        end = body.find(b"\n", pos)
        item_header_raw = body[pos : len(body) if end < 0 else end]
        pos = len(body) if end < 0 else end + 1
        if not item_header_raw.strip():
            continue
        item_header = _loads(item_header_raw, "item header")
        if not isinstance(item_header, dict):
            raise PayloadError("Sentry envelope: an item header must be a JSON object")
        length = item_header.get("length")
        if isinstance(length, int):
            if length < 0 or pos + length > len(body):
                raise PayloadError(f"Sentry envelope: an item's length {length} passes the end")
            payload = body[pos : pos + length]
            pos += length
            if pos < len(body) and body[pos : pos + 1] == b"\n":
                pos += 1
        else:
            end = body.find(b"\n", pos)
            payload = body[pos : len(body) if end < 0 else end]
            pos = len(body) if end < 0 else end + 1
        if item_header.get("type") == "event":
            out.append(event_to_line(_loads(payload, "event"), project_id))
    return out


def store_to_lines(body: bytes, project_id: str) -> list[tuple[str | None, bytes]]:
    """The event of a ``/store/`` body (one JSON event) as (event id, faultcast JSON line)."""
    return [event_to_line(_loads(body, "event"), project_id)]
