"""`kb serve --workers N`: several processes over one read-only index, each following ingests.

In-process tests pin the two rules a serving process keeps (kb/store/readers.py): one
SQLite connection per thread, and the FAISS snapshot memory-mapped whenever it is of the
current generation. The server tests run the real command on a loopback port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import CORPUS, ROOT
from conftest_api_helpers import free_port

KB = [sys.executable, "-c", "from kb.cli import main; main()"]
FAST = ["--model", "test-hash", "--companion", "none"]
#: a word only the late file has
LATE = CORPUS / "pt" / "2022-06-10-declaracao-de-los-angeles-sobre-migracao-e-protecao.md"


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("KB_INDEX", "KB_API_KEY")}
    out.update(HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return out


def kb(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([*KB, *map(str, args)], cwd=ROOT, env=env(), capture_output=True, text=True, timeout=600)


@pytest.fixture
def index(fast_index_copy: Path) -> Path:
    """A private copy of conftest's fast_index (real files, the hashing embedder)."""
    return fast_index_copy


# -- in process ----------------------------------------------------------------------------------
def test_each_thread_reads_through_its_own_connection(index: Path) -> None:
    from kb.store.readers import ThreadDatabase

    db = ThreadDatabase(index)
    seen: dict[str, object] = {}

    def read(name: str) -> None:
        seen[name] = db.conn
        assert db.counts()["documents"] > 0

    threads = [threading.Thread(target=read, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    read("main")
    assert len({id(c) for c in seen.values()}) == 5 and db.conn is seen["main"]
    assert not db.writable
    db.close()


def test_serving_maps_the_writers_snapshot_and_follows_changes(index: Path) -> None:
    from kb.library import KnowledgeBase
    from kb.serving import ServingIndex
    from kb.settings import Settings

    settings = Settings(index_dir=index)
    reader = KnowledgeBase(settings, ServingIndex.open(settings))
    writer = KnowledgeBase.open(settings)
    try:
        vectors = reader.index.vectors
        assert vectors.mapped and vectors.count == reader.index.db.counts()["passages"]
        with pytest.raises(RuntimeError):  # a mapped index is never written (FAISS would abort)
            vectors.remove([1])
        gone = writer.documents()[0].doc_id
        writer.index.db.remove_document(gone)  # committed, FAISS not saved yet
        caught_up = reader.index.vectors
        assert not caught_up.mapped and caught_up.count == reader.index.db.counts()["passages"]
        assert all(h.passage.doc_id != gone for h in reader.search("Migration", k=20, mode="dense").hits)
        writer.index.save()  # the writer's snapshot of this generation: mapped again
        again = reader.index.vectors
        assert again.mapped and again.count == caught_up.count
    finally:
        reader.close()
        writer.close()


# -- the server ------------------------------------------------------------------------------------
class Workers:
    def __init__(self, index: Path, count: int, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen([*KB, "serve", "--index", str(index), "--port", str(self.port),
                                             "--workers", str(count), "--log-level", "warning"],
                                            cwd=ROOT, env=env(), stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while "with %d worker" % count not in log.read_text(errors="replace"):
            assert self.process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)

    def ask(self, method: str, path: str, **kw) -> httpx.Response:
        """On a new connection each time, so that any worker may answer."""
        return httpx.request(method, self.url + path, timeout=60, headers={"Connection": "close"}, **kw)

    def children(self) -> list[int]:
        """The worker processes (not multiprocessing's resource tracker)."""
        out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(self.process.pid)], capture_output=True, text=True)
        return [int(line.split()[0]) for line in out.stdout.splitlines() if "multiprocessing.spawn" in line]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def answered_by_every_worker(server: Workers, workers: set[int], check, timeout: float = 120) -> None:
    """Ask until each worker has answered with ``check(response)`` true."""
    done: set[int] = set()
    deadline = time.monotonic() + timeout
    while done != workers:
        assert time.monotonic() < deadline, f"only workers {done} of {workers} answered as expected"
        response = server.ask("POST", "/search", json={"query": "Migração", "k": 10, "filters": {"lang": ["pt"]}})
        if check(response):
            done.add(int(response.headers["x-kb-worker"]))


@pytest.mark.slow
def test_workers_share_the_index_and_each_reloads_after_an_ingest(index: Path, tmp_path: Path) -> None:
    server = Workers(index, 2, tmp_path / "serve.log")
    try:
        workers = set(server.children())
        assert len(workers) == 2
        for pid in workers:  # the FAISS file is mapped, not read into each worker
            maps = Path(f"/proc/{pid}/maps").read_text()
            assert "vectors-" in maps and ".faiss" in maps
        answered_by_every_worker(server, workers, lambda r: r.status_code == 404)  # no passage in Portuguese yet
        added = kb("ingest", LATE, "--index", index, *FAST)  # another process writes meanwhile
        assert added.returncode == 0, added.stderr
        answered_by_every_worker(
            server, workers, lambda r: r.status_code == 200 and any(h["lang"] == "pt" for h in r.json()["results"]))
        health = {int(r.headers["x-kb-worker"]): r.json()["generation"]
                  for r in (server.ask("GET", "/health") for _ in range(20))}
        assert len(set(health.values())) == 1
    finally:
        server.stop()
    assert server.process.returncode == 0, server.log.read_text()
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "a worker outlived the server"


@pytest.mark.slow
def test_a_dead_worker_is_replaced_and_the_server_keeps_answering(index: Path, tmp_path: Path) -> None:
    server = Workers(index, 2, tmp_path / "serve.log")
    try:
        first = server.children()
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 300
        while not (len(server.children()) == 2 and first[0] not in server.children()):
            assert time.monotonic() < deadline, server.log.read_text()
            assert server.ask("GET", "/health").status_code == 200  # the other worker answers meanwhile
            time.sleep(0.5)
        while "restarting" not in server.log.read_text() or len(
                {server.ask("GET", "/health").headers["x-kb-worker"] for _ in range(30)}) < 2:
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.5)
    finally:
        server.stop()


def test_workers_refuse_a_missing_index_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run([*KB, "serve", "--index", str(tmp_path / "none"), "--port", str(free_port()),
                           "--workers", "2"], cwd=ROOT, env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 4 and done.stderr.strip().count("\n") == 0 and "no index" in done.stderr
