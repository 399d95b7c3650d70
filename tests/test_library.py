"""The library end to end on real files: ingest, idempotency, replacement, removal, citations.

Plumbing, not ranking: every index here is built with the hashing embedder (conftest.FAST)."""

from __future__ import annotations

import os
import re
import unicodedata
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from conftest import CORPUS, FAST_MODEL, MISSION, SETUP, SMALL_SET, fast_settings
from kb.errors import IndexMissingError, ModelMismatchError
from kb.library import KnowledgeBase
from kb.settings import Settings


def _norm(text: str) -> str:
    """Compare letters only; NFKC expands the typographic ligatures (ﬁ) the cleaner expands too."""
    return re.sub(r"\W+", "", unicodedata.normalize("NFKC", text)).lower()


def test_search_returns_cited_passages(fast_index):
    with KnowledgeBase.open(Settings(index_dir=fast_index)) as kb:
        result = kb.search("skills recognition barriers for refugees", k=5)
    assert len(result.hits) == 5
    for hit in result.hits:
        c = hit.citation
        assert c.title and c.source and c.doc_id
        assert hit.passage.text.strip()
        assert "\ufffd" not in hit.passage.text
        assert len(hit.passage.text) < 4000  # a passage, never a whole document


def test_mission_paper_paragraph_citations(fast_index):
    with KnowledgeBase.open(Settings(index_dir=fast_index)) as kb:
        doc = next(d for d in kb.documents() if d.source.endswith("000_56388bd38537218d.txt"))
        assert doc.organisation == "IOM" and doc.lang == "fr"  # from corpus/kb-manifest.yaml
        paragraphs = {p.paragraph for p in kb.index.db.passages_of(doc.doc_id)}
    expected = {str(n) for n in range(1, 15)}
    expected |= {f"8 {c})" for c in "abcd"} | {f"13 {c})" for c in "abcde"} | {"14 a)", "14 b)"}
    assert expected <= paragraphs, sorted(expected - paragraphs)


def test_pdf_passage_is_on_the_page_it_cites(fast_index):
    path = SMALL_SET[0]
    pages = [_norm(p.extract_text()) for p in PdfReader(path).pages]
    with KnowledgeBase.open(Settings(index_dir=fast_index)) as kb:
        doc = next(d for d in kb.documents() if d.source.endswith(path.name))
        passages = kb.index.db.passages_of(doc.doc_id)
    assert passages
    for p in passages:
        assert p.page_start is not None and p.page_end is not None
        cited = "".join(pages[p.page_start - 1 : p.page_end])
        # every 40-character stretch of the passage is on the cited pages (hyphens rejoined aside)
        text = _norm(re.sub(r"^[a-z]\. ", "", p.text))  # a list letter the PDF stores apart, put back by kb
        probes = [text[i : i + 40] for i in range(0, max(1, len(text) - 40), 97)]
        found = sum(1 for probe in probes if probe in cited)
        assert found >= 0.9 * len(probes), (p.passage_id, p.page_start, p.text[:200])


def test_ingest_twice_changes_nothing(work_copy, tmp_path):
    settings = fast_settings(tmp_path / "idx")
    with KnowledgeBase.open(settings, create=True) as kb:
        first = kb.ingest([work_copy])
        assert first.count("added") == 2 and not first.failed
        before = {p.passage_id: p.text for d in kb.documents() for p in kb.index.db.passages_of(d.doc_id)}
        generation = kb.index.db.generation()
        second = kb.ingest([work_copy])
        assert second.count("unchanged") == 2 and second.count("added") == 0
        assert second.embedded == 0
        assert kb.index.db.generation() == generation
        after = {p.passage_id: p.text for d in kb.documents() for p in kb.index.db.passages_of(d.doc_id)}
    assert before == after


def test_changed_file_replaces_its_passages(work_copy, tmp_path):
    settings = fast_settings(tmp_path / "idx")
    target = work_copy / "mission.txt"
    with KnowledgeBase.open(settings, create=True) as kb:
        kb.ingest([work_copy])
        old_count = kb.stats()["passages"]
        text = target.read_text(encoding="utf-8")
        target.write_text(text + "\n\n15. Un paragraphe ajouté sur les corridors de mobilité de la main-d'œuvre "
                          "pour les réfugiés qualifiés, avec un partenariat entre employeurs et agences.\n", encoding="utf-8")
        report = kb.ingest([work_copy])
        assert report.count("replaced") == 1 and report.count("unchanged") == 1
        assert report.embedded <= 3  # only the changed passages are embedded again
        doc = next(d for d in kb.documents() if d.source.endswith("mission.txt"))
        passages = kb.index.db.passages_of(doc.doc_id)
        assert any(p.paragraph == "15" for p in passages)
        assert kb.stats()["passages"] >= old_count
        assert kb.index.vectors.count == kb.stats()["passages"]
        hits = kb.search("corridors de mobilité partenariat employeurs agences", k=3, doc_ids=[doc.doc_id])
        assert hits.hits[0].passage.paragraph == "15"


