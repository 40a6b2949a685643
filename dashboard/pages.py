"""The dashboard's pages: each reads its inputs, makes one cached data call, and draws.

The pages run inside the Streamlit app (:mod:`faultcast.dashboard.app`), which puts the
store paths and the chosen time range in ``st.session_state`` (see :func:`context`).  They
hold no SQL: their data comes from :mod:`faultcast.dashboard.data` through the cache of
:mod:`faultcast.dashboard._cache`.
"""

from __future__ import annotations

import getpass
import math
from typing import Any, Final
from urllib.parse import quote

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from faultcast.analytics import printable, printable_frame
from faultcast.dashboard import _cache
from faultcast.dashboard._format import (
    DASH,
    FAILURE_COLOUR,
    bucket_words,
    clock,
    colour_map,
    decade_ms,
    duration_ms,
    label,
    md,
    minutes,
    order,
    pct,
    printable_lines,
    readable,
    row_height,
    scorecard_table,
)
from faultcast.dashboard.data import (
    FAILING_WINDOW,
    ISSUE_SORTS,
    ISSUE_STATUSES,
    NEW_WINDOW,
    RECENT_WINDOW,
    TIME_RANGES,
    UNRESOLVED,
    change_issue_status,
    filter_stream,
)
from plotly.subplots import make_subplots

#: Session-state keys the app sets for the pages.
PATHS_KEY: Final[str] = "faultcast_paths"
RANGE_KEY: Final[str] = "faultcast_range"
DEFAULT_RANGE: Final[str] = "last 24 hours"
NEW_WINDOW_WORDS: Final[str] = bucket_words(NEW_WINDOW)


def context() -> tuple[tuple[str, ...], str | None]:
    """The store paths and the ``since`` of the time range the sidebar chose."""
    paths: tuple[str, ...] = tuple(st.session_state.get(PATHS_KEY, ("faultcast.duckdb",)))
    label = st.session_state.get(RANGE_KEY, DEFAULT_RANGE)
    return paths, TIME_RANGES.get(label, TIME_RANGES[DEFAULT_RANGE])


#: Trace attributes that can carry stored text (unit names, templates, categories).
_TEXT_ATTRIBUTES: Final[tuple[str, ...]] = (
    "x", "y", "text", "hovertext", "customdata", "name", "legendgroup", "hovertemplate",
    "labels", "ids",
)  # fmt: skip


def _printable_values(value: Any) -> Any:
    """``value`` (text, or nested sequences of it) with :func:`printable` text."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list | tuple) or bool(getattr(value, "ndim", 0)):
        return [_printable_values(v) for v in value]
    return value


def printable_figure(fig: go.Figure) -> go.Figure:
    """``fig`` with control and bidi characters in its traces' text shown escaped.

    >>> fig = px.bar(pd.DataFrame({"unit": ["api\\x1b[2J"], "n": [1]}), x="unit", y="n")
    >>> list(printable_figure(fig).data[0].x)
    ['api\\\\x1b[2J']
    """

    def escape(trace: Any) -> None:
        for attribute in _TEXT_ATTRIBUTES:
            if attribute in trace and trace[attribute] is not None:
                value = trace[attribute]
                if isinstance(value, str) or _holds_text(value):
                    trace[attribute] = _printable_values(value)

    fig.for_each_trace(escape)
    return fig


def _holds_text(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if getattr(getattr(value, "dtype", None), "kind", "O") in "biufcmM":
        return False  # a numeric or time array: no text
    if isinstance(value, list | tuple) or bool(getattr(value, "ndim", 0)):
        return any(_holds_text(v) for v in value)
    return False


def _chart(fig: go.Figure, key: str) -> None:
    fig.update_layout(
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend_title_text="",
        title_font_size=15,
    )
    st.plotly_chart(printable_figure(fig), key=key)


def _table(df: pd.DataFrame, key: str, empty: str, *, json_columns: tuple[str, ...] = ()) -> None:
    """``df`` with readable column names, shares as percentages, JSON as text, long text
    wrapped (never cut), missing values as a dash."""
    if df.empty:
        st.info(empty)
        return
    shown, config = readable(printable_frame(df), json_columns=json_columns)
    # Stored text with its control and bidi characters shown escaped, not acted on.
    st.dataframe(
        shown, hide_index=True, key=key, column_config=config, placeholder=DASH,
        row_height=row_height(shown),
    )  # fmt: skip


def _over_time(
    df: pd.DataFrame, y: str, color: str, bucket: str, title: str, y_title: str
) -> go.Figure:
    """Stacked bars per time bucket, one fixed colour per value of ``color``."""
    fig = px.bar(
        df, x="bucket", y=y, color=color,
        color_discrete_map=colour_map(color, df[color]),
        category_orders={color: order(color, df[color])},
        labels={"bucket": f"time (UTC), {bucket_words(bucket)} buckets", y: y_title,
                color: color.replace("_", " ")},
        title=title,
    )  # fmt: skip
    fig.update_yaxes(rangemode="tozero", tickformat=",d")
    return fig


def _services(paths: tuple[str, ...], since: str | None, key: str) -> tuple[str, ...]:
    options = _cache.filter_options(paths, since)
    return tuple(
        st.multiselect(
            "Service", options.services, key=key, placeholder="all services", format_func=printable
        )
    )


# ---------------------------------------------------------------------------------- pages
def _issue_link(issue_id: Any, title: Any) -> str:
    """A markdown link to an issue's page (``/issues?issue=ID``)."""
    return f"[{md(title)}](issues?issue={quote(str(issue_id))})"


