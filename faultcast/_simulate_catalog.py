"""Message catalogs for :mod:`faultcast.simulate`: services, templates, episodes, leaks.

A template turns a random source and a service into one log message and its extra attributes.
Templates are plain functions so the hot path is one call, one f-string and one small dict.
Nothing here logs a secret except the ``LEAKS`` makers, on purpose.

Examples
--------
>>> import random
>>> svc = make_service(0, "checkout", random.Random(0))
>>> message, extra = TRAFFIC[0].make(random.Random(1), svc)
>>> message.split()[0] in {"GET", "POST", "PUT", "DELETE", "PATCH"}
True
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Final

Extra = dict[str, Any] | None
Rand = random.Random

#: Service names in the order services are created; later services get a numeric suffix.
SERVICE_NAMES: Final[tuple[str, ...]] = (
    "checkout", "payments", "inventory", "auth", "search", "notifications", "orders", "gateway",
    "shipping", "catalog", "recommendations", "billing",
)  # fmt: skip

#: The error categories the simulator produces (the seed's taxonomy, without ``unknown``).
ERROR_CATEGORIES: Final[tuple[str, ...]] = (
    "communication", "data", "streaming", "budget", "memory", "security",
)  # fmt: skip

#: Precursor episode kinds and the error category each one raises.
PRECURSOR_CATEGORY: Final[dict[str, str]] = {
    "timeouts": "communication",
    "memory": "memory",
    "retry_storm": "communication",
    "budget": "budget",
    "streaming_lag": "streaming",
}

# --------------------------------------------------------------------------------------------
# Small, fast random helpers (random.Random's own choice/randrange cost several times more).


def lognormal_table(sigma: float, n: int = 1024) -> tuple[float, ...]:
    """Quantiles of a log-normal with median 1: indexing it with a uniform draw samples it."""
    dist = NormalDist()
    return tuple(math.exp(sigma * dist.inv_cdf((i + 0.5) / n)) for i in range(n))


#: Multipliers with a log-normal shape (median 1, sigma 0.7), indexed by a uniform draw.
_LN: Final[tuple[float, ...]] = lognormal_table(0.7)
_LN_N: Final[int] = len(_LN)


def pick(r: Rand, seq: tuple[Any, ...] | list[Any]) -> Any:
    """One element of ``seq``, uniformly."""
    return seq[int(r.random() * len(seq))]


def between(r: Rand, lo: int, hi: int) -> int:
    """A whole number in ``[lo, hi)``."""
    return lo + int(r.random() * (hi - lo))


def spread(r: Rand, median: float) -> int:
    """A heavy-tailed positive whole number around ``median`` (log-normal, sigma 0.7)."""
    return int(median * _LN[int(r.random() * _LN_N)]) + 1


def hex_id(r: Rand, digits: int = 16) -> str:
    """A hex id whose first digit is always a letter (so it never reads as a card number)."""
    bits = 4 * digits
    return f"{r.getrandbits(bits) | (0xA << (bits - 4)):0{digits}x}"


def private_ip(r: Rand) -> str:
    return f"10.{int(r.random() * 256)}.{int(r.random() * 256)}.{1 + int(r.random() * 254)}"


def public_ip(r: Rand) -> str:
    """An address from the documentation ranges (TEST-NET-2 and -3), never a real one."""
    net = "198.51.100" if r.random() < 0.5 else "203.0.113"
    return f"{net}.{1 + int(r.random() * 254)}"


def attacker_ip(r: Rand) -> str:
    """An attacker's address (TEST-NET-1): apart from the sporadic ones, so a burst is clean."""
    return f"192.0.2.{1 + int(r.random() * 254)}"


# --------------------------------------------------------------------------------------------
# Services.

# fmt: off
_FIRST = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
          "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter")  # fmt: skip
USERS: Final[tuple[str, ...]] = tuple(
    f"{n}.{s}" for n in _FIRST for s in ("k", "m", "w", "z")
) + tuple(f"svc-{x}" for x in ("etl", "batch", "reporting", "ci"))
TENANTS: Final[tuple[str, ...]] = tuple(
    f"t-{i:04d}" for i in (17, 23, 42, 108, 256, 311, 404, 512, 777, 901, 1024, 1337)
)
PROVIDERS: Final[tuple[str, ...]] = (
    "geocoding",
    "sms",
    "llm-completions",
    "email",
    "fx-rates",
    "address-lookup",
)
FLAGS: Final[tuple[str, ...]] = (
    "new-checkout-flow",
    "search-v2",
    "fast-refunds",
    "dark-mode",
    "bulk-export",
)
CURRENCIES: Final[tuple[str, ...]] = ("EUR", "USD", "GBP", "SEK", "JPY")
_VERBS: Final[tuple[str, ...]] = (
    "GET",
    "GET",
    "GET",
    "GET",
    "POST",
    "POST",
    "PUT",
    "DELETE",
    "PATCH",
)
_JOBS: Final[tuple[str, ...]] = (
    "reindex",
    "nightly-export",
    "expire-sessions",
    "sync-prices",
    "rollup-metrics",
    "gc-orphans",
)
# fmt: on

