"""The web page in a real headless Chromium against a real `kb serve` on 127.0.0.1.

Slow: a browser and server processes (tests/conftest_web.py builds the small test-hash index).
The screenshots in docs/img/ are taken here.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

pytest.register_assert_rewrite("conftest_web")

from conftest_web import (  # noqa: E402
    EN_PDF, EVAL_PDF, IOM, SCREENSHOTS, WEB_KEY, WebIndex, axe_violations, chromium, close,
)

pytest_plugins = ["conftest_web"]
pytestmark = pytest.mark.slow

FR_QUESTION = "reconnaissance des compétences des travailleurs migrants"
EN_QUESTION = "barriers to the recognition of skills and qualifications"
CITE = re.compile(r"^.+(, pp?\. \d+(-\d+)?)?(, para\. .+)?$")


def By():  # selenium is imported only when a browser test runs
    from selenium.webdriver.common.by import By as by

    return by


def wait(driver: Any, condition: Any, timeout: float = 20.0) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.02).until(condition)


def results(driver: Any) -> list[Any]:
    """The results once the search answered (the list is not busy and the status is not "Searching…")."""
    wait(driver, lambda d: d.find_element(By().ID, "results").get_attribute("aria-busy") is None
         and d.find_elements(By().CSS_SELECTOR, "#results li.result"))
    return driver.find_elements(By().CSS_SELECTOR, "#results li.result")


def ask(driver: Any, question: str) -> list[Any]:
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By().ID, "q")
    box.clear()
    box.send_keys(question + Keys.ENTER)
    return results(driver)


def choose(driver: Any, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By().ID, select_id)).select_by_value(value)


def query_of(driver: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(driver.current_url).query)


def api_cites(server: Any, question: str, **filters: list[str]) -> list[str]:
    body = {"query": question, "k": 10, "filters": filters}
    return [r["cite"] for r in httpx.post(server.url + "/search", json=body, timeout=60).json()["results"]]


def screenshot(driver: Any, name: str) -> None:
    """For the README (docs/img/): what a person sees, taken by the tests' own browser."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / name))


def no_horizontal_scroll(driver: Any) -> bool:
    return driver.execute_script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")


# -- search --------------------------------------------------------------------------------------
def test_search_in_french_and_english_shows_cited_marked_passages(browser, web_server):
    browser.get(web_server.url + "/")
    for question in (FR_QUESTION, EN_QUESTION):
        shown = ask(browser, question)
        assert query_of(browser)["q"] == [question]  # a bookmark repeats the search
        cites = [r.find_element(By().CSS_SELECTOR, "h3.cite").text for r in shown]
        assert cites == api_cites(web_server, question)  # cited exactly as kb cites
        assert all(CITE.match(c) for c in cites)
        marked = [m.text for m in browser.find_elements(By().CSS_SELECTOR, "#results mark")]
        assert marked, "the question's words are marked in the passages"
        stems = ("reconnaiss", "competen", "travailleu", "migran") if question == FR_QUESTION else (
            "barrier", "recogni", "skill", "qualificat")
        from kb.text.keywords import fold

        assert all(fold(m).startswith(stems) for m in marked), marked
        if question == EN_QUESTION:
            screenshot(browser, "search.png")


def test_filters_narrow_the_results_and_live_in_the_url(browser, web_server, web_index: WebIndex):
    browser.get(web_server.url + "/?q=" + "recognition of skills")
    results(browser)
    wait(browser, lambda d: len(d.find_element(By().ID, "f-lang").find_elements(By().TAG_NAME, "option")) > 2)
    choose(browser, "f-lang", "es")
    wait(browser, lambda d: query_of(d).get("lang") == ["es"])
    shown = results(browser)
    langs = {r.find_element(By().CSS_SELECTOR, "p.passage").get_attribute("lang") for r in shown}
    assert langs == {"es"}
    assert [r.find_element(By().CSS_SELECTOR, "h3.cite").text for r in shown] == api_cites(
        web_server, "recognition of skills", lang=["es"])
    # organisation is a property of documents: only the IOM evaluation may answer
    browser.find_element(By().ID, "clear-filters").click()
    choose(browser, "f-org", IOM)
    wait(browser, lambda d: query_of(d).get("org") == [IOM] and "lang" not in query_of(d))
    links = [r.find_element(By().CSS_SELECTOR, "h3.cite a").get_attribute("href") for r in results(browser)]
    assert links and all(f"/documents/{web_index.doc_ids[EVAL_PDF.name]}/file" in h for h in links)
    choose(browser, "f-year", "2022")  # IOM's document is from 2021
    wait(browser, lambda d: "No document matches" in d.find_element(By().ID, "status").text)
    # a shared link sets the filters it names
    browser.get(web_server.url + "/?q=recognition+of+skills&lang=fr")
    shown = results(browser)
    wait(browser, lambda d: d.find_element(By().ID, "f-lang").get_attribute("value") == "fr")
    assert {r.find_element(By().CSS_SELECTOR, "p.passage").get_attribute("lang") for r in shown} == {"fr"}


