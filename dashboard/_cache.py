"""The dashboard's caches: one open source per set of store paths (``st.cache_resource``) and
each page's data for a few seconds (``st.cache_data`` with a TTL).

The source attaches the store file only for each read and waits out a writer's commit, so
it is safe to keep for the whole server's life while ``faultcast ingest --follow`` writes.
The data functions take the store paths (hashable) rather than the source, so Streamlit can
key its cache on them.
"""

from __future__ import annotations

from typing import Any, Final

import streamlit as st
from faultcast.analytics import StoreSource, open_source
from faultcast.dashboard import data
from faultcast.models import RecoveryRecommender

#: Seconds a page's data is reused before the store is read again.
DATA_TTL_S: Final[float] = 5.0
#: Seconds the recovery recommender is kept before it learns the store's outcomes again
#: (learning reads every recorded outcome: too much to repeat every few seconds).
RECOMMENDER_TTL_S: Final[float] = 300.0
#: Seconds a reader waits out a writer's commit before giving up.
LOCK_TIMEOUT_S: Final[float] = 30.0

Paths = tuple[str, ...]


@st.cache_resource(show_spinner=False)
def source(paths: Paths) -> StoreSource:
    """The store (or shards) at ``paths``, opened once per server."""
    return open_source(list(paths), lock_timeout=LOCK_TIMEOUT_S)


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False)
def status(paths: Paths) -> data.Status:
    """:func:`faultcast.dashboard.data.status`, cached."""
    return data.status(source(paths))


@st.cache_data(ttl=DATA_TTL_S, show_spinner="Reading the store…")
def overview(paths: Paths, since: str | None) -> data.Overview:
    """:func:`faultcast.dashboard.data.overview`, cached."""
    return data.overview(source(paths), since)


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False)
def filter_options(paths: Paths, since: str | None) -> data.FilterOptions:
    """:func:`faultcast.dashboard.data.filter_options`, cached."""
    return data.filter_options(source(paths), since)


@st.cache_data(ttl=DATA_TTL_S, show_spinner="Reading the store…")
def errors(
    paths: Paths,
    since: str | None,
    by: str,
    service: tuple[str, ...],
    category: tuple[str, ...],
    level: tuple[str, ...],
) -> data.Errors:
    """:func:`faultcast.dashboard.data.errors`, cached (an empty filter keeps everything)."""
    return data.errors(
        source(paths),
        since,
        by=by,
        service=list(service) or None,
        category=list(category) or None,
        level=list(level) or None,
    )


@st.cache_data(ttl=DATA_TTL_S, show_spinner="Reading the store…")
def patterns(
    paths: Paths, since: str | None, window: str, service: tuple[str, ...]
) -> data.Patterns:
    """:func:`faultcast.dashboard.data.patterns`, cached."""
    return data.patterns(source(paths), since, window=window, service=list(service) or None)


@st.cache_resource(ttl=RECOMMENDER_TTL_S, show_spinner="Learning recovery outcomes…")
def recommender(paths: Paths) -> RecoveryRecommender:
    """:func:`faultcast.dashboard.data.recommender`, kept for a few minutes."""
    return data.recommender(source(paths))


@st.cache_data(ttl=DATA_TTL_S, show_spinner="Reading the store…")
def recovery(paths: Paths, since: str | None, service: tuple[str, ...]) -> data.Recovery:
    """:func:`faultcast.dashboard.data.recovery`, cached (with the kept recommender)."""
    return data.recovery(
        source(paths), since, service=list(service) or None, learned=recommender(paths)
    )


@st.cache_data(ttl=DATA_TTL_S, show_spinner="Reading the store…")
def predictions(paths: Paths, since: str | None, service: tuple[str, ...]) -> data.Predictions:
    """:func:`faultcast.dashboard.data.predictions`, cached."""
    return data.predictions(source(paths), since, service=list(service) or None)


@st.cache_data(ttl=DATA_TTL_S, show_spinner="Reading the store…")
def security(paths: Paths, since: str | None, service: tuple[str, ...]) -> data.Security:
    """:func:`faultcast.dashboard.data.security`, cached."""
    return data.security(source(paths), since, service=list(service) or None)


@st.cache_data(ttl=DATA_TTL_S, show_spinner="Reading the store…")
def models(paths: Paths, since: str | None) -> data.Models:
    """:func:`faultcast.dashboard.data.models`, cached."""
    return data.models(source(paths), since)


@st.cache_data(ttl=DATA_TTL_S, show_spinner="Reading the store…")
def now(paths: Paths) -> data.Now:
    """:func:`faultcast.dashboard.data.now`, cached."""
    return data.now(source(paths))


@st.cache_data(ttl=DATA_TTL_S, show_spinner="Reading the store…")
def issue_stream(paths: Paths, since: str | None, sort: str) -> data.IssueStream:
    """:func:`faultcast.dashboard.data.issue_stream`, cached: every issue of the range (the
    page filters them with :func:`faultcast.dashboard.data.filter_stream`)."""
    return data.issue_stream(source(paths), since, sort=sort, limit=data.ISSUE_LIMIT_ALL)


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False)
def issue_detail(paths: Paths, issue_id: str) -> dict[str, Any]:
    """:func:`faultcast.dashboard.data.issue_detail`, cached."""
    found: dict[str, Any] = data.issue_detail(source(paths), issue_id)
    return found


def forget_issues() -> None:
    """Drop the cached issue data (after a status change, so the page shows it at once)."""
    now.clear()
    issue_stream.clear()
    issue_detail.clear()