# Per domain: url paths (``{id}`` is filled in), tables, topics, datastores.
_DOMAINS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "checkout": {"paths": ("/api/v1/cart/{id}", "/api/v1/cart/{id}/items", "/api/v1/checkout"),
                 "tables": ("carts", "cart_items"), "topics": ("checkout-events",),
                 "stores": ("pg-checkout.internal:5432", "redis-cart:6379")},
    "payments": {"paths": ("/v1/payments", "/v1/payments/{id}", "/v1/refunds/{id}"),
                 "tables": ("payments", "refunds", "ledger_entries"), "topics": ("payments-events",),
                 "stores": ("pg-payments.internal:5432", "api.psp-gateway.example:443")},
    "inventory": {"paths": ("/api/v2/stock/{id}", "/api/v2/reservations"), "tables": ("stock", "reservations"),
                  "topics": ("stock-updates",), "stores": ("pg-inventory.internal:5432", "redis-stock:6379")},
    "auth": {"paths": ("/login", "/oauth/authorize", "/api/v1/sessions/{id}"), "tables": ("users", "sessions"),
             "topics": ("audit-log",), "stores": ("pg-auth.internal:5432", "redis-sessions:6379")},
    "search": {"paths": ("/search", "/api/v1/suggest", "/api/v1/search/{id}"), "tables": ("synonyms",),
               "topics": ("index-updates",), "stores": ("es-1.internal:9200", "es-2.internal:9200")},
    "notifications": {"paths": ("/api/v1/notify", "/api/v1/templates/{id}"), "tables": ("outbox", "templates"),
                      "topics": ("notifications", "email-outbox"), "stores": ("smtp-relay:587", "redis-notify:6379")},
    "orders": {"paths": ("/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/orders/{id}/cancel"),
               "tables": ("orders", "order_lines"), "topics": ("orders-events",),
               "stores": ("pg-orders.internal:5432", "redis-orders:6379")},
    "gateway": {"paths": ("/", "/api/{id}", "/static/app.{id}.js"), "tables": ("routes",),
                "topics": ("access-log",), "stores": ("envoy-admin:9901", "redis-ratelimit:6379")},
    "shipping": {"paths": ("/api/v1/shipments/{id}", "/api/v1/labels"), "tables": ("shipments", "carriers"),
                 "topics": ("shipment-events",), "stores": ("pg-shipping.internal:5432", "carrier-api.example:443")},
    "catalog": {"paths": ("/api/v1/products/{id}", "/api/v1/categories"), "tables": ("products", "prices"),
                "topics": ("catalog-changes",), "stores": ("pg-catalog.internal:5432", "s3.eu-west-1.amazonaws.com:443")},
    "recommendations": {"paths": ("/api/v1/recs/{id}", "/api/v1/similar/{id}"), "tables": ("embeddings",),
                        "topics": ("clickstream",), "stores": ("feature-store:6566", "redis-recs:6379")},
    "billing": {"paths": ("/api/v1/invoices/{id}", "/api/v1/usage"), "tables": ("invoices", "usage_records"),
                "topics": ("usage-events",), "stores": ("pg-billing.internal:5432", "api.tax-rates.example:443")},
}  # fmt: skip

_SHARED_DEPS: Final[tuple[str, ...]] = ("kafka-0.internal:9092", "kafka-1.internal:9092", "kafka-2.internal:9092",
                                        "vault.internal:8200", "otel-collector:4317")  # fmt: skip


@dataclass(slots=True)
class Service:
    """One simulated service and the names its messages draw on."""

    index: int
    name: str
    hosts: tuple[str, ...]
    paths: tuple[str, ...]
    tables: tuple[str, ...]
    topics: tuple[str, ...]
    deps: tuple[str, ...]  # host:port of what it calls
    peers: tuple[str, ...]  # other services it calls, as host:port
    http_deps: tuple[str, ...]  # what it calls over HTTP: peers and external APIs
    groups: tuple[str, ...]  # consumer groups
    recent_requests: list[str] = field(default_factory=list)


def service_name(index: int) -> str:
    """``checkout``, ``payments``, … then ``checkout-2``, ``payments-2``, … past the list."""
    base = SERVICE_NAMES[index % len(SERVICE_NAMES)]
    return base if index < len(SERVICE_NAMES) else f"{base}-{index // len(SERVICE_NAMES) + 1}"


def make_service(index: int, name: str, r: Rand, peers: tuple[str, ...] = ()) -> Service:
    """A service with 2-6 hosts and the paths, tables, topics and dependencies of its domain."""
    domain = _DOMAINS[SERVICE_NAMES[index % len(SERVICE_NAMES)]]
    hosts = tuple(f"{name}-{i}" for i in range(1, between(r, 2, 7)))
    peer_addresses = tuple(f"{p}.svc.cluster.local:{pick(r, (8080, 8443, 9090))}" for p in peers)
    external = tuple(d for d in domain["stores"] if d.endswith(":443")) or (
        "api.partner.example:443",
    )
    return Service(
        index=index,
        name=name,
        hosts=hosts,
        paths=domain["paths"],
        tables=domain["tables"],
        topics=domain["topics"] + ("audit-log",),
        deps=domain["stores"] + _SHARED_DEPS[: between(r, 1, 4)],
        peers=peer_addresses,
        http_deps=peer_addresses + external,
        groups=tuple(f"{name}-{t}-consumers" for t in domain["topics"]),
        recent_requests=[hex_id(r) for _ in range(8)],
    )


def _path(r: Rand, svc: Service) -> str:
    p: str = pick(r, svc.paths)
    return p.replace("{id}", str(between(r, 1000, 999_999))) if "{id}" in p else p


def _dep(r: Rand, svc: Service) -> str:
    deps = svc.deps + svc.peers
    return deps[int(r.random() * len(deps))]


# --------------------------------------------------------------------------------------------
# Templates.

Maker = Callable[[Rand, Service], tuple[str, Extra]]


@dataclass(frozen=True, slots=True)
class Template:
    """A message pattern: how to fill it in and what the event around it looks like."""

    name: str
    make: Maker
    component: str
    level: str
    category: str | None = None
    error_type: str | None = None
    #: Share of events that use ``alt_level`` instead of ``level``.
    alt_share: float = 0.0
    alt_level: str = "warning"
    #: Whether the event belongs to a request (and so carries a ``request_id``).
    request_scoped: bool = True
    weight: float = 1.0


def _t_http(r: Rand, svc: Service) -> tuple[str, Extra]:
    path = _path(r, svc)
    ms = spread(r, 35)
    status = 200 if r.random() < 0.93 else pick(r, (201, 204, 304, 404))
    return f"{pick(r, _VERBS)} {path} {status} in {ms} ms", {
        "path": path,
        "status": status,
        "duration_ms": ms,
    }


def _t_http_bytes(r: Rand, svc: Service) -> tuple[str, Extra]:
    path = _path(r, svc)
    ms = spread(r, 50)
    return (
        f"request completed: {pick(r, _VERBS)} {path} -> 200 ({ms} ms, {spread(r, 4000)} bytes)",
        {"path": path, "status": 200, "duration_ms": ms},
    )


def _t_cache_hit(r: Rand, svc: Service) -> tuple[str, Extra]:
    return (
        f'cache hit for key "{pick(r, svc.tables)}:{between(r, 1, 99999)}" ({r.random() * 2:.2f} ms)',
        None,
    )


def _t_cache_miss(r: Rand, svc: Service) -> tuple[str, Extra]:
    return (
        f'cache miss for key "{pick(r, svc.tables)}:{between(r, 1, 99999)}"; loaded in {spread(r, 8)} ms',
        None,
    )


def _t_query(r: Rand, svc: Service) -> tuple[str, Extra]:
    ms = spread(r, 4)
    return f"query on {pick(r, svc.tables)} returned {spread(r, 20)} rows in {ms} ms", {
        "duration_ms": ms
    }


def _t_pool(r: Rand, svc: Service) -> tuple[str, Extra]:
    size = pick(r, (10, 20, 32, 50))
    busy = int(r.random() * size)
    return f"pool {svc.deps[0]}: {busy}/{size} connections busy, wait {spread(r, 2)} ms", None


