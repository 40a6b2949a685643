"""The SDK's Advisor against a live ``faultcast serve --http`` on loopback: fetches risk and
policy, keeps its TTL, fails open when the server is killed, and never blocks a guarded call
while the server hangs."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import pandas as pd
from structlog.testing import capture_logs

from faultcast.http._reads import frame_json, risk_for_apps
from faultcast.sdk import Advisor, FakeClock, Preempt, guard
from faultcast.sdk._advisor import parse_risk
from tests.http.conftest import Served, call, wait_for


def lines(*events: dict[str, Any]) -> bytes:
    return b"\n".join(json.dumps(e).encode() for e in events)


def test_fetches_the_served_policy_on_its_ttl_and_fails_open_when_the_server_dies(
    served: Served,
) -> None:
    outcomes = [
        {
            "event": f"GET /stock timed out after {100 + i} ms",
            "level": "error",
            "service": "pay",
            "error_type": "TimeoutError",
            "category": "communication",
            "recovery_action": "failover" if i % 5 == 0 else "retry_with_backoff",
            "recovery_outcome": "failed" if i % 5 == 0 or i % 17 == 0 else "succeeded",
            "ts": f"2026-01-01T02:{i // 60:02d}:{i % 60:02d}Z",
        }
        for i in range(90)
    ]
    assert call(f"{served.url}/v1/events", served.keys["ingest"], lines(*outcomes))[0] == 200

    def served_policy() -> list[dict[str, Any]]:
        answer = call(f"{served.url}/v1/policy?service=pay", served.keys["read"])[1]
        rows: list[dict[str, Any]] = json.loads(answer)["policy"]
        return rows

    wait_for(lambda: bool(served_policy()), 30, "the policy learned from the outcomes")
    clock = FakeClock(100.0)
    advisor = Advisor(served.url, served.keys["read"], service="pay", ttl=30.0, clock=clock,
                      background=False)  # fmt: skip
    assert advisor.poll() and advisor.fetches == 1 and advisor.last_error is None
    rule = advisor.rule("communication", "TimeoutError")
    assert rule is not None and (rule.action, rule.automate) == ("retry_with_backoff", True)
    assert rule.trials == 72 and advisor.fresh
    assert advisor.risk() is None and not advisor.at_risk()  # no model learned yet
    decision = advisor.decide(TimeoutError("stock"), ["retry_with_backoff", "failover"])
    assert (decision.action, decision.kind) == ("retry_with_backoff", "automate")
    # The TTL: no fetch before it is due, one after.
    clock.advance(20.0)
    assert not advisor.poll() and advisor.fetches == 1
    clock.advance(20.0)
    assert advisor.poll() and advisor.fetches == 2
    # A key without the read scope is refused: the Advisor says why and keeps what it had.
    refused = Advisor(served.url, served.keys["ingest"], service="pay", background=False)
    with capture_logs() as logs:
        assert refused.refresh() is False and not refused.fresh
    assert "403" in (refused.last_error or "") and logs[0]["event"] == "advisor.fetch_failed"
    # In the background, on its own.
    background = Advisor(served.url, served.keys["read"], service="pay", ttl=0.1)
    wait_for(lambda: background.fetches >= 2, 30, "two background fetches")
    background.close()
    assert background.fresh and background.rule("communication", "TimeoutError") is not None
    # The server dies: the last good snapshot holds until stale, then local defaults.
    served.stop()
    with capture_logs():
        assert advisor.refresh() is False
    assert advisor.last_error is not None and advisor.fresh
    clock.advance(advisor.stale_after + 1)
    assert not advisor.fresh and advisor.rule("communication", "TimeoutError") is None
    calls: list[str] = []

    @guard(advisor=advisor, service="pay", base_delay=0, attempts=2,
           fallback=lambda: "cached")  # fmt: skip
    def stock() -> str:
        calls.append("call")
        raise TimeoutError("stock timed out")

    with capture_logs() as logs:
        assert stock() == "cached"
    assert calls == ["call", "call"]  # the static default: retry, then the fallback
    assert (logs[0]["recovery_decision"], logs[0]["automated"]) == ("ask", False)


class HangingServer:
    """Accepts a connection and never answers until released; ``accepted`` is set when a
    request is in flight, ``answered`` when the server finally closes it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = threading.Event()
        self.release = threading.Event()
        self.answered = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.sock.accept()
        self.accepted.set()
        self.release.wait(60)
        self.answered.set()
        connection.close()
        self.sock.close()


def test_a_hanging_server_never_blocks_a_guarded_call() -> None:
    server = HangingServer()
    advisor = Advisor(server.url, "key", service="pay", ttl=30.0, timeout=30.0)
    try:
        assert server.accepted.wait(30), "the Advisor never fetched"
        calls: list[str] = []

        @guard(advisor=advisor, service="pay", attempts=1, fallback=lambda: "cached",
               preempt=Preempt(fallback=True))  # fmt: skip
        def stock() -> str:
            calls.append("call")
            raise TimeoutError("stock timed out")

        with capture_logs() as logs:
            results = [stock() for _ in range(50)]
        # Every call was made and recovered while the fetch was still unanswered.
        assert not server.answered.is_set()
        assert results == ["cached"] * 50 and len(calls) == 50
        assert {e["recovery_decision"] for e in logs} == {"ask"}
        assert advisor.fetches == 1 and not advisor.fresh
    finally:
        server.release.set()
        advisor.close()


def test_the_served_risk_rows_read_as_risk_views() -> None:
    """The shape of ``/v1/risk`` (the facade's risk frame as the server serialises it) is what
    the Advisor parses: the fields it reads, beside the old ones."""
    frame = pd.DataFrame(
        {
            "unit": ["pay", "ship"],
            "risk": [0.81, 0.02],
            "alert": [True, False],
            "threshold": [0.4, 0.4],
            "anomaly_score": [3.2, 0.1],
            "as_of": pd.to_datetime(["2026-01-01T02:00:00Z"] * 2, utc=True),
            "horizon_s": [900.0, 900.0],
            "model_version": pd.array([4, 4], dtype="Int64"),
            "status": ["ready", "ready"],
            "top_features": [["errors 4.0x their hourly rate"], []],
        }
    )
    answer = json.loads(f'{{"risk": {frame_json(risk_for_apps(frame))}}}')
    assert {"risk", "top_features", "probability", "reasons"} <= set(answer["risk"][0])
    views = parse_risk(answer)
    pay = views["pay"]
    assert (pay.probability, pay.alert, pay.threshold, pay.model_version) == (0.81, True, 0.4, "4")
    assert pay.reasons == ("errors 4.0x their hourly rate",) and pay.status == "ready"
    assert pay.as_of is not None and pay.as_of.startswith("2026-01-01T02:00")
    assert not views["ship"].alert and views["ship"].reasons == ()
    assert risk_for_apps(frame.iloc[:0]).empty