def _recovery_words(action: Any, success: Any) -> str:
    if action is None or pd.isna(action):
        return "no recovery recorded for it yet: see the Recovery page"
    worked = (
        "" if success is None or pd.isna(success) else f" (worked {pct(success, 0)} of the time)"
    )
    return f"**{md(action)}**{worked}"


def _unit_row(unit: str, state: str, detail: str, row: Any) -> None:
    """One unit on one row: what happens, its top issue, what to do."""
    with st.container(border=True):
        who, what, todo = st.columns([2, 4, 3])
        who.markdown(f"**{md(unit)}** {state}  \n{detail}")
        if row.issue_id is None or pd.isna(row.issue_id):
            what.markdown("No issue recorded for it in this time.")
        else:
            others = "".join(
                f"  \nalso {_issue_link(i, t)} ({n:,})" for i, t, n in list(row.other_issues)[:2]
            )
            what.markdown(
                f"Top issue: {_issue_link(row.issue_id, row.issue_title)} "
                f"({int(row.issue_events):,} events){others}"
            )
        todo.markdown(
            f"Recommended recovery: {_recovery_words(row.recovery, row.recovery_success)}"
        )


def _now_section(paths: tuple[str, ...]) -> None:
    """What is failing now, what will fail next, what to do: the units, each on one row."""
    n = _cache.now(paths)
    if n.as_of is None:
        return
    when = (
        f"now ({n.as_of:%Y-%m-%d %H:%M} UTC)"
        if n.live
        else f"the store's newest event, {n.as_of:%Y-%m-%d %H:%M:%S} UTC (a historical store: "
        "its events stop before the wall clock)"
    )
    st.caption(f"As of {when}. Failing now: a failure in the last {bucket_words(FAILING_WINDOW)}.")
    failing = n.failing[n.failing["failing_now"].fillna(False)] if len(n.failing) else n.failing
    recent = n.failing[~n.failing["failing_now"].fillna(False)] if len(n.failing) else n.failing
    st.subheader(f"Failing now: {len(failing)}")
    for row in failing.itertuples():
        _unit_row(
            row.unit, ":red-badge[failing now]",
            f"{row.failures:,} failures since {clock(row.onset)} "
            f"({minutes(row.onset, n.as_of)} ago), the last at {clock(row.last_failure)}",
            row,
        )  # fmt: skip
    if failing.empty:
        st.success(f"No unit had a failure in the last {bucket_words(FAILING_WINDOW)}.")
    st.subheader(f"At risk of failing in the next {bucket_words(FAILING_WINDOW)}: {len(n.at_risk)}")
    for row in n.at_risk.itertuples():
        _unit_row(
            row.unit, ":orange-badge[at risk]",
            f"risk {pct(row.probability)} (alert threshold {pct(row.threshold)})"
            + (f"  \n{md(row.why)}" if row.why else ""),
            row,
        )  # fmt: skip
    if n.at_risk.empty and not n.model_status:
        st.info("No failure predictions yet: `faultcast learn` (or `faultcast serve`) makes them.")
    elif n.at_risk.empty:
        learning = "" if n.model_status == "ready" else f" (the model is {n.model_status})"
        st.info(f"The production model alerts on no unit now{learning}.")
    if len(recent):
        st.subheader(
            f"Failed in the last {bucket_words(RECENT_WINDOW)}, recovered since: {len(recent)}"
        )
        for row in recent.itertuples():
            _unit_row(
                row.unit, ":green-badge[recovered]",
                f"{row.failures:,} failures from {clock(row.onset)} to {clock(row.last_failure)} "
                f"({minutes(row.onset, row.last_failure)})",
                row,
            )  # fmt: skip


