"""The FastAPI application of ``faultcast serve --http`` (see DESIGN.md, "HTTP API")."""

from __future__ import annotations

import asyncio
import inspect
import re
import time
import zlib
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs

import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from faultcast.analytics import Metrics
from faultcast.http._batcher import QueueFull, Stopped
from faultcast.http._issues import add_issue_routes
from faultcast.http._reads import frame_json
from faultcast.ingest.errors import FaultcastError
from faultcast.ingest.formats import otlp, sentry
from faultcast.ingest.keys import ApiKey
from faultcast.ingest.network import MAX_LINES_PER_REQUEST
from faultcast.ingest.network import Request as IngestRequest

if TYPE_CHECKING:
    from faultcast.http import HttpService

__all__ = ["HotReads", "create_app", "metric_names"]

_SENTRY_KEY = re.compile(r"sentry_key\s*=\s*([^,\s]+)")
_JSON = "application/json"


def metric_names() -> list[str]:
    """Every metric of ``fc.metrics`` (:class:`faultcast.analytics.Metrics`)."""
    return sorted(
        name
        for name, value in vars(Metrics).items()
        if not name.startswith("_") and hasattr(value, "signature")
    )


def _json(text: str | bytes, status: int = 200) -> Response:
    return Response(text, status_code=status, media_type=_JSON)


def _error(status: int, reason: str, retry_after: int | None = None) -> HTTPException:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return HTTPException(status_code=status, detail=reason, headers=headers)