def test_remove_document(work_copy, tmp_path):
    settings = fast_settings(tmp_path / "idx", **SETUP)  # ingestion is not what is tested
    with KnowledgeBase.open(settings, create=True) as kb:
        kb.ingest([work_copy])
        doc = next(d for d in kb.documents() if d.source.endswith("aap.pdf"))
        assert kb.remove([doc.doc_id]) == [doc.doc_id]
        assert [d.doc_id for d in kb.documents()] != [] and doc.doc_id not in {d.doc_id for d in kb.documents()}
        assert kb.index.vectors.count == kb.stats()["passages"]
        assert all(h.passage.doc_id != doc.doc_id for h in kb.search("accountability to affected populations", k=10).hits)
    # a fresh process sees the same thing from disk
    with KnowledgeBase.open(settings) as kb:
        assert kb.index.vectors.count == kb.stats()["passages"]


def test_model_mismatch_is_refused_and_changes_nothing(work_copy, tmp_path):
    settings = fast_settings(tmp_path / "idx", **SETUP)  # ingestion is not what is tested
    with KnowledgeBase.open(settings, create=True) as kb:
        kb.ingest([work_copy / "mission.txt"])
    before = {f.name: f.stat().st_mtime_ns for f in settings.index_dir.iterdir()}
    with pytest.raises(ModelMismatchError, match=f"built with model '{FAST_MODEL}'"):
        KnowledgeBase.open(Settings(index_dir=settings.index_dir, model="usem3"), create=True)
    after = {f.name: f.stat().st_mtime_ns for f in settings.index_dir.iterdir() if not f.name.endswith(("-wal", "-shm"))}
    assert {k: v for k, v in before.items() if not k.endswith(("-wal", "-shm"))} == after


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexMissingError, match="kb ingest"):
        KnowledgeBase.open(Settings(index_dir=tmp_path / "nothing"))


def test_image_only_pdf_is_reported_and_the_rest_goes_in(tmp_path):
    with KnowledgeBase.open(fast_settings(tmp_path / "idx"), create=True) as kb:
        report = kb.ingest([CORPUS / "edge" / "AMI_REFUGIE_INFO.pdf", MISSION])
    assert report.count("added") == 1
    (failure,) = report.failed
    assert failure.path.endswith("AMI_REFUGIE_INFO.pdf") and "OCR" in failure.reason


def test_batch_queries_keep_order_and_ids(fast_index, tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "a", "query": "reconnaissance des qualifications"}\n'
                       '{"id": 7, "query": "recruitment fees", "k": 2}\n'
                       '{"id": "bad", "query": ""}\n', encoding="utf-8")
    with KnowledgeBase.open(Settings(index_dir=fast_index)) as kb:
        out = list(kb.search_file(queries))
    assert [o["id"] for o in out] == ["a", 7, "bad"]
    assert len(out[1]["results"]) == 2 and "error" in out[2]


def test_files_with_the_same_slug_get_distinct_ids(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    long = "2022-06-10-declaration-de-los-angeles-sur-les-migrations-et-la-protection"
    shutil.copy(CORPUS / "fr" / f"{long}.md", folder / f"{long}.md")
    shutil.copy(MISSION, folder / f"{long}-mesures-a-prendre.txt")
    with KnowledgeBase.open(fast_settings(tmp_path / "idx", workers=1), create=True) as kb:
        report = kb.ingest([folder])
        assert report.count("added") == 2
        assert len({d.doc_id for d in kb.documents()}) == 2


def test_a_reader_catches_up_with_another_writer(work_copy, tmp_path):
    settings = fast_settings(tmp_path / "idx", **SETUP)  # ingestion is not what is tested
    with KnowledgeBase.open(settings, create=True) as writer:
        writer.ingest([work_copy / "mission.txt"])
    reader = KnowledgeBase.open(settings)
    before = reader.index.vectors.count
    with KnowledgeBase.open(settings) as writer:
        writer.ingest([work_copy / "aap.pdf"])
        doc = next(d for d in writer.documents() if d.source.endswith("aap.pdf"))
        writer.remove(["mission"] if writer.document("mission") else [])
    # the reader applies only the logged changes, and ends where a fresh open would
    assert reader.index.db.changes_since(reader.index._main._generation) is not None
    assert reader.index.vectors.count == reader.stats()["passages"] == doc.passages
    assert reader.index.vectors.count != before
    hits = reader.search("accountability to affected populations", k=3).hits
    assert hits and all(h.passage.doc_id == doc.doc_id for h in hits)
    reader.close()
