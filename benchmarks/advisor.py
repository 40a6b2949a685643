"""What an Advisor costs a guarded call, each figure next to a peer measured in the same run.

- **overhead**: ns per call that does not fail, of a function under ``guard`` (the peer), under
  ``guard(advisor=..., preempt=Preempt(...))`` while the unit is not at risk (one snapshot read
  per call), and under ``guard(breaker=...)`` (the other guard that checks before each call);
- **hanging server**: µs per *failing* guarded call (classified, decided by the Advisor,
  recovered by a fallback, logged), once while the Advisor's background fetch is answered at
  once and once while it hangs on a server that accepted the connection and never answers;
  the ratio is what a hanging faultcast costs an app (1.0: nothing).

Usage: ``python benchmarks/advisor.py [--calls 100000] [--repeats 5]``; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import structlog

from faultcast.sdk import Advisor, CircuitBreaker, Preempt, guard

sys.path.insert(0, str(Path(__file__).resolve().parent))
from guard import best_ns_per_call  # noqa: E402  (benchmarks/guard.py: the same timing)

ANSWERS: dict[str, Any] = {
    "/v1/risk?unit=shop": {
        "risk": [{"unit": "shop", "risk": 0.1, "threshold": 0.5, "alert": False}]
    },
    "/v1/policy?service=shop": {
        "policy": [
            {
                "category": "communication",
                "error_type": "TimeoutError",
                "action": "fallback",
                "automate": True,
                "expected_success": 0.99,
                "trials": 500,
            }
        ]
    },
}


def overhead(calls: int, repeats: int) -> dict[str, float]:
    advisor = Advisor("http://unused", service="shop", fetch=ANSWERS.__getitem__, background=False)
    advisor.refresh()

    def bare(x: int) -> int:
        return x

    plain = guard(bare)
    advised = guard(
        advisor=advisor, service="shop", fallback=lambda x: 0, preempt=Preempt(fallback=True)
    )(bare)
    breaker = guard(breaker=CircuitBreaker("peer"))(bare)
    plain_ns = best_ns_per_call(plain, calls, repeats)
    advised_ns = best_ns_per_call(advised, calls, repeats)
    breaker_ns = best_ns_per_call(breaker, calls, repeats)
    return {
        "guard_ns": round(plain_ns, 1),
        "guard_advisor_preempt_not_at_risk_ns": round(advised_ns, 1),
        "guard_breaker_ns": round(breaker_ns, 1),
        "advisor_vs_breaker_ratio": round(advised_ns / breaker_ns, 3),
    }


class _Hanging:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = threading.Event()
        self.release = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self.sock.accept()
        self.accepted.set()
        self.release.wait(600)
        connection.close()
        self.sock.close()


def failing_calls(advisor: Advisor, calls: int, repeats: int) -> float:
    @guard(advisor=advisor, service="shop", attempts=1, fallback=lambda x: 0)
    def stock(x: int) -> int:
        raise TimeoutError("stock timed out")

    return best_ns_per_call(stock, calls, repeats) / 1000.0


def hanging(calls: int, repeats: int) -> dict[str, float]:
    answered = Advisor("http://unused", service="shop", fetch=ANSWERS.__getitem__, ttl=0.05)
    server = _Hanging()
    hung = Advisor(server.url, service="shop", ttl=600, timeout=600)
    try:
        if not server.accepted.wait(30):
            raise RuntimeError("the Advisor never fetched from the hanging server")
        answered_us = failing_calls(answered, calls, repeats)
        hung_us = failing_calls(hung, calls, repeats)
    finally:
        server.release.set()
        answered.close()
        hung.close()
    return {
        "failing_call_advisor_answered_us": round(answered_us, 2),
        "failing_call_advisor_hanging_us": round(hung_us, 2),
        "hanging_vs_answered_ratio": round(hung_us / answered_us, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    result = {
        "calls": args.calls,
        "repeats": args.repeats,
        **overhead(args.calls, args.repeats),
        **hanging(max(1, args.calls // 20), args.repeats),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
