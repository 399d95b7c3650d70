"""`kb snapshot DEST`: a consistent copy of an index, searchable as it is, even mid-ingest."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT, kb_cli

KB = [sys.executable, "-c", "from kb.cli import main; main()"]
FAST = ["--model", "test-hash", "--companion", "none"]


def kb(*args: object, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([*KB, *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def check_consistent(index: Path) -> dict[str, int]:
    """Problems raise; returns the snapshot's generation, documents and passages."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings
    from kb.store.vectors import VectorIndex

    con = sqlite3.connect(f"file:{index / 'kb.sqlite'}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        generation = int(con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
        dim = int(con.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone()[0])
        partial = con.execute(
            "SELECT d.doc_id, d.passages, COUNT(p.id) FROM documents d LEFT JOIN passages p ON p.doc_id = d.doc_id "
            "GROUP BY d.doc_id HAVING d.passages != COUNT(p.id)").fetchall()
        assert not partial, f"documents not whole: {partial}"
        orphans = con.execute("SELECT COUNT(*) FROM passages WHERE doc_id NOT IN (SELECT doc_id FROM documents)").fetchone()[0]
        unvectored = con.execute("SELECT COUNT(*) FROM passages p LEFT JOIN embeddings e ON e.text_sha = p.text_sha "
                                 "WHERE e.text_sha IS NULL").fetchone()[0]
        assert orphans == unvectored == 0
        documents = con.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        passages = con.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        texts = dict(con.execute("SELECT passage_id, text FROM passages"))
    finally:
        con.close()
    stamp = json.loads((index / "vectors.json").read_text())
    assert stamp["generation"] == generation and (index / stamp["file"]).is_file()
    on_disk = VectorIndex.load(index, dim, generation)  # the FAISS file of the same generation, as it is
    assert on_disk is not None and on_disk.count == passages
    assert not list(index.parent.glob(f".{index.name}.snapshot-*")), "work folder left behind"
    with KnowledgeBase.open(Settings(index_dir=index)) as base:
        for hit in base.search("recognition of skills and qualifications", k=5, mode="dense").hits:
            assert texts[hit.passage.passage_id] == hit.passage.text
    return {"generation": generation, "documents": documents, "passages": passages}


def test_a_snapshot_is_the_index_searchable_as_it_is(tmp_path: Path, fast_index_copy: Path) -> None:
    index = fast_index_copy  # kb runs in this process (conftest.kb_cli); a copy of the session index
    done = kb_cli("snapshot", tmp_path / "replica", "--index", index, "--json")
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    mode = sqlite3.connect(tmp_path / "replica" / "kb.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "delete"  # as written: a replica can open it in a folder it may not write
    held = check_consistent(tmp_path / "replica")
    assert held["passages"] == made["passages"] > 0 and held["generation"] == made["generation"]
    same = kb_cli("search", "skills", "--index", tmp_path / "replica", "--json", "--k", "3")
    orig = kb_cli("search", "skills", "--index", index, "--json", "--k", "3")
    assert json.loads(same.stdout)["results"] == json.loads(orig.stdout)["results"]


def test_snapshot_refuses_an_occupied_folder_and_a_missing_index(tmp_path: Path, fast_index_copy: Path) -> None:
    index = fast_index_copy
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    occupied = kb_cli("snapshot", tmp_path / "taken", "--index", index)
    assert occupied.returncode == 2 and "not an empty folder" in occupied.stderr
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    missing = kb_cli("snapshot", tmp_path / "copy", "--index", tmp_path / "nothing")
    assert missing.returncode == 4 and not (tmp_path / "copy").exists()
    (tmp_path / "empty").mkdir()
    assert kb_cli("snapshot", tmp_path / "empty", "--index", index).returncode == 0  # an empty folder will do


@pytest.mark.slow
def test_snapshots_taken_during_an_ingest_are_each_consistent(tmp_path: Path) -> None:
    """Snapshots while `kb ingest` commits document after document to an index that has a FAISS
    snapshot of an older generation: each copy brings it to its own generation."""
    index = tmp_path / "index"
    assert kb("ingest", ROOT / "corpus", CORPUS / "de", "--index", index, *FAST).returncode == 0
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    ingest = subprocess.Popen([*KB, "ingest", str(CORPUS / "fr"), str(CORPUS / "es"), "--index", str(index), *FAST,
                               "--workers", "1"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    taken: list[dict[str, int]] = []
    copied = 0
    try:
        number = 0
        while ingest.poll() is None and number < 40:
            if (index / "kb.sqlite").exists():
                number += 1
                done = kb("snapshot", tmp_path / f"snap{number}", "--index", index, "--json")
                assert done.returncode == 0, done.stderr
                copied += bool(json.loads(done.stdout)["faiss_copied_at"])
                taken.append(check_consistent(tmp_path / f"snap{number}"))
            else:
                time.sleep(0.1)
        _, err = ingest.communicate(timeout=600)
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
    assert ingest.returncode == 0, err
    final = check_consistent(index)
    mid = [t for t in taken if 3 < t["documents"] < final["documents"]]
    assert len(mid) >= 2, taken  # really taken while the ingest ran
    assert copied >= 2  # from the writer's older FAISS file, not rebuilt
    assert [t["generation"] for t in taken] == sorted(t["generation"] for t in taken)
