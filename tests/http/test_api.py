"""The HTTP API: keys and scopes, limits, /v1/events, malformed bodies, the query endpoints."""

from __future__ import annotations

import gzip
import json
import zlib

import faultcast
from faultcast.http._app import metric_names

from .conftest import Served, call, wait_for


def lines(*events: dict[str, object]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def test_keys_are_required_and_scoped(served: Served) -> None:
    body = lines({"event": "x", "service": "auth-app"})
    assert call(f"{served.url}/v1/events", None, body)[0] == 401
    assert call(f"{served.url}/v1/events", "fc_" + "0" * 48, body)[0] == 401
    assert call(f"{served.url}/v1/events", served.keys["read"], body)[0] == 403
    assert call(f"{served.url}/v1/risk", served.keys["ingest"])[0] == 403
    assert call(f"{served.url}/v1/risk")[0] == 401
    assert call(f"{served.url}/v1/risk", served.keys["admin"])[0] == 200
    assert served.events(service="auth-app") == []


def test_bodies_over_the_limit_are_refused(served: Served) -> None:
    big = lines(*({"event": "y" * 1000, "service": "big-app"} for _ in range(300)))
    status, body, _ = call(f"{served.url}/v1/events", served.keys["ingest"], big)
    assert status == 413, body
    bomb = gzip.compress(b" " * (2 * 1024 * 1024))  # small on the wire, 2 MiB inflated
    status, body, _ = call(
        f"{served.url}/v1/events", served.keys["ingest"], bomb, {"Content-Encoding": "gzip"}
    )
    assert status == 413 and b"decompressed" in body
    assert served.events(service="big-app") == []


def test_events_as_lines_or_array_stored_once(served: Served) -> None:
    body = (
        lines(
            {
                "event": "db down",
                "level": "error",
                "service": "lines-app",
                "ts": "2026-01-01T00:00:00Z",
            },
            {
                "event": "db up",
                "level": "info",
                "service": "lines-app",
                "ts": "2026-01-01T00:00:01Z",
            },
        )
        + b"{not json\n"
    )
    status, answer, _ = call(f"{served.url}/v1/events", served.keys["ingest"], body)
    assert status == 200
    result = json.loads(answer)
    assert (result["accepted"], result["quarantined"]) == (2, 1)
    assert "invalid JSON" in result["errors"][0]
    # A client's retry of the same request stores nothing twice.
    assert call(f"{served.url}/v1/events", served.keys["ingest"], body)[0] == 200
    stored = served.events(service="lines-app")
    assert sorted(e["message"] for e in stored) == ["db down", "db up"]
    array = json.dumps(
        [{"event": f"e{i}", "service": "array-app", "ts": 1767225600 + i} for i in range(3)]
    ).encode()
    gz = gzip.compress(array)
    status, answer, _ = call(
        f"{served.url}/v1/events", served.keys["admin"], gz, {"Content-Encoding": "gzip"}
    )
    assert status == 200 and json.loads(answer)["accepted"] == 3
    assert len(served.events(service="array-app")) == 3


def test_malformed_bodies_get_400_with_the_reason(served: Served) -> None:
    status, answer, _ = call(f"{served.url}/v1/events", served.keys["ingest"], b'[{"event": "cut')
    assert status == 400 and b"invalid JSON array" in answer
    status, answer, _ = call(
        f"{served.url}/v1/logs", served.keys["ingest"], b"\xff\x00garbage",
        {"Content-Type": "application/x-protobuf"},
    )  # fmt: skip
    assert status == 400 and b"OTLP" in answer
    status, answer, _ = call(f"{served.url}/v1/events", served.keys["ingest"], b"nope\n")
    assert status == 400 and b"no event could be read" in answer


def test_sentry_store_endpoint_with_the_key_in_the_query(served: Served) -> None:
    event = {
        "event_id": "a" * 32, "timestamp": 1767225600.25, "level": "fatal",
        "tags": {"service": "legacy-app"}, "message": "disk full on /var",
        "user": {"id": "u-17", "email": "jo@example.com", "ip_address": "10.0.0.9"},
    }  # fmt: skip
    body = zlib.compress(json.dumps(event).encode())
    url = f"{served.url}/api/7/store/?sentry_key={served.keys['ingest']}"
    status, answer, _ = call(url, None, body, {"Content-Encoding": "deflate"})
    assert status == 200 and json.loads(answer) == {"id": "a" * 32}
    [row] = served.events(service="legacy-app")
    assert (row["level"], row["message"], row["user"], row["source_ip"]) == (
        "critical", "disk full on /var", "u-17", "10.0.0.9",
    )  # fmt: skip
    assert "jo@example.com" not in json.dumps(row)


def test_queries_risk_policy_recommendation_and_metrics(served: Served) -> None:
    outcomes = [
        {
            "event": f"upstream timeout after {i} ms",
            "level": "error",
            "service": "pay",
            "error_type": "TimeoutError",
            "category": "communication",
            "recovery_action": "retry_with_backoff" if i % 4 else "failover",
            "recovery_outcome": "succeeded" if i % 4 else "failed",
            "ts": f"2026-01-01T01:{i // 60:02d}:{i % 60:02d}Z",
        }  # fmt: skip
        for i in range(80)
    ]
    assert call(f"{served.url}/v1/events", served.keys["ingest"], lines(*outcomes))[0] == 200
    read = served.keys["read"]

    def policy() -> list[dict[str, object]]:
        rows: list[dict[str, object]] = json.loads(call(f"{served.url}/v1/policy", read)[1])[
            "policy"
        ]
        return rows

    wait_for(lambda: bool(policy()), 30, "the policy learned from the outcomes")
    [row] = [r for r in policy() if r["error_type"] == "TimeoutError"]
    assert row["action"] == "retry_with_backoff" and row["category"] == "communication"
    assert set(row) >= {"expected_success", "automate", "trials"}
    status, answer, _ = call(
        f"{served.url}/v1/recommendation?error_type=TimeoutError&service=pay", read
    )
    assert status == 200 and json.loads(answer)["action"] == "retry_with_backoff"
    status, answer, _ = call(f"{served.url}/v1/risk?unit=pay", read)
    assert status == 200 and json.loads(answer)["risk"] == []  # nothing learned yet
    for name in metric_names():
        status, answer, _ = call(f"{served.url}/v1/metrics/{name}", read)
        assert status == 200, (name, answer)
    status, answer, _ = call(
        f"{served.url}/v1/metrics/error_frequency?by=service&service=pay", read
    )
    assert json.loads(answer)["rows"][0]["errors"] == 80
    assert call(f"{served.url}/v1/metrics/nope", read)[0] == 404
    assert call(f"{served.url}/v1/metrics/error_frequency?bogus=1", read)[0] == 400
    patterns = json.loads(call(f"{served.url}/v1/patterns?service=pay", read)[1])["patterns"]
    assert patterns and "template" in patterns[0]


def test_operations_endpoints_need_no_key(served: Served) -> None:
    assert json.loads(call(f"{served.url}/healthz")[1])["status"] == "ok"
    metrics = call(f"{served.url}/metrics")[1].decode()
    assert 'faultcast_http_requests_total{path="/v1/events",status="401"}' in metrics
    assert 'faultcast_events_stored_total{source="http"}' in metrics
    paths = json.loads(call(f"{served.url}/openapi.json")[1])["paths"]
    assert {
        "/v1/logs",
        "/v1/events",
        "/v1/risk",
        "/v1/policy",
        "/api/{project_id}/envelope/",
    } <= set(paths)
    assert call(f"{served.url}/docs")[0] == 200


def test_the_store_after_stop_holds_the_quarantined_payloads(served: Served) -> None:
    served.stop()
    with faultcast.connect(served.db) as fc:
        reasons = fc.quarantine()["reason"].tolist()
        assert any(r.startswith("invalid JSON array") for r in reasons)
        assert any(r.startswith("OTLP protobuf") for r in reasons)
        assert fc.store.counts()["events"] == len(fc.events())
    for secret in served.keys.values():
        assert secret not in served.db.read_bytes().decode("latin-1")