def _t_health(r: Rand, svc: Service) -> tuple[str, Extra]:
    return f"health check ok ({spread(r, 3)} ms, {len(svc.deps)} dependencies up)", None


def _t_job(r: Rand, svc: Service) -> tuple[str, Extra]:
    return (
        f"job {pick(r, _JOBS)} [{hex_id(r, 8)}] finished: {spread(r, 300)} items in {r.random() * 30:.1f} s",
        None,
    )


def _t_job_scheduled(r: Rand, svc: Service) -> tuple[str, Extra]:
    return (
        f"scheduled {pick(r, _JOBS)} to run at {between(r, 0, 24):02d}:{between(r, 0, 60):02d} UTC",
        None,
    )


def _t_gc(r: Rand, svc: Service) -> tuple[str, Extra]:
    return (
        f"gc: collected {spread(r, 20000)} objects in {spread(r, 6)} ms (generation {between(r, 0, 3)})",
        None,
    )


def _t_publish(r: Rand, svc: Service) -> tuple[str, Extra]:
    topic = pick(r, svc.topics)
    part = between(r, 0, 12)
    return (
        f"published {spread(r, 40)} messages to {topic} partition {part} (offset {between(r, 10**6, 10**9)})",
        {"topic": topic, "partition": part},
    )


def _t_commit(r: Rand, svc: Service) -> tuple[str, Extra]:
    topic = pick(r, svc.topics)
    return f"committed offset {between(r, 10**6, 10**9)} for {topic}-{between(r, 0, 12)}", {
        "topic": topic
    }


def _t_login(r: Rand, svc: Service) -> tuple[str, Extra]:
    user = pick(r, USERS)
    ip = private_ip(r)
    return (
        f"user {user} logged in from {ip} via {pick(r, ('sso', 'oauth', 'webauthn', 'magic-link'))}",
        {
            "user": user,
            "source_ip": ip,
        },
    )


def _t_session(r: Rand, svc: Service) -> tuple[str, Extra]:
    user = pick(r, USERS)
    return (
        f"issued session {hex_id(r, 12)} for {user}, expires in {pick(r, (15, 30, 60, 720))} min",
        {"user": user},
    )


def _t_flag(r: Rand, svc: Service) -> tuple[str, Extra]:
    tenant = pick(r, TENANTS)
    return f'feature flag "{pick(r, FLAGS)}" is {pick(r, ("on", "off"))} for tenant {tenant}', {
        "tenant": tenant
    }


def _t_order(r: Rand, svc: Service) -> tuple[str, Extra]:
    user = pick(r, USERS)
    return (
        f"order {between(r, 10**6, 10**7)} placed by {user}: {between(r, 1, 9)} items, "
        f"total {spread(r, 60)}.{between(r, 0, 100):02d} {pick(r, CURRENCIES)}",
        {"user": user},
    )


def _t_payment(r: Rand, svc: Service) -> tuple[str, Extra]:
    tenant = pick(r, TENANTS)
    return (
        f"payment pay_{hex_id(r, 12)} authorised for {spread(r, 60)}.{between(r, 0, 100):02d} {pick(r, CURRENCIES)}",
        {"tenant": tenant},
    )


def _t_search(r: Rand, svc: Service) -> tuple[str, Extra]:
    words = ("red shoes", "usb-c cable", "winter jacket", "coffee grinder", "desk lamp", "yoga mat")
    ms = spread(r, 25)
    return f'search "{pick(r, words)}" returned {spread(r, 80)} hits in {ms} ms', {
        "duration_ms": ms
    }


def _t_notify(r: Rand, svc: Service) -> tuple[str, Extra]:
    user = pick(r, USERS)
    return f"sent {pick(r, ('email', 'sms', 'push'))} notification {hex_id(r, 10)} to {user}", {
        "user": user
    }


def _t_stock(r: Rand, svc: Service) -> tuple[str, Extra]:
    return (
        f"reserved {between(r, 1, 6)} units of SKU-{between(r, 10000, 99999)} in warehouse {pick(r, ('AMS1', 'FRA2', 'DUB1'))}",
        None,
    )


def _t_config(r: Rand, svc: Service) -> tuple[str, Extra]:
    return (
        f"config reloaded from /etc/{svc.name}/config.yaml (version {between(r, 100, 999)})",
        None,
    )


# fmt: off
TRAFFIC: Final[tuple[Template, ...]] = (
    Template("http.request", _t_http, "http", "info", weight=30),
    Template("http.completed", _t_http_bytes, "http", "info", weight=8),
    Template("cache.hit", _t_cache_hit, "cache", "debug", weight=8),
    Template("cache.miss", _t_cache_miss, "cache", "debug", weight=3),
    Template("db.query", _t_query, "db", "debug", weight=8),
    Template("db.pool.stats", _t_pool, "db.pool", "debug", request_scoped=False, weight=1),
    Template("health.ok", _t_health, "health", "debug", request_scoped=False, weight=2),
    Template("jobs.finished", _t_job, "scheduler", "info", request_scoped=False, weight=1),
    Template("jobs.scheduled", _t_job_scheduled, "scheduler", "debug", request_scoped=False, weight=0.5),
    Template("runtime.gc", _t_gc, "runtime.gc", "debug", request_scoped=False, weight=1),
    Template("kafka.publish", _t_publish, "kafka.producer", "info", weight=4),
    Template("kafka.commit", _t_commit, "kafka.consumer", "debug", request_scoped=False, weight=2),
    Template("auth.login", _t_login, "auth", "info", weight=3),
    Template("auth.session", _t_session, "auth", "debug", weight=2),
    Template("flags.evaluated", _t_flag, "flags", "debug", weight=2),
    Template("orders.placed", _t_order, "orders", "info", weight=3),
    Template("payments.authorised", _t_payment, "payments", "info", weight=3),
    Template("search.query", _t_search, "search", "info", weight=3),
    Template("notifications.sent", _t_notify, "notifications", "info", weight=3),
    Template("inventory.reserved", _t_stock, "inventory", "info", weight=3),
    Template("config.reloaded", _t_config, "config", "info", request_scoped=False, weight=0.05),
)
# fmt: on

#: Traffic templates only some services log (the rest log everywhere).
DOMAIN_TRAFFIC: Final[dict[str, tuple[str, ...]]] = {
    "orders.placed": ("checkout", "orders"),
    "payments.authorised": ("payments", "billing", "checkout"),
    "search.query": ("search", "catalog", "recommendations", "gateway"),
    "notifications.sent": ("notifications", "shipping", "orders"),
    "inventory.reserved": ("inventory", "checkout", "shipping"),
    "auth.login": ("auth", "gateway"),
    "auth.session": ("auth", "gateway", "checkout"),
}