def overview() -> None:
    """What is failing now, what is at risk and what to do; then the KPI tiles, the seed's
    success criteria and errors over time."""
    paths, since = context()
    d = _cache.overview(paths, since)
    st.header("Overview")
    _now_section(paths)
    st.subheader("In the time range")
    tiles = st.columns(5)
    tiles[0].metric(
        "Error rate",
        pct(d.error_rate),
        help=f"{d.errors:,} errors in {d.events:,} events; errors per "
        + ("call the app reported" if d.error_rate_basis == "calls" else "logged event"),
    )
    tiles[1].metric("Recovery success", pct(d.recovery_success))
    tiles[2].metric("Mean recovery time", duration_ms(d.mean_recovery_ms))
    tiles[3].metric(
        "Units at risk now",
        f"{d.units_at_risk} of {d.units_predicted}" if d.units_predicted else DASH,
        help="units whose latest failure prediction is over its alert threshold",
    )
    tiles[4].metric(
        "New error patterns",
        f"{d.new_patterns:,}",
        help=f"patterns at warning level or above first seen in the last {NEW_WINDOW_WORDS}",
    )
    st.subheader("Success criteria")
    _table(scorecard_table(d.scorecard), "scorecard", "Nothing to measure yet.")
    if d.errors_over_time.empty:
        st.info("No errors in this time range.")
    else:
        _chart(
            _over_time(
                d.errors_over_time, "errors", "category", d.bucket,
                f"Errors per {bucket_words(d.bucket)} by category",
                f"errors per {bucket_words(d.bucket)}",
            ),
            "overview_errors",
        )  # fmt: skip


#: What an action sets, and its button's label.
ISSUE_ACTIONS: Final[dict[str, tuple[str, str]]] = {
    "resolve": ("resolved", "Resolve"),
    "resolve_next": ("resolved", "Resolve in the next release"),
    "ignore": ("ignored", "Ignore"),
    "reopen": ("open", "Reopen"),
}
#: How long an ignore lasts: label -> (until, until_count).
IGNORE_FOR: Final[dict[str, tuple[str | None, int | None]]] = {
    "for good": (None, None),
    "for 1 hour": ("1h", None),
    "for 24 hours": ("24h", None),
    "for 7 days": ("7d", None),
    "until 10 more events": (None, 10),
    "until 100 more events": (None, 100),
}
_STATUS_BADGE: Final[dict[str, str]] = {
    "open": ":red-badge[open]",
    "regressed": ":violet-badge[regressed]",
    "resolved": ":green-badge[resolved]",
    "ignored": ":gray-badge[ignored]",
}
#: Rows of the issue stream in view (it scrolls for more).
STREAM_ROWS: Final[int] = 10
#: Characters of a list of services on one line of the stream's Service column.
SERVICE_LINE_CHARS: Final[int] = 28
#: The dashboard's name in an issue's history of changes.
ACTOR_SUFFIX: Final[str] = " (dashboard)"


def _actor() -> str:
    try:
        return getpass.getuser() + ACTOR_SUFFIX
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "dashboard"


def _act(paths: tuple[str, ...], issue_id: str, action: str, ignore_for: str) -> None:
    status, _ = ISSUE_ACTIONS[action]
    until, count = IGNORE_FOR[ignore_for] if action == "ignore" else (None, None)
    try:
        changed = change_issue_status(
            paths, issue_id, status, actor=_actor(), until=until, until_count=count,
            in_next_release=action == "resolve_next",
        )  # fmt: skip
    except Exception as e:  # a lock held too long, a read-only file: say so, keep the page
        st.session_state["i_message"] = ("error", printable(f"{issue_id} not changed: {e}"))
    else:
        st.session_state["i_message"] = ("ok", f"{issue_id} is {changed['status']} now.")
    _cache.forget_issues()


def _issue_stream_table(stream: pd.DataFrame) -> None:
    shown = stream[
        ["id", "title", "status", "count", "users", "sessions", "service", "last_seen", "trend",
         "recovery"]
    ].assign(link=[f"issues?issue={quote(str(i))}" for i in stream["id"]])  # fmt: skip
    shown, config = readable(printable_frame(shown))
    config["Trend"] = st.column_config.BarChartColumn(
        "Events per hour (24 h)", help="the issue's events per hour over its last 24 hours"
    )
    config["Count"] = st.column_config.NumberColumn("Events", format="localized")
    config["Link"] = st.column_config.LinkColumn("Open", display_text="details")
    config["Service"] = st.column_config.TextColumn("Service", width="medium")
    height = row_height(shown, narrow={"Service": SERVICE_LINE_CHARS})
    st.dataframe(
        shown, hide_index=True, key="i_stream", column_config=config, placeholder=DASH,
        row_height=height, height=min(STREAM_ROWS, len(shown)) * (height or 35) + 40,
    )  # fmt: skip


