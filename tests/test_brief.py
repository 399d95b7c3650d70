"""Briefing packs, end to end on real files: the sample topics over the sample corpus.

The index holds the mission's French paper (``corpus/``) plus the GCM objective 18
sheets in English, French and Spanish and one more English document, so that the pack has
several documents, several languages and real translations to choose between.
Every check reads the output back (Markdown text, parsed HTML, the DOCX through
python-docx, the PDF through pypdf) rather than trusting the renderer.

The pack's structure is checked on conftest's fast_index (the hashing embedder); which
language version is quoted depends on translations the real model links, so those tests
(and printing with Chromium) are slow, on an index of BRIEF_SET built with the default model.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kb.brief import (FORMATS, build_pack, load_topics, make_brief, normalise_format, render,
                      write_brief)
from kb.brief.excerpt import choose, sentence_spans
from kb.brief.pack import ELLIPSIS, Pack
from kb.brief.render_md import escape, unescape
from kb.errors import UsageError

from conftest import CORPUS, ROOT

TOPICS = ROOT / "corpus" / "topics.yaml"
WHOLES = ["Passages cités en partie, en entier"]  # the section that prints cut quotes whole
BRIEF_SET = [
    ROOT / "corpus",
    CORPUS / "en" / "18-SKILLS DEVELOPMENT AND RECOGNITION.pdf",
    CORPUS / "fr" / "18 - PERFECTIONNEMENT ET RECONNAISSANCE DES QUALIFICATIONS.pdf",
    CORPUS / "es" / "18 DESARROLLO Y CONOCIMIENTO DE CUALIFICACIONES.pdf",
    CORPUS / "en" / "5-REGULAR PATHWAYS.pdf",
]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def brief_kb(fast_index):
    """The fast tier's index, opened once (read only)."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    kb = KnowledgeBase.open(Settings(index_dir=fast_index))
    yield kb
    kb.close()


