"""HttpSink against a stdlib HTTP server that fails on cue: batches in order, retried on 503 and
connection errors, spilled to disk while the server is down, never resent once acknowledged,
and refused batches (400) set aside rather than retried."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from structlog.testing import capture_logs

from faultcast.sdk import HttpSink


class Recorder(ThreadingHTTPServer):
    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.answers: list[int] = []  # the next answers to give (then 200)
        self.bodies: list[list[dict[str, Any]]] = []
        self.auth: set[str] = set()


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.auth.add(self.headers["Authorization"])
        status = self.server.answers.pop(0) if self.server.answers else 200
        if status == 200:
            self.server.bodies.append([json.loads(line) for line in body.splitlines()])
        self.send_response(status)
        if status == 503:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_batches_in_order_retried_and_never_duplicated(recorder: Recorder) -> None:
    url = f"http://127.0.0.1:{recorder.server_address[1]}"
    recorder.answers = [503, 503, 400]  # two retries of the first batch, then a refused one
    sink = HttpSink(url, "fc_k", batch_size=10, flush_interval=60, retries=3, backoff=0.001)
    with capture_logs():
        for i in range(25):
            sink.send({"event": f"e{i}", "seq": i})
        sink.close()
    assert recorder.auth == {"Bearer fc_k"}
    sent = [e["seq"] for batch in recorder.bodies for e in batch]
    refused = [json.loads(line)["seq"] for line in sink.rejected[0][0].splitlines()]
    assert sorted(sent + refused) == list(range(25)) and sent == sorted(sent)
    assert len(refused) == 10 and sink.delivered == 15
    assert all(len(e["event_id"]) == 32 for batch in recorder.bodies for e in batch)


def test_spills_while_the_server_is_down_and_replays_once(tmp_path: Any) -> None:
    down = Recorder()
    port = down.server_address[1]
    down.server_close()  # nothing listens on the port now
    sink = HttpSink(
        f"http://127.0.0.1:{port}", "fc_k", batch_size=5, flush_interval=60, retries=0,
        memory_batches=1, spill_dir=tmp_path,
    )  # fmt: skip
    with capture_logs() as logs:
        for i in range(30):
            sink.send({"event": f"e{i}", "seq": i, "event_id": f"id-{i}"})
        assert not sink.flush()
        assert sink.pending == 6 and sink.buffer.on_disk >= 4
        up = Recorder(port)
        thread = threading.Thread(target=up.serve_forever, daemon=True)
        thread.start()
        try:
            assert sink.flush()
            sink.close()
        finally:
            up.shutdown()
            up.server_close()
    assert [e["seq"] for batch in up.bodies for e in batch] == list(range(30))
    assert any(log.get("recovery_action") == "buffer_replay" for log in logs)
