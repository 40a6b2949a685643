"""The Streamlit entry file: ``streamlit run app.py -- --db PATH [--db PATH ...]``.

``faultcast dashboard`` runs it.  The store paths come from ``--db`` after ``--`` (several
for shards), else from ``$FAULTCAST_DB`` (paths separated by ``os.pathsep``), else
``./faultcast.duckdb``.  The sidebar picks the time range and the auto-refresh interval;
:func:`main` then runs the chosen page (inside a fragment that reruns every interval), or a
first-run page while the store has no events.

Importing this module does nothing: Streamlit runs it as ``__main__``.

Examples
--------
>>> store_paths(["--db", "a.duckdb", "--db", "b.duckdb"], {})
('a.duckdb', 'b.duckdb')
>>> store_paths([], {"FAULTCAST_DB": "x.duckdb"})
('x.duckdb',)
>>> store_paths([], {})
('faultcast.duckdb',)
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Final

#: Auto-refresh choices: label -> seconds (None: off).
REFRESH: Final[dict[str, float | None]] = {
    "off": None,
    "5 s": 5.0,
    "10 s": 10.0,
    "30 s": 30.0,
    "1 min": 60.0,
    "5 min": 300.0,
}
DEFAULT_REFRESH: Final[str] = "30 s"


def store_paths(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[str, ...]:
    """The store paths: ``--db`` arguments, else ``$FAULTCAST_DB``, else the default."""
    parser = argparse.ArgumentParser(prog="faultcast dashboard", add_help=False)
    parser.add_argument("--db", action="append", default=[])
    known, _ = parser.parse_known_args(list(argv))
    if known.db:
        return tuple(str(p) for p in known.db)
    if environ.get("FAULTCAST_DB"):
        return tuple(p for p in environ["FAULTCAST_DB"].split(os.pathsep) if p)
    return ("faultcast.duckdb",)


def _refreshing(page: Callable[[], None], seconds: float | None) -> Callable[[], None]:
    """``page`` run inside a fragment that reruns every ``seconds`` (as is when None)."""
    import streamlit as st

    if seconds is None:
        return page

    @functools.wraps(page)
    def run() -> None:
        st.fragment(page, run_every=seconds)()

    return run


def main() -> None:
    """Draw the sidebar and run the chosen page (the first-run page for an empty store)."""
    import streamlit as st
    from faultcast.analytics import printable
    from faultcast.dashboard import _cache, pages
    from faultcast.dashboard.data import TIME_RANGES

    st.set_page_config(page_title="faultcast", page_icon=":material/monitoring:", layout="wide")
    paths = store_paths(sys.argv[1:], os.environ)
    st.session_state[pages.PATHS_KEY] = paths
    with st.sidebar:
        st.selectbox(
            "Time range",
            list(TIME_RANGES),
            index=list(TIME_RANGES).index(pages.DEFAULT_RANGE),
            key=pages.RANGE_KEY,
            help="Counted back from the latest event",
        )
        refresh = st.selectbox(
            "Auto-refresh",
            list(REFRESH),
            index=list(REFRESH).index(DEFAULT_REFRESH),
            key="faultcast_refresh",
        )
    seconds = REFRESH[refresh]
    try:
        state = _cache.status(paths)
    except Exception as e:  # a file that is not a store, or unreadable: say so, not a traceback
        st.error(printable(f"Cannot read the store {', '.join(paths)}: {e}"))
        st.stop()
    if state.empty:

        def start() -> None:
            pages.first_run()
            if not _cache.status(paths).empty:
                st.rerun()  # events arrived: the whole dashboard

        navigation = st.navigation(
            [st.Page(_refreshing(start, _cache.DATA_TTL_S), title="Get started",
                     url_path="start", icon=":material/rocket_launch:")]
        )  # fmt: skip
    else:
        listed = [
            st.Page(_refreshing(fn, seconds), title=title, url_path=url, icon=icon)
            for fn, title, url, icon in pages.PAGES
        ]
        # Streamlit serves its default page at the root only ("/overview" would be "Page not
        # found"): the root is a hidden page that switches to the first page, so every page,
        # the first too, has a stable address.
        root = st.Page(
            functools.partial(st.switch_page, listed[0]), title=listed[0].title,
            url_path="home", default=True, visibility="hidden",
        )  # fmt: skip
        navigation = st.navigation([root, *listed])
        with st.sidebar:
            st.caption(
                f"{state.events:,} events from {state.services} services, "
                f"{state.first_event:%Y-%m-%d %H:%M} to {state.last_event:%Y-%m-%d %H:%M} UTC"
            )
            st.caption(printable("Store: " + ", ".join(paths)))
    navigation.run()


if __name__ == "__main__":
    main()
