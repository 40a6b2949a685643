"""The HTTP API's ingest speed against ``faultcast ingest`` of the same events from a file, and
its query latency while ingest runs.

Prints one JSON object:

- ``file_events_per_s``: ``faultcast ingest FILE --json`` (a fresh process, timed by its report)
  on ``--events`` simulated events;
- ``otlp_events_per_s``: the same events as OTLP/HTTP protobuf requests of 512 log records,
  sent by ``--clients`` concurrent clients (10, as a Collector's exporter sends by default) to
  ``faultcast serve --http`` (a fresh store), timed
  from the first request to the last answer (each answer means committed); ``otlp_ratio`` is
  OTLP / file (target >= 0.5);
- ``sentry_events_per_s``: ``--sentry-events`` of them as Sentry envelopes (one event each, as
  the Sentry SDK sends them) from ``--sentry-clients`` concurrent senders (apps); group commit
  stores what arrives together in one transaction; ``sentry_ratio`` against the file;
- ``risk_ms`` / ``policy_ms``: p50 and p99 of ``GET /v1/risk`` and ``GET /v1/policy`` from 50
  concurrent clients (persistent connections; 10 threads per client process), against the file's store after ``faultcast
  learn``, while OTLP ingest runs into it (target p99 < 10 ms); ``queries`` counts them;
  ``idle_risk_ms`` / ``idle_policy_ms``: the same with no ingest running (the peer).

Every count is checked: the stores hold exactly the events sent.

Usage: ``python benchmarks/http_api.py [--events 50000] [--sentry-events 3000] [--clients 10]``.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

FC = [sys.executable, "-m", "faultcast"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _simulate(path: Path, n: int) -> list[dict[str, Any]]:
    from faultcast.simulate import iter_events

    hours = n / 3000 + 0.5  # the simulator makes about 4500 events an hour for 8 services
    events = list(itertools.islice(iter_events(services=8, hours=hours, seed=7), n))
    if len(events) < n:
        raise SystemExit(f"the simulation made {len(events)} events, not {n}")
    with open(path, "wb") as f:
        for ev in events:
            f.write(orjson.dumps(ev) + b"\n")
    return events


def _otlp_bodies(events: list[dict[str, Any]], size: int = 512) -> list[bytes]:
    from datetime import datetime

    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    def value(v: Any) -> AnyValue:
        if isinstance(v, bool):
            return AnyValue(bool_value=v)
        if isinstance(v, int):
            return AnyValue(int_value=v)
        if isinstance(v, float):
            return AnyValue(double_value=v)
        return AnyValue(string_value=str(v))

    bodies = []
    for start in range(0, len(events), size):
        request = ExportLogsServiceRequest()
        by_service: dict[str, Any] = {}
        for ev in events[start : start + size]:
            service = str(ev.get("service", "unknown"))
            if service not in by_service:
                rl = request.resource_logs.add()
                rl.resource.attributes.append(
                    KeyValue(key="service.name", value=AnyValue(string_value=service))
                )
                by_service[service] = rl.scope_logs.add()
            record = by_service[service].log_records.add()
            ts = datetime.fromisoformat(str(ev["timestamp"]).replace("Z", "+00:00"))
            record.time_unix_nano = int(ts.timestamp() * 1e9)
            record.severity_text = str(ev.get("level", "info")).upper()
            record.body.string_value = str(ev.get("event", ""))
            for k, v in ev.items():
                if k in ("timestamp", "level", "event", "service") or v is None:
                    continue
                key = "exception.type" if k == "error_type" else k
                record.attributes.append(KeyValue(key=key, value=value(v)))
        bodies.append(request.SerializeToString())
    return bodies


def _sentry_bodies(events: list[dict[str, Any]]) -> list[bytes]:
    import uuid

    bodies = []
    for ev in events:
        event_id = uuid.uuid4().hex
        event = {
            "event_id": event_id,
            "timestamp": ev["timestamp"],
            "level": ev.get("level", "error"),
            "release": f"{ev.get('service', 'app')}@1.0.0",
            "environment": "bench",
            "server_name": ev.get("host"),
            "exception": {
                "values": [
                    {
                        "type": ev.get("error_type") or "Error",
                        "value": ev.get("event", ""),
                        "stacktrace": {
                            "frames": [
                                {"module": "app.main", "function": "handle", "in_app": True},
                                {"module": f"app.{ev.get('component', 'x')}", "function": "run",
                                 "in_app": True, "lineno": 42},
                            ]
                        },
                    }
                ]
            },
        }  # fmt: skip
        header = orjson.dumps({"event_id": event_id, "sent_at": ev["timestamp"]})
        payload = orjson.dumps(event)
        item = orjson.dumps({"type": "event", "length": len(payload)})
        bodies.append(header + b"\n" + item + b"\n" + payload + b"\n")
    return bodies


class _Serve:
    def __init__(self, db: Path, key: str, log: Path) -> None:
        self.port = _free_port()
        self.key = key
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [*FC, "serve", "--http", f"127.0.0.1:{self.port}", "--db", str(db),
                 "--learn-every", "100000", "--json"],
                stdout=subprocess.PIPE, stderr=out,
            )  # fmt: skip
        deadline = time.monotonic() + 120
        while True:
            try:
                if self._get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"faultcast serve did not start: see {log}")
            time.sleep(0.1)

    def _get(self, path: str) -> tuple[int, bytes]:
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        con.request("GET", path, headers={"Authorization": f"Bearer {self.key}"})
        answer = con.getresponse()
        return answer.status, answer.read()

    def post_all(self, path: str, bodies: list[bytes], content_type: str, clients: int) -> float:
        """Seconds to send every body (``clients`` at a time), each answered 2xx."""
        local = threading.local()

        def post(body: bytes) -> None:
            con = getattr(local, "con", None)
            if con is None:
                con = local.con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            headers = {"Authorization": f"Bearer {self.key}", "Content-Type": content_type}
            for _ in range(100):
                con.request("POST", path, body, headers)
                answer = con.getresponse()
                answer.read()
                if answer.status in (429, 503):
                    time.sleep(float(answer.getheader("Retry-After") or 1))
                    continue
                if answer.status != 200:
                    raise SystemExit(f"POST {path} answered {answer.status}")
                return

        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(post, bodies))
        return time.perf_counter() - t0

    def stop(self) -> dict[str, Any]:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=300)
        summary: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return summary


_CLIENTS = """
import http.client, json, sys, threading, time
port, key, clients, per_client, offset = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
times = {"/v1/risk": [], "/v1/policy": []}
lock = threading.Lock()
start = threading.Barrier(clients)
def run(i):
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    mine = {"/v1/risk": [], "/v1/policy": []}
    start.wait()
    for j in range(per_client):
        path = "/v1/risk" if (i + j) % 2 else "/v1/policy"
        t0 = time.perf_counter()
        con.request("GET", path, headers={"Authorization": "Bearer " + key})
        answer = con.getresponse()
        answer.read()
        mine[path].append((time.perf_counter() - t0) * 1000)
        assert answer.status == 200, (path, answer.status)
    with lock:
        for k, v in mine.items():
            times[k].extend(v)
