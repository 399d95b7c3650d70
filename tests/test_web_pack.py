"""The briefing pack and everyone's access to the page, in a real headless Chromium against a real
`kb serve` on 127.0.0.1: a pack of three passages downloaded in three formats, the keyboard-only
path, phone width, labels in the browser's language, the API key, and axe-core's check.

Slow: a browser and server processes (tests/conftest_web.py). docs/img/pack.png is taken here.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

pytest.register_assert_rewrite("conftest_web", "web_page")

from conftest_web import EN_PDF, WEB_KEY, WebIndex, axe_violations, chromium, close  # noqa: E402
from web_page import (  # noqa: E402
    EN_QUESTION, By, choose, downloaded, no_horizontal_scroll, press, results, screenshot, tab_to, wait,
)

pytest_plugins = ["conftest_web"]
pytestmark = pytest.mark.slow


def test_three_passages_make_a_pack_in_the_chosen_order(browser, web_server, downloads):
    browser.get(web_server.url + "/?q=" + EN_QUESTION)
    for result in results(browser)[:3]:
        result.find_element(By().CSS_SELECTOR, "button.add").click()
    assert browser.find_element(By().ID, "nav-pack").text.endswith("(3)")
    ids = browser.execute_script("return JSON.parse(localStorage.getItem('kb.pack.v1')).items.map(i => i.passage_id)")
    browser.find_element(By().ID, "nav-pack").click()
    wait(browser, lambda d: len(d.find_elements(By().CSS_SELECTOR, "#pack-items li")) == 3)
    items = browser.find_elements(By().CSS_SELECTOR, "#pack-items li")
    items[2].find_elements(By().TAG_NAME, "button")[0].click()  # move the third up
    stored = [ids[0], ids[2], ids[1]]
    wait(browser, lambda d: [li.get_attribute("data-passage-id")
                             for li in d.find_elements(By().CSS_SELECTOR, "#pack-items li")] == stored)
    title = browser.find_element(By().ID, "pack-title")
    title.clear()
    title.send_keys("Workshop on skills")
    screenshot(browser, "pack.png")
    for fmt, suffix in (("html", ".html"), ("docx", ".docx"), ("md", ".md")):
        choose(browser, "pack-format", fmt)
        browser.find_element(By().ID, "download").click()
        got = downloaded(downloads, suffix)
        assert got.name == f"workshop-on-skills{suffix}"
        if fmt == "html":
            text = got.read_text(encoding="utf-8")
            assert "<h1>Workshop on skills</h1>" in text
            assert re.findall(r'data-passage-id="([^"]+)"', text) == stored
        elif fmt == "md":
            assert re.findall(r"<!-- passage (\S+) -->", got.read_text(encoding="utf-8")) == stored
        else:
            assert got.read_bytes()[:2] == b"PK"
    assert "Downloaded" in browser.find_element(By().ID, "status").text


def test_the_keyboard_alone_searches_fills_and_downloads_a_pack(browser, web_server, downloads):
    from selenium.webdriver.common.keys import Keys

    browser.get(web_server.url + "/")
    tab_to(browser, "a.skip")
    press(browser, Keys.ENTER)
    tab_to(browser, "#q")
    press(browser, EN_QUESTION, Keys.ENTER)
    results(browser)
    tab_to(browser, "#results li:nth-child(1) button.add")
    press(browser, Keys.ENTER)
    tab_to(browser, "#results li:nth-child(2) button.add")
    press(browser, " ")
    assert browser.find_element(By().ID, "nav-pack").text.endswith("(2)")
    tab_to(browser, "#nav-pack", backwards=True)
    press(browser, Keys.ENTER)
    wait(browser, lambda d: d.current_url.endswith("/pack") and len(d.find_elements(By().CSS_SELECTOR, "#pack-items li")) == 2)
    first = browser.execute_script("return JSON.parse(localStorage.getItem('kb.pack.v1')).items[0].passage_id")
    tab_to(browser, "#item-0 button:nth-child(2)")  # "Move down" of the first passage
    press(browser, Keys.ENTER)
    wait(browser, lambda d: d.execute_script("return JSON.parse(localStorage.getItem('kb.pack.v1')).items[1].passage_id") == first)
    assert browser.execute_script("return document.activeElement.closest('li').id") == "item-1"  # focus followed it
    tab_to(browser, "#download", backwards=True)
    press(browser, Keys.ENTER)
    assert downloaded(downloads, ".html").stat().st_size > 0


def test_phone_width_needs_no_sideways_scrolling(web_server):
    driver = chromium()
    try:  # a desktop window cannot be made narrower than 500 px: emulate the phone's screen
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": True})
        for path in ("/", "/?q=" + EN_QUESTION, "/library", "/pack"):
            driver.get(web_server.url + path)
            if "q=" in path:
                results(driver)
                driver.find_element(By().CSS_SELECTOR, "#results button.add").click()
            time.sleep(0.5)
            assert no_horizontal_scroll(driver), path
            assert driver.execute_script("return window.innerWidth") <= 400
        driver.get(web_server.url + "/")
        button = driver.find_element(By().CSS_SELECTOR, "#search-form button[type=submit]")
        assert button.is_displayed() and button.rect["x"] + button.rect["width"] <= 375
    finally:
        close(driver)


@pytest.mark.parametrize("lang, search, label", [("fr", "Rechercher", "Votre question"), ("es", "Buscar", "Su pregunta")])
def test_labels_follow_the_browsers_language(web_server, lang, search, label):
    driver = chromium(lang=lang)
    try:
        driver.get(web_server.url + "/")
        wait(driver, lambda d: d.find_element(By().CSS_SELECTOR, "#search-form button[type=submit]").text == search)
        assert driver.find_element(By().CSS_SELECTOR, "label[for=q]").text.startswith(label)
        assert driver.find_element(By().TAG_NAME, "html").get_attribute("lang") == lang
        vocab = httpx.get(web_server.url + "/web/vocabulary").json()["type_labels"][lang]
        wait(driver, lambda d: len(d.find_elements(By().CSS_SELECTOR, "#f-type option")) > 1)
        shown = [o.text for o in driver.find_elements(By().CSS_SELECTOR, "#f-type option")][1:]
        assert shown and set(shown) <= set(vocab.values())
    finally:
        close(driver)


def test_with_a_key_the_page_asks_once_per_tab(browser, keyed_web_server, web_index: WebIndex):
    url = keyed_web_server.url
    browser.get(url + "/")
    dialog = wait(browser, lambda d: d.find_element(By().CSS_SELECTOR, "dialog#key-dialog[open]"))
    dialog.find_element(By().ID, "key-input").send_keys("not-the-key\n")
    wait(browser, lambda d: "refused" in d.find_element(By().ID, "key-error").text)
    browser.find_element(By().ID, "key-input").send_keys(WEB_KEY + "\n")
    wait(browser, lambda d: len(d.find_elements(By().CSS_SELECTOR, "#f-lang option")) > 1)
    doc_id = web_index.doc_ids[EN_PDF.name]
    browser.get(f"{url}/?q=mutual+recognition+of+skills&doc={doc_id}")  # same tab: no second question
    link = results(browser)[0].find_element(By().CSS_SELECTOR, "h3.cite a")
    assert not browser.find_elements(By().CSS_SELECTOR, "dialog#key-dialog[open]")
    page = link.get_attribute("href").split("#page=")[1]
    before = set(browser.window_handles)
    link.click()  # a link cannot send the key: the page fetches the file with it
    wait(browser, lambda d: len(d.window_handles) > len(before))
    browser.switch_to.window((set(browser.window_handles) - before).pop())
    wait(browser, lambda d: d.current_url.startswith("blob:") and d.current_url.endswith(f"#page={page}"))
    assert httpx.get(f"{url}/documents/{doc_id}/file").status_code == 401  # the rule still holds


# -- accessibility -------------------------------------------------------------------------------
def test_no_serious_or_critical_accessibility_violations(browser, web_server):
    pages = {
        "search": ("/", None),
        "results": ("/?q=" + EN_QUESTION, "#results li.result"),
        "documents": ("/library", "#docs-body tr"),
        "pack": ("/pack", "#pack-items li"),
    }
    browser.get(web_server.url + "/?q=" + EN_QUESTION)
    results(browser)[0].find_element(By().CSS_SELECTOR, "button.add").click()
    found = {}
    for name, (path, ready) in pages.items():
        browser.get(web_server.url + path)
        if ready:
            wait(browser, lambda d: d.find_elements(By().CSS_SELECTOR, ready))
        else:
            wait(browser, lambda d: len(d.find_elements(By().CSS_SELECTOR, "#f-lang option")) > 1)
        found[name] = [(v["id"], v["impact"], v["help"], [n["target"] for n in v.get("nodes", [])][:3])
                       for v in axe_violations(browser)]
    assert found == {name: [] for name in pages}
