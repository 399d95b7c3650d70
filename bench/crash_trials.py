"""Crash-safety trials: SIGKILL `kb ingest` at random moments, then check and recover the index.

    .venv/bin/python bench/crash_trials.py [--trials 20] [--seed 7] [--json]

Each trial starts `kb ingest` of several real PDFs into a fresh index (or, in the
"replace" trials, into an index that holds older versions of the same documents, which
the ingest replaces one by one) and kills it with
SIGKILL at a random moment: half the trials at a uniformly random time of a clean
build's duration, half right after the n-th document is reported committed (plus a few
milliseconds of jitter, to land inside the next commit or the final snapshot). Half the
kills hit the whole process group (the machine dies), half only the main process (a
`kill -9 PID`, leaving its extraction worker behind). Then:

1. the index opens (``KnowledgeBase.open``), its FAISS vector count equals its passage
   rows, every document in it is complete and identical to the clean build's (or, when
   replacing, to its previous version; none missing), and
   dense and keyword searches answer with passages of those documents only;
2. a re-run of the same `kb ingest` exits 0 and leaves exactly the clean build's content
   (the set of (doc_id, passage_id, text), the documents and the vector count).

A trial is "consistent" when both hold. Prints "N/N consistent" and the details.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = Path(os.environ.get("KB_SHARED_CORPUS", ROOT.parent / "shared" / "corpus"))
KB = [sys.executable, "-c", "from kb.cli import main; main()"]

#: six small real PDFs (about 100 passages in three languages): one ingest takes seconds
FILES = [
    CORPUS / "fr" / "CS1137-CS1138_Evaluation Brief_Javier SANCHEZ MARTI.pdf",
    CORPUS / "en" / "AAP_EN_Evaluation Brief_final_0.pdf",
    CORPUS / "en" / "6-RECRUITMENT AND DECENT WORK.pdf",
    CORPUS / "en" / "5-REGULAR PATHWAYS.pdf",
    CORPUS / "en" / "16-INCLUSION AND SOCIAL COHESION.pdf",
    CORPUS / "es" / "5 VIAS DE MIGRACION REGULAR.pdf",
]
QUERIES = ["recognition of skills and qualifications", "migración regular", "évaluation du projet"]


@dataclass
class Snapshot:
    """What an index holds, in comparable form."""

    passages: dict[tuple[str, str], str]  # (doc_id, passage_id) -> text
    documents: dict[str, int]  # doc_id -> passages it says it has
    vectors: int
    rows: int

    def content(self) -> set[tuple[str, str, str]]:
        return {(d, p, t) for (d, p), t in self.passages.items()}


@dataclass
class Trial:
    number: int
    how: str
    target: str
    planned: float
    killed_at: float | None = None
    finished_before_kill: bool = False
    docs_after_kill: int = 0
    rows_after_kill: int = 0
    vectors_after_kill: int = 0
    problems: list[str] = field(default_factory=list)
    rerun_exit: int | None = None
    rerun_seconds: float = 0.0
    leftovers: list[str] = field(default_factory=list)
    orphans: int = 0

    @property
    def consistent(self) -> bool:
        return not self.problems


def snapshot(index_dir: Path) -> Snapshot:
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    with KnowledgeBase.open(Settings(index_dir=index_dir)) as kb:
        db = kb.index.db
        passages = {(r["doc_id"], r["passage_id"]): r["text"] for r in db.conn.execute("SELECT doc_id, passage_id, text FROM passages")}
        documents = {d.doc_id: d.passages for d in kb.documents()}
        return Snapshot(passages, documents, kb.index.vectors.count, kb.stats()["passages"])


def check_after_kill(index_dir: Path, reference: Snapshot, older: Snapshot | None = None) -> tuple[list[str], Snapshot | None]:
    """Problems found in an index right after a kill (an empty list: consistent).

    Every document in it must be whole and equal to its version in ``reference`` (the
    clean build of the files being ingested) or, when the ingest was replacing documents,
    in ``older`` (the index before the ingest), none of whose documents may be missing.
    """
    from kb.library import KnowledgeBase
    from kb.settings import Settings
    from kb.store.vectors import STAMP_NAME

    problems: list[str] = []
    if not (index_dir / "kb.sqlite").exists():
        return problems, None  # killed before the index was created: nothing to check
    try:
        snap = snapshot(index_dir)
    except Exception as err:  # noqa: BLE001 - the point is to report it
        return [f"index does not open: {type(err).__name__}: {err}"], None
    if snap.vectors != snap.rows:
        problems.append(f"FAISS has {snap.vectors} vectors for {snap.rows} passage rows")
    versions: dict[str, list[dict[str, str]]] = {}
    for ref in (reference, older):
        if ref is None:
            continue
        per_doc: dict[str, dict[str, str]] = {}
        for (doc, pid), text in ref.passages.items():
            per_doc.setdefault(doc, {})[pid] = text
        for doc, passages in per_doc.items():
            versions.setdefault(doc, []).append(passages)
    got_docs: dict[str, dict[str, str]] = {}
    for (doc, pid), text in snap.passages.items():
        got_docs.setdefault(doc, {})[pid] = text
    for doc, count in snap.documents.items():
        if doc not in versions:
            problems.append(f"unknown document {doc}")
        elif got_docs.get(doc, {}) not in versions[doc] or count != len(got_docs.get(doc, {})):
            problems.append(f"document {doc} is partial or mixed ({len(got_docs.get(doc, {}))} passages, "
                            f"expected one of {[len(v) for v in versions[doc]]})")
    if older is not None:
        lost = set(older.documents) - set(snap.documents)
        if lost:
            problems.append(f"documents that were in before the ingest are gone: {sorted(lost)}")
    orphans = set(got_docs) - set(snap.documents)
    if orphans:
        problems.append(f"passages without a document: {sorted(orphans)}")
    # the snapshot on disk, when it claims to be current, must match the rows
    stamp_path = index_dir / STAMP_NAME
    if stamp_path.exists():
        try:
            stamp = json.loads(stamp_path.read_text())
            if not (index_dir / stamp["file"]).exists():
                problems.append(f"vectors.json points to a missing {stamp['file']}")
        except (ValueError, KeyError) as err:
            problems.append(f"vectors.json unreadable: {err}")
    # searches answer, with committed passages only
    try:
        with KnowledgeBase.open(Settings(index_dir=index_dir)) as kb:
            for query in QUERIES:
                for mode in ("dense", "keyword", "hybrid"):
                    hits = kb.search(query, k=5, mode=mode).hits
                    if snap.rows and mode == "dense" and not hits:
                        problems.append(f"dense search {query!r} found nothing in {snap.rows} passages")
                    for hit in hits:
                        key = (hit.passage.doc_id, hit.passage.passage_id)
                        if snap.passages.get(key) != hit.passage.text:
                            problems.append(f"search returned {key} which is not a committed passage")
    except Exception as err:  # noqa: BLE001
        problems.append(f"search failed: {type(err).__name__}: {err}")
    return problems, snap


def leftovers(index_dir: Path) -> list[str]:
    """Temporary files a killed writer left behind (harmless, but they pile up)."""
    return sorted(p.name for p in index_dir.glob(".*.tmp")) if index_dir.exists() else []


#: crash safety is about storage, not the model: the fastest one keeps trials short
MODEL = "usem3"


def _ingest_cmd(index_dir: Path, files: list[Path]) -> list[str]:
    return [*KB, "ingest", *map(str, files), "--index", str(index_dir), "--model", MODEL]


def clean_build(work: Path, files: list[Path], name: str = "clean") -> tuple[Snapshot, float, list[float]]:
    """The reference: one uninterrupted ingest; also when each document was reported done."""
    index_dir = work / name
    started = time.perf_counter()
    proc = subprocess.Popen(_ingest_cmd(index_dir, files), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    marks: list[float] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith(("added", "replaced")):
            marks.append(time.perf_counter() - started)
    proc.wait()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"clean build failed with exit {proc.returncode}")
    return snapshot(index_dir), seconds, marks


def _kill(proc: subprocess.Popen, target: str) -> None:
    try:
        if target == "group":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _reap_group(pgid: int) -> None:
    """Kill what is left of a trial's process group (orphaned workers), so trials stay independent."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_trial(number: int, rng: random.Random, work: Path, files: list[Path], reference: Snapshot,
              clean_seconds: float, marks: list[float], rerun_timeout: float = 900,
              start_from: Path | None = None, older: Snapshot | None = None) -> Trial:
    """One kill-check-recover cycle. ``start_from``: an index to copy first (its documents are
    being replaced by this ingest; ``older`` is what it holds)."""
    index_dir = work / f"trial-{number:02d}"
    shutil.rmtree(index_dir, ignore_errors=True)
    if start_from is not None:
        shutil.copytree(start_from, index_dir, ignore=shutil.ignore_patterns("writer.lock"))
    how = "time" if number % 2 == 0 else "after-doc"
    target = "group" if (number // 2) % 2 == 0 else "main"
    after_doc = rng.randrange(len(files)) if how == "after-doc" else -1
    planned = rng.uniform(0.2, 0.9 * clean_seconds) if how == "time" else rng.uniform(0.0, 0.25)
    trial = Trial(number, f"{how}{'' if after_doc < 0 else f' #{after_doc + 1}'}", target, round(planned, 3))

    started = time.perf_counter()
    proc = subprocess.Popen(_ingest_cmd(index_dir, files), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, start_new_session=True)
    done_docs = threading.Event()
    count = [0]

    def watch() -> None:  # count committed documents from the progress lines
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith(("added", "replaced")):
                count[0] += 1
                if count[0] == after_doc + 1:
                    done_docs.set()

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    if how == "time":
        deadline = started + planned
        while time.perf_counter() < deadline and proc.poll() is None:
            time.sleep(0.005)
    else:
        while not done_docs.wait(0.01) and proc.poll() is None:
            pass
        time.sleep(planned)
    children = _children(proc.pid)
    if proc.poll() is None:
        _kill(proc, target)
        trial.killed_at = round(time.perf_counter() - started, 3)
    else:
        trial.finished_before_kill = True
    proc.wait()
    reader.join(timeout=5)

    problems, snap = check_after_kill(index_dir, reference, older)
    if snap is not None:
        trial.docs_after_kill, trial.rows_after_kill, trial.vectors_after_kill = len(snap.documents), snap.rows, snap.vectors
    trial.leftovers = leftovers(index_dir)

    # recovery: the same command again, as a user would (no --wait: a busy index is a failure here)
    t0 = time.perf_counter()
    try:
        rerun = subprocess.run(_ingest_cmd(index_dir, files), capture_output=True, text=True, cwd=ROOT, timeout=rerun_timeout)
        trial.rerun_exit = rerun.returncode
        if rerun.returncode != 0:
            last = (rerun.stderr.strip().splitlines() or ["?"])[-1]
            problems.append(f"re-run exited {rerun.returncode}: {last}")
        if "Traceback" in rerun.stderr:
            problems.append("re-run printed a traceback")
    except subprocess.TimeoutExpired:
        problems.append(f"re-run did not finish in {rerun_timeout} s")
    trial.rerun_seconds = round(time.perf_counter() - t0, 2)
    trial.orphans = sum(_alive(c) for c in children)  # workers still running after their parent died
    _reap_group(proc.pid)
    if trial.rerun_exit == 0:
        final = snapshot(index_dir)
        if final.content() != reference.content():
            missing = len(reference.content() - final.content())
            extra = len(final.content() - reference.content())
            problems.append(f"re-run content differs from a clean build ({missing} missing, {extra} extra passages)")
        if final.documents != reference.documents:
            problems.append(f"re-run documents differ: {sorted(set(final.documents) ^ set(reference.documents))}")
        if final.vectors != reference.vectors or final.vectors != final.rows:
            problems.append(f"re-run vectors {final.vectors}, rows {final.rows}, clean build {reference.vectors}")
    trial.problems = problems
    shutil.rmtree(index_dir, ignore_errors=True)
    return trial


class ReplaceScenario:
    """Documents already in the index change on disk: the ingest replaces every one of them.

    ``docs/docN.pdf`` first holds FILES[N] (version 1, indexed), then FILES[N+1] (version 2).
    A kill must leave each document whole in version 1 or version 2, none missing.
    """

    def __init__(self, work: Path, files: list[Path]) -> None:
        self.folder = work / "docs"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.files = [self.folder / f"doc{i + 1}.pdf" for i in range(len(files))]
        self.sources = files
        self._write(0)
        self.v1, _, _ = clean_build(work, self.files, "replace-v1")
        self.v1_index = work / "replace-v1"
        self._write(1)
        self.v2, _, _ = clean_build(work, self.files, "replace-v2")
        # the kill window: how long replacing takes (cached vectors make it faster than a build)
        probe = work / "replace-probe"
        shutil.copytree(self.v1_index, probe, ignore=shutil.ignore_patterns("writer.lock"))
        started = time.perf_counter()
        run = subprocess.run(_ingest_cmd(probe, self.files), capture_output=True, text=True, cwd=ROOT)
        self.seconds = time.perf_counter() - started
        self.marks: list[float] = []
        if run.returncode != 0 or snapshot(probe).content() != self.v2.content():
            raise SystemExit(f"replacing the documents failed or differs from a clean build: {run.stderr[-500:]}")
        shutil.rmtree(probe, ignore_errors=True)

    def _write(self, shift: int) -> None:
        for i, path in enumerate(self.files):
            path.write_bytes(self.sources[(i + shift) % len(self.sources)].read_bytes())
            os.utime(path, (1_700_000_000 + shift, 1_700_000_000 + shift))


def run_trials(trials: int, seed: int, files: list[Path] | None = None, work: Path | None = None,
               log=print, replace_trials: int = 0) -> tuple[list[Trial], dict[str, object]]:
    files = files or FILES
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"missing corpus files: {missing}")
    own = work is None
    work = work or Path(tempfile.mkdtemp(prefix="kb-crash-"))
    try:
        reference, clean_seconds, marks = clean_build(work, files)
        log(f"clean build: {len(reference.documents)} documents, {reference.rows} passages, "
            f"{reference.vectors} vectors in {clean_seconds:.1f} s")
        rng = random.Random(seed)
        out: list[Trial] = []
        scenario = ReplaceScenario(work, files) if replace_trials else None
        if scenario:
            log(f"replace scenario: {len(scenario.files)} documents re-ingested with new content "
                f"in {scenario.seconds:.1f} s")
        for number in range(trials + replace_trials):
            if number < trials:
                trial = run_trial(number, rng, work, files, reference, clean_seconds, marks)
            else:
                assert scenario is not None
                trial = run_trial(number, rng, work, scenario.files, scenario.v2, scenario.seconds, scenario.marks,
                                  start_from=scenario.v1_index, older=scenario.v1)
                trial.how = "replace " + trial.how
            out.append(trial)
            state = "consistent" if trial.consistent else "INCONSISTENT: " + "; ".join(trial.problems)
            when = f"killed at {trial.killed_at:.2f} s" if trial.killed_at is not None else "finished before the kill"
            log(f"trial {number + 1:2d}/{trials + replace_trials} [{trial.how}, kill {trial.target}] {when}: "
                f"{trial.docs_after_kill} docs / {trial.rows_after_kill} rows / {trial.vectors_after_kill} vectors kept; "
                f"re-run exit {trial.rerun_exit} in {trial.rerun_seconds:.1f} s"
                + (f"; {len(trial.leftovers)} temp files left" if trial.leftovers else "")
                + (f"; {trial.orphans} orphaned worker processes ran on" if trial.orphans else "") + f" -> {state}")
        summary = {
            "trials": len(out), "consistent": sum(t.consistent for t in out), "seed": seed,
            "replace_trials": replace_trials,
            "files": [f.name for f in files], "passages": reference.rows, "clean_seconds": round(clean_seconds, 2),
            "killed_mid_run": sum(t.killed_at is not None for t in out),
            "with_partial_index": sum(0 < t.docs_after_kill < len(reference.documents) for t in out),
            "temp_files_left": sum(len(t.leftovers) for t in out),
            "orphaned_processes": sum(t.orphans for t in out),
        }
        return out, summary
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20, help="kills of an ingest into a new index")
    parser.add_argument("--replace-trials", type=int, default=10,
                        help="kills of an ingest that replaces documents already in the index")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the trials as JSON at the end")
    args = parser.parse_args()
    trials, summary = run_trials(args.trials, args.seed, replace_trials=args.replace_trials)
    print(f"{summary['consistent']}/{summary['trials']} consistent "
          f"({summary['killed_mid_run']} killed mid-run, {summary['with_partial_index']} left with a partial index, "
          f"{summary['temp_files_left']} temp files left behind, "
          f"{summary['orphaned_processes']} orphaned worker processes)")
    if args.json:
        print(json.dumps({"summary": summary, "trials": [asdict(t) | {"consistent": t.consistent} for t in trials]}, indent=1))
    sys.exit(0 if summary["consistent"] == summary["trials"] else 1)


if __name__ == "__main__":
    main()
