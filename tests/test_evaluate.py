"""Retrieval metrics on hand-computed rankings, QRELS parsing, and real evaluation runs: the report
on conftest's fast_index (questions that copy their passage's words, which the hashing embedder
finds), and the real model's answers to real questions (slow)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from kb.errors import UsageError
from kb.evaluate import EvalReport, Question, Relevant, evaluate, load_qrels, metrics_for, normalise, render


# -- metrics on toy rankings -------------------------------------------------------------------
def test_first_hit_relevant_is_perfect():
    m = metrics_for([True, False, False], n_relevant=1)
    assert m == {"recall@1": 1.0, "recall@5": 1.0, "recall@10": 1.0, "mrr@10": 1.0, "ndcg@10": 1.0}


def test_relevant_at_rank_three():
    m = metrics_for([False, False, True, False], n_relevant=1)
    assert m["recall@1"] == 0.0 and m["recall@5"] == 1.0 and m["recall@10"] == 1.0
    assert m["mrr@10"] == pytest.approx(1 / 3)
    assert m["ndcg@10"] == pytest.approx(1 / math.log2(4))  # 0.5


def test_relevant_only_below_the_cutoffs():
    ranked = [False] * 10 + [True]
    m = metrics_for(ranked, n_relevant=1)
    assert m == {"recall@1": 0.0, "recall@5": 0.0, "recall@10": 0.0, "mrr@10": 0.0, "ndcg@10": 0.0}


def test_rank_six_counts_for_recall_at_ten_only():
    m = metrics_for([False] * 5 + [True], n_relevant=1)
    assert (m["recall@1"], m["recall@5"], m["recall@10"]) == (0.0, 0.0, 1.0)
    assert m["mrr@10"] == pytest.approx(1 / 6)


def test_recall_is_success_not_fraction():
    # two of four relevant passages retrieved: success@k is still 1, not 0.5
    m = metrics_for([True, False, True], n_relevant=4)
    assert m["recall@5"] == 1.0


def test_ndcg_with_several_relevant_passages():
    # relevant at ranks 1 and 3, three relevant in the index
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    m = metrics_for([True, False, True, False], n_relevant=3)
    assert m["ndcg@10"] == pytest.approx(dcg / idcg)
    assert m["mrr@10"] == 1.0


def test_ideal_is_capped_at_k_and_raised_to_what_was_seen():
    # 20 relevant passages in the index: the ideal top 10 is all relevant
    m = metrics_for([True] * 10, n_relevant=20)
    assert m["ndcg@10"] == pytest.approx(1.0)
    # a stale count smaller than what came back cannot push nDCG above 1
    assert metrics_for([True, True], n_relevant=1)["ndcg@10"] == pytest.approx(1.0)


def test_nothing_relevant_anywhere():
    m = metrics_for([False, False], n_relevant=0)
    assert all(v == 0.0 for v in m.values())
    assert metrics_for([], n_relevant=2)["ndcg@10"] == 0.0


def test_other_cutoff_adds_its_recall_and_renames_mrr():
    m = metrics_for([False, False, False, True], n_relevant=1, k=3)
    assert m["recall@3"] == 0.0 and m["mrr@3"] == 0.0 and m["ndcg@3"] == 0.0
    assert m["recall@5"] == 1.0  # recall cut-offs are measured whatever k is


# -- normalisation and matching ---------------------------------------------------------------
def test_normalise_folds_accents_case_quotes_and_spacing():
    assert normalise("L’Alliance  mondiale\npour la\u00a0mobilité") == normalise("l'alliance mondiale pour la mobilite")
    assert normalise("Obstacles à l’admission :") == "obstacles a l'admission:"
    assert normalise("pro\u00adtection") == "protection"


def test_relevant_matches_text_within_document():
    entry = Relevant(text="Talent Beyond Boundaries", doc="000_563")
    text = normalise("L’OIM et son partenaire Talent Beyond\nBoundaries reproduisent")
    assert entry.matches("p1", text, "corpus/000_56388bd38537218d.txt")
    assert not entry.matches("p1", text, "corpus/other.txt")
    assert Relevant(passage_id="abc").matches("abc", "", "")
    assert not Relevant(passage_id="abc").matches("abd", text, "")


def test_load_qrels_validates(tmp_path: Path):
    good = tmp_path / "q.jsonl"
    good.write_text(json.dumps({"id": "a", "query": "x", "lang": "en", "relevant": [{"text": "y"}]}) + "\n\n")
    (question,) = load_qrels(good)
    assert question == Question("a", "x", "en", "", (Relevant(text="y"),))
    for bad in ({"id": "a", "query": "x"}, {"id": "a", "query": "", "relevant": [{"text": "y"}]},
                {"id": "a", "query": "x", "relevant": [{"doc": "only"}]},
                {"id": "a", "query": "x", "relevant": [{"txt": "typo"}]}):
        path = tmp_path / "bad.jsonl"
        path.write_text(json.dumps(bad) + "\n")
        with pytest.raises(UsageError, match="line 1"):
            load_qrels(path)
    dup = tmp_path / "dup.jsonl"
    line = json.dumps({"id": "a", "query": "x", "relevant": [{"text": "y"}]})
    dup.write_text(line + "\n" + line + "\n")
    with pytest.raises(UsageError, match="duplicate"):
        load_qrels(dup)
    with pytest.raises(UsageError, match="cannot read"):
        load_qrels(tmp_path / "missing.jsonl")


# -- a real run on the small index --------------------------------------------------------------
QRELS = [
    {"id": "tbb", "lang": "en", "topic": "pilots",
     "query": "Which organisation does IOM partner with to replicate skills-based pathways for displaced people?",
     "relevant": [{"text": "son partenaire Talent Beyond Boundaries reproduisent", "doc": "000_56388bd38537218d"}]},
    {"id": "europass", "lang": "fr", "topic": "skills recognition",
     "query": "Existe-t-il un portefeuille électronique européen des qualifications et compétences ?",
     "relevant": [{"text": "Europass Skills Passport", "doc": "18-SKILLS"},
                  {"text": "passeport de compétences Europass", "doc": "18 - PERFECTIONNEMENT"},
                  {"text": "Pasaporte de Competencias Europass", "doc": "18 DESARROLLO"}]},
    {"id": "la-portability", "lang": "es", "topic": "skills recognition",
     "query": "¿La declaración de Los Ángeles promueve la portabilidad de las prestaciones sociales?",
     "relevant": [{"text": "the portability of social benefits", "doc": "los-angeles-declaration"}]},
    {"id": "absent", "lang": "en", "topic": "control",
     "query": "integration course hours in Germany",
     "relevant": [{"text": "this phrase is in no document of the small index"}]},
]


#: the same kinds of question for the hashing embedder: each query copies words of its passage
QRELS_COPIED = [
    {"id": "tbb", "lang": "fr", "topic": "pilots",
     "query": "L'OIM et son partenaire Talent Beyond Boundaries reproduisent des voies de mobilité",
     "relevant": [{"text": "son partenaire Talent Beyond Boundaries reproduisent", "doc": "000_56388bd38537218d"}]},
    {"id": "europass", "lang": "en", "topic": "skills recognition",
     "query": "the Europass Skills Passport of the European Union",
     "relevant": QRELS[1]["relevant"]},
    {"id": "credentials", "lang": "es", "topic": "skills recognition",
     "query": "mecanismos para verificar las credenciales de los migrantes antes de la partida",
     "relevant": [{"text": "mecanismos para verificar las credenciales", "doc": "18 DESARROLLO"}]},
    QRELS[3],
]


def _check_report(kb, qrels: Path, answered: tuple[str, ...]) -> None:
    report = evaluate(kb, qrels, k=10, mode="hybrid")
    dense = evaluate(kb, qrels, mode="dense")
    assert isinstance(report, EvalReport) and report.mode == "hybrid" and dense.mode == "dense"
    by_id = {r.question.id: r for r in report.results}
    for qid in answered:
        assert by_id[qid].n_relevant >= 1, qid  # the key phrases survive cleaning and chunking
        assert by_id[qid].metrics["recall@10"] == 1.0, (qid, by_id[qid].top)
    assert by_id["europass"].n_relevant >= 3  # one passage per language version
    assert [r.question.id for r in report.unmatched] == ["absent"]
    assert "absent" in [r.question.id for r in report.failures]
    assert report.overall["n"] == 4 and set(report.by_language) == {"en", "fr", "es"}
    assert report.overall["recall@10"] <= 0.75  # the unanswerable question counts as a miss

    data = report.to_dict()
    json.dumps(data)  # serialisable for --json
    assert data["overall"]["n"] == 4 and data["unmatched"] == ["absent"]
    assert {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"} <= set(data["by_language"]["fr"])
    text = render(report)
    assert "overall" in text and "MRR@10" in text and "nDCG@10" in text
    assert "absent" in text  # listed among failures and unmatched questions


def test_evaluate_reports_on_an_index(fast_index, tmp_path: Path):
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    qrels = tmp_path / "qrels.jsonl"
    qrels.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QRELS_COPIED), encoding="utf-8")
    with KnowledgeBase.open(Settings(index_dir=fast_index)) as kb:
        _check_report(kb, qrels, ("tbb", "europass", "credentials"))


@pytest.mark.slow  # the real model answers questions phrased in other words and languages
def test_evaluate_on_a_real_index(small_index, tmp_path: Path):
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    qrels = tmp_path / "qrels.jsonl"
    qrels.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QRELS), encoding="utf-8")
    with KnowledgeBase.open(Settings(index_dir=small_index)) as kb:
        _check_report(kb, qrels, ("tbb", "europass", "la-portability"))


def test_bench_question_set_is_well_formed():
    """The shipped benchmark set parses, has enough questions and languages, and cites documents."""
    path = Path(__file__).resolve().parent.parent / "bench" / "questions.jsonl"
    questions = load_qrels(path)
    assert len(questions) >= 40
    assert len({q.lang for q in questions}) >= 4
    for q in questions:
        assert all(r.text and r.doc for r in q.relevant), q.id
        assert all(len(r.text.split()) <= 12 for r in q.relevant), q.id  # a key phrase, not a passage


def test_versions_count_only_when_asked(fast_index, tmp_path: Path):
    """A question answered by an English passage, asked in Spanish, is shown the Spanish version
    with the English one named beside it: a miss as judged strictly, a hit with --versions."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    with KnowledgeBase.open(Settings(index_dir=fast_index)) as kb:
        query = "mecanismos para verificar las credenciales de los migrantes antes de la partida"
        hit = next((h for h in kb.search(query, k=10).hits
                    if h.passage.lang == "es" and any(t["lang"] == "en" for t in h.extra.get("translations", ()))), None)
        assert hit is not None, "the GCM sheet's Spanish passage with its English version linked"
        english = next(t for t in hit.extra["translations"] if t["lang"] == "en")
        qrels = tmp_path / "qrels.jsonl"
        qrels.write_text(json.dumps({"id": "v", "lang": "es", "query": query,
                                     "relevant": [{"passage_id": english["passage_id"]}]}) + "\n", encoding="utf-8")
        strict = evaluate(kb, qrels)
        counted = evaluate(kb, qrels, versions=True)
    assert strict.results[0].first_rank is None or strict.results[0].first_rank > hit.rank
    assert counted.results[0].first_rank == hit.rank and counted.settings["versions"] is True
