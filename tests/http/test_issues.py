"""The issue endpoints: listing and one issue (read scope), lifecycle actions (admin scope,
recorded with the key's name)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.http.conftest import Served, call


def _event(i: int, ts: datetime) -> dict[str, object]:
    return {
        "event": f"inventory lookup {i} failed",
        "level": "error",
        "error_type": "LookupError",
        "service": "issues-app",
        "ts": ts.isoformat(),
        "session_id": f"s{i}",
    }


def test_issues_over_http_with_scopes(served: Served) -> None:
    now = datetime.now(UTC)
    body = "\n".join(json.dumps(_event(i, now - timedelta(minutes=5))) for i in range(3)).encode()
    assert call(f"{served.url}/v1/events", served.keys["ingest"], body)[0] == 200

    url = f"{served.url}/v1/issues?service=issues-app"
    assert call(url)[0] == 401
    assert call(url, served.keys["ingest"])[0] == 403
    status, answer, _ = call(url, served.keys["read"])
    assert status == 200, answer
    (listed,) = json.loads(answer)["issues"]
    assert (listed["count"], listed["status"], listed["service"]) == (3, "open", "issues-app")
    assert call(f"{served.url}/v1/issues?sort=loudest", served.keys["read"])[0] == 400
    issue_url = f"{served.url}/v1/issues/{listed['id']}"
    status, answer, _ = call(issue_url, served.keys["read"])
    detail = json.loads(answer)["issue"]
    assert status == 200 and len(detail["events"]) == 3 and detail["changes"] == []
    assert call(f"{served.url}/v1/issues/FC-0000000000", served.keys["read"])[0] == 404

    resolve = f"{issue_url}/resolve"
    assert call(resolve, served.keys["read"], b"", method="POST")[0] == 403
    status, answer, _ = call(resolve, served.keys["admin"], b'{"reason": "fixed in #12"}')
    assert status == 200, answer
    assert json.loads(answer)["issue"]["status"] == "resolved"
    status, answer, _ = call(f"{issue_url}/ignore?for=soon", served.keys["admin"], b"")
    assert status == 400 and b"soon" in answer
    status, answer, _ = call(f"{issue_url}/ignore?until_count=5", served.keys["admin"], b"")
    assert json.loads(answer)["issue"]["ignore_until_count"] == 8
    assert call(f"{issue_url}/delete", served.keys["admin"], b"")[0] == 404
    assert call(f"{served.url}/v1/issues/FC-0000000000/reopen", served.keys["admin"], b"")[0] == 404

    changes = json.loads(call(issue_url, served.keys["read"])[1])["issue"]["changes"]
    assert [(c["to_status"], c["actor"], c["reason"]) for c in changes] == [
        ("ignored", "test-admin", "until 5 more events"),
        ("resolved", "test-admin", "fixed in #12"),
    ]
