"""The built site in a real headless Chromium: the language switcher, Chinese search, formulas, and a
page that loads without console errors and without any request leaving localhost."""

from __future__ import annotations

import json
import posixpath
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

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


def assert_local_and_quiet(driver, site_url: str, path: str, urls: list[str]) -> None:
    """No request of `urls` left the local site, and the page logged no console error."""
    outside = [u for u in urls if urlsplit(u).scheme not in LOCAL_SCHEMES and not u.startswith(site_url)]
    assert not outside, f"requests left localhost: {outside}"
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, f"console errors on /{path}: {errors}"


@pytest.mark.parametrize("path", ["", "en/", "phases/02-math/", "en/notes/concepts/", "plan/progress/"])
def test_page_loads_offline_without_errors(browser, site_url, path):
    open_page(browser, site_url + path)
    urls = requested_urls(browser)
    assert urls, "no request was recorded: the performance log is not working"
    assert_local_and_quiet(browser, site_url, path, urls)


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


@pytest.mark.parametrize(
    ("query", "anchor"),
    [("批量归一化", "batch-normalization"), ("感受野", "receptive-field"), ("注意力", None)],
)
def test_a_chinese_term_finds_the_section_that_teaches_it_and_highlights_the_whole_word(
    browser, site_url, query, anchor
):
    """hooks/search_zh.py fixes the query's segmentation (its last word was searched cut short: 注意*), and
    the glossary's lower search boost lets the teaching section rank above the term's glossary line."""
    sections = [u for u in search_result_links(browser, site_url, "", query) if "#" in u]
    assert sections, f"no section found for {query!r}"
    if anchor:
        assert urlsplit(sections[0]).fragment == anchor, sections[:3]
    assert parse_qs(urlsplit(sections[0]).query)["h"] == [query]


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


# ```diagram fences (assets/javascripts/diagrams.js) are drawn in their div's shadow root: read labels there.
DRAWN_LABELS = """
return [...document.querySelectorAll('.dl-diagram')].map(d => {
  const svg = d.shadowRoot && d.shadowRoot.querySelector('svg');
  return svg ? [...svg.querySelectorAll('.nodeLabel, .edgeLabel')].map(e => e.textContent).join(' | ') : null;
});
"""
# Diagrams are drawn when they come near the window: bring the first one not drawn yet into view.
SCROLL_TO_UNDRAWN = "document.querySelector('.dl-diagram:not([data-processed])')?.scrollIntoView()"


def drawn_diagrams(driver, path: str) -> list[str]:
    """Scroll to each diagram of the open page until all are drawn; the labels of each."""

    def all_drawn(d):
        d.execute_script(SCROLL_TO_UNDRAWN)
        texts = d.execute_script(DRAWN_LABELS)
        return texts and None not in texts and texts

    return wait(driver).until(all_drawn, message=f"the diagrams of /{path} were not drawn")


@pytest.mark.parametrize(
    ("path", "present", "absent"),
    [
        ("phases/05-cnn/resnet/", ["恒等：形状不变", "3×3 卷积 → BN", "F(x)"], ["identity"]),
        ("en/phases/05-cnn/resnet/", ["identity: same shape", "3×3 conv → BN", "F(x)"], ["恒等"]),
        ("phases/06-rnn/gates/", ["遗忘门", "输出门"], ["forget gate"]),
        ("en/phases/06-rnn/gates/", ["forget gate", "output gate"], ["遗忘门"]),
        ("phases/06-rnn/seq2seq/", ["上下文", "GRU 单元"], ["context"]),
        ("en/phases/06-rnn/seq2seq/", ["context", "GRU cell"], ["上下文"]),
        (
            "phases/07-transformer/transformer/",
            ["交叉注意力：权重", "带掩码的自注意力", "记忆 m"],
            ["cross-attention"],
        ),
        (
            "en/phases/07-transformer/transformer/",
            ["cross-attention: weights", "masked self-attention"],
            ["交叉注意力"],
        ),
    ],
)
def test_diagrams_are_drawn_locally_in_the_page_language(browser, site_url, path, present, absent):
    open_page(browser, site_url + path)
    text = " | ".join(drawn_diagrams(browser, path))
    missing = [label for label in present if label not in text]
    assert not missing, f"labels {missing} not in the drawn diagrams of /{path}: {text[:300]}"
    wrong = [label for label in absent if label in text]
    assert not wrong, f"labels of the other language {wrong} in /{path}"
    urls = requested_urls(browser)
    assert any("/vendor/mermaid/mermaid.esm.min.mjs" in u for u in urls), "Mermaid was not loaded"
    assert_local_and_quiet(browser, site_url, path, urls)


