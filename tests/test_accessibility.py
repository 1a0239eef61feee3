"""Accessibility of the built site, checked by axe-core (Deque's engine, the one Lighthouse uses) in a real
headless Chromium: no serious or critical violation of WCAG 2 A/AA rules on the home page, a chapter, the
progress tracker and the glossary, in both languages. `make browser` fetches axe-core."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_browser import open_page

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("site")]

AXE_VERSION = "4.14.1"  # scripts/install-browser.sh
AXE = Path(__file__).resolve().parents[1] / ".cache" / f"axe-core-{AXE_VERSION}" / "axe.min.js"
RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
  .then(r => done(r.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")), count: v.nodes.length}))))
  .catch(e => done([{id: "axe-error", impact: "critical", help: String(e), nodes: [], count: 0}]));
"""
PAGES = ["", "phases/05-cnn/efficient/", "plan/progress/", "notes/concepts/"]


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} not found: run `make browser`")
    return AXE.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", [p for page in PAGES for p in (page, "en/" + page)])
def test_no_serious_accessibility_violations(browser, site_url, axe_source, path):
    open_page(browser, site_url + path)
    browser.execute_script(axe_source)
    browser.set_script_timeout(60)
    violations = browser.execute_async_script(RUN_AXE)
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, "\n".join(
        f"{v['id']} ({v['impact']}, {v['count']}x): {v['help']} {v['nodes']}" for v in serious
    )