def _issue_drill_down(paths: tuple[str, ...], issue_id: str) -> None:
    try:
        d = _cache.issue_detail(paths, issue_id)
    except LookupError:
        st.warning(f"No issue {printable(issue_id)} in this store.")
        return
    st.subheader(md(d["title"]))
    st.markdown(
        f"{_STATUS_BADGE.get(d['status'], md(d['status']))} `{printable(d['id'])}` · "
        f"{md(d['level'])} · {md(d['error_type'] or DASH)} · in {md(d['service'])}"
    )
    tiles = st.columns(3)
    tiles[0].metric("Events", f"{d['count']:,}")
    tiles[1].metric("Users", f"{d['users']:,}")
    tiles[2].metric("Sessions", f"{d['sessions']:,}")
    st.markdown(
        f"First seen {d['first_seen']:%Y-%m-%d %H:%M:%S} UTC, last seen "
        f"{d['last_seen']:%Y-%m-%d %H:%M:%S} UTC · releases: first "
        f"{md(d['first_release'] or DASH)}, last {md(d['last_release'] or DASH)}  \n"
        f"Recommended recovery: {_recovery_words(d['recovery'], d['recovery_success'])}"
    )
    cols = st.columns([1.2, 2.4, 1.2, 2.2, 1.2])
    unresolved = d["status"] in UNRESOLVED
    cols[0].button(
        "Resolve", key="i_resolve", disabled=not unresolved, type="primary",
        on_click=_act, args=(paths, d["id"], "resolve", ""),
    )  # fmt: skip
    cols[1].button(
        "Resolve in next release", key="i_resolve_next", disabled=not unresolved,
        on_click=_act, args=(paths, d["id"], "resolve_next", ""),
    )  # fmt: skip
    ignore_for = cols[3].selectbox(
        "Ignore", list(IGNORE_FOR), key="i_ignore_for", label_visibility="collapsed"
    )
    cols[2].button(
        "Ignore", key="i_ignore", disabled=d["status"] == "ignored",
        on_click=_act, args=(paths, d["id"], "ignore", ignore_for),
    )  # fmt: skip
    cols[4].button(
        "Reopen", key="i_reopen", disabled=unresolved,
        on_click=_act, args=(paths, d["id"], "reopen", ""),
    )  # fmt: skip
    st.markdown("**Latest events**")
    for event in d["events"]:
        with st.container(border=True):
            st.caption(
                f"{event['ts']:%Y-%m-%d %H:%M:%S} UTC · {printable(event['service'])} · "
                f"{printable(event['host'] or DASH)} · {printable(event['level'])}"
                + (f" · release {printable(event['release'])}" if event["release"] else "")
            )
            st.text(printable(event["message"]))
            if event["traceback"]:
                st.code(printable_lines(event["traceback"]), language="python")
    changes = pd.DataFrame(d["changes"], columns=["at", "from_status", "to_status", "actor"])
    st.markdown("**History**")
    _table(changes, "i_changes", "No status change yet.")


def issues_page() -> None:
    """The issue stream (errors grouped by fingerprint) with filters, sorts, actions and the
    drill-down to an issue's events and traceback."""
    paths, since = context()
    st.header("Issues")
    message = st.session_state.pop("i_message", None)
    if message:
        (st.success if message[0] == "ok" else st.error)(message[1])
    cols = st.columns([3, 3, 2])
    status = cols[0].multiselect(
        "Status", list(ISSUE_STATUSES), default=list(UNRESOLVED), key="i_status",
        placeholder="every status",
    )  # fmt: skip
    sort = cols[2].selectbox("Sort by", list(ISSUE_SORTS), key="i_sort")
    with cols[1]:
        everything = _cache.issue_stream(paths, since, ISSUE_SORTS[sort])
        service = st.multiselect(
            "Service", everything.services, key="i_service", placeholder="all services",
            format_func=printable,
        )  # fmt: skip
    d = filter_stream(everything, status, service)
    tiles = st.columns(len(ISSUE_STATUSES))
    for tile, name in zip(tiles, ISSUE_STATUSES, strict=True):
        tile.metric(name.capitalize(), f"{d.counts[name]:,}", help="issues seen in the time range")
    if d.stream.empty:
        st.info("No issue matches these filters in this time range.")
    else:
        st.caption(
            f"{len(d.stream):,} issues seen in the time range, by {sort}. An issue groups the "
            "errors (warning and above, and failures) of one error type and pattern."
        )
        _issue_stream_table(d.stream)
    # The issue shown: the one chosen, else the one the address names (a link from the
    # Overview: /issues?issue=ID), else the first; the address follows the choice.
    if "i_issue" not in st.session_state and st.query_params.get("issue"):
        st.session_state["i_issue"] = st.query_params["issue"]
    ids = d.stream["id"].tolist()
    kept = st.session_state.get("i_issue")
    if kept and kept not in ids:
        ids = [kept, *ids]  # filtered out (just resolved, say): still shown
    if not ids:
        return
    titles = dict(zip(d.stream["id"], d.stream["title"], strict=True))
    chosen = st.selectbox(
        "Issue", ids, key="i_issue", format_func=lambda i: printable(f"{i}  {titles.get(i, '')}")
    )
    st.query_params["issue"] = chosen
    _issue_drill_down(paths, chosen)


