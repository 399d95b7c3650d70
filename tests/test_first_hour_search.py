"""Issue 19, search and briefing packs: what a new user hit on the shared corpus (items 6-10).

Queries with nothing to search for, the glossary on one's own corpus, one message for one
mistake, every topic getting its passages, and quotes that are whole where the pack says
"word for word". The test-hash embedder throughout; the server tests start `kb serve`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FAST_ARGS, MISSION, ROOT, SETUP_ARGS, kb_cli

FAST = [*FAST_ARGS, *SETUP_ARGS]
NOTHING = "?!...;:"


def kb(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`kb ARGS` as a user runs it from ``cwd`` (in this process: conftest.kb_cli)."""
    return kb_cli(*args, cwd=cwd)


@pytest.fixture(scope="module")
def mission_index(tmp_path_factory) -> Path:
    index = tmp_path_factory.mktemp("mission") / "index"
    done = kb("ingest", str(MISSION), "--index", str(index), *FAST)
    assert done.returncode == 0, done.stderr
    return index


# -- 6. a query with no letters or digits ------------------------------------------------------------
def test_a_query_of_punctuation_is_refused_like_an_empty_one(mission_index):
    done = kb("search", NOTHING, "--index", str(mission_index))
    assert done.returncode == 2 and done.stdout == ""
    assert "no letters or digits" in done.stderr
    assert kb("search", "8", "--index", str(mission_index), "--k", "1").returncode == 0  # a digit is something


def test_the_library_and_the_api_schema_refuse_it_too():
    from pydantic import ValidationError

    from api.schemas import SearchRequest
    from kb.errors import UsageError
    from kb.search import Query

    for text in (NOTHING, "— « » …", "   ..."):
        with pytest.raises(UsageError, match="no letters or digits"):
            Query.build(text)
        with pytest.raises(ValidationError, match="no letters or digits"):
            SearchRequest.model_validate({"query": text})
    for text in ("TBB", "٣", "移民", "8 c)"):
        assert Query.build(text).text == text
        assert SearchRequest.model_validate({"query": text}).query == text


def test_the_schema_pattern_says_what_the_server_takes():
    """Generated clients (and schemathesis) read the query's pattern: it must be the server's rule."""
    import re

    from api.schemas import text_pattern
    from kb.search.query import has_text

    pattern = re.compile(text_pattern())
    disagree = [hex(c) for c in range(0x10000) if bool(pattern.search(chr(c))) != has_text(chr(c))]
    assert not disagree, disagree[:10]
    assert pattern.search("😀") and has_text("😀")  # outside the BMP: the pattern cannot tell, so both take it


def test_a_batch_line_with_nothing_to_search_fails_alone(mission_index, tmp_path):
    lines = tmp_path / "q.jsonl"
    lines.write_text(json.dumps({"id": "a", "query": NOTHING}) + "\n" + json.dumps({"id": "b", "query": "compétences"})
                     + "\n", encoding="utf-8")
    done = kb("search", "--queries", str(lines), "--json", "--index", str(mission_index))
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1 and "no letters or digits" in out[0]["error"] and out[1]["results"]


# -- 7. the glossary on your own corpus ------------------------------------------------------------
DEFINES = ("Talent Beyond Boundaries (TBB) works with employers who hire refugees from camps and cities. "
           "The organisation keeps a talent catalogue that employers search by occupation and skill level.")
USES = ("Pilot projects run with Talent Beyond Boundaries have placed nurses and engineers with employers in "
        "Canada and Australia, through the regular skilled-worker streams of those countries.")


def _two_documents(folder: Path) -> Path:
    folder.mkdir()
    (folder / "defines.txt").write_text(DEFINES + "\n", encoding="utf-8")
    (folder / "uses.txt").write_text(USES + "\n", encoding="utf-8")
    return folder


def test_acronyms_the_documents_define_expand_queries(tmp_path):
    folder = _two_documents(tmp_path / "docs")
    index = tmp_path / "index"
    assert kb("ingest", str(folder), "--index", str(index), *FAST).returncode == 0
    done = kb("search", "TBB", "--mode", "keyword", "--index", str(index), "--json")
    found = {r["citation"]["doc_id"] for r in json.loads(done.stdout)["results"]}
    assert found == {"defines", "uses"}  # "uses" never writes TBB: the definition in "defines" says what it is
    stats = json.loads(kb("stats", "--index", str(index), "--json").stdout)
    assert stats["glossary"] == {"terms": 0, "acronyms": 0, "defined_in_documents": 1}


