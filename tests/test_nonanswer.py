"""Headings and passages that are questions are demoted in dense results (kb/search/nonanswer.py),
on a real evaluation brief, the real interview guide of the same evaluation and the real model
(slow); a keyword search and the rules themselves need no model."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import CORPUS, SETUP, fast_settings
from kb.errors import UsageError
from kb.library import KnowledgeBase
from kb.search.nonanswer import is_fragment, non_answer, question_share
from kb.settings import Settings

BRIEF = CORPUS / "fr" / "CS1137-CS1138_Evaluation Brief_Javier SANCHEZ MARTI.pdf"
#: questions of the evaluation's interview guides under the project's title, as its inception
#: report writes them (pp. 45-54); the report itself is 441 passages, too long to embed in a test
GUIDE = """# Renforcement du dialogue binational entre Haïti et la République dominicaine pour promouvoir la cohésion sociale dans la zone frontalière

## Guides d'entretien

34. Quelles sont les principales leçons apprises de la mise en œuvre du projet ?

36. Quels aspects du projet gagneraient à être améliorés dans de futures interventions ?

31. Quelles sont les principales leçons apprises de la mise en œuvre du projet ?

32. Quels aspects du projet gagneraient à être améliorés dans une future phase ou dans des initiatives similaires ?

38. Quelles sont les principales leçons apprises de la mise en œuvre du projet ?

28. Quelles sont les principales leçons apprises de ce projet ?

29. Quels aspects du projet gagneraient à être améliorés pour une future phase ou des initiatives similaires ?

30. Quels conseils donneriez-vous aux agences et aux partenaires pour maximiser l’impact des projets de consolidation de la paix financés par le PBF ?
"""
QUESTION = "Lessons learned from the Haiti–Dominican Republic cross-border dialogue project"


def _brief_and_guide(folder: Path, settings: Settings) -> Path:
    shutil.copy(BRIEF, folder / "brief.pdf")
    (folder / "guide-entretien.md").write_text(GUIDE, encoding="utf-8")
    with KnowledgeBase.open(settings, create=True) as kb:
        report = kb.ingest([str(folder / "brief.pdf"), str(folder / "guide-entretien.md")])
        assert not report.failed, report.failed
    return settings.index_dir


@pytest.fixture(scope="module")
def brief_and_guide(tmp_path_factory) -> Path:
    """The brief and the guide embedded with the default model."""
    folder = tmp_path_factory.mktemp("haiti")
    return _brief_and_guide(folder, Settings(index_dir=folder / "index"))


@pytest.fixture(scope="module")
def brief_and_guide_fast(tmp_path_factory) -> Path:
    """The same with the hashing embedder, for searches that do not rank by meaning."""
    folder = tmp_path_factory.mktemp("haiti-fast")
    return _brief_and_guide(folder, fast_settings(folder / "index", **SETUP))


def _top(index: Path, penalty: float, mode: str, k: int = 5):
    settings = replace(Settings(index_dir=index), non_answer_penalty=penalty)
    with KnowledgeBase.open(settings) as kb:
        return kb.search(QUESTION, k=k, mode=mode).hits


@pytest.mark.slow  # ranking by meaning: the real model's
def test_the_interview_guide_outranks_the_lessons_without_the_demotion(brief_and_guide):
    """The reason for the setting: the guide's questions are phrased like the user's."""
    hits = _top(brief_and_guide, 0.0, "dense")
    assert Path(hits[0].citation.source).name == "guide-entretien.md", [h.passage.text[:60] for h in hits]


@pytest.mark.slow  # ranking by meaning: the real model's
@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_with_the_default_the_brief_answers_first(brief_and_guide, mode):
    assert Settings().non_answer_penalty > 0
    hits = _top(brief_and_guide, Settings().non_answer_penalty, mode)
    assert Path(hits[0].citation.source).name == "brief.pdf", [h.passage.text[:60] for h in hits]
    assert not non_answer(hits[0].passage.text)


def test_a_search_for_the_questions_by_their_words_still_finds_them(brief_and_guide_fast):
    with KnowledgeBase.open(Settings(index_dir=brief_and_guide_fast)) as kb:
        hits = kb.search("leçons apprises", k=3, mode="keyword").hits
    assert hits and Path(hits[0].citation.source).name == "guide-entretien.md"


@pytest.mark.parametrize("text", [
    "Preguntas orientativas 111", "TOOL 10", "Capítulo adicionado DOF 30-10-2014",
    "› › › › › Seguimiento, evaluación y examen", "EXAMEN\n\nPreguntas orientativas 167",
])
def test_page_furniture_is_a_fragment(text):
    assert is_fragment(text) and non_answer(text)


@pytest.mark.parametrize("text", [
    "VI. Recibir asesoría legal.",  # a short legal item is a sentence
    "(1) Dem Antrag sind folgende Unterlagen beizufügen:",  # a list's lead-in
    "(3) The Commissioner shall put in place —",
    "How long is an asylum seeker pass valid? It is valid for ninety days and may be renewed.",  # a FAQ
])
def test_sentences_lead_ins_and_answered_questions_are_kept(text):
    assert not non_answer(text)


def test_a_numbered_question_is_a_question():
    text = "32. Quelles sont les principales leçons apprises de la mise en œuvre du projet ?"
    assert question_share(text) == 1.0 and non_answer(text)


def test_the_penalty_and_keyword_weight_are_set_by_environment(monkeypatch):
    monkeypatch.setenv("KB_NON_ANSWER_PENALTY", "0")
    monkeypatch.setenv("KB_KEYWORD_WEIGHT", "0.1")
    settings = Settings.from_env()
    assert settings.non_answer_penalty == 0.0 and settings.keyword_weight == 0.1
    monkeypatch.setenv("KB_NON_ANSWER_PENALTY", "a lot")
    with pytest.raises(UsageError, match="KB_NON_ANSWER_PENALTY"):
        Settings.from_env()