def errors() -> None:
    """Error frequency over time, filtered by service, category and level."""
    paths, since = context()
    st.header("Errors")
    options = _cache.filter_options(paths, since)
    cols = st.columns(4)
    by = cols[0].selectbox(
        "Group by", ["category", "service", "level", "error_type"], key="e_by",
        format_func=lambda c: c.replace("_", " "),
    )  # fmt: skip
    service = cols[1].multiselect(
        "Service", options.services, key="e_service", placeholder="all", format_func=printable
    )
    category = cols[2].multiselect(
        "Category",
        options.categories,
        key="e_category",
        placeholder="all",
        format_func=printable,
    )
    level = cols[3].multiselect(
        "Level", options.levels, key="e_level", placeholder="all", format_func=printable
    )
    d = _cache.errors(paths, since, by, tuple(service), tuple(category), tuple(level))
    total = int(d.totals["errors"].sum()) if len(d.totals) else 0
    failures = int(d.totals["failures"].sum()) if len(d.totals) else 0
    tiles = st.columns(3)
    tiles[0].metric("Errors", f"{total:,}")
    tiles[1].metric("Failures", f"{failures:,}")
    tiles[2].metric("Bucket", bucket_words(d.bucket))
    if d.over_time.empty:
        st.info("No errors match these filters in this time range.")
        return
    words = by.replace("_", " ")
    _chart(
        _over_time(
            d.over_time, "errors", by, d.bucket,
            f"Errors per {bucket_words(d.bucket)} by {words}",
            f"errors per {bucket_words(d.bucket)}",
        ),
        "errors_over_time",
    )  # fmt: skip
    left, right = st.columns(2)
    with left:
        st.subheader(f"Errors by {words}")
        _table(d.totals, "errors_totals", "No errors.")
    with right:
        st.subheader("Error rate by service")
        _table(d.rates, "errors_rates", "No events.")


def _pattern_name(frame: pd.DataFrame) -> pd.Series:
    """A pattern's name on a chart: its template, with its id."""
    return frame["template_id"].astype(str) + "  " + frame["template"].astype(str)


def patterns() -> None:
    """The top, new, surging and precursor patterns."""
    paths, since = context()
    st.header("Patterns")
    cols = st.columns(2)
    window = cols[0].selectbox(
        "New / surging within the last", ["15m", "1h", "6h", "24h"], index=1, key="p_window",
        format_func=bucket_words,
    )  # fmt: skip
    with cols[1]:
        service = _services(paths, since, "p_service")
    d = _cache.patterns(paths, since, window, service)
    top, new, surging, precursors = st.tabs(["Top", "New", "Surging", "Precursors"])
    with top:
        if not d.top.empty:
            shown = d.top.head(15).iloc[::-1].assign(pattern=lambda f: _pattern_name(f))
            fig = px.bar(
                shown, x="count", y="pattern", orientation="h",
                hover_data={"template": True, "pattern": False},
                labels={"count": "events in the time range", "pattern": ""},
                title="Most frequent patterns (events in the time range)",
            )  # fmt: skip
            fig.update_layout(height=max(300, 28 * len(shown) + 100))
            fig.update_xaxes(tickformat=",d")
            _chart(fig, "patterns_top")
        _table(d.top, "patterns_top_table", "No patterns in this time range.")
    with new:
        st.caption(f"First seen within the last {bucket_words(window)} (of event time).")
        _table(d.new, "patterns_new", f"No pattern first seen in the last {bucket_words(window)}.")
    with surging:
        st.caption(f"Well above their own baseline within the last {bucket_words(window)}.")
        _table(
            d.surging, "patterns_surging", f"No pattern surging in the last {bucket_words(window)}."
        )
    with precursors:
        st.caption("Patterns more frequent in the 15 minutes before failures than elsewhere.")
        _table(d.precursors, "patterns_precursors", "No precursor pattern with enough support.")


def _log_ms_axis(fig: go.Figure, values: pd.Series) -> None:
    """A log axis of milliseconds with one labelled tick per decade (1 ms, 10 ms, ... 1 min)."""
    found = values[values > 0]
    if found.empty:
        return
    low = int(math.floor(math.log10(float(found.min()))))
    high = int(math.ceil(math.log10(float(found.max()))))
    ticks = [10.0**k for k in range(low, high + 1)]
    fig.update_yaxes(
        type="log", tickvals=ticks, ticktext=[decade_ms(t) for t in ticks], minor_showgrid=False
    )