def test_stats_says_whether_an_index_has_a_glossary(tmp_path, mission_index):
    text = kb("stats", "--index", str(mission_index)).stdout
    assert "glossary   none given (kb ingest PATH --glossary FILE, see docs/glossary.md)" in text
    index = tmp_path / "index"
    assert kb("ingest", str(MISSION), "--glossary", str(ROOT / "corpus" / "kb-glossary.yaml"),
              "--index", str(index), *FAST).returncode == 0
    line = next(x for x in kb("stats", "--index", str(index)).stdout.splitlines() if x.startswith("glossary"))
    assert line.startswith("glossary   ") and " terms, " in line and "acronyms" in line


def test_a_glossary_given_later_applies_without_re_reading_the_files(tmp_path):
    folder = _two_documents(tmp_path / "docs")
    index = tmp_path / "index"
    assert kb("ingest", str(folder), "--index", str(index), *FAST).returncode == 0
    glossary = tmp_path / "g.yaml"
    glossary.write_text("terms:\n  - acronyms: [TBB]\n    names:\n      en: Talent Catalogue\n", encoding="utf-8")
    again = kb("ingest", str(folder), "--glossary", str(glossary), "--index", str(index))
    assert again.returncode == 0 and "2 unchanged" in again.stderr
    stats = json.loads(kb("stats", "--index", str(index), "--json").stdout)
    assert stats["glossary"]["terms"] == 1
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    with KnowledgeBase.open(Settings(index_dir=index)) as base:  # the user's name for TBB wins
        assert "Talent Catalogue" in base._searcher._expand("TBB", "en").dense


def test_docs_glossary_explains_any_folder():
    text = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    assert "kb ingest ../shared/corpus" in text and "--glossary" in text and "kb stats" in text


def test_found_acronyms():
    from kb.derived.acronyms import find

    assert find("the International Recruitment Integrity System (IRIS) is a global initiative") == [
        ("IRIS", "International Recruitment Integrity System")]
    assert find("l’Organisation internationale pour les migrations (OIM) appuie") == [
        ("OIM", "Organisation internationale pour les migrations")]
    assert find("sexual and gender-based violence (SGBV) remains") == [("SGBV", "sexual and gender-based violence")]
    assert find("in 2019 (see Annex II) and (IV)") == []


# -- 8. one message for one mistake ------------------------------------------------------------------
def test_the_api_says_what_the_cli_says_about_a_language_name(mission_index):
    from pydantic import ValidationError

    from api.schemas import SearchRequest

    cli = kb("search", "compétences", "--lang", "english", "--index", str(mission_index))
    assert cli.returncode == 2
    message = cli.stderr.strip().removeprefix("kb: error: ")
    with pytest.raises(ValidationError) as err:
        SearchRequest.model_validate({"query": "x", "filters": {"lang": ["english"]}})
    assert [e["msg"].removeprefix("Value error, ") for e in err.value.errors()] == [message]
    assert SearchRequest.model_validate({"query": "x", "filters": {"lang": [" FR "]}}).filters.lang == ["fr"]


@pytest.mark.slow
def test_the_server_answers_both_mistakes_with_422_and_the_cli_s_words(mission_index, tmp_path):
    from conftest_api_helpers import start_server

    server = start_server(mission_index, tmp_path / "serve.log")
    try:
        with server.client() as client:
            bad_lang = client.post("/search", json={"query": "x", "filters": {"lang": ["english"]}})
            nothing = client.post("/search", json={"query": NOTHING})
    finally:
        server.stop()
    assert bad_lang.status_code == 422 and nothing.status_code == 422
    assert bad_lang.json()["detail"][0]["msg"] == (
        "language filter 'english' is not a language code: use ISO 639-1 codes such as 'fr'")
    assert "no letters or digits" in nothing.json()["detail"][0]["msg"]