# -- communication ---------------------------------------------------------------------------


def _c_timeout(r: Rand, svc: Service) -> tuple[str, Extra]:
    dep = _dep(r, svc)
    ms = pick(r, (1000, 2000, 3000, 5000, 10000, 30000))
    return f"connection to {dep} timed out after {ms} ms", {"peer": dep, "duration_ms": ms}


def _c_reset(r: Rand, svc: Service) -> tuple[str, Extra]:
    dep = _dep(r, svc)
    return f"connection reset by peer {dep} after {spread(r, 900)} ms", {"peer": dep}


def _c_upstream(r: Rand, svc: Service) -> tuple[str, Extra]:
    dep = pick(r, svc.http_deps)
    status = pick(r, (502, 503, 503, 504))
    path = _path(r, svc)
    return (
        f"upstream {dep} answered {status} to {pick(r, _VERBS)} {path} after {spread(r, 400)} ms",
        {
            "peer": dep,
            "status": status,
            "path": path,
        },
    )


def _c_refused(r: Rand, svc: Service) -> tuple[str, Extra]:
    dep = _dep(r, svc)
    return f"connect to {dep} refused (errno 111)", {"peer": dep}


def _c_dns(r: Rand, svc: Service) -> tuple[str, Extra]:
    dep = _dep(r, svc).rsplit(":", 1)[0]
    return (
        f"name resolution for {dep} failed: {pick(r, ('SERVFAIL', 'NXDOMAIN', 'no answer in 5000 ms'))}",
        None,
    )


def _c_tls(r: Rand, svc: Service) -> tuple[str, Extra]:
    dep = _dep(r, svc)
    why = pick(
        r, ("certificate has expired", "handshake timed out", "unknown CA", "protocol version")
    )
    return f"TLS handshake with {dep} failed: {why}", {"peer": dep}


def _c_grpc(r: Rand, svc: Service) -> tuple[str, Extra]:
    method = pick(r, ("GetQuote", "ReserveStock", "Authorize", "Lookup", "Publish"))
    code = pick(r, ("UNAVAILABLE", "DEADLINE_EXCEEDED", "UNAVAILABLE"))
    return f"rpc {svc.name.title()}Service/{method} failed: {code} after {spread(r, 250)} ms", None


def _c_pool(r: Rand, svc: Service) -> tuple[str, Extra]:
    size = pick(r, (10, 20, 32, 50))
    return (
        f"timed out after {pick(r, (500, 1000, 3000))} ms waiting for a connection from pool {svc.deps[0]} ({size}/{size} in use)",
        None,
    )


# fmt: off
COMMUNICATION: Final[tuple[Template, ...]] = (
    Template("comm.timeout", _c_timeout, "http.client", "error", "communication", "TimeoutError", 0.3, weight=5),
    Template("comm.reset", _c_reset, "http.client", "error", "communication", "ConnectionResetError", 0.2, weight=2),
    Template("comm.upstream", _c_upstream, "http.client", "error", "communication", "CommunicationError", 0.2, weight=3),
    Template("comm.refused", _c_refused, "http.client", "error", "communication", "ConnectionRefusedError", weight=1),
    Template("comm.dns", _c_dns, "net", "warning", "communication", "ConnectionError", 0.4, "error", weight=0.7),
    Template("comm.tls", _c_tls, "net", "error", "communication", "SSLError", weight=0.4),
    Template("comm.grpc", _c_grpc, "grpc.client", "error", "communication", "CommunicationError", 0.3, weight=1.5),
    Template("comm.pool", _c_pool, "db.pool", "error", "communication", "TimeoutError", 0.2, weight=1.5),
)
# fmt: on


# -- memory ----------------------------------------------------------------------------------


def _m_heap(r: Rand, svc: Service) -> tuple[str, Extra]:
    pct = between(r, 80, 93)
    total = pick(r, (2, 4, 8))
    return f"heap usage at {pct}% ({total * pct / 100:.2f} GiB of {total} GiB)", {"heap_pct": pct}


def _m_alloc(r: Rand, svc: Service) -> tuple[str, Extra]:
    return (
        f"failed to allocate {spread(r, 64)} MiB for {pick(r, ('response buffer', 'image resize', 'report', 'batch'))}",
        None,
    )


def _m_gc(r: Rand, svc: Service) -> tuple[str, Extra]:
    ms = spread(r, 400)
    return f"GC pause of {ms} ms exceeded the {pick(r, (100, 200))} ms target", {"duration_ms": ms}


def _m_rss(r: Rand, svc: Service) -> tuple[str, Extra]:
    limit = pick(r, (512, 1024, 2048))
    pct = between(r, 82, 96)
    return f"container RSS {limit * pct // 100} MiB is {pct}% of its {limit} MiB limit", {
        "heap_pct": pct
    }


def _m_evict(r: Rand, svc: Service) -> tuple[str, Extra]:
    return f"evicted {spread(r, 5000)} cache entries under memory pressure", None


# fmt: off
MEMORY: Final[tuple[Template, ...]] = (
    Template("mem.heap", _m_heap, "runtime", "warning", "memory", "MemoryPressureError", request_scoped=False, weight=3),
    Template("mem.alloc", _m_alloc, "runtime", "error", "memory", "MemoryError", weight=1),
    Template("mem.gc", _m_gc, "runtime.gc", "warning", "memory", "MemoryPressureError", request_scoped=False, weight=2),
    Template("mem.rss", _m_rss, "runtime", "warning", "memory", "MemoryPressureError", request_scoped=False, weight=1),
    Template("mem.evict", _m_evict, "cache", "warning", "memory", "MemoryPressureError", request_scoped=False, weight=1),
)
# fmt: on


# -- streaming -------------------------------------------------------------------------------


def _s_lag(r: Rand, svc: Service) -> tuple[str, Extra]:
    topic = pick(r, svc.topics)
    part = between(r, 0, 12)
    lag = spread(r, 4000)
    return f"consumer lag on {topic} partition {part} is {lag} messages", {
        "topic": topic,
        "partition": part,
        "lag": lag,
    }


def _s_commit(r: Rand, svc: Service) -> tuple[str, Extra]:
    group = pick(r, svc.groups)
    why = pick(r, ("group is rebalancing", "request timed out", "member id unknown"))
    return f"offset commit failed for group {group}: {why}", {"group": group}


