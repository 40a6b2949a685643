"""A store whose production model alerts for one unit (real ingest, real learner), a local
webhook receiver (the target of Apprise's ``json://``), and a real Alertmanager."""

from __future__ import annotations

import json
import random
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import faultcast

ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
START = datetime(2026, 1, 1, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_events(hours: float, seed: int = 1) -> list[dict[str, Any]]:
    """Two services' events: steady traffic, and on ``api`` every 40 minutes ten minutes of
    growing connection-pool errors followed by an outage (a critical failure event); the
    stream ends in the middle of such a build-up, so a model that learned the pattern alerts
    for ``api`` at the last tick."""
    r = random.Random(seed)
    end = START + timedelta(hours=hours)
    out: list[dict[str, Any]] = []

    def pool_errors(at: datetime, minutes: int) -> None:
        for m in range(minutes):
            for _ in range(1 + m):
                ts = at + timedelta(minutes=m, seconds=r.randint(0, 59))
                if ts < end:
                    out.append(
                        {
                            "timestamp": ts.isoformat(),
                            "service": "api",
                            "level": "error",
                            "error_type": "PoolExhausted",
                            "event": f"connection pool exhausted ({r.randint(40, 50)} of 50 in use)",
                        }
                    )

    t = START
    while t < end:
        for service in ("api", "worker"):
            out.append(
                {
                    "timestamp": t.isoformat(),
                    "service": service,
                    "level": "info",
                    "event": f"GET /items/{r.randint(1, 999)} 200 in {r.randint(5, 80)} ms",
                }
            )
        t += timedelta(seconds=20)
    episode = START + timedelta(minutes=30)
    while episode + timedelta(minutes=12) < end:
        pool_errors(episode, 10)
        out.append(
            {
                "timestamp": (episode + timedelta(minutes=11)).isoformat(),
                "service": "api",
                "level": "critical",
                "error_type": "OutageError",
                "event": "service unavailable: database down",
                "failure": True,
            }
        )
        episode += timedelta(minutes=40)
    pool_errors(end - timedelta(minutes=9), 9)
    out.sort(key=lambda e: str(e["timestamp"]))
    return out


def build_store(folder: Path, hours: float, bad_lines: int = 0) -> Path:
    events = folder / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in app_events(hours)))
    db = folder / "store.duckdb"
    with faultcast.connect(db) as fc:
        fc.ingest(events)
        if bad_lines:
            bad = folder / "bad.jsonl"
            bad.write_text("".join(f'{{"event": "cut off {i}\n' for i in range(bad_lines)))
            assert fc.ingest(bad, format="json").quarantined == bad_lines
        fc.learn()
    return db


@pytest.fixture(scope="module")
def at_risk_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six hours of ``app_events`` (the model is past its cold start and alerts for ``api``),
    and 25 lines quarantined at ingest (a quarantine spike)."""
    folder = tmp_path_factory.mktemp("alerts")
    db = build_store(folder, hours=6, bad_lines=25)
    with faultcast.connect(db) as fc:
        risk = fc.predict_failure()
    api = risk[risk["unit"] == "api"].iloc[0]
    assert api["status"] == "ready" and bool(api["alert"]), risk
    return db


@pytest.fixture
def store_copy(at_risk_store: Path, tmp_path: Path) -> Path:
    from tests.conftest import copy_store

    return copy_store(at_risk_store, tmp_path / "store.duckdb")


class Receiver:
    """A webhook on loopback that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    outer.received.append(json.loads(body))
                    outer.paths.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def take(self) -> list[dict[str, Any]]:
        taken, self.received = self.received, []
        return taken

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus Alertmanager on a free loopback port (no clustering), its URL."""
    if not ALERTMANAGER.exists():
        pytest.skip(f"{ALERTMANAGER} is absent: install the Debian package prometheus-alertmanager")
    folder = tmp_path_factory.mktemp("alertmanager")
    config = folder / "alertmanager.yml"
    config.write_text("route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(folder / "log.txt", "wb") as log:
        process = subprocess.Popen(
            [str(ALERTMANAGER), f"--config.file={config}", f"--storage.path={folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log_text = (folder / "log.txt").read_text()
                raise RuntimeError(f"alertmanager did not start: {log_text[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder / "data", ignore_errors=True)
