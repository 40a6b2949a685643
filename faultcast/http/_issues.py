"""The issue endpoints: ``GET /v1/issues``, ``GET /v1/issues/{id}`` (read scope) and the
lifecycle ``POST /v1/issues/{id}/resolve|ignore|reopen`` (admin scope; the change is recorded
with the API key's name as who made it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

from faultcast.http._reads import frame_json
from faultcast.ingest.errors import FaultcastError
from faultcast.ingest.issues import UnknownIssueError
from faultcast.ingest.keys import ApiKey

if TYPE_CHECKING:
    from faultcast.http import HttpService

__all__ = ["add_issue_routes"]

_JSON = "application/json"
#: Longest reason kept with a status change.
_MAX_REASON = 500


def _json(body: str | bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=_JSON)


async def _options(request: Request) -> dict[str, Any]:
    """The action's options: query parameters, then a JSON object body (which wins)."""
    given: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if body.strip():
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise HTTPException(400, f"the body is not JSON: {e}") from e
        if not isinstance(parsed, dict):
            raise HTTPException(400, "the body must be a JSON object of options")
        given.update(parsed)
    return given


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise HTTPException(400, f"{name}={value!r} is not true or false")


def _count(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise HTTPException(400, f"{name}={value!r} is not a whole number") from None


def add_issue_routes(
    app: FastAPI, http: HttpService, authorize: Callable[[Request, str], ApiKey]
) -> None:
    """Add the issue endpoints to ``app``."""
    reads = http.reads

    @app.get("/v1/issues", tags=["query"], summary="Issues (errors grouped by fingerprint)")
    def get_issues(
        request: Request,
        status: str | None = None,
        service: str | None = None,
        since: str | None = None,
        until: str | None = None,
        sort: str = "last_seen",
        limit: int = 100,
    ) -> Response:
        authorize(request, "read")
        try:
            frame = reads.fc.issues(
                status=status.split(",") if status else None,
                service=service.split(",") if service else None,
                since=since,
                until=until,
                sort=sort,
                limit=max(0, min(limit, 10_000)),
            )
        except (ValueError, TypeError) as e:
            raise HTTPException(400, str(e)) from e
        return _json(f'{{"issues": {frame_json(frame)}}}')

    @app.get("/v1/issues/{issue_id}", tags=["query"], summary="One issue, its events and history")
    def get_issue(issue_id: str, request: Request) -> Response:
        authorize(request, "read")
        try:
            found = reads.fc.issue(issue_id)
        except UnknownIssueError as e:
            raise HTTPException(404, str(e)) from e
        return _json(orjson.dumps({"issue": found}, option=orjson.OPT_NON_STR_KEYS))

    @app.post(
        "/v1/issues/{issue_id}/{action}",
        tags=["issues"],
        summary="Resolve, ignore or reopen an issue (admin)",
    )
    async def change_issue(issue_id: str, action: str, request: Request) -> Response:
        who = authorize(request, "admin")
        if action not in ("resolve", "ignore", "reopen"):
            raise HTTPException(404, f"no action {action!r}: use resolve, ignore or reopen")
        given = await _options(request)
        reason = given.get("reason")
        if reason is not None:
            reason = str(reason)[:_MAX_REASON]
        fc = reads.fc
        try:
            if action == "resolve":
                call: Callable[[], dict[str, Any]] = lambda: fc.resolve_issue(  # noqa: E731
                    issue_id,
                    in_next_release=_flag(given.get("in_next_release", False), "in_next_release"),
                    actor=who.name,
                    reason=reason,
                )
            elif action == "ignore":
                until_count = _count(given.get("until_count"), "until_count")
                for_ = given.get("for") or None
                call = lambda: fc.ignore_issue(  # noqa: E731
                    issue_id, for_=for_, until_count=until_count, actor=who.name, reason=reason
                )
            else:
                call = lambda: fc.reopen_issue(issue_id, actor=who.name, reason=reason)  # noqa: E731
            from starlette.concurrency import run_in_threadpool

            result = await run_in_threadpool(call)
        except UnknownIssueError as e:
            raise HTTPException(404, str(e)) from e
        except ValueError as e:
            raise HTTPException(400, str(e)) from e
        except FaultcastError as e:
            raise HTTPException(503, f"the store could not take the change: {e}") from e
        return _json(orjson.dumps({"issue": result}))