def test_copy_citation_puts_the_citation_on_the_clipboard(browser, web_server):
    from selenium.webdriver.common.keys import Keys

    browser.get(web_server.url + "/?q=" + EN_QUESTION)
    second = results(browser)[1]
    cite = second.find_element(By().CSS_SELECTOR, "h3.cite").text
    second.find_element(By().CSS_SELECTOR, ".actions button.secondary").click()
    wait(browser, lambda d: d.find_element(By().ID, "status").text == f"Citation copied: {cite}")
    box = browser.find_element(By().ID, "q")
    box.clear()
    box.send_keys(Keys.CONTROL, "v")
    assert box.get_attribute("value") == cite


def test_a_citation_opens_the_pdf_at_its_page(browser, web_server, web_index: WebIndex):
    doc_id = web_index.doc_ids[EN_PDF.name]
    browser.get(f"{web_server.url}/?q=mutual+recognition+of+skills&doc={doc_id}")
    first = results(browser)[0]
    expected = httpx.post(web_server.url + "/search", json={
        "query": "mutual recognition of skills", "k": 10, "filters": {"doc_id": [doc_id]}}).json()["results"][0]
    link = first.find_element(By().CSS_SELECTOR, "h3.cite a")
    href = link.get_attribute("href")
    assert href == f"{web_server.url}/documents/{doc_id}/file#page={expected['citation']['page_start']}"
    assert httpx.get(href.split("#")[0]).content == EN_PDF.read_bytes()
    before = set(browser.window_handles)
    link.click()
    wait(browser, lambda d: len(d.window_handles) > len(before))
    browser.switch_to.window((set(browser.window_handles) - before).pop())
    wait(browser, lambda d: d.current_url == href)
    # the linked versions ("also in fr") open the other language's file
    browser.switch_to.window(before.pop())
    versions = browser.find_elements(By().CSS_SELECTOR, ".versions a")
    assert versions, "the EN, FR and ES PDFs are linked versions of one text"
    assert all("/documents/" in v.get_attribute("href") and doc_id not in v.get_attribute("href") for v in versions)
    assert {v.text for v in versions} <= {"fr", "es"}


# -- the pack ------------------------------------------------------------------------------------
def downloaded(folder: Path, suffix: str, timeout: float = 30.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [f for f in folder.iterdir() if f.suffix == suffix]
        if done:
            time.sleep(0.2)
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} file was downloaded into {folder}: {list(folder.iterdir())}")


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


# -- hostile text --------------------------------------------------------------------------------
def test_hostile_text_is_shown_as_characters_and_never_run(browser, web_server, web_index: WebIndex):
    doc_id = web_index.doc_ids["hostile-notes.txt"]
    browser.get(f"{web_server.url}/?q=skills+recognition+onerror+script&doc={doc_id}")
    result = results(browser)[0]
    text = result.find_element(By().CSS_SELECTOR, "p.passage").text
    assert "<img src=x onerror=" in text and "](javascript:window.__kbPwned='link')" in text
    assert "<b>bold</b> &amp; entities &lt;script&gt;" in text
    assert result.find_element(By().CSS_SELECTOR, "h3.cite").text.startswith("Hostile <script>window.__kbPwned")
    result.find_element(By().CSS_SELECTOR, "button.add").click()
    for path in ("/library", "/pack", f"/?q=skills+recognition+onerror+script&doc={doc_id}"):
        browser.get(web_server.url + path)
        wait(browser, lambda d: "Hostile <script>" in d.find_element(By().TAG_NAME, "main").text)
        assert browser.execute_script("return window.__kbPwned") is None, path
        assert browser.execute_script("return document.querySelectorAll('main img, main script, main b').length") == 0
        hrefs = browser.execute_script("return [...document.querySelectorAll('a')].map(a => a.getAttribute('href'))")
        assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")]
    # the source HTML itself, opened from its citation, runs nothing either (sandboxed)
    browser.get(f"{web_server.url}/documents/{web_index.doc_ids['hostile-page.html']}/file")
    time.sleep(0.5)
    assert browser.title == "Hostile page about skills"
    assert browser.execute_script("return window.__kbPwned") is None


# -- keyboard, phone, languages, key -------------------------------------------------------------
def focus_is_visible(driver: Any) -> bool:
    return driver.execute_script(
        "const s = getComputedStyle(document.activeElement);"
        "return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;")


def press(driver: Any, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*keys).perform()


def tab_to(driver: Any, found: str, backwards: bool = False, limit: int = 80) -> None:
    """Press Tab (or Shift+Tab) until the element matching the CSS selector ``found`` has focus,
    checking on the way that every stop shows where the focus is."""
    from selenium.webdriver.common.keys import Keys

    for _ in range(limit):
        press(driver, *((Keys.SHIFT, Keys.TAB, Keys.SHIFT) if backwards else (Keys.TAB,)))
        if driver.execute_script("return document.activeElement === document.body"):
            continue  # past the last stop, focus is in the browser's own controls for one press
        active = driver.switch_to.active_element
        assert focus_is_visible(driver), active.get_attribute("outerHTML")[:200]
        if driver.execute_script("return document.activeElement.matches(arguments[0])", found):
            return
    raise AssertionError(f"{found} was not reached with the keyboard")


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
