"""One writer, many readers: real `kb ingest`, `kb search` and `kb serve` processes at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import crash_trials as ct  # noqa: E402

from kb.store.lock import WriterLock  # noqa: E402

KB = [sys.executable, "-c", "from kb.cli import main; main()"]
FIRST = ct.FILES[:4]   # the long ingest (about 10 s)
SECOND = ct.FILES[4:]  # what a colleague adds meanwhile
pytestmark = [pytest.mark.slow,  # several kb processes at once, real models
              pytest.mark.skipif(not all(f.is_file() for f in ct.FILES), reason="shared corpus not available")]


class Ingest:
    """A `kb ingest` in the background, with each stderr line time-stamped."""

    def __init__(self, index: Path, files: list[Path], *extra: str) -> None:
        self.proc = subprocess.Popen([*KB, "ingest", *map(str, files), "--index", str(index), "--model", ct.MODEL,
                                      *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                     start_new_session=True)
        self.lines: list[tuple[float, str]] = []
        self.ended: float | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append((time.monotonic(), line))
        self.proc.wait()
        self.ended = time.monotonic()

    def wait(self, timeout: float = 600) -> int:
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=30)
        return self.proc.returncode

    @property
    def stderr(self) -> str:
        return "".join(line for _, line in self.lines)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait_for_lock(index: Path, ingest: Ingest, timeout: float = 120) -> None:
    """Until the writer lock names the ingest's pid (it holds the lock)."""
    lock = index / "writer.lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text(errors="replace").strip() == str(ingest.proc.pid):
            return
        assert ingest.proc.poll() is None, ingest.stderr
        time.sleep(0.05)
    raise AssertionError("the ingest never took the writer lock")


def _complete(index: Path) -> ct.Snapshot:
    snap = ct.snapshot(index)
    assert snap.vectors == snap.rows
    by_doc: dict[str, int] = {}
    for doc, _pid in snap.passages:
        by_doc[doc] = by_doc.get(doc, 0) + 1
    assert by_doc == snap.documents, "every document complete, no orphan passages"
    return snap


def test_second_writer_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = Ingest(index, FIRST)
    assert first.wait() == 0, first.stderr
    with WriterLock(index):  # held by this test process, so the race with a fast first ingest is gone
        started = time.monotonic()
        second = subprocess.run([*KB, "ingest", *map(str, SECOND), "--index", str(index), "--model", ct.MODEL],
                                capture_output=True, text=True, cwd=ROOT, timeout=120)
        took = time.monotonic() - started
    assert second.returncode == 5, (second.returncode, second.stderr)
    message = second.stderr.strip()
    assert "another kb process is writing" in message and "--wait" in message and str(os.getpid()) in message
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert took < 30, f"failing took {took:.1f} s"
    snap = _complete(index)
    assert len(snap.documents) == len(FIRST), "the refused ingest wrote nothing"