# -- 9. every topic gets its passages ----------------------------------------------------------------
PILOTS = ("Pilot projects in Australia and Canada test skills-based pathways for refugees with employers, "
          "and these pilot projects build on existing programmes instead of creating new programmes.")
OTHER_PILOTS = ("Further pilot projects in the United Kingdom test pathways for refugee nurses with employers. "
                "The pilot projects report their results to governments every year.")
RISKS = ("Risks and unintended consequences: pilot projects must not replace resettlement programmes or "
         "create pull factors. Building on existing programmes limits these risks and consequences.")


def _pack_index(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in (("pilots", PILOTS), ("more", OTHER_PILOTS), ("risks", RISKS)):
        (folder / f"{name}.txt").write_text(text + "\n", encoding="utf-8")
    index = tmp_path / "index"
    assert kb("ingest", str(folder), "--index", str(index), *FAST).returncode == 0
    return index


def test_a_topic_whose_best_passage_went_elsewhere_still_shows_it(tmp_path):
    from kb.brief import build_pack
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    spec = {"title": "T", "lang": "en", "per_topic": 4, "topics": [
        {"heading": "Risks", "question": "risks and unintended consequences pull factors resettlement"},
        {"heading": "Pilots", "question": "pilot projects in Australia and Canada"},
        {"heading": "Existing programmes", "question": "build on existing programmes instead of creating new programmes"},
    ]}
    with KnowledgeBase.open(Settings(index_dir=_pack_index(tmp_path))) as base:
        pack = build_pack(base, spec)
    by_heading = {t.heading: t for t in pack.topics}
    assert all(t.quotes for t in pack.topics), [(t.heading, len(t.quotes)) for t in pack.topics]
    existing = [q.doc_id for q in by_heading["Existing programmes"].quotes]
    assert "pilots" in existing
    for topic in pack.topics:  # never twice under one topic; a repeat names the other topic
        ids = [q.passage_id for q in topic.quotes]
        assert len(ids) == len(set(ids))
        for q in topic.quotes:
            others = [t.heading for t in pack.topics if t is not topic and q.passage_id in
                      {x.passage_id for x in t.quotes}]
            assert q.also_under == others


# -- 10. quoted word for word means whole -----------------------------------------------------------
def test_excerpts_end_where_sentences_end():
    import numpy as np

    from kb.brief.excerpt import choose, sentence_spans

    text = ("Trois mesures comptent : Élargir les voies de migration ; Reconnaître les compétences acquises ; "
            "Former les employeurs. " * 12).strip()
    assert all(text[s:e].endswith(".") for s, e in sentence_spans(text))  # no cut after ";" or ":"
    excerpt = choose(text, np.ones((1, 4)), lambda texts: np.ones((len(texts), 4)) / 2)
    assert excerpt.text.endswith("employeurs.") and excerpt.text in text


def test_a_cut_quote_says_so_and_the_pack_prints_the_whole_passage(tmp_path):
    from kb.brief import build_pack
    from kb.brief.render_html import render_html
    from kb.brief.render_md import render_markdown
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    long = " ".join(f"Sentence {i} explains how employers recognise the skills of refugee workers." for i in range(40))
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "long.txt").write_text(long + "\n", encoding="utf-8")
    index = tmp_path / "index"
    assert kb("ingest", str(folder), "--index", str(index), *FAST).returncode == 0
    spec = {"title": "T", "lang": "fr", "per_topic": 1,
            "topics": [{"heading": "Skills", "question": "employers recognise the skills of refugee workers"}]}
    with KnowledgeBase.open(Settings(index_dir=index)) as base:
        pack = build_pack(base, spec)
        passage = base.passage(pack.quotes()[0].passage_id)
    quote = pack.quotes()[0]
    assert quote.trimmed_end and quote.whole == 1 and quote.text.endswith("workers.")
    assert [w.text for w in pack.wholes] == [passage.text]
    md, html = render_markdown(pack), render_html(pack)
    assert "Extrait, coupé en fin de phrase ; le passage entier est le n° 1" in md
    assert "## Passages cités en partie, en entier" in md and "(#whole-1)" in md and 'id="whole-1"' in md
    assert 'href="#whole-1"' in html and 'id="whole-1"' in html and passage.text in html
