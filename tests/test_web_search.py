"""The search page in a real headless Chromium against a real `kb serve` on 127.0.0.1: questions in
French and English, filters in the URL, citations to the PDF page, copy-citation, hostile text.

Slow: a browser and a server process (tests/conftest_web.py builds the small test-hash index).
docs/img/search.png is taken here.
"""

from __future__ import annotations

import time

import httpx
import pytest

pytest.register_assert_rewrite("conftest_web", "web_page")

from conftest_web import EN_PDF, EVAL_PDF, IOM, WebIndex  # noqa: E402
from web_page import (  # noqa: E402
    PAGE_CITE, EN_QUESTION, FR_QUESTION, By, api_cites, ask, choose, query_of, results, screenshot, wait,
)

pytest_plugins = ["conftest_web"]
pytestmark = pytest.mark.slow


# -- search --------------------------------------------------------------------------------------
def test_search_in_french_and_english_shows_cited_marked_passages(browser, web_server):
    browser.get(web_server.url + "/")
    for question in (FR_QUESTION, EN_QUESTION):
        shown = ask(browser, question)
        assert query_of(browser)["q"] == [question]  # a bookmark repeats the search
        cites = [r.find_element(By().CSS_SELECTOR, "h3.cite").text for r in shown]
        assert cites == api_cites(web_server, question)  # cited exactly as kb cites
        assert any(PAGE_CITE.search(c) for c in cites), cites
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