def test_second_writer_with_wait_runs_after_the_first(tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = Ingest(index, FIRST)
    second = None
    try:
        _wait_for_lock(index, first)
        second = Ingest(index, SECOND, "--wait")
        assert first.wait() == 0, first.stderr
        assert second.wait() == 0, second.stderr
        assert first.ended is not None
        firsts = [t for t, line in second.lines if line.startswith(("added", "failed"))]
        assert firsts and min(firsts) >= first.ended - 0.5, "the waiting writer did not interleave"
        assert "Traceback" not in first.stderr + second.stderr
    finally:
        first.kill()
        if second:
            second.kill()
    snap = _complete(index)
    assert len(snap.documents) == len(FIRST) + len(SECOND)


def test_ctrl_c_while_waiting_for_the_lock_exits_130_quietly(tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = Ingest(index, FIRST)
    assert first.wait() == 0, first.stderr
    second = None
    try:
        with WriterLock(index):  # held by this test for as long as it takes: the waiter cannot get it
            second = Ingest(index, SECOND, "--wait")
            time.sleep(3)
            assert second.proc.poll() is None, second.stderr
            os.kill(second.proc.pid, signal.SIGINT)
            code = second.wait(timeout=60)
        assert code == 130, (code, second.stderr)
        assert "Traceback" not in second.stderr, second.stderr
    finally:
        if second:
            second.kill()
    assert len(_complete(index).documents) == len(FIRST)


READER = r"""
import json, sys, time
from pathlib import Path
from kb.library import KnowledgeBase
from kb.settings import Settings

index, stop_file, queries = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
out = {"searches": 0, "errors": [], "states": [], "bad_hits": 0, "mismatches": 0}
with KnowledgeBase.open(Settings(index_dir=index)) as kb:   # opened once, like `kb serve`
    conn = kb.index.db.conn
    i = 0
    while True:
        stopping = stop_file.exists()
        try:
            conn.execute("BEGIN")                        # one snapshot per round
            generation = kb.index.db.generation()
            rows = kb.stats()["passages"]
            vectors = kb.index.vectors.count
            docs = {d.doc_id: d.passages for d in kb.documents()}
            result = kb.search(queries[i % len(queries)], k=5)
            for hit in result.hits:
                p = kb.index.db.passage(hit.passage.passage_id)
                if p is None or p.text != hit.passage.text or hit.passage.doc_id not in docs:
                    out["bad_hits"] += 1
            counted = dict(conn.execute("SELECT doc_id, COUNT(*) FROM passages GROUP BY doc_id").fetchall())
            conn.execute("COMMIT")
            if vectors != rows or counted != docs:
                out["mismatches"] += 1
            out["searches"] += 1
            state = [generation, len(docs), rows]
            if not out["states"] or out["states"][-1] != state:
                out["states"].append(state)
        except Exception as err:
            out["errors"].append(f"{type(err).__name__}: {err}")
            try:
                conn.execute("ROLLBACK")
            except Exception:
                pass
        i += 1
        if stopping:
            break
print(json.dumps(out))
"""


def test_readers_keep_answering_during_an_ingest(tmp_path: Path) -> None:
    """A library reader, `kb search` runs and a running `kb serve` during a long ingest: no errors,
    and every answer comes from a whole committed state (old, new, or one in between)."""
    import httpx

    from conftest_api_helpers import start_server

    index = tmp_path / "index"
    base = subprocess.run([*KB, "ingest", str(SECOND[0]), "--index", str(index), "--model", ct.MODEL],
                          capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert base.returncode == 0, base.stderr
    stop = tmp_path / "stop"
    server = start_server(index, tmp_path / "serve.log")
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(index), str(stop), json.dumps(ct.QUERIES)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(2)]
    writer = Ingest(index, FIRST)
    cli_runs: list[subprocess.CompletedProcess] = []

    def cli_searches() -> None:  # `kb search` processes, one after another, while the ingest runs
        while writer.proc.poll() is None:
            cli_runs.append(subprocess.run([*KB, "search", ct.QUERIES[len(cli_runs) % 3], "--json", "--k", "3",
                                            "--index", str(index)], capture_output=True, text=True, cwd=ROOT, timeout=300))

    cli = threading.Thread(target=cli_searches, daemon=True)
    cli.start()
    api = {"ok": 0, "errors": [], "docs": []}
    try:
        with server.client() as client:
            while writer.proc.poll() is None:
                response = client.post("/search", json={"query": ct.QUERIES[api["ok"] % 3], "k": 5})
                health = client.get("/health")
                if response.status_code == 200 and health.status_code == 200 and response.json()["results"]:
                    api["ok"] += 1
                    api["docs"].append(health.json()["documents"])
                else:
                    api["errors"].append((response.status_code, response.text[:200], health.status_code))
            assert writer.wait() == 0, writer.stderr
            final = client.get("/health").json()
    finally:
        stop.write_text("stop")
        writer.kill()
        results = []
        for reader in readers:
            out, err = reader.communicate(timeout=300)
            assert reader.returncode == 0, err[-2000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
        server.stop()
        cli.join(timeout=300)
    assert not api["errors"], api["errors"][:5]
    assert api["ok"] > 0 and api["docs"] == sorted(api["docs"]), "the server's view only moves forward"
    snap = _complete(index)
    assert final["documents"] == len(snap.documents) == 1 + len(FIRST)
    assert cli_runs
    for run in cli_runs:
        assert run.returncode == 0 and json.loads(run.stdout)["results"], run.stderr[-1000:]
    for result in results:
        assert not result["errors"], result["errors"][:5]
        assert result["bad_hits"] == 0 and result["mismatches"] == 0, result
        assert result["searches"] > 0
        generations = [g for g, _, _ in result["states"]]
        assert generations == sorted(generations)
        assert result["states"][-1][1] == 1 + len(FIRST), result["states"]
    seen = sorted({tuple(s) for r in results for s in r["states"]})
    print(f"\nreaders: {sum(r['searches'] for r in results)} library searches, {api['ok']} API searches, "
          f"{len(cli_runs)} `kb search` runs during the ingest, 0 errors; states seen (generation, docs, passages): {seen}")
