"""Crash safety of `kb ingest`: SIGKILL at random moments and Ctrl-C, on real PDFs.

The full experiment (20+ trials) is ``bench/crash_trials.py``; this runs a few of its
trials (seeded) so that a regression shows up in the test suite.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import crash_trials as ct  # noqa: E402

pytestmark = [pytest.mark.slow,  # kills kb processes mid-ingest, many times over
              pytest.mark.skipif(not all(f.is_file() for f in ct.FILES), reason="shared corpus not available")]
TRIALS = int(os.environ.get("KB_CRASH_TRIALS", "4"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, ct.Snapshot, float, list[float]]:
    work = tmp_path_factory.mktemp("crash")
    snap, seconds, marks = ct.clean_build(work, ct.FILES)
    assert snap.vectors == snap.rows > 0 and len(snap.documents) == len(ct.FILES)
    return work, snap, seconds, marks


def test_sigkill_at_random_moments_leaves_a_consistent_recoverable_index(reference) -> None:
    work, snap, seconds, marks = reference
    rng = random.Random(11)
    results = []
    for number in range(TRIALS):
        trial = ct.run_trial(number, rng, work, ct.FILES, snap, seconds, marks)
        results.append(trial)
        print(f"trial {number + 1}: {trial.how}, kill {trial.target}, killed at {trial.killed_at}, "
              f"{trial.docs_after_kill} docs kept, re-run exit {trial.rerun_exit}: {trial.problems or 'consistent'}")
    consistent = sum(t.consistent for t in results)
    print(f"\n{consistent}/{TRIALS} consistent")
    assert consistent == TRIALS, [(t.number, t.how, t.target, t.problems) for t in results if not t.consistent]


def test_sigkill_while_replacing_documents_never_loses_one(tmp_path: Path) -> None:
    """The files of an indexed folder changed; the ingest replacing them is killed: every
    document is still there, whole, in its old or its new version; a re-run finishes the job."""
    scenario = ct.ReplaceScenario(tmp_path, ct.FILES)
    rng = random.Random(12)
    results = [ct.run_trial(n, rng, tmp_path, scenario.files, scenario.v2, scenario.seconds, scenario.marks,
                            start_from=scenario.v1_index, older=scenario.v1) for n in range(max(2, TRIALS // 2))]
    for t in results:
        print(f"replace trial {t.number + 1}: {t.how}, kill {t.target}, killed at {t.killed_at}: {t.problems or 'consistent'}")
    assert all(t.consistent for t in results), [(t.number, t.problems) for t in results if not t.consistent]


def test_kill_only_the_main_process_does_not_leave_the_index_busy(reference, tmp_path: Path) -> None:
    """`kill -9 PID` of kb ingest: its extraction worker must neither run on nor keep the writer lock."""
    work, snap, seconds, marks = reference
    index = tmp_path / "index"
    proc = subprocess.Popen(ct._ingest_cmd(index, ct.FILES), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, start_new_session=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # kill once the first document is in and the rest are in flight
            if line.startswith("added"):
                break
        children = ct._children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(ct._alive(c) for c in children):
            time.sleep(0.2)
        orphans = [c for c in children if ct._alive(c)]
        assert not orphans, f"worker processes still running after the main process was killed: {orphans}"
        rerun = subprocess.run(ct._ingest_cmd(index, ct.FILES), capture_output=True, text=True, cwd=ROOT, timeout=600)
        assert rerun.returncode == 0, rerun.stderr[-800:]
        assert ct.snapshot(index).content() == snap.content()
    finally:
        ct._reap_group(proc.pid)


@pytest.mark.parametrize("target", ["group", "main"])
def test_ctrl_c_stops_at_a_document_boundary(reference, tmp_path: Path, target: str) -> None:
    """SIGINT (to the process group, as a terminal sends it, or to kb alone): exit 130, whole
    documents only, a message saying to run again, no traceback; the re-run completes."""
    work, snap, seconds, marks = reference
    index = tmp_path / "index"
    proc = subprocess.Popen(ct._ingest_cmd(index, ct.FILES), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, start_new_session=True)
    seen = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("added"):
                break
        started = time.perf_counter()
        if target == "group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        stopped = time.perf_counter() - started
    finally:
        ct._reap_group(proc.pid)
    err = "".join(seen) + err
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert "Traceback" not in err, err
    assert "interrupted" in err and "run again" in err, err
    assert stopped < 60, f"took {stopped:.1f} s to stop"
    problems, after = ct.check_after_kill(index, snap)
    assert not problems, problems
    assert after is not None and 1 <= len(after.documents) < len(ct.FILES)
    rerun = subprocess.run(ct._ingest_cmd(index, ct.FILES), capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-800:]
    assert ct.snapshot(index).content() == snap.content()
    print(f"\nCtrl-C ({target}): stopped in {stopped:.2f} s with {len(after.documents)} whole documents kept")
