"""Every dashboard panel in a real browser during a demo run, at desktop and phone width: data
present (or an empty state that says what would fill it), axes labelled, text labels that do
not overlap, no sideways scrolling at 390 px, no console errors. Screenshots go to
test-artifacts/ (one per panel and width)."""
from __future__ import annotations

import pytest

from tests.demo.test_dashboard_browser import browser  # noqa: F401  (the shared Chromium fixture)

# panel -> (element that must show data, charts on it that must carry labelled axes)
PANELS = {
    "fleet": ("#fleet-table tbody tr[data-i]", ["#scale-chart"]),
    "das": ("#das-events tbody tr[data-i]", ["#das-waterfall"]),
    "lidar": ("#lidar-top[data-state=data]", ["#lidar-top"]),
    "fl": ("#fl-rounds tbody tr[data-i]", ["#fl-curve", "#fl-bytes"]),
    "edvit": ("#edvit-requests tbody tr[data-i]", []),
    "deployments": ("#deploy-table tbody tr", []),
    "alarms": ("#alarm-list li", []),
}

OVERLAPS = """() => {
  const boxes = [...document.querySelectorAll('.tab.active .chart-label, .tab.active .u-legend .u-series')]
    .filter((e) => e.offsetParent !== null).map((e) => [e.textContent, e.getBoundingClientRect()]);
  const bad = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [ta, a] = boxes[i], [tb, b] = boxes[j];
    if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5) bad.push(`${ta} / ${tb}`);
  }
  return bad;
}"""


def _open(browser, url: str, width: int, errors: list[str]):  # noqa: F811
    page = browser.new_page(viewport={"width": width, "height": 900 if width > 600 else 844})
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.goto(url)
    return page


@pytest.mark.browser
@pytest.mark.parametrize("width", [1440, 390])
def test_every_panel_has_data_axes_and_readable_labels(demo_run, browser, artifacts_dir, width):  # noqa: F811
    errors: list[str] = []
    # the demo must have made data for every panel before we look
    page = _open(browser, demo_run.url + "#fleet", width, errors)
    page.wait_for_function("document.querySelectorAll('#fleet-table [data-status=online]').length >= 6",
                           timeout=60_000)
    for panel, (has_data, charts) in PANELS.items():
        # opened directly by URL, as a shared link would open it
        page.goto(f"{demo_run.url}#{panel}")
        page.reload()
        page.wait_for_function(f"document.querySelector('{has_data}') !== null", timeout=90_000)
        page.wait_for_function("!document.querySelector('#summary').innerText.includes('connecting')",
                               timeout=15_000)
        if panel == "fleet":    # end-to-end receipts are shown beside the ingest figures
            page.wait_for_function("document.querySelector('#scale').innerText.includes('receipts sent')",
                                   timeout=30_000)
        for chart in charts:
            page.wait_for_function(f"document.querySelector('{chart}').dataset.state === 'data'", timeout=90_000)
            axes = page.get_attribute(chart, "data-axes") or ""
            assert len([a for a in axes.split("|") if a.strip()]) >= 2, f"{panel} {chart}: axes {axes!r}"
            drawn = page.evaluate(f"""() => {{ const c = document.querySelector('{chart} canvas');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let lit = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) lit++; return lit; }}""")
            assert drawn > 500, f"{panel} {chart}: canvas nearly blank ({drawn} px)"
        page.wait_for_timeout(300)   # let the throttled refresh draw the last labels
        overlapping = page.evaluate(OVERLAPS)
        assert not overlapping, f"{panel} at {width}px: overlapping labels {overlapping[:5]}"
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        page.screenshot(path=str(artifacts_dir / f"panel-{panel}-{width}.png"), full_page=True)
        assert overflow <= 1, f"{panel} at {width}px: page is {overflow}px wider than the window"
    assert page.evaluate("typeof uPlot") == "function"
    assert not errors, f"browser errors: {errors}"


@pytest.mark.browser
def test_lidar_view_has_a_metre_scale_and_fl_shows_accuracy_before_and_after(demo_run, browser):  # noqa: F811
    errors: list[str] = []
    page = _open(browser, demo_run.url + "#lidar", 1440, errors)
    page.wait_for_function("document.querySelector('#lidar-top').dataset.scaleM > 0", timeout=90_000)
    assert page.get_attribute("#lidar-top", "data-axes") == "x (m)|y (m)"
    # every sensor of the demo says whether it can see (ok / degraded / blind, with reasons)
    page.wait_for_function("document.querySelectorAll('#lidar-health tbody tr[data-i]').length >= 3", timeout=30_000)
    states = page.eval_on_selector_all("#lidar-health td[data-label=Status]", "tds => tds.map((td) => td.innerText)")
    assert states and set(states) <= {"ok", "degraded", "blind"}, states
    page.goto(demo_run.url + "#fl")
    page.reload()
    page.wait_for_function("document.querySelector('#fl-curve').dataset.state === 'data'", timeout=90_000)
    legend = page.inner_text("#fl-curve .u-legend")
    assert "accuracy after adaptation" in legend or "mse" in legend.lower(), legend
    if "accuracy after adaptation" in legend:
        assert "accuracy before adaptation" in legend, legend
    assert page.inner_text("#fl-bytes .u-legend")
    assert not errors, f"browser errors: {errors}"


@pytest.mark.browser
def test_deployments_show_the_signed_rollout_and_the_refused_tampered_artifact(demo_run, browser, artifacts_dir):  # noqa: F811
    """The demo's OTA workload: one signed version ends healthy, one tampered artifact is refused;
    both appear in Deployments, the refusal also under Alarms."""
    errors: list[str] = []
    page = _open(browser, demo_run.url + "#deployments", 1440, errors)
    page.wait_for_function("""() => { const s = [...document.querySelectorAll('#deploy-table tbody td[data-label=State]')]
        .map((td) => td.innerText); return s.includes('healthy') && s.some((x) => x === 'failed' || x === 'rejected'); }""",
                           timeout=120_000)
    page.screenshot(path=str(artifacts_dir / "panel-deployments-ota.png"), full_page=True)
    page.goto(demo_run.url + "#alarms")
    page.reload()
    page.wait_for_function("[...document.querySelectorAll('#alarm-list li')].some((li) => li.innerText.includes('deployment'))",
                           timeout=30_000)
    assert not errors, f"browser errors: {errors}"
