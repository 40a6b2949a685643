"""The HTTP reads over an in-memory store, which cannot say whether it changed."""

from __future__ import annotations

import json
from pathlib import Path

import faultcast
from faultcast.http._reads import Reads


def _outcomes(path: Path, start: int, n: int) -> Path:
    lines = [
        json.dumps(
            {
                "ts": f"2026-01-01T00:{(start + i) // 60:02d}:{(start + i) % 60:02d}Z",
                "level": "error",
                "service": "checkout",
                "event": "payment API timed out",
                "error_type": "TimeoutError",
                "category": "communication",
                "recovery_action": "retry_with_backoff",
                "recovery_outcome": "succeeded" if i % 4 else "failed",
            }
        )
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_policy_of_a_memory_store_follows_new_outcomes(tmp_path: Path) -> None:
    fc = faultcast.connect(":memory:")
    reads = Reads(fc, policy_refresh=0.0)
    fc.ingest(_outcomes(tmp_path / "a.jsonl", 0, 2))
    reads.refresh()
    before = json.loads(reads.policy())
    fc.ingest(_outcomes(tmp_path / "b.jsonl", 100, 40))
    reads.refresh()
    after = json.loads(reads.policy())
    # Before the fix the policy was built once and never again (no change marker == no change).
    assert after != before
    trials = {row["action"]: row["trials"] for row in after if row.get("action")}
    assert trials.get("retry_with_backoff", 0) >= 40
