"""Group commit: concurrent requests share a commit; a full queue refuses at once."""

from __future__ import annotations

import json
from concurrent.futures import wait

import pytest
from faultcast.ingest import Ingestor, Store
from faultcast.ingest.network import NetworkIngest, Request

from faultcast.http._batcher import GroupCommitter, QueueFull, Stopped


def request(i: int, n: int = 3) -> Request:
    lines = [
        json.dumps({"event": f"r{i} e{j}", "ts": 1767225600 + j, "service": "b"}).encode()
        for j in range(n)
    ]
    return Request("http:/v1/events", b"\n".join(lines), lines)


def test_requests_in_flight_share_one_commit_and_a_full_queue_refuses() -> None:
    network = NetworkIngest(Ingestor(Store(":memory:")))
    committer = GroupCommitter(network, max_queue_events=10, max_delay=5.0)
    futures = [committer.submit(request(i)) for i in range(3)]  # 9 events queued
    with pytest.raises(QueueFull):
        committer.submit(request(3, n=2))
    committer.start()  # the queue is not full, so the batch waits out max_delay...
    committer.stop()  # ...unless the server stops: then what is queued is committed
    done, _ = wait(futures, timeout=30)
    assert [f.result().accepted for f in futures] == [3, 3, 3]
    report, batches = committer.take_report()
    assert (report.stored, batches) == (9, 1)
    assert network.ingestor.store.counts()["events"] == 9
    with pytest.raises(Stopped):
        committer.submit(request(4))
