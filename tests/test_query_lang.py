"""Short queries get the language of the index passages that use their words (kb/search/language.py),
on a real index of real PDFs (conftest's fast_index: the words, not the vectors, decide): langdetect
alone reads "skills recognition" as Danish and "visa humanitaire" as Finnish, and kb would then
show, stem and correct for the wrong language."""

from __future__ import annotations

import pytest

from conftest import SETUP, fast_settings
from kb.text.lang import detect_language
from kb.library import KnowledgeBase
from kb.search.language import QueryLanguage
from kb.settings import Settings
from kb.store.db import Database

#: short queries whose every word the small index holds, with the language they are in
SHORT = {
    "skills recognition": "en",
    "skills development": "en",
    "labour market": "en",
    "visa humanitaire": "fr",
    "projet pilote": "fr",
}


@pytest.fixture(scope="module")
def kb(fast_index):
    with KnowledgeBase.open(Settings(index_dir=fast_index)) as opened:
        yield opened


def test_langdetect_alone_gets_these_short_queries_wrong():
    """What the feature is for; if langdetect ever reads them right, the test below proves nothing."""
    assert all(detect_language(text) != lang for text, lang in SHORT.items())


@pytest.mark.parametrize("text,lang", sorted(SHORT.items()))
def test_a_short_query_gets_the_language_of_the_passages_using_its_words(kb, text, lang):
    assert kb.search(text, 3).query_lang == lang


def test_a_sentence_in_a_language_the_index_lacks_keeps_its_language(kb):
    question = "Quali sono gli ostacoli per i rifugiati nel riconoscimento delle qualifiche?"
    assert kb.search(question, 3).query_lang == "it"


def test_a_short_query_with_a_word_no_passage_uses_is_left_to_langdetect(fast_index):
    """The index cannot speak for a word it lacks (a Spanish question on an English index)."""
    detector = QueryLanguage(Database(fast_index, readonly=True))
    text = "riconoscimento delle qualifiche"
    assert detector.detect(text) == detect_language(text) == "it"


def test_word_languages_counts_the_passages_of_each_language(fast_index):
    db = Database(fast_index, readonly=True)
    counts = db.word_languages("reconnaissance")
    assert counts.get("fr", 0) > 0 and counts.get("en", 0) == 0
    assert db.word_languages("zzqxv") == {}
    assert set(db.document_languages()) == {"en", "fr", "es"}


def test_the_detection_follows_the_index_when_a_language_arrives(tmp_path):
    """Cached per generation: ingesting an English document changes what a short query is."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "fr.txt").write_text(
        "La reconnaissance des compétences des réfugiés reste difficile. Les réfugiés qualifiés "
        "n'ont souvent aucun document pour prouver leurs diplômes, et les cours de langue manquent.\n",
        encoding="utf-8")
    with KnowledgeBase.open(fast_settings(tmp_path / "index", **SETUP), create=True) as kb:
        assert not kb.ingest([str(folder)]).failed
        before = kb.search("skills recognition", 3).query_lang
        (folder / "en.txt").write_text(
            "Skills recognition remains hard for refugees. Skilled refugees often lack the documents "
            "that prove their qualifications, and language courses are missing.\n", encoding="utf-8")
        assert not kb.ingest([str(folder)]).failed
        assert before != "en"
        assert kb.search("skills recognition", 3).query_lang == "en"


def test_a_few_letters_of_another_script_are_enough(kb):
    """Before: under 12 letters was "too short to tell" in any script, so Arabic "recruitment fees"
    (11 letters) had no language; 12 Latin letters still tell nothing ("EU-Passworld")."""
    assert kb.search("رسوم التوظيف", 3).query_lang == "ar"
    assert detect_language("EU-Passworld") is None
