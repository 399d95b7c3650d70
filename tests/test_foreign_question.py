"""A question whose words the index does not hold counts no keyword match, whatever language it
is detected as (kb/search/searcher.py, Searcher._known_share), on real XQuAD paragraphs: the share of
known words with the hashing embedder, the ranking with the real model (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SETUP, SHARED, fast_settings
from kb.library import KnowledgeBase
from kb.search import Searcher
from kb.settings import Settings

XQUAD = SHARED / "benchmarks" / "xquad"
#: the Victoria and Albert Museum article's paragraphs; 119 is John Sheepshanks's gift
PARAGRAPHS = range(110, 130)
#: XQuAD 5726f4a0708984140094d6ea in Spanish, detected as English by kb/text/lang.py; in English
SPANISH = "¿Cuántas pinturas le dio John Sheeshanks al museo?"
ENGLISH = "How many paintings did John Sheeshanks give to the museum?"

pytestmark = pytest.mark.skipif(not (XQUAD / "xquad.en.json").is_file(), reason="XQuAD not available")


def _english_index(folder: Path, settings: Settings) -> Path:
    data = json.loads((XQUAD / "xquad.en.json").read_text(encoding="utf-8"))["data"]
    contexts = [p["context"] for a in data for p in a["paragraphs"]]
    for n in PARAGRAPHS:
        (folder / f"p{n:03d}.txt").write_text(contexts[n] + "\n", encoding="utf-8")
    with KnowledgeBase.open(settings, create=True) as kb:
        assert not kb.ingest([str(folder)]).failed
    return settings.index_dir


@pytest.fixture(scope="module")
def english_index(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("vam")
    return _english_index(folder, Settings(index_dir=folder / "index"))


@pytest.fixture(scope="module")
def english_index_fast(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("vam-fast")
    return _english_index(folder, fast_settings(folder / "index", **SETUP))


def test_most_words_of_a_spanish_question_are_unknown_to_english_paragraphs(english_index_fast):
    with KnowledgeBase.open(Settings(index_dir=english_index_fast)) as kb:
        searcher = Searcher(kb.index)
        assert searcher._known_share(SPANISH) < Searcher.MIN_KNOWN_WORDS
        assert searcher._known_share(ENGLISH) >= Searcher.MIN_KNOWN_WORDS


@pytest.mark.slow  # ranking by meaning across languages: the real model's
def test_a_foreign_question_ranks_by_meaning_alone_and_finds_its_paragraph(english_index):
    with KnowledgeBase.open(Settings(index_dir=english_index)) as kb:
        hybrid = kb.search(SPANISH, k=5).hits
        dense = kb.search(SPANISH, k=5, mode="dense").hits
        english = kb.search(ENGLISH, k=5).hits
    assert [h.passage.passage_id for h in hybrid] == [h.passage.passage_id for h in dense]
    assert Path(hybrid[0].citation.source).name == "p119.txt"
    # the English question's keyword matches count: its scores carry the keyword side
    assert any("keyword" in h.extra["scores"] for h in english)
    assert Path(english[0].citation.source).name == "p119.txt"
