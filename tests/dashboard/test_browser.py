"""The dashboard in a real browser: ``faultcast dashboard`` on a free port, Debian's Chromium
driven by Playwright, every page visited at its own address (``/overview`` too), no Streamlit
exception on any, a screenshot of each; on the Issues page an issue is resolved with its button
and seen to move out of the unresolved stream.

Screenshots go to ``$FAULTCAST_ARTEFACTS/dashboard`` (default ``tests/dashboard/artefacts``).
Skipped, with the reason, only when no Chromium is installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultcast.analytics import issues, open_source
from faultcast.dashboard.pages import PAGES

from tests.conftest import copy_store

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("FAULTCAST_ARTEFACTS", ROOT / "tests" / "dashboard" / "artefacts"))
CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"faultcast dashboard exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the dashboard did not answer at {url} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def browsed_db(seeded_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the seeded store: the test resolves an issue in it."""
    return copy_store(seeded_db, tmp_path_factory.mktemp("browsed") / "store.duckdb")


@pytest.fixture(scope="module")
def dashboard(browsed_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("dashboard") / "streamlit.log"
    command = [
        str(Path(sys.executable).parent / "faultcast"),
        "dashboard",
        "--db",
        str(browsed_db),
        "--port",
        str(port),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, process)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _settle(page: object) -> None:
    """Wait until Streamlit has drawn the page and stopped running the script."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.wait_for_selector('[data-testid="stMain"] h1, [data-testid="stMain"] h2', timeout=30000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=30000,
    )
    # The charts are drawn (Plotly adds its SVG when it has laid one out): waited for, not slept.
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
        ".every(chart => chart.querySelector('.main-svg'))",
        timeout=30000,
    )


def _metric(page: object, label: str) -> int:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    tile = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return int(tile.locator('[data-testid="stMetricValue"]').inner_text().replace(",", ""))


def test_every_page_renders_and_an_issue_is_resolved(dashboard: str, browsed_db: Path) -> None:
    from playwright.sync_api import sync_playwright

    folder = ARTEFACTS / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1500})
            page.goto(dashboard, wait_until="networkidle")  # the first load (see module doc)
            _settle(page)
            # The root goes to the first page, at its own address.
            assert page.url.rstrip("/").endswith(f"/{PAGES[0][2]}"), page.url
            for _, title, url, _ in PAGES:
                page.goto(f"{dashboard}/{url}", wait_until="networkidle")
                _settle(page)
                assert page.get_by_text("Page not found").count() == 0, url
                page.screenshot(path=str(folder / f"{url}.png"), full_page=True)
                heading = page.locator('[data-testid="stMain"] h2').first.inner_text()
                assert title in heading, (url, heading)
                exceptions = page.locator('[data-testid="stException"]')
                assert exceptions.count() == 0, (url, exceptions.first.inner_text())
                assert page.locator('[data-testid="stAlertContentError"]').count() == 0, url
            # Resolve the most recent unresolved issue from its page (the address the stream's
            # links and the Overview's use), and see it move.
            chosen = issues(open_source(browsed_db), status=["open", "regressed"], limit=1)
            issue_id = str(chosen["id"].iloc[0])
            page.goto(f"{dashboard}/issues?issue={issue_id}", wait_until="networkidle")
            _settle(page)
            assert page.get_by_text(issue_id).count() > 0
            before = {name: _metric(page, name) for name in ("Open", "Resolved")}
            page.get_by_role("button", name="Resolve", exact=True).click()
            page.get_by_text(f"{issue_id} is resolved now.").wait_for(timeout=30000)
            _settle(page)
            page.screenshot(path=str(folder / "issues-resolved.png"), full_page=True)
            assert _metric(page, "Resolved") == before["Resolved"] + 1
            assert _metric(page, "Open") == before["Open"] - 1 or chosen["status"].iloc[0] != "open"
            assert page.get_by_role("button", name="Reopen").is_enabled()
        finally:
            browser.close()
    assert issues(open_source(browsed_db), id=issue_id)["status"].tolist() == ["resolved"]
    shots = sorted(p.name for p in folder.glob("*.png"))
    assert shots == sorted([f"{url}.png" for _, _, url, _ in PAGES] + ["issues-resolved.png"])