def _s_buffer(r: Rand, svc: Service) -> tuple[str, Extra]:
    cap = pick(r, (1000, 10000, 50000))
    pct = between(r, 75, 100)
    return (
        f"stream buffer {pct}% full ({cap * pct // 100}/{cap} records); applying backpressure",
        None,
    )


def _s_rebalance(r: Rand, svc: Service) -> tuple[str, Extra]:
    group = pick(r, svc.groups)
    return (
        f"rebalance of {group}: {between(r, 1, 12)} partitions revoked from {pick(r, svc.hosts)}",
        {"group": group},
    )


def _s_produce(r: Rand, svc: Service) -> tuple[str, Extra]:
    topic = pick(r, svc.topics)
    return f"send to {topic} failed: broker kafka-{between(r, 0, 3)}.internal:9092 not available", {
        "topic": topic
    }


# fmt: off
STREAMING: Final[tuple[Template, ...]] = (
    Template("stream.lag", _s_lag, "kafka.consumer", "warning", "streaming", "StreamingError", request_scoped=False, weight=3),
    Template("stream.commit", _s_commit, "kafka.consumer", "error", "streaming", "KafkaError", 0.3, request_scoped=False),
    Template("stream.buffer", _s_buffer, "stream", "warning", "streaming", "BackpressureError", request_scoped=False),
    Template("stream.rebalance", _s_rebalance, "kafka.consumer", "warning", "streaming", "StreamingError", request_scoped=False, weight=0.7),
    Template("stream.produce", _s_produce, "kafka.producer", "error", "streaming", "KafkaError", 0.2, weight=0.8),
)
# fmt: on


# -- budget ----------------------------------------------------------------------------------


def _b_budget(r: Rand, svc: Service) -> tuple[str, Extra]:
    tenant = pick(r, TENANTS)
    pct = between(r, 80, 95)
    limit = pick(r, (500, 1000, 5000, 20000))
    return f"tenant {tenant} at {pct}% of monthly budget ({limit * pct // 100} of {limit} USD)", {
        "tenant": tenant,
        "budget_pct": pct,
    }


def _b_ratelimit(r: Rand, svc: Service) -> tuple[str, Extra]:
    tenant = pick(r, TENANTS)
    limit = pick(r, (100, 600, 1200))
    return (
        f"rate limit exceeded for tenant {tenant}: {limit + spread(r, limit // 5)} req/min (limit {limit})",
        {"tenant": tenant},
    )


def _b_quota(r: Rand, svc: Service) -> tuple[str, Extra]:
    return (
        f"quota of {pick(r, (1000, 5000, 10000, 50000))} calls per day reached for {pick(r, PROVIDERS)} API",
        None,
    )


def _b_cost(r: Rand, svc: Service) -> tuple[str, Extra]:
    tenant = pick(r, TENANTS)
    return (
        f"cost guard: call to {pick(r, PROVIDERS)} would exceed the daily budget of tenant {tenant} by {spread(r, 12)} USD",
        {"tenant": tenant},
    )


def _b_throttle(r: Rand, svc: Service) -> tuple[str, Extra]:
    return (
        f"{pick(r, PROVIDERS)} answered 429 Too Many Requests; retry after {pick(r, (1, 5, 30, 60))} s",
        {"status": 429},
    )


# fmt: off
BUDGET: Final[tuple[Template, ...]] = (
    Template("budget.tenant", _b_budget, "billing.quota", "warning", "budget", "BudgetError", request_scoped=False, weight=2),
    Template("budget.ratelimit", _b_ratelimit, "ratelimit", "warning", "budget", "RateLimitError", 0.3, "error", weight=2),
    Template("budget.quota", _b_quota, "billing.quota", "error", "budget", "QuotaExceededError"),
    Template("budget.cost", _b_cost, "billing.quota", "warning", "budget", "BudgetError"),
    Template("budget.throttle", _b_throttle, "http.client", "warning", "budget", "ThrottlingError", 0.2, "error"),
)
# fmt: on


# -- security --------------------------------------------------------------------------------

_ACTIONS: Final[tuple[str, ...]] = ("delete", "export", "update", "read", "impersonate")
_RESOURCES: Final[tuple[str, ...]] = (
    "/admin/users",
    "/admin/tenants",
    "/api/v1/refunds",
    "/internal/flags",
    "/api/v1/reports",
)


def _x_denied(r: Rand, svc: Service) -> tuple[str, Extra]:
    user = pick(r, USERS)
    res = f"{pick(r, _RESOURCES)}/{between(r, 1, 9999)}"
    return f"user {user} is not allowed to {pick(r, _ACTIONS)} {res}", {"user": user, "path": res}


def _x_role(r: Rand, svc: Service) -> tuple[str, Extra]:
    user = pick(r, USERS)
    return (
        f"role '{pick(r, ('viewer', 'support', 'analyst'))}' of {user} lacks scope '{pick(r, ('refunds:write', 'users:admin', 'export:all'))}'",
        {"user": user},
    )


def _x_jwt(r: Rand, svc: Service) -> tuple[str, Extra]:
    ip = public_ip(r)
    return f"rejected JWT with invalid signature (kid {hex_id(r, 8)}) from {ip}", {"source_ip": ip}


def _x_expired(r: Rand, svc: Service) -> tuple[str, Extra]:
    user = pick(r, USERS)
    return f"session of {user} expired {spread(r, 30)} min ago; re-authentication required", {
        "user": user
    }


def _x_csrf(r: Rand, svc: Service) -> tuple[str, Extra]:
    ip = public_ip(r)
    return f"CSRF check failed for POST {_path(r, svc)} from {ip}", {"source_ip": ip}


def _x_waf(r: Rand, svc: Service) -> tuple[str, Extra]:
    ip = public_ip(r)
    rule = pick(r, ("sql-injection", "path-traversal", "xss", "bad-bot"))
    return f"blocked request from {ip}: matched WAF rule {between(r, 900000, 999999)} ({rule})", {
        "source_ip": ip
    }


def _x_login(r: Rand, svc: Service) -> tuple[str, Extra]:
    user = pick(r, USERS)
    ip = public_ip(r)
    return f"authentication failed for user {user} from {ip}", {"user": user, "source_ip": ip}


# fmt: off
SECURITY: Final[tuple[Template, ...]] = (
    Template("sec.denied", _x_denied, "authz", "warning", "security", "PermissionError", 0.4, "error", weight=3),
    Template("sec.role", _x_role, "authz", "warning", "security", "SecurityViolationError", weight=1),
    Template("sec.jwt", _x_jwt, "auth", "warning", "security", "AuthenticationError", 0.3, "error"),
    Template("sec.expired", _x_expired, "auth", "warning", "security", "TokenExpiredError", weight=1.5),
    Template("sec.csrf", _x_csrf, "http", "error", "security", "SecurityViolationError", weight=0.5),
    Template("sec.waf", _x_waf, "waf", "warning", "security", "SecurityViolationError", request_scoped=False),
    Template("sec.login", _x_login, "auth", "warning", "security", "AuthenticationError", weight=2),
)
# fmt: on


