"""The progress tracker (docs/plan/progress.md + docs/assets/javascripts/progress.js) in a real browser:
ticks survive a reload and the language switcher, progress bars follow, and export/import round-trips."""

from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("site")]

STORAGE_KEY = "dl-roadmap:progress:v1"
ZH_PAGE = "plan/progress/"
EN_PAGE = "en/plan/progress/"


def wait(driver, seconds: float = 15) -> WebDriverWait:
    return WebDriverWait(driver, seconds)


def open_tracker(driver, url: str) -> None:
    driver.get(url)
    wait(driver).until(lambda d: d.execute_script("return document.readyState") == "complete")
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, ".dlr-tracker").get_attribute("data-ready"))


def box(driver, key: str):
    return driver.find_element(By.CSS_SELECTOR, f'input.dlr-check[data-key="{key}"]')


def ticked_on_page(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('input.dlr-check:checked')].map(b => b.dataset.key).sort()"
    )


def stored(driver) -> list[str]:
    raw = driver.execute_script("return localStorage.getItem(arguments[0])", STORAGE_KEY)
    return json.loads(raw)["ticked"] if raw else []


def count(driver, group: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f'[data-group="{group}"] .dlr-count').text


def click(driver, element) -> None:
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def severe_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture
def tracker(browser, site_url):
    """The Chinese tracker page with empty progress (and again empty afterwards: the browser is shared)."""
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "deny"})  # export also downloads
    open_tracker(browser, site_url + ZH_PAGE)
    browser.execute_script("localStorage.removeItem(arguments[0])", STORAGE_KEY)
    browser.get_log("browser")
    open_tracker(browser, site_url + ZH_PAGE)
    yield browser
    browser.execute_script("localStorage.removeItem(arguments[0])", STORAGE_KEY)
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "default"})


def test_a_tick_survives_reload_and_language_switch(tracker, site_url):
    driver = tracker
    assert ticked_on_page(driver) == []
    total = count(driver, "p03").split(" / ")[1]
    assert int(total) >= 10

    click(driver, box(driver, "p03.project-mnist"))
    click(driver, driver.find_element(By.XPATH, '//input[@data-key="m1.mnist"]/ancestor::label'))  # the label
    assert ticked_on_page(driver) == ["m1.mnist", "p03.project-mnist"]
    assert stored(driver) == ["m1.mnist", "p03.project-mnist"]
    assert count(driver, "p03") == f"1 / {total}"

    driver.refresh()
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, ".dlr-tracker").get_attribute("data-ready"))
    assert ticked_on_page(driver) == ["m1.mnist", "p03.project-mnist"]
    assert count(driver, "p03") == f"1 / {total}"

    # The language switcher (Material's menu opens on hover: click its link directly).
    switch = driver.find_element(By.CSS_SELECTOR, "a.md-select__link[hreflang=en]")
    driver.execute_script("arguments[0].click()", switch)
    wait(driver).until(EC.url_contains("/" + EN_PAGE))
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, ".dlr-tracker").get_attribute("data-ready"))
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert ticked_on_page(driver) == ["m1.mnist", "p03.project-mnist"]
    assert count(driver, "p03") == f"1 / {total}"

    # Untick in English, switch back: the Chinese page agrees.
    click(driver, box(driver, "m1.mnist"))
    back = driver.find_element(By.CSS_SELECTOR, "a.md-select__link[hreflang=zh]")
    driver.execute_script("arguments[0].click()", back)
    wait(driver).until(lambda d: d.current_url == site_url + ZH_PAGE)
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, ".dlr-tracker").get_attribute("data-ready"))
    assert ticked_on_page(driver) == ["p03.project-mnist"]
    assert not severe_errors(driver)


def test_progress_bars_follow_the_ticks(tracker):
    driver = tracker
    keys = [
        b.get_attribute("data-key")
        for b in driver.find_elements(By.CSS_SELECTOR, '[data-group="p01"] .dlr-check')
    ]
    everything = len(driver.find_elements(By.CSS_SELECTOR, "input.dlr-check"))
    assert count(driver, "all") == f"0 / {everything}"
    for key in keys:
        click(driver, box(driver, key))
    group = driver.find_element(By.CSS_SELECTOR, '[data-group="p01"]')
    assert count(driver, "p01") == f"{len(keys)} / {len(keys)}"
    assert "dlr-complete" in group.get_attribute("class")
    bar = group.find_element(By.CSS_SELECTOR, "progress.dlr-bar")
    assert float(bar.get_attribute("value")) == float(bar.get_attribute("max")) == len(keys)
    assert count(driver, "all") == f"{len(keys)} / {everything}"
    assert count(driver, "p02").startswith("0 / ")


def test_export_reset_import_round_trip(tracker):
    driver = tracker
    keys = ["p01.numpy-basics", "p05.grad-cam", "m3.transformer"]
    for key in keys:
        click(driver, box(driver, key))

    click(driver, driver.find_element(By.CSS_SELECTOR, "button[data-action=export]"))
    exported = driver.find_element(By.CSS_SELECTOR, "textarea.dlr-json").get_attribute("value")
    assert json.loads(exported) == {"version": 1, "ticked": sorted(keys)}
    assert "3" in driver.find_element(By.CSS_SELECTOR, ".dlr-message").text

    click(driver, driver.find_element(By.CSS_SELECTOR, "button[data-action=reset]"))
    wait(driver).until(EC.alert_is_present()).accept()
    assert ticked_on_page(driver) == [] and stored(driver) == []

    # A wrong document changes nothing.
    area = driver.find_element(By.CSS_SELECTOR, "textarea.dlr-json")
    area.clear()
    area.send_keys('{"not": "progress"}')
    click(driver, driver.find_element(By.CSS_SELECTOR, "button[data-action=import]"))
    assert ticked_on_page(driver) == [] and stored(driver) == []
    assert driver.find_element(By.CSS_SELECTOR, ".dlr-message").text

    area.clear()
    area.send_keys(exported)
    click(driver, driver.find_element(By.CSS_SELECTOR, "button[data-action=import]"))
    assert ticked_on_page(driver) == sorted(keys)
    assert stored(driver) == sorted(keys)

    driver.refresh()
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, ".dlr-tracker").get_attribute("data-ready"))
    assert ticked_on_page(driver) == sorted(keys)
    assert not severe_errors(driver)


def test_keys_the_page_does_not_show_are_kept(tracker, site_url):
    """A tick for an item that a later version renames or drops is not thrown away."""
    driver = tracker
    document = json.dumps({"version": 1, "ticked": ["p01.numpy-basics", "p99.retired-section"]})
    driver.execute_script("localStorage.setItem(arguments[0], arguments[1])", STORAGE_KEY, document)
    open_tracker(driver, site_url + EN_PAGE)
    assert ticked_on_page(driver) == ["p01.numpy-basics"]
    click(driver, box(driver, "p02.chain-rule"))
    assert stored(driver) == ["p01.numpy-basics", "p02.chain-rule", "p99.retired-section"]
