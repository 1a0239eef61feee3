"""The built site in a real headless Chromium: the language switcher, Chinese search, formulas, and a
page that loads without console errors and without any request leaving localhost."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("site")]

LOCAL_SCHEMES = {"data", "blob", "about", "chrome", "devtools"}


def wait(driver, seconds: float = 15) -> WebDriverWait:
    return WebDriverWait(driver, seconds)


def open_page(driver, url: str) -> None:
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get_log("performance")
    driver.get(url)
    wait(driver).until(lambda d: d.execute_script("return document.readyState") == "complete")


def requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


@pytest.mark.parametrize("path", ["", "en/", "phases/02-math/", "en/notes/concepts/", "plan/progress/"])
def test_page_loads_offline_without_errors(browser, site_url, path):
    open_page(browser, site_url + path)
    urls = requested_urls(browser)
    assert urls, "no request was recorded: the performance log is not working"
    outside = [u for u in urls if urlsplit(u).scheme not in LOCAL_SCHEMES and not u.startswith(site_url)]
    assert not outside, f"requests left localhost: {outside}"
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, f"console errors on /{path}: {errors}"


def test_language_switcher_lands_on_the_twin_page(browser, site_url):
    open_page(browser, site_url + "phases/03-pytorch/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh"
    link = browser.find_element(By.CSS_SELECTOR, "a.md-select__link[hreflang=en]")
    browser.execute_script("arguments[0].click()", link)  # the menu opens on hover; click the link itself
    wait(browser).until(EC.url_contains("/en/phases/03-pytorch/"))
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    back = browser.find_element(By.CSS_SELECTOR, "a.md-select__link[hreflang=zh]")
    browser.execute_script("arguments[0].click()", back)
    wait(browser).until(lambda d: d.current_url == site_url + "phases/03-pytorch/")


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("", "反向传播"),
        ("", "感受野"),
        ("", "批量归一化"),
        ("", "长短期记忆"),  # a prefix of the indexed word 长短期记忆网络
        ("", "门控循环单元"),
        ("", "广播机制"),
        ("en/", "backpropagation"),
        ("en/", "attention"),
    ],
)
def test_search_finds_terms(browser, site_url, path, query):
    open_page(browser, site_url + path)
    # At desktop width the search box sits in the header (the magnifier label is for narrow screens).
    box = wait(browser).until(
        EC.element_to_be_clickable((By.CSS_SELECTOR, "input[data-md-component=search-query]"))
    )
    box.click()
    box.send_keys(query)
    hits = wait(browser).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".md-search-result__item") or False,
        message=f"no search result for {query!r}",
    )
    assert any(query.lower() in h.text.lower() for h in hits), f"no hit mentions {query!r}"


def search_result_links(driver, site_url: str, path: str, query: str) -> list[str]:
    """Type ``query`` into the search box of ``/path`` and return the links of every result, the ones
    folded under "more on this page" included."""
    open_page(driver, site_url + path)
    box = wait(driver).until(
        EC.element_to_be_clickable((By.CSS_SELECTOR, "input[data-md-component=search-query]"))
    )
    box.click()
    box.send_keys(query)
    wait(driver).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".md-search-result__item") or False,
        message=f"no search result for {query!r}",
    )
    return driver.execute_script(
        "return [...document.querySelectorAll('.md-search-result__list a')].map(a => a.href)"
    )


# Each query also occurs on pages of the other language (the glossary and the coverage map show both
# terms), so one index for both languages would list those pages too.
@pytest.mark.parametrize(
    ("path", "query"),
    [("", "反向传播"), ("phases/04-mlp/", "反向传播"), ("", "backpropagation")],
)
def test_chinese_search_lists_chinese_pages_only(browser, site_url, path, query):
    links = search_result_links(browser, site_url, path, query)
    assert links, f"no result links for {query!r}"
    foreign = [u for u in links if not u.startswith(site_url) or u.startswith(site_url + "en/")]
    assert not foreign, f"the Chinese site found pages outside it for {query!r}: {foreign}"


@pytest.mark.parametrize(
    ("path", "query"),
    [("en/", "backpropagation"), ("en/phases/04-mlp/", "backpropagation"), ("en/", "反向传播")],
)
def test_english_search_lists_english_pages_only(browser, site_url, path, query):
    links = search_result_links(browser, site_url, path, query)
    assert links, f"no result links for {query!r}"
    foreign = [u for u in links if not u.startswith(site_url + "en/")]
    assert not foreign, f"the English site found pages outside /en/ for {query!r}: {foreign}"


def test_formulas_render_with_the_local_katex(browser, site_url):
    open_page(browser, site_url + "phases/02-math/")
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".arithmatex .katex"))
    unrendered = browser.execute_script(
        "return [...document.querySelectorAll('.arithmatex')].filter(e => !e.querySelector('.katex')).length"
    )
    assert unrendered == 0
    errors = browser.find_elements(By.CSS_SELECTOR, ".katex-error")
    assert not errors, f"KaTeX could not parse: {[e.get_attribute('title') for e in errors][:3]}"
