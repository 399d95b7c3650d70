"""What `kb serve` adds for the web page, over HTTP: the page and its files (with a CSP that forbids
inline script), ``GET /documents/{id}/file`` (only ingested, unchanged files), ``POST /briefs``
from chosen passage ids, and the API key rule with the page open.

Slow: real `kb serve` processes on 127.0.0.1 (tests/conftest_web.py).
"""

from __future__ import annotations

import io
import re

import httpx
import pytest

pytest.register_assert_rewrite("conftest_web")

from conftest_web import EN_PDF, HOSTILE_TXT, WEB_KEY, WebIndex

pytest_plugins = ["conftest_web"]
pytestmark = pytest.mark.slow

PAGES = ("/", "/library", "/pack")


@pytest.mark.parametrize("path", PAGES)
def test_pages_forbid_inline_script_and_load_nothing_from_outside(web_server, path):
    page = httpx.get(web_server.url + path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    html = page.text
    assert "<script>" not in html and not re.search(r"\son\w+=", html)  # no inline script or handler
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/") or a.startswith("#") or a == "data:," for a in assets), assets
    for asset in [a for a in assets if a.startswith("/web/")]:
        got = httpx.get(web_server.url + asset)
        assert got.status_code == 200, asset
        assert got.headers["content-security-policy"] == csp


def test_only_the_packages_own_files_are_served(web_server):
    for name in ("..%2F..%2Fapp.py", "..%2F__init__.py", "%2Fetc%2Fpasswd", "nope.js", "style.css%00.js"):
        assert httpx.get(f"{web_server.url}/web/static/{name}").status_code == 404, name


def test_vocabulary_is_kbs_own(web_server):
    from kb.text.keywords import STOPWORDS
    from kb.lessons import TYPES, type_label

    vocab = httpx.get(web_server.url + "/web/vocabulary").json()
    assert vocab["types"] == list(TYPES)
    assert vocab["type_labels"]["fr"]["good_practice"] == type_label("good_practice", "fr")
    assert set(vocab["stopwords"]["es"]) == set(STOPWORDS["es"])


def test_a_pdf_is_served_byte_for_byte_by_its_id(web_server, web_index: WebIndex):
    doc_id = web_index.doc_ids[EN_PDF.name]
    got = httpx.get(f"{web_server.url}/documents/{doc_id}/file")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("inline;")
    assert got.content == EN_PDF.read_bytes()


def test_source_text_and_html_cannot_run_in_the_pages_origin(web_server, web_index: WebIndex):
    txt = httpx.get(f"{web_server.url}/documents/{web_index.doc_ids['hostile-notes.txt']}/file")
    assert txt.status_code == 200 and txt.headers["content-type"] == "text/plain; charset=utf-8"
    assert txt.text == HOSTILE_TXT
    html = httpx.get(f"{web_server.url}/documents/{web_index.doc_ids['hostile-page.html']}/file")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    for answer in (txt, html):
        assert answer.headers["content-security-policy"].startswith("sandbox;")
        assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("doc_id", ["no-such-doc", "..", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "etc%2Fpasswd"])
def test_no_path_from_the_request_reaches_the_disk(web_server, doc_id):
    got = httpx.get(f"{web_server.url}/documents/{doc_id}/file")
    assert got.status_code == 404
    assert "root:" not in got.text


def test_a_file_changed_since_ingest_is_refused(web_server, web_index: WebIndex):
    path = web_index.files / "changing.txt"
    url = f"{web_server.url}/documents/{web_index.doc_ids['changing.txt']}/file"
    original = path.read_bytes()
    assert httpx.get(url).status_code == 200
    try:
        path.write_bytes(original.replace(b"one thing", b"another thing"))
        changed = httpx.get(url)
        assert changed.status_code == 409 and "changed since it was ingested" in changed.json()["detail"]
        path.unlink()
        gone = httpx.get(url)
        assert gone.status_code == 404 and "no longer where it was ingested" in gone.json()["detail"]
    finally:
        path.write_bytes(original)
    assert httpx.get(url).status_code == 200


def _passages(server, k=3) -> list[dict]:
    hits = httpx.post(server.url + "/search", json={"query": "recognition of skills and qualifications", "k": 8}).json()
    return hits["results"][:k]


def test_a_pack_from_chosen_passages_keeps_their_order(web_server):
    from docx import Document

    hits = list(reversed(_passages(web_server)))
    ids = [h["passage_id"] for h in hits]
    html = httpx.post(web_server.url + "/briefs", json={"title": "Workshop", "passages": ids, "format": "html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    positions = [html.text.index(f'data-passage-id="{i}"') for i in ids]
    assert positions == sorted(positions)
    for hit in hits:
        assert hit["cite"].split(",")[0].replace("&", "&amp;") in html.text
    docx = httpx.post(web_server.url + "/briefs", json={"title": "Workshop", "passages": ids, "format": "docx"})
    assert docx.headers["content-disposition"] == 'attachment; filename="workshop.docx"'
    assert "Workshop" in [p.text for p in Document(io.BytesIO(docx.content)).paragraphs]
    md = httpx.post(web_server.url + "/briefs", json={"title": "Workshop", "passages": ids})
    assert [md.text.index(f"<!-- passage {i} -->") for i in ids] == sorted(md.text.index(f"<!-- passage {i} -->") for i in ids)


@pytest.mark.parametrize("body, status, words", [
    ({"title": "T", "passages": ["no-such:1"]}, 404, "no-such:1"),
    ({"title": "T"}, 422, "exactly one"),
    ({"title": "T", "passages": ["a:1"], "topics": [{"heading": "h", "question": "q"}]}, 422, "exactly one"),
    ({"title": "T", "passages": []}, 422, "at least 1"),
    ({"title": "T", "passages": ["a:1"], "group_by": "type"}, 422, "group_by"),
])
def test_bad_pack_requests_say_what_to_fix(web_server, body, status, words):
    got = httpx.post(web_server.url + "/briefs", json=body)
    assert got.status_code == status, got.text
    assert words in got.text


def test_the_page_is_open_but_the_api_still_needs_the_key(keyed_web_server, web_index: WebIndex):
    url = keyed_web_server.url
    for path in (*PAGES, "/web/static/search.js", "/web/vocabulary"):
        assert httpx.get(url + path).status_code == 200, path
    doc = web_index.doc_ids[EN_PDF.name]
    for path in ("/types", "/documents", f"/documents/{doc}/file"):
        assert httpx.get(url + path).status_code == 401, path
        assert httpx.get(url + path, headers={"X-API-Key": WEB_KEY}).status_code == 200, path
    assert httpx.post(url + "/briefs", json={"title": "T", "passages": ["x:1"]}).status_code == 401


@pytest.mark.parametrize("path", ["/web/static/../../types", "/web/static/%2E%2E/%2E%2E/types",
                                  "/web/static/..%2F..%2Ftypes", "/web/vocabulary/../../types", "/pack/../types"])
def test_dot_segments_after_an_open_path_do_not_pass_the_key_check(keyed_web_server, path):
    """Sent as typed (http.client does not normalise the path as browsers and httpx do)."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(keyed_web_server.url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        body = answer.read().decode("utf-8", "replace")
    finally:
        conn.close()
    assert answer.status in (401, 404), (answer.status, body[:200])
    assert '"passages"' not in body  # not the /types answer
