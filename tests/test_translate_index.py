"""Translation in the index: pivot texts at ingestion, the pivot keyword list in search,
`kb translate`, the translator's record, and kb without Apertium (kb/translate/, issue 17).

Real Apertium and FreeDict where installed (`.ci/run` installs them); a test that needs one
skips naming the Debian package. Indexes use the deterministic test-hash embedder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb.library import KnowledgeBase
from kb.settings import Settings
from kb.translate import Translator
from kb.translate.apertium import MODES_DIR
from kb.translate.bodies import pivot_bodies

ROOT = Path(__file__).resolve().parent.parent

FRENCH = ("Les réfugiés se heurtent à de nombreux obstacles pour faire reconnaître leurs compétences "
          "professionnelles et leurs diplômes. Les employeurs ignorent souvent ces qualifications, "
          "et les procédures de reconnaissance sont longues et coûteuses pour les candidats.\n")
ENGLISH = ("The ministry publishes yearly statistics on fishing quotas and coastal weather. Boats must "
           "register their catch at the harbour office before the end of each month, and inspectors "
           "check the logbooks of every vessel that lands fish in the port.\n")
GERMAN = ("Geflüchtete Menschen haben oft Schwierigkeiten bei der Anerkennung ihrer Berufsabschlüsse. "
          "Die Flüchtlinge brauchen Beratung, damit ihre Qualifikationen auf dem Arbeitsmarkt zählen.\n")
QUESTION_EN = "Why do employers overlook the recognition of refugees' skills?"  # no word shared with FRENCH


def _need(*modes: str) -> None:
    if shutil.which("apertium-wblank-mode") is None:
        pytest.skip("Apertium is not installed (Debian: apt-get install apertium)")
    for mode, package in (("fr-es", "apertium-fr-es"), ("eng-spa", "apertium-eng-spa")):
        if mode in modes and not (MODES_DIR / f"{mode}.mode").is_file():
            pytest.skip(f"Apertium pair {mode} is not installed (Debian: apt-get install {package})")


def _docs(tmp_path: Path, **texts: str) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in texts.items():
        (folder / f"{name}.txt").write_text(text * 3, encoding="utf-8")
    return folder


def _settings(index: Path, **changes: object) -> Settings:
    return Settings(index_dir=index, model="test-hash", companion="none", workers=0, **changes)  # type: ignore[arg-type]


def _ranked_langs(kb: KnowledgeBase, text: str, mode: str = "keyword") -> list[tuple[str | None, dict]]:
    hits = kb.search(text, k=5, mode=mode).hits
    return [(h.passage.lang, h.extra.get("scores", {})) for h in hits]


# -- ingestion ---------------------------------------------------------------------------
def test_passages_get_pivot_texts_with_them_and_lose_them_with_them(tmp_path):
    _need("fr-es", "eng-spa")
    folder = _docs(tmp_path, fr=FRENCH, en=ENGLISH)
    with KnowledgeBase.open(_settings(tmp_path / "idx"), create=True) as kb:
        report = kb.ingest([folder])
        db = kb.index.db
        passages = db.counts()["passages"]
        assert passages >= 2 and db.pivot_count() == passages
        body = db.conn.execute("SELECT body FROM pivot_fts WHERE rowid = (SELECT MIN(id) FROM passages "
                               "WHERE lang = 'fr')").fetchone()[0]
        assert "refugiados" in body and "reconocimiento" in body  # Spanish, not the French text
        assert not any(o.warnings for o in report.outcomes)
        kb.remove(["fr"])
        assert db.pivot_count() == db.counts()["passages"]
        orphans = db.conn.execute("SELECT COUNT(*) FROM pivot_fts_docsize WHERE id NOT IN (SELECT id FROM passages)")
        assert orphans.fetchone()[0] == 0


def test_the_index_records_the_translator_and_its_version(tmp_path):
    _need("fr-es")
    with KnowledgeBase.open(_settings(tmp_path / "idx"), create=True) as kb:
        kb.ingest([_docs(tmp_path, fr=FRENCH)])
        stats = kb.stats()
    record = stats["translation"]["recorded"]
    assert record["pivot"] == "es" and "apertium-fr-es" in record["version"]
    assert any(ch.isdigit() for ch in record["version"])  # a package version, not only a name


def test_a_question_finds_a_passage_in_another_language_by_its_words(tmp_path):
    _need("fr-es", "eng-spa")
    folder = _docs(tmp_path, fr=FRENCH, en=ENGLISH)
    with KnowledgeBase.open(_settings(tmp_path / "idx"), create=True) as kb:
        kb.ingest([folder])
        found = _ranked_langs(kb, QUESTION_EN)
        assert found and found[0][0] == "fr" and "pivot" in found[0][1]
        off = _ranked_langs(kb.with_settings(translate=False), QUESTION_EN)
        assert all(lang != "fr" for lang, _ in off)  # the English words alone miss it


def test_hybrid_search_fuses_the_pivot_list_only_when_weighted_and_only_across_languages(tmp_path):
    _need("fr-es", "eng-spa")
    folder = _docs(tmp_path, fr=FRENCH, en=ENGLISH)
    with KnowledgeBase.open(_settings(tmp_path / "idx"), create=True) as kb:
        kb.ingest([folder])
        default = _ranked_langs(kb, QUESTION_EN, "hybrid")
        assert default and all("pivot" not in scores for _, scores in default)  # pivot_weight 0
        weighted = _ranked_langs(kb.with_settings(pivot_weight=0.6), QUESTION_EN, "hybrid")
        assert any("pivot" in scores for lang, scores in weighted if lang == "fr")
        assert all("pivot" not in scores for lang, scores in weighted if lang == "en")
        dense = _ranked_langs(kb.with_settings(pivot_weight=0.6), QUESTION_EN, "dense")
        assert dense and all("pivot" not in scores for _, scores in dense)  # dense stays the model's alone


def test_german_goes_through_the_dictionary_into_the_pivot(tmp_path):
    _need("eng-spa")
    if not Path("/usr/share/dictd/freedict-deu-eng.index").is_file():
        pytest.skip("FreeDict deu-eng is not installed (Debian: apt-get install dict-freedict-deu-eng)")
    with KnowledgeBase.open(_settings(tmp_path / "idx"), create=True) as kb:
        kb.ingest([_docs(tmp_path, de=GERMAN, en=ENGLISH)])
        found = _ranked_langs(kb, "¿Qué dificultades tienen los refugiados con el reconocimiento de sus cualificaciones?")
    assert found and found[0][0] == "de" and "pivot" in found[0][1]


def test_a_question_translated_word_by_word_gets_no_pivot_list_in_hybrid_search(tmp_path):
    _need("fr-es", "eng-spa")
    if not Path("/usr/share/dictd/freedict-deu-eng.index").is_file():
        pytest.skip("FreeDict deu-eng is not installed (Debian: apt-get install dict-freedict-deu-eng)")
    german = "Welche Schwierigkeiten haben Flüchtlinge bei der Anerkennung ihrer Berufsabschlüsse?"
    spanish = "¿Por qué los empleadores pasan por alto las competencias de los refugiados?"
    with KnowledgeBase.open(_settings(tmp_path / "idx", pivot_weight=0.6), create=True) as kb:
        kb.ingest([_docs(tmp_path, fr=FRENCH, de=GERMAN)])
        hybrid_de = kb.search(german, k=5).hits
        hybrid_es = kb.search(spanish, k=5).hits
        keyword_de = kb.search(german, k=5, mode="keyword").hits
    assert hybrid_de and all("pivot" not in h.extra["scores"] for h in hybrid_de)  # de -> en is a dictionary
    assert any("pivot" in h.extra["scores"] for h in hybrid_es)
    assert any("pivot" in h.extra["scores"] for h in keyword_de)  # keyword mode takes the words


def test_text_the_translator_chokes_on_is_indexed_untranslated_with_a_warning():
    _need("fr-es")
    choking = Translator(timeout=0.001)  # less than a pipeline start: every text times out
    try:
        bodies, warnings = pivot_bodies([FRENCH, "los refugiados"], ["fr", "es"], choking)
    finally:
        choking.close()
    assert "refugies" in bodies[0] and "reconnaissance" in bodies[0]  # its own (folded) words
    assert bodies[1] and "refugiados" in bodies[1]
    assert len(warnings) == 1 and "1 fr passage" in warnings[0] and "own words" in warnings[0]


# -- kb translate ------------------------------------------------------------------------
def test_kb_translate_backfills_an_index_without_re_embedding(tmp_path):
    _need("fr-es", "eng-spa")
    folder = _docs(tmp_path, fr=FRENCH, en=ENGLISH)
    with KnowledgeBase.open(_settings(tmp_path / "idx", translate=False), create=True) as kb:
        kb.ingest([folder])
        db = kb.index.db
        assert db.pivot_count() == 0 and kb.stats()["translation"]["recorded"] is None
        vectors = db.conn.execute("SELECT text_sha, vector FROM embeddings ORDER BY text_sha").fetchall()
        assert all(lang != "fr" for lang, _ in _ranked_langs(kb.with_settings(translate=True), QUESTION_EN))
    with KnowledgeBase.open(_settings(tmp_path / "idx")) as kb:
        report = kb.translate()
        db = kb.index.db
        assert report.translated == db.counts()["passages"] == db.pivot_count()
        assert db.conn.execute("SELECT text_sha, vector FROM embeddings ORDER BY text_sha").fetchall() == vectors
        assert _ranked_langs(kb, QUESTION_EN)[0][0] == "fr"
        assert kb.translate().translated == 0  # nothing left to do
        assert kb.translate(redo=True).translated == db.pivot_count()


# -- the command line, and kb without Apertium -------------------------------------------
def _kb(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-c", "from kb.cli import main; main()", *args],
                          capture_output=True, text=True, env=full, cwd=cwd, timeout=300)


@pytest.mark.slow  # four or five kb processes of their own (the translator is one per process)
def test_without_apertium_kb_works_as_before_and_names_the_packages(tmp_path):
    none = {"KB_APERTIUM_MODES": str(tmp_path / "no-modes"), "KB_DICTD_DIR": str(tmp_path / "no-dictd")}
    index = str(tmp_path / "idx")
    folder = _docs(tmp_path, fr=FRENCH, en=ENGLISH)
    done = _kb("ingest", str(folder), "--index", index, "--model", "test-hash", "--companion", "none", env=none)
    assert done.returncode == 0, done.stderr
    models = _kb("models", env=none)
    assert models.returncode == 0 and "translation for keyword search: off (install the Debian packages:" in models.stdout
    assert "apertium-fr-es" in models.stdout and "dict-freedict-deu-eng" in models.stdout
    stats = _kb("stats", "--index", index, env=none)
    assert "translated none; here: off (install the Debian packages:" in stats.stdout and "apertium-eng-spa" in stats.stdout
    found = _kb("search", QUESTION_EN, "--index", index, "--mode", "keyword", "--json", env=none)
    assert found.returncode == 0, found.stderr
    assert all("pivot" not in r["scores"] for r in json.loads(found.stdout)["results"])
    refused = _kb("translate", "--index", index, env=none)
    assert refused.returncode == 2 and "apertium-fr-es" in refused.stderr


@pytest.mark.slow  # four or five kb processes of their own (the translator is one per process)
def test_kb_translate_command_and_stats_line(tmp_path):
    _need("fr-es", "eng-spa")
    index = str(tmp_path / "idx")
    folder = _docs(tmp_path, fr=FRENCH, en=ENGLISH)
    done = _kb("ingest", str(folder), "--index", index, "--model", "test-hash", "--companion", "none",
               env={"KB_TRANSLATE": "0"})
    assert done.returncode == 0, done.stderr
    before = _kb("stats", "--index", index)
    assert "translated none" in before.stdout and "`kb translate`" in before.stdout
    done = _kb("translate", "--index", index, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["translator"]["pivot"] == "es"
    after = json.loads(_kb("stats", "--index", index, "--json").stdout)
    assert after["translation"]["passages"] == after["passages"] > 0


def test_ingest_reports_passages_left_untranslated(tmp_path):
    _need("fr-es")
    done = _kb("ingest", str(_docs(tmp_path, fr=FRENCH)), "--index", str(tmp_path / "idx"), "--model", "test-hash",
               "--companion", "none", env={"KB_TRANSLATE_TIMEOUT": "0.001"})
    assert done.returncode == 0, done.stderr
    assert "warning" in done.stderr and "could not be translated" in done.stderr
