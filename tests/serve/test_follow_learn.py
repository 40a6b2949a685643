"""faultcast serve over followed files: stores what they grow by, learns, stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from faultcast.ingest import Store

from faultcast.serve import ServeOptions, Server

from .conftest import ROOT, events, free_port
from .test_kafka import scrape, wait_for


def append(path: Path, lines: list[bytes]) -> None:
    with open(path, "ab") as f:
        f.write(b"".join(line + b"\n" for line in lines))


def test_follows_files_learns_and_writes_predictions(tmp_path: Path) -> None:
    log_file = tmp_path / "app.jsonl"
    append(log_file, list(events(1500)))  # 25 minutes of event time, a second apart
    db = tmp_path / "faultcast.duckdb"
    server = Server(ServeOptions(db=db, follow=[str(log_file)], learn_every=0.5, poll_interval=0.1))
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        wait_for(lambda: server.summary.stored == 1500, 30, "the file stored")
        append(log_file, [*events(1500, 1500), b"{broken"])
        # A half-written line is not read until its newline arrives.
        with open(log_file, "ab") as f:
            f.write(b'{"timestamp": 1767229200, "level": "error", "event": "late"')
        wait_for(lambda: server.summary.read == 3001, 30, "the appended lines read")
        wait_for(lambda: server.summary.predictions > 0, 60, "predictions from learning")
        with open(log_file, "ab") as f:
            f.write(b"}\n")
        wait_for(lambda: server.summary.stored == 3001, 30, "the finished line stored")
    finally:
        server.stop()
        thread.join(60)
    assert not thread.is_alive()
    assert server.summary.quarantined == 1
    assert server.metrics.value("faultcast_model_version", model="unit_failure") is not None
    prediction_runs = server.metrics.value("faultcast_prediction_seconds_count")
    assert prediction_runs is not None and prediction_runs >= 1
    with Store(db) as store:
        counts = store.counts()
        predictions = store.query_df("SELECT count(*) AS n FROM store.predictions")["n"][0]
    assert counts == {"events": 3001, "quarantined": 1}
    assert predictions == server.summary.predictions


@pytest.mark.slow
def test_cli_serve_exits_0_on_sigterm_with_its_batch_committed(tmp_path: Path) -> None:
    log_file = tmp_path / "app.jsonl"
    append(log_file, list(events(2000)))
    db = tmp_path / "faultcast.duckdb"
    process = subprocess.Popen(
        [sys.executable, "-m", "faultcast", "serve", "--db", str(db), "--follow", str(log_file),
         "--learn-every", "3600", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    try:
        wait_for(lambda: db.exists() and Store(db).counts()["events"] == 2000, 60, "stored")
    finally:
        process.send_signal(signal.SIGTERM)
        out, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors.decode()[-2000:]
    assert json.loads(out)["stored"] == 2000
    # Started again it resumes at the checkpoint: nothing is read twice.
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "faultcast", "serve", "--db", str(db), "--follow", str(log_file),
         "--json", "--metrics-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    # Signalled once it serves (its metrics answer), not while Python is still starting.
    wait_for(lambda: "faultcast_ingest_events_per_second" in scrape(port), 60, "serve up")
    time.sleep(1)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and json.loads(out)["read"] == 0


def test_cli_serve_needs_a_source(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "faultcast", "serve", "--db", str(tmp_path / "x.duckdb")],
        capture_output=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert b"nothing to serve" in result.stderr