def recovery() -> None:
    """Success by action x category, recovery times, retries and the recommender's advice."""
    paths, since = context()
    st.header("Recovery")
    service = _services(paths, since, "r_service")
    d = _cache.recovery(paths, since, service)
    if d.success.empty:
        st.info("No recovery attempts in this time range.")
    else:
        grid = d.success.pivot_table(
            index="recovery_action", columns="category", values="success_rate", aggfunc="first"
        )
        fig = px.imshow(
            grid, text_auto=".0%", zmin=0, zmax=1, color_continuous_scale="RdYlGn", aspect="auto",
            labels={"x": "category", "y": "action", "color": "success"},
            title="Recovery success by action and category (share of attempts that succeeded)",
        )  # fmt: skip
        fig.update_coloraxes(colorbar_tickformat=".0%")
        _chart(fig, "recovery_heatmap")
    left, right = st.columns(2)
    with left:
        if not d.times_by_outcome.empty:
            times = d.times_by_outcome.assign(
                to_p95=d.times_by_outcome["p95_ms"] - d.times_by_outcome["p50_ms"]
            )
            fig = px.bar(
                times, x="recovery_action", y="p50_ms", color="recovery_outcome",
                color_discrete_map=colour_map("recovery_outcome", times["recovery_outcome"]),
                category_orders={"recovery_outcome": order("recovery_outcome",
                                                           times["recovery_outcome"])},
                error_y="to_p95", barmode="group",
                hover_data=["attempts", "mean_ms", "p95_ms", "max_ms"],
                labels={"recovery_action": "action", "p50_ms": "median recovery time",
                        "recovery_outcome": "outcome"},
                title="Recovery time per action: median, whisker to p95 (log scale)",
            )  # fmt: skip
            _log_ms_axis(fig, pd.concat([times["p50_ms"], times["p95_ms"]]))
            _chart(fig, "recovery_times")
        _table(d.times, "recovery_times_table", "No timed recoveries.")
    with right:
        if not d.retries.empty:
            fig = px.bar(
                d.retries, x="retry_count", y="events", color="success_rate",
                color_continuous_scale="RdYlGn", range_color=(0, 1),
                labels={"retry_count": "retries before the outcome", "events": "errors",
                        "success_rate": "success"},
                title="Errors by number of retries, coloured by success",
            )  # fmt: skip
            fig.update_coloraxes(colorbar_tickformat=".0%")
            fig.update_xaxes(dtick=1, tickformat="d")
            fig.update_yaxes(tickformat=",d")
            _chart(fig, "recovery_retries")
        else:
            st.info("No retried errors in this time range.")
    st.subheader("What the recommender would do now")
    st.caption("For the most frequent kinds of error in this range, learned from every outcome.")
    _table(d.advice, "recovery_advice", d.advice_note or "No advice.")


def _threshold_words(risk: pd.DataFrame) -> pd.Series:
    return risk["alert"].map({True: "over the threshold", False: "below the threshold"})


def predictions() -> None:
    """Risk per unit now and why, the risk per unit over time with its own failures, and the
    quality of past predictions."""
    paths, since = context()
    st.header("Predictions")
    service = _services(paths, since, "f_service")
    d = _cache.predictions(paths, since, service)
    if d.risk_now.empty:
        st.info("No predictions yet: run `faultcast learn` (or `faultcast serve`).")
        return
    now = d.risk_now.iloc[0]
    horizon = bucket_words(f"{float(now['horizon_s']) / 60:g}m")
    st.caption(
        f"Risk of a failure within {horizon}, as of {now['made_at']:%Y-%m-%d %H:%M} UTC, "
        f"answered by production version {int(now['model_version'])} of {now['model_name']}"
        + ("" if now["status"] == "ready" else f"; {now['status']}: no alerts until then")
    )
    q = d.quality.iloc[0] if len(d.quality) else None
    tiles = st.columns(4)
    tiles[0].metric("Precision", DASH if q is None else pct(_num(q["precision"])))
    tiles[1].metric("Recall", DASH if q is None else pct(_num(q["recall"])))
    lead = None if q is None else _num(q["median_lead_s"])
    tiles[2].metric("Median lead time", DASH if lead is None else f"{lead / 60:.1f} min")
    tiles[3].metric(
        "Failures caught", DASH if q is None else f"{int(q['caught'])} of {int(q['onsets'])}"
    )
    left, right = st.columns([2, 3])
    with left:
        risk = d.risk_now.assign(state=_threshold_words(d.risk_now))
        fig = px.bar(
            risk, x="unit", y="probability", color="state",
            color_discrete_map=colour_map("alert", risk["state"]),
            labels={"unit": "service", "probability": f"risk of a failure within {horizon}",
                    "state": ""},
            range_y=(0, 1.05), title=f"Risk now (failure within {horizon})",
        )  # fmt: skip
        thresholds = risk["threshold"].dropna()
        if len(thresholds):
            level = float(thresholds.iloc[0])
            fig.add_hline(
                y=level, line_dash="dash", line_color="#444",
                annotation_text=f"alert threshold {pct(level)}", annotation_position="top left",
            )  # fmt: skip
        fig.update_yaxes(tickformat=".0%")
        _chart(fig, "predictions_risk")
        unit = st.selectbox("Why", d.risk_now["unit"].tolist(), key="f_unit", format_func=printable)
        why = d.contributions[d.contributions["unit"] == unit]
        _table(
            why[["feature", "value", "contribution", "text"]],
            "predictions_why",
            "No explanation stored for this unit's latest prediction.",
        )
    with right:
        _chart(risk_per_unit(d.timeline, horizon), "predictions_timeline")
    left, right = st.columns(2)
    with left:
        quality = d.quality_over_time.melt(
            id_vars=["bucket"], value_vars=["precision", "recall"], var_name="metric"
        ).assign(metric=lambda f: f["metric"].map(label))
        fig = px.line(
            quality, x="bucket", y="value", color="metric", markers=True,
            color_discrete_map=colour_map("metric", quality["metric"]),
            labels={"bucket": "time (UTC)", "value": "share"},
            title="Precision and recall of past predictions",
        )  # fmt: skip
        fig.update_yaxes(tickformat=".0%", range=(-0.02, 1.05))
        _chart(fig, "predictions_quality")
    with right:
        fig = px.scatter(
            d.calibration, x="mean_probability", y="observed_rate", size="predictions",
            range_x=(0, 1), range_y=(0, 1),
            labels={"mean_probability": "predicted risk", "observed_rate": "failures that followed",
                    "predictions": "predictions"},
            title="Calibration: predicted risk against failures that followed",
        )  # fmt: skip
        fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line={"dash": "dot"})
        fig.update_xaxes(tickformat=".0%")
        fig.update_yaxes(tickformat=".0%")
        _chart(fig, "predictions_calibration")


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