@pytest.fixture(scope="session")
def real_brief_kb(tmp_path_factory):
    """BRIEF_SET with the default model and its companion (slow tests)."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    index_dir = tmp_path_factory.mktemp("brief") / "index"
    kb = KnowledgeBase.open(Settings(index_dir=index_dir), create=True)
    report = kb.ingest([str(p) for p in BRIEF_SET])
    assert not report.failed, report.failed
    yield kb
    kb.close()


@pytest.fixture(scope="session")
def pack(brief_kb) -> Pack:
    return build_pack(brief_kb, TOPICS)


@pytest.fixture(scope="session")
def real_pack(real_brief_kb) -> Pack:
    return build_pack(real_brief_kb, TOPICS)


@pytest.fixture(scope="session")
def spec():
    return load_topics(TOPICS)


# -- the topics file ------------------------------------------------------------------------------
def test_sample_topics_file_covers_the_mission_themes(spec):
    headings = " | ".join(t.heading for t in spec.topics).lower()
    for theme in ("documents", "information", "reconnaissance", "employeurs", "langue", "dt4e",
                  "eu-passworld", "programmes existants", "risques", "recommandations"):
        assert theme in headings, theme
    assert spec.lang == "fr" and spec.per_topic == 4 and spec.intro
    assert all(t.questions for t in spec.topics)


def test_topics_from_json_file_and_object_agree(tmp_path, spec):
    import yaml

    raw = yaml.safe_load(TOPICS.read_text(encoding="utf-8"))
    path = tmp_path / "topics.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    assert load_topics(path) == spec == load_topics(raw)


@pytest.mark.parametrize("obj, message", [
    ({"topics": [{"heading": "A", "questions": ["q"]}]}, "'title' is missing"),
    ({"title": "T", "topics": []}, "'topics' must be a non-empty list"),
    ({"title": "T", "topics": [{"questions": ["q"]}]}, "topic 1: 'heading' is missing"),
    ({"title": "T", "topics": [{"heading": "A", "questions": []}]}, "'questions' must be a non-empty list"),
    ({"title": "T", "topics": [{"heading": "A", "questions": ["  "]}]}, "question 1 is not a non-empty string"),
    ({"title": "T", "topics": [{"heading": "A", "questoins": ["q"]}]}, "unknown key(s) questoins"),
    ({"title": "T", "per_topic": 0, "topics": [{"heading": "A", "question": "q"}]}, "'per_topic' must be"),
    ({"title": "T", "lang": "French", "topics": [{"heading": "A", "question": "q"}]}, "ISO 639-1"),
    ({"title": "T", "topics": [{"heading": "A", "questions": ["x" * 2001]}]}, "the limit is 2000"),
    (["not", "an", "object"], "expected an object"),
])
def test_bad_topics_are_usage_errors_that_say_what_is_wrong(obj, message):
    with pytest.raises(UsageError) as err:
        load_topics(obj)
    assert message in str(err.value)


def test_bad_topics_files(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        load_topics(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("title: [unclosed\n", encoding="utf-8")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_topics(broken)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{", encoding="utf-8")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_topics(bad_json)
    other = tmp_path / "topics.txt"
    other.write_text("title: x", encoding="utf-8")
    with pytest.raises(UsageError, match=r"\.yaml, \.yml or \.json"):
        load_topics(other)


def test_formats():
    assert normalise_format(None, "pack.HTML") == "html"
    assert normalise_format("markdown") == "md" and normalise_format(None) == "md"
    assert normalise_format("docx", "pack.md") == "docx"
    with pytest.raises(UsageError, match="format must be one of md, html, docx"):
        normalise_format("pdf")


# -- small pieces ---------------------------------------------------------------------------------
def test_markdown_escaping_round_trips():
    for text in ["8. Le paragraphe", "a) item * avec _soulignés_ et [crochets]", "# pas un titre",
                 "- pas une liste", "> pas une citation", r"un \ antislash", "13 a) 3.5 %"]:
        escaped = escape(text)
        assert unescape(escaped) == text
    assert escape("8. Le paragraphe").startswith("8\\.")


def test_excerpts_are_verbatim_and_sentence_bounded():
    import numpy as np

    sentence = "Les employeurs négligent bien souvent les compétences des réfugiés (É.-U. par an). "
    text = "d.\n\n8. " + sentence * 20
    spans = sentence_spans(text)
    assert text[spans[1][0]:spans[1][1]].startswith("8. Les employeurs")  # number kept with its sentence
    excerpt = choose(text, np.ones((1, 4)), lambda texts: np.ones((len(texts), 4)) / 2)
    assert text[excerpt.start:excerpt.end] == excerpt.text
    assert excerpt.text.startswith("8. Les employeurs") and excerpt.text.endswith(").")
    assert len(excerpt.text) <= 700
    assert excerpt.trimmed(text) == (True, True)  # the stray "d." and the rest were left out


# -- the pack -------------------------------------------------------------------------------------
def test_every_topic_is_present_in_order_with_quotes(pack, spec):
    assert pack.title == spec.title and pack.lang == "fr"
    assert [t.heading for t in pack.topics] == [t.heading for t in spec.topics]
    for topic, asked in zip(pack.topics, spec.topics):
        assert 1 <= len(topic.quotes) <= spec.quota(asked), topic.heading


def test_quotes_are_verbatim_and_citations_resolve(pack, brief_kb):
    for quote in pack.quotes():
        passage = brief_kb.passage(quote.passage_id)
        assert passage is not None, quote.passage_id
        assert quote.text and quote.text in passage.text
        start = passage.text.index(quote.text)
        assert quote.trimmed_start == bool(passage.text[:start].strip())
        assert quote.trimmed_end == bool(passage.text[start + len(quote.text):].strip())
        assert len(quote.text) <= 800 or "\n" not in quote.text
        c = quote.citation
        assert (c.doc_id, c.page_start, c.page_end, c.paragraph) == (
            passage.doc_id, passage.page_start, passage.page_end, passage.paragraph)
        assert c.title == brief_kb.document(passage.doc_id).title
        assert quote.lang == passage.lang and quote.lang not in quote.other_languages
        assert quote.display_text.startswith(ELLIPSIS) == quote.trimmed_start


def test_no_passage_twice_and_several_documents(pack):
    for topic in pack.topics:  # never twice under a topic; under two topics only with a note naming the other
        assert len({q.passage_id for q in topic.quotes}) == len({q.text for q in topic.quotes}) == len(topic.quotes)
        for q in topic.quotes:
            assert q.also_under == [t.heading for t in pack.topics
                                    if t is not topic and q.passage_id in {x.passage_id for x in t.quotes}]
    assert len({q.doc_id for q in pack.quotes()}) >= 3


@pytest.mark.slow  # translations are linked by the real model's vectors
def test_translations_are_noted_and_the_preferred_language_wins(real_pack):
    quotes = real_pack.quotes()
    assert any(q.other_languages for q in quotes), "the GCM sheets exist in en/fr/es"
    in_french = sum(q.lang == "fr" for q in quotes)
    assert in_french > len(quotes) / 2
    for q in quotes:  # a quote not in French has no unused French translation
        if q.lang != "fr":
            assert "fr" not in q.other_languages or any(
                o.lang == "fr" and o.doc_id != q.doc_id for o in quotes)


@pytest.mark.slow  # ranking and translations: the real model's
@pytest.mark.parametrize("lang", ["fr", "en", "es"])
def test_the_same_passage_is_quoted_in_the_preferred_language(real_brief_kb, lang):
    """The Europass example exists in the three GCM 18 sheets: one quote, in the reader's language."""
    spec = {"title": "Europass", "lang": lang, "per_topic": 2, "topics": [{"heading": "Europass", "questions": [
        "Europass portal: an EU initiative with standardized documentation of qualifications, skills and experience"]}]}
    quotes = build_pack(real_brief_kb, spec).topics[0].quotes
    assert quotes[0].lang == lang and "Europass" in quotes[0].text
    assert quotes[0].other_languages == sorted({"fr", "en", "es"} - {lang})
    assert not any("Europass" in q.text for q in quotes[1:])  # its translations are not quoted again


