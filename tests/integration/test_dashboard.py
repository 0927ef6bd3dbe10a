"""The Streamlit dashboard over the shared test lake, opened in Debian's headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest
import requests

from gamelake.analyst import ask
from gamelake.config import project_root

pytestmark = pytest.mark.integration

CHARTS = (
    "chart_top_rooms",
    "chart_top_players",
    "chart_top_teams",
    "chart_kd",
    "chart_revenue",
    "chart_server_health",
    "chart_data_quality",
)
REFRESH_S = 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dashboard_url(lake_run, tmp_path):
    """`streamlit run dashboard/app.py` on the test lake's catalog; its URL once healthy."""
    port = _free_port()
    trino = lake_run.settings.trino
    env = dict(
        os.environ,
        GAMELAKE_TRINO_HOST=trino.host,
        GAMELAKE_TRINO_PORT=str(trino.port),
        GAMELAKE_TRINO_CATALOG=lake_run.catalog,
        GAMELAKE_TRINO_USER="analyst",
        GAMELAKE_DASHBOARD_REFRESH_S=str(REFRESH_S),
    )
    log = (tmp_path / "streamlit.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(project_root() / "dashboard" / "app.py"),
         "--server.headless=true", "--server.address=127.0.0.1", f"--server.port={port}",
         "--browser.gatherUsageStats=false", "--server.fileWatcherType=none"],
        cwd=project_root(), env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "streamlit.log").read_text()
            try:
                if requests.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("streamlit did not become healthy in 90 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver_path, "needs Debian's chromium and chromium-driver (make setup)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,3000", f"--user-data-dir={tmp_path / 'chromium'}"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def _chart_state(driver, key: str) -> tuple[int, int]:
    """(drawn pixels width of the chart's canvas/svg, rows in its caption) of one tile."""
    from selenium.webdriver.common.by import By

    tiles = driver.find_elements(By.CSS_SELECTOR, f".st-key-{key}")
    if not tiles:
        return 0, 0
    drawn = tiles[0].find_elements(
        By.CSS_SELECTOR,
        "[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg",
    )
    width = max((d.size["width"] for d in drawn), default=0)
    caption = re.search(r"(\d+) rows", tiles[0].text)
    return width, int(caption.group(1)) if caption else 0


def test_dashboard_renders_key_charts_with_data(lake_run, dashboard_url, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(dashboard_url)
    try:
        WebDriverWait(browser, 150, poll_frequency=1).until(
            lambda d: all(w > 0 and n > 0 for w, n in (_chart_state(d, k) for k in CHARTS))
        )
    except Exception:
        browser.save_screenshot(str(tmp_path / "dashboard.png"))
        states = {k: _chart_state(browser, k) for k in CHARTS}
        errors = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "[data-testid='stException'], [data-testid='stAlert']")]  # fmt: skip
        pytest.fail(f"charts (width, rows): {states}; errors: {errors}; see {tmp_path}")
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")

    # The headline number is the lake's answer, not a placeholder.
    expected = int(ask(lake_run.conn, "rooms/unique_players").df.unique_players[0])
    metric = browser.find_element(By.CSS_SELECTOR, ".st-key-metric_unique_players").text
    assert f"{expected:,}" in metric, metric

    # It refreshes by itself on the interval: the "refreshed" time moves without a reload.
    def refreshed(d):
        m = re.search(r"refreshed (\d\d:\d\d:\d\d)", d.find_element(By.TAG_NAME, "body").text)
        return m.group(1) if m else None

    # Read while the page is shown, not while a rerun is redrawing it (the caption is briefly
    # absent then): a page that never shows it fails here.
    first = WebDriverWait(browser, REFRESH_S * 3, poll_frequency=1).until(refreshed)
    WebDriverWait(browser, REFRESH_S * 6, poll_frequency=1).until(
        lambda d: refreshed(d) not in (None, first)
    )
    browser.save_screenshot(str(tmp_path / "dashboard.png"))
