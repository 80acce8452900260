"""The dashboard in a real browser (Debian's Chromium driven by Playwright) during a demo run."""
from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium") and not shutil.os.path.exists(CHROMIUM):
        pytest.skip("Chromium not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.mark.browser
def test_dashboard_shows_fleet_live_and_answers_sparql(demo_run, browser, artifacts_dir):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(demo_run.url)

    # Every demo device appears online.
    page.wait_for_function("document.querySelectorAll('#fleet-table [data-status=online]').length >= 6",
                           timeout=60_000)
    assert page.locator("#fleet-table tbody tr").count() == 6

    # A live update arrives over server-sent events and changes the page without a reload.
    before = page.inner_text("#summary")
    events_before = int(page.evaluate("Number(document.body.dataset.events || 0)"))
    page.wait_for_function(f"Number(document.body.dataset.events || 0) > {events_before}", timeout=30_000)
    page.wait_for_function("(prev) => document.querySelector('#summary').innerText !== prev",
                           arg=before, timeout=30_000)
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload

    # A device page with its Thing Description.
    page.click("#fleet-table tbody tr >> nth=0")
    page.wait_for_function("document.querySelector('#device-td').innerText.includes('@context')",
                           timeout=15_000)

    # A canned SPARQL query returns rows.
    page.click("a[href='#sparql']")
    page.wait_for_function("document.querySelectorAll('#query-select option').length > 0", timeout=15_000)
    page.select_option("#query-select", label=page.locator("#query-select option",
                                                           has_text="device_everything").inner_text())
    page.click("#query-run")
    page.wait_for_function("document.querySelectorAll('#query-result tbody tr').length > 0", timeout=30_000)
    assert "rows" in page.inner_text("#query-status")

    page.click("a[href='#fleet']")
    page.screenshot(path=str(artifacts_dir / "dashboard.png"), full_page=True)

    # Phone width: the page must not scroll sideways (tables scroll inside their own box).
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(demo_run.url)
    phone.wait_for_function("document.querySelectorAll('#fleet-table tbody tr').length >= 6", timeout=30_000)
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    phone.screenshot(path=str(artifacts_dir / "dashboard-phone.png"), full_page=True)
    assert overflow <= 1, f"page is {overflow}px wider than a phone screen"
    assert not errors, f"JavaScript errors: {errors}"