# -- data ------------------------------------------------------------------------------------


def _d_invalid(r: Rand, svc: Service) -> tuple[str, Extra]:
    f, rule = pick(r, (("amount", "a positive number"), ("currency", "an ISO 4217 code"),
                       ("quantity", "at most 99"), ("email_verified", "a boolean")))  # fmt: skip
    return (
        f'invalid payload for {pick(r, svc.tables)} {between(r, 10**5, 10**7)}: field "{f}" must be {rule}',
        None,
    )


def _d_key(r: Rand, svc: Service) -> tuple[str, Extra]:
    key = pick(r, ("customer_id", "sku", "tenant", "shipping_address", "price"))
    return f"missing key '{key}' in record {hex_id(r, 12)} from {pick(r, svc.topics)}", None


def _d_schema(r: Rand, svc: Service) -> tuple[str, Extra]:
    topic = pick(r, svc.topics)
    return (
        f"schema validation failed for {topic} message at offset {between(r, 10**6, 10**9)}: "
        f"expected version {between(r, 3, 6)}, got {between(r, 1, 3)}",
        {"topic": topic},
    )


def _d_date(r: Rand, svc: Service) -> tuple[str, Extra]:
    bad = pick(r, ("31/02/2025", "2025-13-01", "yesterday", "N/A", ""))
    return (
        f'could not parse date "{bad}" in column created_at of import_{between(r, 100, 999)}.csv line {spread(r, 300)}',
        None,
    )


def _d_unique(r: Rand, svc: Service) -> tuple[str, Extra]:
    table = pick(r, svc.tables)
    return (
        f'duplicate key value violates unique constraint "{table}_pkey" (id={between(r, 1, 10**6)})',
        None,
    )


def _d_decode(r: Rand, svc: Service) -> tuple[str, Extra]:
    return (
        f"cannot decode message on {pick(r, svc.topics)}: invalid start byte 0x{between(r, 128, 256):02x} "
        f"at position {between(r, 0, 4096)}",
        None,
    )


def _d_columns(r: Rand, svc: Service) -> tuple[str, Extra]:
    want = between(r, 8, 20)
    return (
        f"row {spread(r, 2000)} of export_{hex_id(r, 6)}.csv has {want - between(r, 1, 4)} columns, expected {want}",
        None,
    )


# fmt: off
DATA: Final[tuple[Template, ...]] = (
    Template("data.invalid", _d_invalid, "validation", "error", "data", "ValueError", 0.3, weight=3),
    Template("data.key", _d_key, "ingest", "error", "data", "KeyError", 0.2, weight=2),
    Template("data.schema", _d_schema, "kafka.consumer", "error", "data", "DataError", 0.3, request_scoped=False, weight=1.5),
    Template("data.date", _d_date, "import", "warning", "data", "ValueError", 0.3, "error", request_scoped=False),
    Template("data.unique", _d_unique, "db", "error", "data", "IntegrityError", weight=1),
    Template("data.decode", _d_decode, "kafka.consumer", "error", "data", "UnicodeDecodeError", request_scoped=False, weight=0.7),
    Template("data.columns", _d_columns, "import", "warning", "data", "DataError", request_scoped=False, weight=0.7),
)
# fmt: on

#: Background error templates per category.
ERRORS: Final[dict[str, tuple[Template, ...]]] = {
    "communication": COMMUNICATION,
    "data": DATA,
    "streaming": STREAMING,
    "budget": BUDGET,
    "memory": MEMORY,
    "security": SECURITY,
}

#: Mean background errors per service per minute, per category, at ``rate=20`` and the daily mean.
BASE_ERROR_RATE: Final[dict[str, float]] = {
    "communication": 0.35,
    "data": 0.20,
    "streaming": 0.10,
    "budget": 0.07,
    "memory": 0.06,
    "security": 0.10,
}

# --------------------------------------------------------------------------------------------
# Episodes: precursors, false alarms, outages, security incidents.


@dataclass(slots=True)
class Episode:
    """Something that happens to one service over an interval of event time (epoch ms)."""

    service: int
    #: precursor, false_alarm, outage or security
    role: str
    #: precursor kind, "outage", or the security incident kind
    kind: str
    start_ms: int
    end_ms: int
    host: str
    dep: str = ""
    topic: str = ""
    partition: int = 0
    tenant: str = ""
    group: str = ""
    #: Events per minute at the peak.
    peak: float = 1.0
    #: For outages: the precursor kind that led to it (None when it came without warning).
    cause: str | None = None
    #: For false alarms: the fraction of the episode at which it peaks before fading.
    peak_at: float = 1.0
    source_ip: str = ""
    user: str = ""
    locked_out: bool = False
    attempts: int = 0


EpisodeMaker = Callable[[Rand, Service, Episode, float], tuple[str, str, str, str, Extra]]
"""(random, service, episode, progress 0..1) -> (message, level, error_type, component, extra)."""


def _p_timeouts(r: Rand, svc: Service, ep: Episode, x: float) -> tuple[str, str, str, str, Extra]:
    if r.random() < 0.3:
        p99 = int(200 + 2800 * x * x) + between(r, 0, 100)
        return (f"latency to {ep.dep} p99 {p99} ms is above the 250 ms objective", "warning",
                "CommunicationError", "http.client", {"peer": ep.dep, "duration_ms": p99})  # fmt: skip
    ms = pick(r, (1000, 2000, 3000, 5000))
    level = "error" if r.random() < 0.4 + 0.5 * x else "warning"
    return (f"connection to {ep.dep} timed out after {ms} ms", level, "TimeoutError", "http.client",
            {"peer": ep.dep, "duration_ms": ms})  # fmt: skip


def _p_memory(r: Rand, svc: Service, ep: Episode, x: float) -> tuple[str, str, str, str, Extra]:
    pct = min(99, int(78 + 21 * x + r.random() * 2))
    if r.random() < 0.35:
        ms = int(150 + 2500 * x * x) + between(r, 0, 50)
        return (f"GC pause of {ms} ms exceeded the 200 ms target (heap {pct}%)", "warning",
                "MemoryPressureError", "runtime.gc", {"heap_pct": pct, "duration_ms": ms})  # fmt: skip
    level = "error" if pct >= 95 else "warning"
    return (f"heap usage at {pct}% ({4 * pct / 100:.2f} GiB of 4 GiB)", level, "MemoryPressureError",
            "runtime", {"heap_pct": pct})  # fmt: skip