#: The colour of a risk line (each small chart is one unit's).
RISK_COLOUR: Final[str] = "#4C78A8"
#: Small risk charts side by side.
RISK_COLUMNS: Final[int] = 2


def risk_per_unit(timeline: pd.DataFrame, horizon: str = "15 min") -> go.Figure:
    """One small chart per unit: its risk over time, its alert threshold (a labelled dashed
    line) and its own failure onsets (marked at the top)."""
    preds = timeline[timeline["kind"] == "prediction"]
    onsets = timeline[timeline["kind"] == "onset"]
    units = sorted(set(preds["unit"]) | set(onsets["unit"]))
    if not units:
        fig = go.Figure()
        fig.update_layout(title="No predictions in this time range")
        return fig
    rows = math.ceil(len(units) / RISK_COLUMNS)
    fig = make_subplots(
        rows=rows, cols=min(RISK_COLUMNS, len(units)), subplot_titles=[printable(u) for u in units],
        shared_xaxes=True, vertical_spacing=min(0.08, 0.5 / rows), horizontal_spacing=0.06,
    )  # fmt: skip
    for i, unit in enumerate(units):
        row, col = i // RISK_COLUMNS + 1, i % RISK_COLUMNS + 1
        mine = preds[preds["unit"] == unit]
        first = i == 0
        fig.add_trace(
            go.Scatter(
                x=mine["ts"], y=mine["probability"], mode="lines", name="risk",
                line={"color": RISK_COLOUR, "width": 1.5}, legendgroup="risk",
                showlegend=first, hovertemplate="%{x}<br>risk %{y:.1%}<extra>" + printable(unit)
                + "</extra>",
            ),
            row=row, col=col,
        )  # fmt: skip
        if len(mine):
            fig.add_trace(
                go.Scatter(
                    x=mine["ts"], y=mine["threshold"], mode="lines", name="alert threshold",
                    line={"color": "#444", "dash": "dash", "width": 1}, legendgroup="threshold",
                    showlegend=first, hovertemplate="alert threshold %{y:.1%}<extra></extra>",
                ),
                row=row, col=col,
            )  # fmt: skip
            last = mine.iloc[-1]
            fig.add_annotation(
                x=last["ts"], y=float(last["threshold"]), text=f"threshold {pct(last['threshold'])}",
                showarrow=False, xanchor="right", yanchor="bottom", font={"size": 10},
                row=row, col=col,
            )  # fmt: skip
        theirs = onsets[onsets["unit"] == unit]
        fig.add_trace(
            go.Scatter(
                x=theirs["ts"], y=[1.0] * len(theirs), mode="markers", name="failure",
                marker={"symbol": "x", "size": 9, "color": FAILURE_COLOUR}, legendgroup="failure",
                showlegend=first, hovertemplate="failure at %{x}<extra>" + printable(unit)
                + "</extra>",
            ),
            row=row, col=col,
        )  # fmt: skip
    fig.update_yaxes(range=(0, 1.08), tickformat=".0%", tickvals=[0, 0.5, 1])
    fig.update_layout(
        height=max(320, 170 * rows + 80),
        title=f"Risk of a failure within {horizon} per service, with its failures",
        legend={"orientation": "h", "y": -0.08},
    )
    return fig


def security() -> None:
    """Authentication failures, authorisation violations, incidents and lockouts."""
    paths, since = context()
    st.header("Security")
    service = _services(paths, since, "s_service")
    d = _cache.security(paths, since, service)
    tiles = st.columns(4)
    tiles[0].metric("Authentication failures", f"{int(d.auth_failures['auth_failures'].sum()):,}")
    tiles[1].metric("Authorisation violations", f"{int(d.violations['violations'].sum()):,}")
    tiles[2].metric("Incidents", f"{len(d.incidents):,}")
    tiles[3].metric("Lockouts", f"{len(d.lockouts):,}")
    if not d.auth_over_time.empty:
        bucket = d.bucket
        _chart(
            _over_time(
                d.auth_over_time, "auth_failures", "service", bucket,
                f"Authentication failures per {bucket_words(bucket)} by service",
                f"failures per {bucket_words(bucket)}",
            ),
            "security_auth",
        )  # fmt: skip
    left, right = st.columns(2)
    with left:
        st.subheader("Authentication failures by service")
        _table(d.auth_failures, "security_auth_table", "No authentication failures.")
        st.subheader("Authorisation violations")
        _table(d.violations, "security_violations", "No authorisation violations.")
    with right:
        st.subheader("Time to respond")
        _table(d.response, "security_response", "No incidents.")
        st.subheader("Lockouts")
        _table(d.lockouts, "security_lockouts", "No lockouts.")
    st.subheader("Incidents")
    _table(d.incidents, "security_incidents", "No security incidents in this time range.")