def test_sources_list_is_exactly_the_cited_documents(pack, brief_kb):
    cited = list(dict.fromkeys(q.doc_id for q in pack.quotes()))
    assert [s.doc_id for s in pack.sources] == cited
    assert [s.number for s in pack.sources] == list(range(1, len(cited) + 1))
    for quote in pack.quotes():
        assert pack.source(quote.source_number).doc_id == quote.doc_id
    for source in pack.sources:
        doc = brief_kb.document(source.doc_id)
        assert (source.title, source.organisation, source.year, source.source) == (
            doc.title, doc.organisation, doc.year, Path(doc.source).name)  # the file, not this machine's path
    mission = next(s for s in pack.sources if s.source.endswith("000_56388bd38537218d.txt"))
    assert mission.organisation == "IOM"


# -- Markdown -------------------------------------------------------------------------------------
def test_markdown_pack(pack, brief_kb):
    md = render(pack, "md")
    lines = md.splitlines()
    assert lines[0] == f"# {escape(pack.title)}"
    headings = [unescape(line[3:]) for line in lines if line.startswith("## ")]
    assert headings == [t.heading for t in pack.topics] + WHOLES * bool(pack.wholes) + ["Sources citées"]
    marker = 0
    for quote in pack.quotes():  # a passage quoted under two topics appears twice, in reading order
        marker = lines.index(f"<!-- passage {quote.passage_id} -->", marker + 1)
        block = []
        for line in lines[marker + 1:]:
            if not line.startswith(">"):
                break
            block.append(line[2:] if line.startswith("> ") else "")
        cite_line = block.pop()
        assert block.pop() == ""
        assert unescape("\n".join(block)) == quote.display_text.replace("\n\n", "\n\n")
        assert unescape(cite_line).startswith(f"— *{quote.citation.title}*")
        assert quote.cite()[len(quote.citation.title):] in unescape(cite_line)
        assert f"[{quote.source_number}]" in cite_line
    sources = lines[lines.index("## Sources citées") + 2:]
    for source in pack.sources:
        assert unescape(sources[source.number - 1]).startswith(f"{source.number}. **{source.title}**")
        assert source.location in sources[source.number - 1]
    assert re.search(r"Généré par kb \S+ le \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC à partir de l’index "
                     rf"« index » \(modèle {re.escape(brief_kb.index.model)}", md.strip().splitlines()[-1])