threads = [threading.Thread(target=run, args=(offset + i,)) for i in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(times))
"""


def _latencies(serve: _Serve, clients: int, per_client: int) -> dict[str, list[float]]:
    """Latencies (ms) of ``clients`` concurrent clients, spread over processes of 10 threads
    each (one Python process of 50 threads would measure its own GIL)."""
    procs = []
    for offset in range(0, clients, 10):
        n = min(10, clients - offset)
        args = [str(serve.port), serve.key, str(n), str(per_client), str(offset)]
        procs.append(
            subprocess.Popen([sys.executable, "-c", _CLIENTS, *args], stdout=subprocess.PIPE)
        )
    times: dict[str, list[float]] = {"/v1/risk": [], "/v1/policy": []}
    for process in procs:
        out, _ = process.communicate(timeout=600)
        if process.returncode != 0:
            raise SystemExit("a query client failed")
        for k, v in json.loads(out).items():
            times[k].extend(v)
    return times


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def _key(db: Path) -> str:
    out = subprocess.run(
        [*FC, "keys", "create", "bench", "--scope", "admin", "--json", "--db", str(db)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(json.loads(out.stdout)["key"])


def _count(db: Path, source_prefix: str) -> int:
    import faultcast

    with faultcast.connect(db) as fc:
        return int((fc.events(limit=None)["source"].str.startswith(source_prefix)).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--sentry-events", type=int, default=3_000)
    parser.add_argument(
        "--clients", type=int, default=10,
        help="OTLP requests in flight (10: the OpenTelemetry Collector's default "
        "sending_queue.num_consumers).",
    )  # fmt: skip
    parser.add_argument(
        "--sentry-clients", type=int, default=64,
        help="Sentry SDKs at once (each sends one event per request, as apps do).",
    )  # fmt: skip
    parser.add_argument("--query-clients", type=int, default=50)
    parser.add_argument("--queries-per-client", type=int, default=40)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="faultcast-http-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    events = _simulate(work / "events.jsonl", args.events)
    otlp = _otlp_bodies(events)
    sentry = _sentry_bodies(events[: args.sentry_events])
    log = work / "serve.log"

    # The peer: the same events from a file.
    out = subprocess.run(
        [*FC, "ingest", str(work / "events.jsonl"), "--db", str(work / "file.duckdb"), "--json"],
        check=True, capture_output=True,
    )  # fmt: skip
    file_report = json.loads(out.stdout)
    file_eps = file_report["read"] / file_report["seconds"]

    # OTLP and Sentry into a fresh store.
    db = work / "http.duckdb"
    serve = _Serve(db, _key(db), log)
    try:
        otlp_s = serve.post_all("/v1/logs", otlp, "application/x-protobuf", args.clients)
        sentry_s = serve.post_all(
            "/api/1/envelope/", sentry, "application/x-sentry-envelope", args.sentry_clients
        )
    finally:
        serve.stop()
    otlp_stored = _count(db, "http:/v1/logs")
    sentry_stored = _count(db, "http:/api/1/envelope")

    # Queries while OTLP ingest runs, on the file's store with a learned model.
    subprocess.run([*FC, "learn", "--db", str(work / "file.duckdb"), "--json"], check=True,
                   capture_output=True)  # fmt: skip
    serve = _Serve(work / "file.duckdb", _key(work / "file.duckdb"), log)
    try:
        idle = _latencies(serve, args.query_clients, args.queries_per_client)
        ingest = threading.Thread(
            target=serve.post_all, args=("/v1/logs", otlp, "application/x-protobuf", 4)
        )
        ingest.start()
        time.sleep(1.0)
        times = _latencies(serve, args.query_clients, args.queries_per_client)
        ingest_running = ingest.is_alive()
        ingest.join()
        risk_rows = len(json.loads(serve._get("/v1/risk")[1])["risk"])
        policy_rows = len(json.loads(serve._get("/v1/policy")[1])["policy"])
    finally:
        serve.stop()

    print(
        json.dumps(
            {
                "events": args.events,
                "file_events_per_s": round(file_eps, 1),
                "otlp_events_per_s": round(len(events) / otlp_s, 1),
                "otlp_ratio": round(len(events) / otlp_s / file_eps, 3),
                "otlp_batch": 512,
                "otlp_stored": otlp_stored,
                "sentry_events_per_s": round(len(sentry) / sentry_s, 1),
                "sentry_ratio": round(len(sentry) / sentry_s / file_eps, 3),
                "sentry_stored": sentry_stored,
                "clients": args.clients,
                "sentry_clients": args.sentry_clients,
                "risk_ms": {
                    "p50": _pct(times["/v1/risk"], 0.5),
                    "p99": _pct(times["/v1/risk"], 0.99),
                },
                "policy_ms": {
                    "p50": _pct(times["/v1/policy"], 0.5),
                    "p99": _pct(times["/v1/policy"], 0.99),
                },
                "idle_risk_ms": {
                    "p50": _pct(idle["/v1/risk"], 0.5),
                    "p99": _pct(idle["/v1/risk"], 0.99),
                },
                "idle_policy_ms": {
                    "p50": _pct(idle["/v1/policy"], 0.5),
                    "p99": _pct(idle["/v1/policy"], 0.99),
                },
                "queries": sum(len(v) for v in times.values()),
                "query_clients": args.query_clients,
                "ingest_ran_throughout": ingest_running,
                "risk_rows": risk_rows,
                "policy_rows": policy_rows,
                "counts_exact": otlp_stored == len(events) and sentry_stored == len(sentry),
            }
        )
    )


if __name__ == "__main__":
    main()