def _p_retry_storm(
    r: Rand, svc: Service, ep: Episode, x: float
) -> tuple[str, str, str, str, Extra]:
    attempt = min(5, 1 + int(4 * x * r.random() + 2 * x))
    why = pick(r, ("TimeoutError", "ConnectionResetError", "503 Service Unavailable"))
    etype = (
        "TimeoutError"
        if why == "TimeoutError"
        else "ConnectionResetError"
        if why[0] == "C"
        else "CommunicationError"
    )
    return (f"retry {attempt}/5 calling {ep.dep} after {why}", "warning", etype, "http.client",
            {"peer": ep.dep, "retry_count": attempt})  # fmt: skip


def _p_budget(r: Rand, svc: Service, ep: Episode, x: float) -> tuple[str, str, str, str, Extra]:
    pct = min(100, int(85 + 15.5 * x))
    if r.random() < 0.3:
        return (f"rate limit exceeded for tenant {ep.tenant}: {int(600 * (1 + x)) + between(r, 0, 50)} req/min (limit 600)",
                "warning", "RateLimitError", "ratelimit", {"tenant": ep.tenant})  # fmt: skip
    level = "error" if pct >= 98 else "warning"
    return (f"tenant {ep.tenant} at {pct}% of monthly budget ({50 * pct} of 5000 USD)", level, "BudgetError",
            "billing.quota", {"tenant": ep.tenant, "budget_pct": pct})  # fmt: skip


def _p_streaming_lag(
    r: Rand, svc: Service, ep: Episode, x: float
) -> tuple[str, str, str, str, Extra]:
    lag = int(2000 * math.exp(4.5 * x)) + between(r, 0, 500)
    if r.random() < 0.25:
        pct = min(100, int(70 + 30 * x))
        return (f"stream buffer {pct}% full ({pct * 100}/10000 records); applying backpressure", "warning",
                "BackpressureError", "stream", {"topic": ep.topic})  # fmt: skip
    level = "error" if lag > 50000 else "warning"
    return (f"consumer lag on {ep.topic} partition {ep.partition} is {lag} messages", level, "StreamingError",
            "kafka.consumer", {"topic": ep.topic, "partition": ep.partition, "lag": lag})  # fmt: skip


PRECURSORS: Final[dict[str, EpisodeMaker]] = {
    "timeouts": _p_timeouts,
    "memory": _p_memory,
    "retry_storm": _p_retry_storm,
    "budget": _p_budget,
    "streaming_lag": _p_streaming_lag,
}


def _o_timeouts(r: Rand, svc: Service, ep: Episode, x: float) -> tuple[str, str, str, str, Extra]:
    if r.random() < 0.5:
        return (f"service unavailable: all {pick(r, (10, 20, 32))} connections to {ep.dep} failed", "critical",
                "ConnectionError", "http.client", {"peer": ep.dep})  # fmt: skip
    path = _path(r, svc)
    return (f"{pick(r, _VERBS)} {path} failed: dependency {ep.dep} unreachable", "critical", "CommunicationError",
            "http", {"peer": ep.dep, "path": path, "status": 503})  # fmt: skip


def _o_memory(r: Rand, svc: Service, ep: Episode, x: float) -> tuple[str, str, str, str, Extra]:
    if r.random() < 0.5:
        return (f"worker pid {between(r, 1000, 60000)} killed by the OOM killer (RSS {between(r, 3900, 4200)} MiB)",
                "critical", "MemoryError", "runtime", {"heap_pct": 100})  # fmt: skip
    return (f"out of memory: cannot allocate {spread(r, 128)} MiB; shutting down worker", "critical", "MemoryError",
            "runtime", None)  # fmt: skip


def _o_retry_storm(
    r: Rand, svc: Service, ep: Episode, x: float
) -> tuple[str, str, str, str, Extra]:
    if r.random() < 0.5:
        return (f"circuit open for {ep.dep}: {between(r, 50, 500)} consecutive failures", "critical",
                "CommunicationError", "http.client", {"peer": ep.dep})  # fmt: skip
    return (f"dependency {ep.dep} is down; {spread(r, 400)} requests failed in the last minute", "critical",
            "ConnectionError", "http.client", {"peer": ep.dep})  # fmt: skip


def _o_budget(r: Rand, svc: Service, ep: Episode, x: float) -> tuple[str, str, str, str, Extra]:
    if r.random() < 0.5:
        return (f"budget exhausted for tenant {ep.tenant}; rejecting all requests", "critical", "BudgetError",
                "billing.quota", {"tenant": ep.tenant, "budget_pct": 100})  # fmt: skip
    return (f"hard quota reached for {pick(r, PROVIDERS)} API; requests of tenant {ep.tenant} fail", "critical",
            "QuotaExceededError", "billing.quota", {"tenant": ep.tenant})  # fmt: skip


def _o_streaming_lag(
    r: Rand, svc: Service, ep: Episode, x: float
) -> tuple[str, str, str, str, Extra]:
    if r.random() < 0.5:
        return (f"consumer group {ep.group} stalled on {ep.topic}: no progress for {between(r, 60, 900)} s",
                "critical", "StreamingError", "kafka.consumer", {"topic": ep.topic, "group": ep.group})  # fmt: skip
    return (f"stream processing halted: lag {between(r, 200000, 900000)} exceeds the 100000 limit", "critical",
            "StreamingError", "stream", {"topic": ep.topic})  # fmt: skip


def _o_unannounced(
    r: Rand, svc: Service, ep: Episode, x: float
) -> tuple[str, str, str, str, Extra]:
    u = r.random()
    if u < 0.4:
        return (f"health check failed on {ep.host}: {pick(r, ('liveness probe timeout', 'readiness 503', 'process exited 137'))}",
                "critical", "HealthCheckError", "health", None)  # fmt: skip
    if u < 0.7:
        path = _path(r, svc)
        return (f"{pick(r, _VERBS)} {path} failed: 500 Internal Server Error (panic in handler)", "critical",
                "InternalServerError", "http", {"path": path, "status": 500})  # fmt: skip
    return (f"deadlock detected on {pick(r, svc.tables)}; transaction {between(r, 10**5, 10**7)} aborted", "critical",
            "DeadlockError", "db", None)  # fmt: skip