# ---------------------------------------------------------------------- bodies
async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, decompressed (gzip, deflate, br); 413 past ``limit`` bytes either way."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _error(413, f"the body is {length} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _error(413, f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    try:
        if encoding in ("gzip", "x-gzip"):
            return _inflate(zlib.decompressobj(16 + zlib.MAX_WBITS), body, limit)
        if encoding == "deflate":
            try:
                return _inflate(zlib.decompressobj(), body, limit)
            except zlib.error:  # raw deflate, as some clients send it
                return _inflate(zlib.decompressobj(-zlib.MAX_WBITS), body, limit)
        if encoding == "br":
            try:
                import brotli  # type: ignore[import-not-found,unused-ignore]
            except ImportError:
                raise _error(415, "Content-Encoding br needs the brotli package") from None
            out = brotli.decompress(body)
            if len(out) > limit:
                raise _error(413, f"the decompressed body is over the limit of {limit} bytes")
            return bytes(out)
    except zlib.error as e:
        raise _error(400, f"the body is not valid {encoding} data ({e})") from e
    raise _error(415, f"unsupported Content-Encoding {encoding!r}: use gzip, deflate or none")


def _inflate(d: Any, body: bytes, limit: int) -> bytes:
    out: bytes = d.decompress(body, limit + 1)
    if len(out) > limit or d.unconsumed_tail:
        raise _error(413, f"the decompressed body is over the limit of {limit} bytes")
    if not d.eof:
        raise zlib.error("the compressed data ends early")
    return out


def _event_lines(body: bytes) -> list[bytes]:
    """``/v1/events``: JSON lines, or one JSON array of events."""
    stripped = body.lstrip()
    if stripped.startswith(b"["):
        try:
            items = orjson.loads(stripped)
        except orjson.JSONDecodeError as e:
            raise otlp.PayloadError(f"invalid JSON array ({e})") from e
        if not isinstance(items, list):
            raise otlp.PayloadError("expected a JSON array of events")
        return [orjson.dumps(item) for item in items]
    return [line for line in body.split(b"\n") if line.strip()]


# ---------------------------------------------------------------------- the app
def create_app(http: HttpService) -> FastAPI:
    """The application over one :class:`~faultcast.http.HttpService`."""
    options = http.options
    app = FastAPI(
        title="faultcast",
        summary="Predictive error analytics: ingest (OTLP, Sentry, faultcast events) and queries.",
        version=_version(),
    )
    metrics = http.http_metrics
    reads = http.reads

    app.add_middleware(_Counting, metrics=metrics)

    # -- credentials ---------------------------------------------------------------------
    def authorize(request: Request, scope: str, sentry_ok: bool = False) -> ApiKey:
        key = None
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
        elif sentry_ok:
            found = _SENTRY_KEY.search(request.headers.get("x-sentry-auth", "")) or (
                _SENTRY_KEY.search(auth)
            )
            key = found.group(1) if found else request.query_params.get("sentry_key")
        if not key:
            raise HTTPException(
                401,
                "an API key is needed: Authorization: Bearer KEY (faultcast keys create NAME)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        who = http.keys.check(key)
        if who is None:
            raise HTTPException(
                401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
            )
        if not who.allows(scope):
            raise HTTPException(403, f"the key {who.name!r} has scope {who.scope!r}, not {scope!r}")
        return who

    # -- ingest --------------------------------------------------------------------------
    async def commit(source: str, body: bytes, lines: list[bytes]) -> Any:
        if len(lines) > MAX_LINES_PER_REQUEST:
            raise _error(
                413, f"{len(lines)} events in one request; the limit is {MAX_LINES_PER_REQUEST}"
            )
        try:
            future = http.committer.submit(IngestRequest(source, body, lines))
        except QueueFull as e:
            raise _error(429, f"busy: {e}; retry later", retry_after=1) from e
        except Stopped as e:
            raise _error(503, str(e), retry_after=5) from e
        try:
            return await asyncio.wrap_future(future)
        except FaultcastError as e:
            raise _error(503, f"the store could not take the events: {e}", retry_after=5) from e

    async def quarantined(source: str, body: bytes, reason: str) -> HTTPException:
        try:
            await run_in_threadpool(http.quarantine_payload, source, body, reason)
        except FaultcastError as e:
            return _error(503, f"the store is unavailable: {e}", retry_after=5)
        return _error(400, reason)

    @app.post(
        "/v1/events", tags=["ingest"], summary="faultcast events (JSON lines or a JSON array)"
    )
    async def post_events(request: Request) -> Response:
        authorize(request, "ingest")
        body = await _read_body(request, options.max_body_bytes)
        source = "http:/v1/events"
        try:
            lines = _event_lines(body)
        except otlp.PayloadError as e:
            raise await quarantined(source, body, str(e)) from e
        result = await commit(source, body, lines)
        if lines and result.accepted == 0:
            raise _error(400, f"no event could be read: {result.errors[0]} (quarantined)")
        return _json(
            orjson.dumps(
                {
                    "accepted": result.accepted,
                    "quarantined": result.quarantined,
                    "errors": result.errors,
                }
            )
        )

    @app.post("/v1/logs", tags=["ingest"], summary="OTLP/HTTP logs (protobuf or JSON)")
    async def post_logs(request: Request) -> Response:
        authorize(request, "ingest")
        body = await _read_body(request, options.max_body_bytes)
        content_type = request.headers.get("content-type", "application/x-protobuf")
        source = "http:/v1/logs"
        try:
            lines = await asyncio.get_running_loop().run_in_executor(
                http.convert_pool, otlp.request_to_lines, body, content_type
            )
        except otlp.PayloadError as e:
            raise await quarantined(source, body, str(e)) from e
        result = await commit(source, body, lines)
        protobuf = "json" not in content_type
        if protobuf:
            from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
                ExportLogsServiceResponse,
            )

            reply = ExportLogsServiceResponse()
            if result.quarantined:
                reply.partial_success.rejected_log_records = result.quarantined
                reply.partial_success.error_message = "; ".join(result.errors[:3])
            return Response(reply.SerializeToString(), media_type="application/x-protobuf")
        partial = (
            {
                "partialSuccess": {
                    "rejectedLogRecords": str(result.quarantined),
                    "errorMessage": "; ".join(result.errors[:3]),
                }
            }
            if result.quarantined
            else {}
        )
        return _json(orjson.dumps(partial))

    async def sentry_ingest(request: Request, project_id: str, envelope: bool) -> Response:
        authorize(request, "ingest", sentry_ok=True)
        body = await _read_body(request, options.max_body_bytes)
        source = f"http:/api/{project_id}/{'envelope' if envelope else 'store'}"
        convert = sentry.envelope_to_lines if envelope else sentry.store_to_lines
        try:
            events = convert(body, project_id)
            header_id = _envelope_event_id(body) if envelope else None
        except otlp.PayloadError as e:
            raise await quarantined(source, body, str(e)) from e
        await commit(source, body, [line for _, line in events])
        event_id = header_id or next((i for i, _ in events if i), None)
        return _json(orjson.dumps({"id": event_id} if event_id else {}))

    @app.post("/api/{project_id}/envelope/", tags=["ingest"], summary="Sentry SDK envelopes")
    async def post_envelope(project_id: str, request: Request) -> Response:
        return await sentry_ingest(request, project_id, envelope=True)

    @app.post("/api/{project_id}/store/", tags=["ingest"], summary="Sentry SDK events (store)")
    async def post_store(project_id: str, request: Request) -> Response:
        return await sentry_ingest(request, project_id, envelope=False)

    # -- queries -------------------------------------------------------------------------
    # Served from memory (see Reads): answered on the event loop, no thread hop.
    @app.get("/v1/risk", tags=["query"], summary="The production model's latest risk per unit")
    async def get_risk(request: Request, unit: str | None = None) -> Response:
        authorize(request, "read")
        return _json(reads.risk_json(unit))

    @app.get("/v1/policy", tags=["query"], summary="The learned recovery policy (compact)")
    async def get_policy(request: Request, service: str | None = None) -> Response:
        authorize(request, "read")
        if service is not None and not reads.has_policy(service):
            return _json(f'{{"policy": {await run_in_threadpool(reads.policy, service)}}}')
        return _json(f'{{"policy": {reads.policy(service)}}}')

    @app.get("/v1/recommendation", tags=["query"], summary="The advised recovery for an error")
    def get_recommendation(
        request: Request,
        error_type: str | None = None,
        service: str | None = None,
        template_id: str | None = None,
        category: str | None = None,
        message: str | None = None,
    ) -> Response:
        authorize(request, "read")
        error = {
            "error_type": error_type,
            "service": service,
            "category": category,
            "message": message,
        }
        if template_id is not None:
            patterns = reads.fc.patterns()
            match = patterns[patterns["template_id"].to_numpy() == template_id]
            if match.empty:
                raise _error(404, f"no pattern {template_id!r}")
            error["template"] = str(match["template"].iloc[0])
        advice = reads.recommend({k: v for k, v in error.items() if v is not None})
        if advice is None:
            raise _error(404, "no recovery outcome is stored yet, so nothing to recommend")
        return _json(orjson.dumps(advice))

    @app.get("/v1/events", tags=["query"], summary="Stored events")
    def get_events(
        request: Request,
        service: str | None = None,
        level: str | None = None,
        category: str | None = None,
        error_type: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 100,
    ) -> Response:
        authorize(request, "read")
        given = {"service": service, "level": level, "category": category, "error_type": error_type}
        filters: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        try:
            frame = reads.fc.events(since=since, until=until, limit=min(limit, 10_000), **filters)
        except (ValueError, TypeError) as e:
            raise _error(400, str(e)) from e
        return _json(f'{{"events": {frame_json(frame)}}}')

    @app.get("/v1/patterns", tags=["query"], summary="Message patterns")
    def get_patterns(
        request: Request, service: str | None = None, since: str | None = None, limit: int = 100
    ) -> Response:
        authorize(request, "read")
        try:
            kwargs: dict[str, Any] = {"since": since} if since else {}
            if service:
                kwargs["service"] = service
            frame = reads.fc.patterns(**kwargs).head(limit)
        except (ValueError, TypeError) as e:
            raise _error(400, str(e)) from e
        return _json(f'{{"patterns": {frame_json(frame)}}}')

    # -- issues (faultcast.http._issues) -------------------------------------------------
    add_issue_routes(app, http, authorize)

    @app.get("/v1/metrics", tags=["query"], summary="The metrics and their parameters")
    def list_metrics(request: Request) -> Response:
        authorize(request, "read")
        out = {
            name: [p for p in getattr(Metrics, name).signature.parameters]
            for name in metric_names()
        }
        return _json(orjson.dumps({"metrics": out}))

    @app.get("/v1/metrics/{name}", tags=["query"], summary="One metric of fc.metrics")
    def get_metric(name: str, request: Request) -> Response:
        authorize(request, "read")
        if name not in metric_names():
            raise _error(404, f"no metric {name!r}; the metrics: {', '.join(metric_names())}")
        signature = getattr(Metrics, name).signature
        kwargs = _metric_arguments(signature, request)
        try:
            frame = getattr(reads.fc.metrics, name)(**kwargs)
        except (ValueError, TypeError) as e:
            raise _error(400, str(e)) from e
        return _json(f'{{"metric": "{name}", "rows": {frame_json(frame)}}}')

    # -- operations ----------------------------------------------------------------------
    @app.get("/healthz", tags=["operations"], summary="Health")
    def healthz() -> JSONResponse:
        ok = http.committer.healthy
        return JSONResponse(
            {"status": "ok" if ok else "degraded", "queued_events": http.committer.queued_events},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        metrics.queue.set(http.committer.queued_events)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


class _Counting:
    """Counts requests by route and status, and their latency (pure ASGI: no body copying)."""

    def __init__(self, app: Any, metrics: Any) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = [500]

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = getattr(scope.get("route"), "path", "other")
            self.metrics.requests.labels(path, str(status[0])).inc()
            self.metrics.seconds.labels(path).observe(time.perf_counter() - t0)


class HotReads:
    """``GET /v1/risk`` and ``GET /v1/policy``, which every app polls, answered straight from
    memory in front of the application (pure ASGI: no routing, validation or thread hop), so
    a Python process serves thousands a second.  Anything unusual (no or a wrong key, other
    parameters, a service whose policy is not cached yet) goes on to the application, which
    answers it in full; the OpenAPI schema still documents both."""

    _PARAMS: ClassVar[dict[str, str]] = {"/v1/risk": "unit", "/v1/policy": "service"}

    def __init__(self, app: Any, http: HttpService) -> None:
        self.app = app
        self.http = http
        metrics = http.http_metrics
        # The metrics' children, bound once (``labels()`` takes a lock and a lookup per call).
        self._counted = {
            path: (metrics.requests.labels(path, "200"), metrics.seconds.labels(path))
            for path in self._PARAMS
        }

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = self._answer(scope) if scope["type"] == "http" else None
        if body is None:
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        requests, seconds = self._counted[scope["path"]]
        requests.inc()
        seconds.observe(time.perf_counter() - t0)

    def _answer(self, scope: Any) -> bytes | None:
        path = scope["path"]
        if scope["method"] != "GET" or path not in self._PARAMS:
            return None
        value: str | None = None
        if scope["query_string"]:
            query = parse_qs(scope["query_string"].decode("latin-1"))
            if set(query) != {self._PARAMS[path]} or len(query[self._PARAMS[path]]) != 1:
                return None
            value = query[self._PARAMS[path]][0]
        auth = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if auth[:7].lower() != b"bearer ":
            return None
        who = self.http.keys.check(auth[7:].strip().decode("latin-1"))
        if who is None or not who.allows("read"):
            return None
        reads = self.http.reads
        if path == "/v1/risk":
            return reads.risk_body() if value is None else reads.risk_json(value).encode()
        if value is not None and not reads.has_policy(value):
            return None
        return reads.policy_body(value)


def _envelope_event_id(body: bytes) -> str | None:
    header = orjson.loads(body.split(b"\n", 1)[0])
    value = header.get("event_id") if isinstance(header, dict) else None
    return str(value) if value else None


def _metric_arguments(signature: inspect.Signature, request: Request) -> dict[str, Any]:
    """Query parameters as a metric's keyword arguments, typed by the parameter's default
    (repeat a parameter, or separate with commas, for a list)."""
    kwargs: dict[str, Any] = {}
    for name, param in signature.parameters.items():
        values = request.query_params.getlist(name)
        if not values:
            continue
        default = param.default
        try:
            if isinstance(default, bool):
                kwargs[name] = values[-1].lower() in ("1", "true", "yes")
            elif isinstance(default, int):
                kwargs[name] = int(values[-1])
            elif isinstance(default, float):
                kwargs[name] = float(values[-1])
            else:
                items = [v for value in values for v in value.split(",") if v]
                kwargs[name] = items[0] if len(items) == 1 else items
        except ValueError as e:
            raise _error(400, f"parameter {name}: {e}") from e
    unknown = set(request.query_params) - set(signature.parameters)
    if unknown:
        raise _error(400, f"unknown parameters {sorted(unknown)}; use {list(signature.parameters)}")
    return kwargs


def _version() -> str:
    from faultcast import __version__

    return str(__version__)