# -- HTML -----------------------------------------------------------------------------------------
class _PackHTML(HTMLParser):
    """Reads back what a reader sees: headings, and each quote with its caption."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.h1: list[str] = []
        self.h2: list[str] = []
        self.quotes: list[dict[str, str]] = []
        self.sources: list[str] = []
        self._stack: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "figure":
            self.quotes.append({"id": attrs.get("data-passage-id", ""), "text": "", "caption": ""})
        if tag == "li" and (attrs.get("id") or "").startswith("source-"):
            self.sources.append("")
        if tag not in ("br", "meta"):
            self._stack.append(tag)

    def handle_endtag(self, tag):
        while self._stack and self._stack.pop() != tag:
            pass

    def handle_data(self, data):
        if "blockquote" in self._stack:
            self.quotes[-1]["text"] += data
        elif "figcaption" in self._stack:
            self.quotes[-1]["caption"] += data
        elif self._stack and self._stack[-1] == "h1":
            self.h1.append(data)
        elif self._stack and self._stack[-1] == "h2":
            self.h2.append(data)
        elif "li" in self._stack and self.sources and "ol" in self._stack:
            self.sources[-1] += data


def test_html_pack_is_self_contained_escaped_and_print_ready(pack):
    html = render(pack, "html")
    parsed = _PackHTML()
    parsed.feed(html)
    assert parsed.h1 == [pack.title]
    assert parsed.h2 == [t.heading for t in pack.topics] + WHOLES * bool(pack.wholes) + ["Sources citées"]
    assert [q["id"] for q in parsed.quotes] == [q.passage_id for q in pack.quotes()]
    for seen, quote in zip(parsed.quotes, pack.quotes()):
        assert seen["text"] == quote.display_text
        assert quote.cite() in seen["caption"].replace("— ", "", 1)
    for seen, source in zip(parsed.sources, pack.sources):
        assert source.title in seen and source.location in seen
    assert len(parsed.sources) == len(pack.sources)
    # self-contained: no scripts, external stylesheets, fonts or images
    assert not parsed.tags & {"script", "link", "img", "iframe"}
    assert "@import" not in html and "url(" not in html
    assert "@page { size: A4; margin: 18mm;" in html
    assert "page-break-before: always" in html and "break-inside: avoid" in html
    assert "Généré par kb" in html


def test_html_escapes_corpus_text(pack):
    import copy

    hostile = copy.deepcopy(pack)
    hostile.title = "<script>alert(1)</script> & co"
    hostile.topics[0].quotes[0].text = "a < b & <b>c</b>"
    html = render(hostile, "html")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "a &lt; b &amp; &lt;b&gt;c&lt;/b&gt;" in html


# -- DOCX -----------------------------------------------------------------------------------------
def test_docx_pack_reads_back_with_the_same_structure(pack):
    import docx

    data = render(pack, "docx")
    assert isinstance(data, bytes) and data[:2] == b"PK"
    doc = docx.Document(io.BytesIO(data))
    paragraphs = doc.paragraphs
    styles = [p.style.name for p in paragraphs]
    assert paragraphs[styles.index("Title")].text == pack.title
    headings = [p.text for p in paragraphs if p.style.name == "Heading 1"]
    assert headings == [t.heading for t in pack.topics] + WHOLES * bool(pack.wholes) + ["Sources citées"]
    breaks = [p.paragraph_format.page_break_before for p in paragraphs if p.style.name == "Heading 1"]
    assert breaks == [False] + [True] * (len(pack.topics) + bool(pack.wholes))
    section = doc.sections[0]  # A4 like the HTML pack (python-docx's template is US Letter), numbered pages
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert "PAGE" in section.footer.paragraphs[0]._p.xml
    quote_indexes = [i for i, s in enumerate(styles) if s == "Quote"]
    assert [paragraphs[i].text for i in quote_indexes] == [q.display_text for q in pack.quotes()]
    for i, quote in zip(quote_indexes, pack.quotes()):
        cite = paragraphs[i + 1]
        assert cite.text.startswith("— " + quote.cite())
        assert f"[{quote.source_number}]" in cite.text
        assert all(run.italic for run in cite.runs[:2])
    items = [p.text for p in paragraphs if p.style.name == "List Number"]
    assert len(items) == len(pack.sources)
    for item, source in zip(items, pack.sources):
        assert item.startswith(source.title) and source.location in item
    assert paragraphs[-1].text.startswith("Généré par kb")
    assert doc.core_properties.title == pack.title


# -- front-end entry points -----------------------------------------------------------------------
def test_write_brief_infers_the_format_and_writes_atomically(brief_kb, tmp_path):
    out = tmp_path / "pack.html"
    brief = write_brief(brief_kb, TOPICS, out)
    assert brief.format == "html" and out.read_text(encoding="utf-8") == brief.content
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(UsageError, match="does not exist"):
        write_brief(brief_kb, TOPICS, tmp_path / "missing" / "pack.md")


def test_make_brief_takes_an_api_object(brief_kb):
    body = {"title": "Recognition", "lang": "en", "per_topic": 2, "format": "html",
            "topics": [{"heading": "Skills recognition", "questions": ["mutual recognition of skills"]}]}
    brief = make_brief(brief_kb, body)
    assert brief.format == "html" and brief.media_type.startswith("text/html")
    assert brief.filename == "recognition.html"
    assert len(brief.pack.topics[0].quotes) == 2
    assert "Sources cited" in brief.content and "Generated by kb" in brief.content
    assert make_brief(brief_kb, body, "md").content.startswith("# Recognition\n")
    with pytest.raises(UsageError):
        make_brief(brief_kb, {"title": "x", "topics": []})
    assert set(FORMATS) == {"md", "html", "docx"}


# -- printing with headless Chromium --------------------------------------------------------------
@pytest.mark.slow  # a browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_html_prints_to_a4_pdf_with_a_page_per_topic(pack, tmp_path_factory):
    from pypdf import PdfReader

    out = tmp_path_factory.mktemp("printed")
    html = out / "pack.html"
    html.write_text(render(pack, "html"), encoding="utf-8")
    pdf = out / "pack.pdf"
    run = subprocess.run([str(ROOT / "scripts" / "render-brief-pdf"), str(html), str(pdf)],
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    reader = PdfReader(str(pdf))
    assert len(reader.pages) >= len(pack.topics) + 1  # each topic and the sources start a page
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - 595.3) < 2 and abs(float(box.height) - 841.9) < 2  # A4 in points
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    for topic in pack.topics:
        assert " ".join(topic.heading.split()) in flat
    # a page of it, as a reader sees it on screen: saved for a person to look at
    png = out / "pack-first-page.png"
    shot = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={out / 'profile'}", "--hide-scrollbars",
         "--window-size=794,1123", f"--screenshot={png}", html.as_uri()],
        capture_output=True, text=True, timeout=240)
    assert shot.returncode == 0, shot.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    print(f"\nbriefing pack printed: {pdf} ({len(reader.pages)} pages); first page: {png}")


@pytest.mark.parametrize("lang,sources,barriers", [("pt", "Fontes citadas", "Obstáculos"),
                                                   ("de", "Zitierte Quellen", "Hindernisse")])
def test_pack_labels_in_every_language_of_the_corpus(pack, lang, sources, barriers):
    """Before: a Portuguese or German pack printed English labels ("Sources cited")."""
    from dataclasses import replace

    from kb.brief.labels import _LABELS, _LANGUAGE_NAMES
    from kb.lessons import type_label

    assert set(_LABELS[lang]) == set(_LABELS["en"]) and set(_LANGUAGE_NAMES[lang]) == set(_LANGUAGE_NAMES["en"])
    assert f"## {sources}" in render(replace(pack, lang=lang), "md")
    assert type_label("barrier", lang) == barriers