#: Outage messages per cause; ``None`` for outages that come without a precursor.
OUTAGES: Final[dict[str | None, EpisodeMaker]] = {
    "timeouts": _o_timeouts,
    "memory": _o_memory,
    "retry_storm": _o_retry_storm,
    "budget": _o_budget,
    "streaming_lag": _o_streaming_lag,
    None: _o_unannounced,
}


def outage_resolved(r: Rand, ep: Episode) -> str:
    minutes = (ep.end_ms - ep.start_ms) / 60000
    return f"service healthy again on {ep.host} after {minutes:.1f} min of degradation"


def brute_force_attempt(r: Rand, ep: Episode) -> tuple[str, Extra]:
    user = ep.user if ep.kind == "brute_force" else pick(r, USERS)
    reason = pick(
        r, ("invalid credentials", "unknown user", "invalid credentials", "account disabled")
    )
    return f"authentication failed for user {user} from {ep.source_ip}: {reason}", {
        "user": user,
        "source_ip": ep.source_ip,
    }


def lockout_message(ep: Episode) -> str:
    seconds = (ep.end_ms - ep.start_ms) // 1000
    return f"locked out {ep.source_ip} after {ep.attempts} failed logins in {seconds} s"


# --------------------------------------------------------------------------------------------
# Recovery: which actions fit which category, how well they work, how long they take.

#: (category, action) -> chance the action recovers the error, before the seed's jitter.
BASE_SUCCESS: Final[dict[str, dict[str, float]]] = {
    "communication": {"retry_with_backoff": 0.92, "failover": 0.85, "circuit_break": 0.75, "retry": 0.60, "restart": 0.40},
    "memory": {"restart": 0.90, "scale_up": 0.80, "clear_cache": 0.55, "shed_load": 0.45, "retry": 0.10},
    "streaming": {"buffer_replay": 0.93, "scale_up": 0.72, "restart": 0.60, "retry": 0.35},
    "budget": {"shed_load": 0.88, "fallback": 0.80, "retry_with_backoff": 0.30, "retry": 0.05},
    "security": {"lockout": 0.97, "rotate_credentials": 0.85, "retry": 0.03},
    "data": {"dead_letter": 0.90, "fallback": 0.75, "clear_cache": 0.45, "retry": 0.20},
    "unknown": {"restart": 0.65, "failover": 0.55, "retry": 0.45},
}  # fmt: skip

#: Median recovery time per action, ms (log-normal around it).
ACTION_MEDIAN_MS: Final[dict[str, float]] = {
    "retry": 150.0, "retry_with_backoff": 900.0, "failover": 1200.0, "circuit_break": 8.0,
    "restart": 9000.0, "scale_up": 45000.0, "clear_cache": 40.0, "buffer_replay": 2500.0,
    "shed_load": 15.0, "fallback": 30.0, "lockout": 12.0, "rotate_credentials": 6000.0,
    "dead_letter": 20.0,
}  # fmt: skip

#: Share of errors (warning and error level) that carry a recovery attempt, per category.
RECOVERY_SHARE: Final[dict[str, float]] = {
    "communication": 0.55, "memory": 0.45, "streaming": 0.5, "budget": 0.4,
    "security": 0.3, "data": 0.35, "unknown": 0.5,
}  # fmt: skip

#: The behaviour policy: this share of attempts use the team's habit (``retry``), the rest are
#: uniform over the actions that fit the category.
HABIT_ACTION: Final[str] = "retry"
HABIT_SHARE: Final[float] = 0.25


# --------------------------------------------------------------------------------------------
# Leaks: secrets an application logs by mistake.  Each maker returns (message, level,
# error_type, component, extra, the secret text itself).

Leak = tuple[str, str, str | None, str, Extra, str]


_BASE32: Final[tuple[str, ...]] = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def _luhn_card(r: Rand) -> str:
    digits = [4] + [int(r.random() * 10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        total += (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 == 0 else d
    digits.append((10 - total % 10) % 10)
    return "".join(map(str, digits))


def _password(r: Rand) -> str:
    words = ("hunter", "Summer", "Winter", "Passw0rd", "letmein", "dragon", "Qwerty")
    return f"{pick(r, words)}{between(r, 10, 9999)}{pick(r, ('!', '#', '', '$'))}"


def _l_password(r: Rand, svc: Service) -> Leak:
    user, pw = pick(r, USERS), _password(r)
    return (f"login for {user} failed with password={pw}", "warning", "AuthenticationError", "auth",
            {"user": user}, pw)  # fmt: skip


def _l_bearer(r: Rand, svc: Service) -> Leak:
    token = f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{hex_id(r, 10)}In0.{hex_id(r, 22)}"
    dep = pick(r, svc.http_deps)
    return (f"forwarding {pick(r, _VERBS)} to {dep} with headers {{'Authorization': 'Bearer {token}'}}", "debug",
            None, "http.client", {"peer": dep}, token)  # fmt: skip


def _l_api_key(r: Rand, svc: Service) -> Leak:
    key = hex_id(r, 32)
    return (f"calling {pick(r, PROVIDERS)} API with api_key={key} (attempt 1)", "info", None, "http.client",
            None, key)  # fmt: skip


def _l_aws(r: Rand, svc: Service) -> Leak:
    key = "AKIA" + "".join(pick(r, _BASE32) for _ in range(16))
    return (f"uploading report to s3://{svc.name}-exports/{hex_id(r, 8)}.csv with access key {key}", "info", None,
            "exports", None, key)  # fmt: skip


def _l_card(r: Rand, svc: Service) -> Leak:
    card = _luhn_card(r)
    return (f"charge declined for card {card} (expiry {between(r, 1, 13):02d}/{between(r, 27, 32)})", "error",
            "CardDeclinedError", "payments", None, card)  # fmt: skip


def _l_email(r: Rand, svc: Service) -> Leak:
    email = f"{pick(r, USERS)}{between(r, 1, 99)}@example.com"
    return (f"password reset link sent to {email}", "info", None, "notifications", None, email)  # fmt: skip


def _l_url(r: Rand, svc: Service) -> Leak:
    pw = _password(r)
    return (f"connecting to postgres://app:{pw}@{svc.deps[0].split(':')[0]}:5432/{svc.tables[0]}", "info", None,
            "db", None, pw)  # fmt: skip


LEAKS: Final[dict[str, Callable[[Rand, Service], Leak]]] = {
    "password": _l_password,
    "bearer_token": _l_bearer,
    "api_key": _l_api_key,
    "aws_access_key": _l_aws,
    "card_number": _l_card,
    "email": _l_email,
    "url_password": _l_url,
}


def all_templates() -> tuple[Template, ...]:
    """Every background template (traffic and errors)."""
    return TRAFFIC + tuple(t for ts in ERRORS.values() for t in ts)
