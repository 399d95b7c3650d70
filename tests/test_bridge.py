"""The question translated into the passages' languages re-scores dense candidates (kb/search/bridge.py).

Real Apertium and FreeDict where installed (`.ci/run` installs them), the deterministic test-hash
embedder (a bag of hashed words: a question and a passage in two languages share no vector mass
unless a translation gives them words in common).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb.library import KnowledgeBase
from kb.search.bridge import Bridge
from kb.settings import Settings
from kb.translate.apertium import MODES_DIR

FRENCH = ("Les réfugiés se heurtent à de nombreux obstacles pour faire reconnaître leurs compétences "
          "professionnelles et leurs diplômes. Les employeurs ignorent souvent ces qualifications, "
          "et les procédures de reconnaissance sont longues et coûteuses pour les candidats.\n")
ENGLISH = ("The ministry publishes yearly statistics on fishing quotas and coastal weather. Boats must "
           "register their catch at the harbour office before the end of each month, and inspectors "
           "check the logbooks of every vessel that lands fish in the port. Deckhands learn new skills.\n")
QUESTION = "Why do employers overlook the recognition of refugees' skills?"  # no word shared with FRENCH
DEU_ENG = Path("/usr/share/dictd/freedict-deu-eng.index")


def _need_apertium() -> None:
    if shutil.which("apertium-wblank-mode") is None:
        pytest.skip("Apertium is not installed (Debian: apt-get install apertium)")
    for mode, package in (("fr-es", "apertium-fr-es"), ("eng-spa", "apertium-eng-spa"), ("spa-eng", "apertium-eng-spa"),
                          ("es-fr", "apertium-fr-es")):
        if not (MODES_DIR / f"{mode}.mode").is_file():
            pytest.skip(f"Apertium pair {mode} is not installed (Debian: apt-get install {package})")


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    _need_apertium()
    root = tmp_path_factory.mktemp("bridge")
    folder = root / "docs"
    folder.mkdir()
    for name, text in (("fr", FRENCH), ("en", ENGLISH)):
        (folder / f"{name}.txt").write_text(text * 3, encoding="utf-8")
    settings = Settings(index_dir=root / "idx", model="test-hash", companion="none", workers=0)
    with KnowledgeBase.open(settings, create=True) as kb:
        kb.ingest([folder])
        yield kb


def _first(kb: KnowledgeBase, **settings: object):
    hits = kb.with_settings(**settings).search(QUESTION, k=5).hits
    return hits[0], {h.passage.lang: h.extra["scores"].get("dense") for h in hits}


def test_the_question_in_the_passage_language_lifts_the_answer_in_that_language(index):
    top_off, dense_off = _first(index, bridge_weight=0.0)
    top_on, dense_on = _first(index, bridge_weight=0.6)
    assert top_off.passage.lang == "en"  # "skills", shared with the fishing notice, wins
    assert top_on.passage.lang == "fr"  # the question in French shares the answer's words
    assert dense_on["fr"] > dense_off["fr"]
    assert dense_on["en"] == pytest.approx(dense_off["en"])  # the question's own language is left alone


def test_the_bridge_is_a_blend_that_keeps_part_of_the_original_score(index):
    _, half = _first(index, bridge_weight=0.3)
    _, full = _first(index, bridge_weight=0.6)
    _, off = _first(index, bridge_weight=0.0)
    assert off["fr"] < half["fr"] < full["fr"]


def test_dense_mode_and_a_language_filter_bound_the_bridge(index):
    on = index.with_settings(bridge_weight=0.3)
    dense = on.search(QUESTION, k=5, mode="dense").hits
    off = index.with_settings(bridge_weight=0.0).search(QUESTION, k=5, mode="dense").hits
    assert [h.extra["scores"]["dense"] for h in dense] == [h.extra["scores"]["dense"] for h in off]  # hybrid only
    searcher_bridge = Bridge(index.index, on.settings)
    assert searcher_bridge.targets("en") == ["fr"]
    assert searcher_bridge.targets("en", wanted=["en"]) == []  # --lang en: nothing to translate into
    assert searcher_bridge.targets("en", wanted=["fr"]) == ["fr"]
    assert Bridge(index.index, on.with_settings(translate=False).settings).targets("en") == []


def test_german_questions_reach_other_languages_through_the_dictionary(index):
    if not DEU_ENG.is_file():
        pytest.skip("FreeDict deu-eng is not installed (Debian: apt-get install dict-freedict-deu-eng)")
    bridge = Bridge(index.index, index.settings)
    found = bridge.translations("Welche Schwierigkeiten haben Flüchtlinge bei der Anerkennung?", "de", ["en", "fr"])
    assert "refugee" in found["en"].lower() and "recognition" in found["en"].lower()
    assert "réfugi" in found["fr"].lower()  # word by word into English, then Apertium on to French


def test_stats_say_which_languages_questions_are_translated_into(index):
    from kb.render import render_stats

    stats = index.with_settings(bridge_weight=0.3).stats()
    assert stats["bridge"] == {"weight": 0.3, "languages": ["en", "fr"]}
    assert "questions  translated into en, fr for dense scores" in render_stats(stats)
    assert "questions  not translated for dense scores (KB_BRIDGE_WEIGHT 0" in render_stats(index.stats())  # the default
    off = index.with_settings(bridge_weight=0.3, translate=False).stats()
    assert "questions  not translated for dense scores" in render_stats(off)


def test_translation_into_some_languages_only_is_not_done(tmp_path):
    """All or none: Arabic has no Apertium pair and only a small dictionary, so with an Arabic
    document in the index English questions are translated into nothing; without it, into French."""
    _need_apertium()
    folder = tmp_path / "docs"
    folder.mkdir()
    arabic = ("يواجه اللاجئون عقبات كثيرة في الاعتراف بمؤهلاتهم المهنية وشهاداتهم، ويتجاهل أصحاب العمل "
              "هذه المؤهلات في كثير من الأحيان، وإجراءات الاعتراف طويلة ومكلفة.\n")
    for name, text in (("fr", FRENCH), ("en", ENGLISH), ("ar", arabic)):
        (folder / f"{name}.txt").write_text(text * 3, encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "idx", model="test-hash", companion="none", workers=0)
    with KnowledgeBase.open(settings, create=True) as kb:
        kb.ingest([folder])
        bridge = Bridge(kb.index, kb.settings)
        assert set(bridge.languages()) == {"ar", "en", "fr"}
        assert bridge.targets("en") == []
        assert bridge.targets("en", wanted=["en", "fr"]) == ["fr"]  # --lang en fr: Arabic is out of the question
        assert bridge.targets("ar") == []
        kb.remove(["ar"])
        assert Bridge(kb.index, kb.settings).targets("en") == ["fr"]


def test_the_blend_keeps_the_scale_of_the_question_s_own_scores(fast_index):
    """In an index where the question's language has too few passages for a language mean, its
    dense scores are plain cosines; the passages' scores against a translation must be plain
    too, or the blend pushes every translated language down (a corrected cosine runs lower).
    A "translation" identical to the question leaves every score as it was."""
    from kb.search.bridge import Pending
    from kb.search.searcher import Searcher

    with KnowledgeBase.open(Settings(index_dir=fast_index)) as kb:
        searcher = Searcher(kb.index, kb.settings)
        assert not searcher._centered("es") and searcher._centered("en")  # es: 17 passages, en: 31
        vector = kb.index.embedder.encode_queries(["¿Promueve la declaración la portabilidad de las prestaciones?"])[0]
        found = searcher._dense(vector, "es", 50, None)
        langs = kb.index.db.langs_of([r for r, _ in found])
        same = Pending(["en", "fr"], lambda: [vector, vector])
        centered = searcher._centered("es")
        out = dict(same.rescore(found, langs, 0.3, lambda v, lang, ids: searcher._cosines(v, lang, ids, centered)))
    assert any(langs[r] == "en" for r, _ in found)
    assert all(out[r] == pytest.approx(score, abs=1e-5) for r, score in found)