def models() -> None:
    """Registry versions, their metrics over time, drift events and the last retrain."""
    paths, since = context()
    st.header("Models")
    d = _cache.models(paths, since)
    if d.versions.empty:
        st.info("No model yet: run `faultcast learn`, then `faultcast retrain`.")
        return
    last = d.last_retrain
    tiles = st.columns(3)
    production = d.versions[d.versions["status"] == "production"]
    tiles[0].metric(
        "In production",
        ", ".join(f"{r.name} v{r.version}" for r in production.itertuples()) or DASH,
    )
    tiles[1].metric("Drift events", f"{len(d.drift):,}")
    tiles[2].metric(
        "Last retrain",
        "never" if not last else str(last["decision"]),
        help=None if not last else f"{last['started_at']:%Y-%m-%d %H:%M} UTC: {last['reason']}",
    )
    st.subheader("Registry")
    _table(d.versions, "models_versions", "No versions.")
    left, right = st.columns(2)
    with left:
        if not d.version_metrics.empty:
            per_version = d.version_metrics.assign(metric=lambda f: f["metric"].map(label))
            fig = px.line(
                per_version, x="version", y="value", color="metric", markers=True,
                color_discrete_map=colour_map("metric", per_version["metric"]),
                hover_data=["status", "created_at"],
                labels={"version": "model version", "value": "on the holdout"},
                title="Holdout metrics per model version",
            )  # fmt: skip
            fig.update_xaxes(dtick=1, tickformat="d")
            fig.update_yaxes(tickformat=".0%", range=(-0.02, 1.05))
            _chart(fig, "models_version_metrics")
    with right:
        if not d.quality_over_time.empty:
            quality = d.quality_over_time.melt(
                id_vars=["bucket"], value_vars=["precision", "recall"], var_name="metric"
            ).assign(metric=lambda f: f["metric"].map(label))
            fig = px.line(
                quality, x="bucket", y="value", color="metric", markers=True,
                color_discrete_map=colour_map("metric", quality["metric"]),
                labels={"bucket": f"time (UTC), {bucket_words(d.bucket)} buckets",
                        "value": "share"},
                title=f"Live precision and recall per {bucket_words(d.bucket)}",
            )  # fmt: skip
            fig.update_yaxes(tickformat=".0%", range=(-0.02, 1.05))
            _chart(fig, "models_quality")
    st.subheader("Drift events")
    _table(d.drift, "models_drift", "No drift detected.", json_columns=("detail",))
    st.subheader("Retraining runs")
    _table(
        d.retrains, "models_retrains", "No retraining run yet: `faultcast retrain`.",
        json_columns=("candidates",),
    )  # fmt: skip


def first_run() -> None:
    """What to do with an empty store: how to get events in."""
    paths, _ = context()
    db = paths[0]
    st.header("Welcome to faultcast")
    st.markdown(
        f"The store **{', '.join(paths)}** has no events yet. Ingest some, and this page turns "
        "into the dashboard (it checks again every few seconds)."
    )
    st.subheader("Try it with simulated events")
    st.code(
        f"faultcast simulate --services 4 --hours 6 --out events.jsonl\n"
        f"faultcast ingest events.jsonl --db {db}\n"
        f"faultcast learn --db {db}",
        language="console",
    )
    st.subheader("Or your own logs")
    st.code(
        f"faultcast ingest app.jsonl --db {db}            # structlog / JSON lines\n"
        f"faultcast ingest app.log --db {db} --log-format '<Date> <Time> <Level> <Content>'\n"
        f"faultcast ingest app.jsonl --db {db} --follow   # keep reading as it grows",
        language="console",
    )
    st.caption("Or run `make demo` for a day of 8 simulated services, learned and ready.")


#: Every page of the dashboard: (function, title, url path, icon).
PAGES: Final[tuple[tuple[Any, str, str, str], ...]] = (
    # The first page is the default one: Streamlit serves it at the root URL.
    (overview, "Overview", "overview", ":material/dashboard:"),
    (issues_page, "Issues", "issues", ":material/bug_report:"),
    (errors, "Errors", "errors", ":material/error:"),
    (patterns, "Patterns", "patterns", ":material/pattern:"),
    (recovery, "Recovery", "recovery", ":material/healing:"),
    (predictions, "Predictions", "predictions", ":material/online_prediction:"),
    (security, "Security", "security", ":material/shield:"),
    (models, "Models", "models", ":material/model_training:"),
)