def test_a_page_without_diagrams_does_not_load_mermaid(browser, site_url):
    open_page(browser, site_url + "phases/02-math/")
    # KaTeX is drawn from the same page event that would import Mermaid: once formulas show, it would have.
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".arithmatex .katex"))
    assert browser.execute_script("return document.querySelectorAll('.dl-diagram').length") == 0
    urls = requested_urls(browser)
    assert any(u.endswith("/assets/javascripts/diagrams.js") for u in urls), "diagrams.js is not on the page"
    loaded = [u for u in urls if "/vendor/mermaid/" in u]
    assert not loaded, f"a page without diagrams fetched {loaded}"


FAR_DIAGRAMS = """
return [...document.querySelectorAll('.dl-diagram')]
  .filter(d => d.getBoundingClientRect().top > 4 * window.innerHeight)  // drawn from 3 screens down
  .map(d => Boolean(d.dataset.processed));
"""


def test_a_diagram_far_below_the_window_is_drawn_only_when_the_reader_gets_near(browser, site_url):
    path = "phases/06-rnn/seq2seq/"
    open_page(browser, site_url + path)
    browser.execute_script("window.scrollTo(0, 0)")
    time.sleep(1)
    far = browser.execute_script(FAR_DIAGRAMS)
    assert far and not any(far), f"diagrams more than four screens down: drawn {far}"
    drawn_diagrams(browser, path)  # and each is drawn once the reader scrolls to it


def test_diagrams_follow_the_dark_palette(browser, site_url):
    open_page(browser, site_url + "phases/05-cnn/resnet/")
    drawn_diagrams(browser, "phases/05-cnn/resnet/")
    label_colour = (
        "return getComputedStyle(document.querySelector('.dl-diagram').shadowRoot"
        ".querySelector('.nodeLabel')).color"
    )
    light = browser.execute_script(label_colour)
    # What Material's palette toggle does:
    browser.execute_script("document.body.setAttribute('data-md-color-scheme', 'slate')")
    dark = browser.execute_script(label_colour)
    browser.execute_script("document.body.setAttribute('data-md-color-scheme', 'default')")
    assert light != dark, f"the label colour stayed {light} in the dark palette"


PHONE_LAYOUT = """
const wide = [...document.querySelectorAll('.katex-display')].filter(e => e.scrollWidth > e.clientWidth + 1);
return {
  page: document.documentElement.scrollWidth - window.innerWidth,
  wide: wide.length,
  cued: wide.filter(e => getComputedStyle(e).backgroundImage.includes('gradient')).length,
  focusable: wide.filter(e => e.tabIndex >= 0).length,
  formulas: document.querySelectorAll('.katex-display').length,
};
"""


@pytest.mark.parametrize("path", ["phases/06-rnn/recurrence/", "en/phases/02-math/"])
def test_on_a_phone_wide_formulas_scroll_in_their_box_with_a_cue(browser, site_url, path):
    """At 390 px the page itself never scrolls sideways; a formula wider than the screen scrolls inside
    its own box, shows shadows at the edges that say so, and can be scrolled from the keyboard."""
    browser.set_window_size(390, 844)
    try:
        open_page(browser, site_url + path)
        wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".katex-display"))
        layout = browser.execute_script(PHONE_LAYOUT)
    finally:
        browser.set_window_size(1280, 900)
    assert layout["formulas"] >= 3 and layout["wide"] > 0, layout  # formulas too wide for a phone
    assert layout["page"] <= 0, layout
    assert layout["cued"] == layout["wide"] == layout["focusable"], layout


def moved_section_links() -> list[tuple[str, str, str]]:
    """(front page URL, section id, URL the section moved to) for one moved section of each split phase."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hooks"))
    import moved_sections

    cases = []
    for front, moved in sorted(moved_sections.moved_sections().items()):
        section, target = sorted(moved.items())[-1]
        base = moved_sections.page_url(front)
        cases.append((base, section, posixpath.normpath(posixpath.join(base, target)) + "/"))
    return cases


@pytest.mark.parametrize(("lang", "case"), [(lang, c) for c in moved_section_links() for lang in ("", "en/")])
def test_an_old_link_to_a_moved_section_lands_on_its_new_page(browser, site_url, lang, case):
    front, section, target = case
    open_page(browser, f"{site_url}{lang}{front}#{section}")
    wait(browser).until(EC.url_contains(f"{lang}{target}"), message=f"{front}#{section} did not move on")
    assert browser.current_url == f"{site_url}{lang}{target}#{section}"
    assert browser.find_elements(By.ID, section)
