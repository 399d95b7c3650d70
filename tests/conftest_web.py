"""Fixtures of the web page tests: a small real index, real `kb serve` processes, and a real
headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by selenium.

Loaded as a plugin (``pytest_plugins = ["conftest_web"]``). The index is built with the
deterministic ``test-hash`` embedder and no companion, so it takes seconds, from real files of
the shared corpus (three language versions of one PDF, so "also in" links exist, a text file,
a Markdown file) plus documents written here whose text is hostile markup. A manifest gives
some of them an organisation and a year, for the filters.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest_api_helpers import CORPUS, Server, start_server

REPO = Path(__file__).resolve().parents[1]
AXE = REPO / "tests" / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "docs" / "img"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WEB_KEY = "web-key-51c2"

EN_PDF = CORPUS / "en" / "18-SKILLS DEVELOPMENT AND RECOGNITION.pdf"
FR_PDF = CORPUS / "fr" / "18 - PERFECTIONNEMENT ET RECONNAISSANCE DES QUALIFICATIONS.pdf"
ES_PDF = CORPUS / "es" / "18 DESARROLLO Y CONOCIMIENTO DE CUALIFICACIONES.pdf"
EVAL_PDF = CORPUS / "en" / "AAP_EN_Evaluation Brief_final_0.pdf"
FR_TXT = CORPUS / "fr" / "000_56388bd38537218d.txt"
EN_MD = CORPUS / "en" / "2022-06-10-los-angeles-declaration-on-migration-and-protection.md"
CORPUS_FILES = (EN_PDF, FR_PDF, ES_PDF, EVAL_PDF, FR_TXT, EN_MD)
NETWORK, IOM = "UN Network on Migration", "IOM"

#: text that a careless page would run; every alternative sets window.__kbPwned
HOSTILE_TXT = """Hostile <script>window.__kbPwned = "script"</script> notes on skills recognition

This training note about the recognition of migrant workers' skills contains text that must stay text: \
<img src=x onerror="window.__kbPwned='img'"> and a link [click here](javascript:window.__kbPwned='link') \
and a bare javascript:window.__kbPwned='bare' address.

Skills recognition barriers: employers do not know foreign qualifications, and migrants pay high fees \
to have their diplomas assessed. <b>bold</b> &amp; entities &lt;script&gt; stay as typed.
"""
HOSTILE_HTML = """<!DOCTYPE html><html><head><title>Hostile page about skills</title>
<script>document.title = "PWNED"; window.__kbPwned = "html";</script></head>
<body><h1>Hostile page about skills</h1><p>Recognition of the skills of migrant workers is a barrier when
qualifications are not known by employers. This page holds a script that must not run when it is served.</p>
<img src="x" onerror="document.title='PWNED-IMG'"></body></html>
"""
CHANGING_TXT = "A note on skills passports that is edited after it was ingested.\n\nIt says one thing today.\n"


@dataclass
class WebIndex:
    path: Path
    files: Path  # the folder of the documents written here
    doc_ids: dict[str, str]  # file name -> doc id


@pytest.fixture(scope="session")
def web_index(tmp_path_factory: pytest.TempPathFactory) -> WebIndex:
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    missing = [str(f) for f in CORPUS_FILES if not f.is_file()]
    if missing:
        pytest.skip(f"shared corpus files not found: {missing}")
    root = tmp_path_factory.mktemp("web")
    files = root / "written"
    files.mkdir()
    (files / "hostile-notes.txt").write_text(HOSTILE_TXT, encoding="utf-8")
    (files / "hostile-page.html").write_text(HOSTILE_HTML, encoding="utf-8")
    (files / "changing.txt").write_text(CHANGING_TXT, encoding="utf-8")
    manifest = root / "manifest.json"
    meta = [{"file": f.name, "organisation": NETWORK, "year": 2022} for f in (EN_PDF, FR_PDF, ES_PDF)]
    meta.append({"file": EVAL_PDF.name, "organisation": IOM, "year": 2021})
    manifest.write_text(json.dumps(meta), encoding="utf-8")
    index = root / "index"
    with KnowledgeBase.open(Settings(index_dir=index, model="test-hash", companion="none"), create=True) as kb:
        report = kb.ingest([*CORPUS_FILES, files], meta=manifest)
        assert not report.failed, report.to_dict()["failures"]
        doc_ids = {Path(d.source).name: d.doc_id for d in kb.documents()}
    return WebIndex(index, files, doc_ids)


@pytest.fixture(scope="session")
def web_server(web_index: WebIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(web_index.path, tmp_path_factory.mktemp("logs") / "web_server.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def keyed_web_server(web_index: WebIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(web_index.path, tmp_path_factory.mktemp("logs") / "keyed_web.log", {"KB_API_KEY": WEB_KEY})
    yield server
    server.stop()


# -- the browser ------------------------------------------------------------------------------
def chromium(width: int = 1280, height: int = 900, lang: str = "en", downloads: Path | None = None) -> Any:
    """A fresh headless Chromium (flags that keep it off the network it cannot reach)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="kb-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}", f"--lang={lang}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_script_timeout(60)
    if downloads is not None:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.kb_profile = profile  # type: ignore[attr-defined]
    return driver


def close(driver: Any) -> None:
    driver.quit()
    shutil.rmtree(driver.kb_profile, ignore_errors=True)


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def browser(downloads: Path) -> Iterator[Any]:
    driver = chromium(downloads=downloads)
    yield driver
    close(driver)


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2 A/AA rules and best practice)."""
    if not AXE.is_file():
        pytest.skip(f"axe-core is not installed: run `npm ci` in {AXE.parents[2]}")
    driver.execute_script(AXE.read_text(encoding="utf-8"))  # DevTools evaluation: the page's CSP does not apply
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then((r) => done(r.violations), (e) => done([{id: 'axe-error', impact: 'critical', help: String(e)}]));")
    return [v for v in result if v.get("impact") in ("serious", "critical")]
