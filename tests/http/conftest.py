"""One faultcast server with the HTTP API per module (in a thread), and keys of each scope."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from faultcast.ingest import Store
from faultcast.ingest.keys import KeyStore

from faultcast.http import HttpOptions
from faultcast.serve import ServeOptions, Server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(
    url: str,
    key: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> tuple[int, bytes, Any]:
    """(status, body, headers) of one request (no exception on 4xx/5xx)."""
    all_headers = dict(headers or {})
    if key is not None:
        all_headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, body, all_headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Served:
    url: str
    db: Path
    keys: dict[str, str]
    server: Server
    thread: threading.Thread

    def events(self, **params: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in {"limit": "10000", **params}.items())
        status, body, _ = call(f"{self.url}/v1/events?{query}", self.keys["read"])
        assert status == 200, body
        rows: list[dict[str, Any]] = json.loads(body)["events"]
        return rows

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(60)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    db = tmp_path_factory.mktemp("http") / "faultcast.duckdb"
    with Store(db) as store:
        keys = {
            scope: KeyStore(store).create(f"test-{scope}", scope)
            for scope in ("ingest", "read", "admin")
        }
    options = HttpOptions(
        port=0,
        max_body_bytes=256 * 1024,
        refresh_seconds=0.5,
        policy_refresh_seconds=0.5,
        keys_refresh_seconds=0.5,
    )
    server = Server(ServeOptions(db=db, http=options, learn_every=3600, poll_interval=0.05))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.http_port is not None or not thread.is_alive(), 60, "the server")
    assert thread.is_alive(), "the server did not start"
    served = Served(f"http://127.0.0.1:{server.http_port}", db, keys, server, thread)
    yield served
    served.stop()
