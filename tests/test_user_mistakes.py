"""What users get wrong, through the real `kb` command: every mistake is one clear line and an
exit code, never a traceback, and never a silent empty answer.

`kb` runs through its entry point in this process (conftest.kb_cli) on indexes built with the
hashing embedder; what only a process of its own shows (bytes in argv, `kb serve`) runs in one."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FAST_ARGS, MISSION, ROOT, SETUP_ARGS, kb_cli

KB = [sys.executable, "-c", "from kb.cli import main; main()"]
BODY = "\n\n".join(f"Paragraph {i}: recognising the skills of refugees who apply for work visas abroad." for i in range(3))


def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return kb_cli(*args, cwd=cwd, env=env)


def run_process(*args: str) -> subprocess.CompletedProcess:
    """`kb ARGS` in a process of its own."""
    return subprocess.run([*KB, *args], capture_output=True, text=True, cwd=ROOT, timeout=600)


def one_line_error(out: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert out.returncode == code, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("kb: error:")]
    assert len(errors) == 1, out.stderr
    for word in words:
        assert word in errors[0], errors[0]


@pytest.fixture(scope="module")
def mission_index(tmp_path_factory) -> Path:
    index = tmp_path_factory.mktemp("mistakes") / "index"
    out = run("ingest", str(MISSION), "--index", str(index), *FAST_ARGS, *SETUP_ARGS)
    assert out.returncode == 0, out.stderr
    return index


# -- filters and queries --------------------------------------------------------------------------
def test_filter_typos_are_named(mission_index: Path) -> None:
    one_line_error(run("search", "obstacles", "--doc", "no-such-doc", "--index", str(mission_index)), 2, "'no-such-doc'")
    one_line_error(run("search", "obstacles", "--lang", "french", "--index", str(mission_index)), 2, "'french'")
    # a code no passage is in: before, exit 0 and "No passages found", as if nothing matched
    one_line_error(run("search", "obstacles", "--lang", "xx", "--index", str(mission_index)), 2, "xx", "fr")


def test_a_document_filter_takes_the_file_path_and_any_case_of_language(mission_index: Path) -> None:
    out = run("search", "obstacles", "--doc", str(MISSION), "--lang", "FR", "--k", "2", "--json",
              "--index", str(mission_index))
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)["results"]
    assert results and all(r["citation"]["source"].endswith(MISSION.name) and r["lang"] == "fr" for r in results)


def test_a_query_in_another_encoding_than_the_terminal_is_read_again(mission_index: Path) -> None:
    """A Latin-1 'é' in argv reaches Python as a lone surrogate, which no embedder encodes."""
    out = subprocess.run([*KB, "search", b"march\xe9 du travail", "--k", "1", "--json", "--index", str(mission_index)],
                         capture_output=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    assert json.loads(out.stdout)["query"] == "marché du travail"


def test_batch_files_with_a_byte_order_mark_or_another_encoding(mission_index: Path, tmp_path: Path) -> None:
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "a", "query": "obstacles"}).encode() + b"\n")
    out = run("search", "--queries", str(bom), "--json", "--index", str(mission_index))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["id"] == "a"
    latin = tmp_path / "latin1.jsonl"
    latin.write_bytes(b'{"id": "a", "query": "march\xe9"}\n')
    one_line_error(run("search", "--queries", str(latin), "--json", "--index", str(mission_index)), 2,
                   "latin1.jsonl", "not UTF-8")
    one_line_error(run("eval", str(latin), "--index", str(mission_index)), 2, "not UTF-8")


def test_a_batch_with_a_bad_line_exits_1_and_keeps_the_others(mission_index: Path, tmp_path: Path) -> None:
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": "a", "query": "obstacles"}\n{"id": "b", "query": ""}\n', encoding="utf-8")
    out = run("search", "--queries", str(batch), "--json", "--index", str(mission_index))
    assert out.returncode == 1 and "1 line(s)" in out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a", "b"] and "error" in lines[1] and lines[0]["results"]


def test_batch_lines_without_k_take_the_command_lines_k(mission_index: Path, tmp_path: Path) -> None:
    """Before: --k was ignored in batch mode, and every line without "k" got 10."""
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": "a", "query": "obstacles"}\n{"id": "b", "query": "visas", "k": 2}\n', encoding="utf-8")
    out = run("search", "--queries", str(batch), "--k", "3", "--json", "--index", str(mission_index))
    assert out.returncode == 0, out.stderr
    assert [len(json.loads(line)["results"]) for line in out.stdout.splitlines()] == [3, 2]
    # a command-line filter no passage is in fails the batch once, not every line
    out = run("search", "--queries", str(batch), "--lang", "xx", "--json", "--index", str(mission_index))
    one_line_error(out, 2, "no passage in xx")
    assert out.stdout == ""


def test_brief_mistakes_are_one_line_and_cost_no_search(mission_index: Path, tmp_path: Path) -> None:
    """Before: an unwritable output failed with exit 2 after every search had run; bad YAML gave
    PyYAML's six-line report; an empty file "expected an object, got NoneType"; /dev/zero was
    read until memory ran out; a question of a zero-width space failed as "the query is empty"."""
    topics = ROOT / "corpus" / "topics.yaml"
    started = time.monotonic()
    out = run("brief", str(topics), "--index", str(mission_index), "-o", "/proc/kb-pack.md")
    one_line_error(out, 6, "cannot write /proc/kb-pack.md")
    assert time.monotonic() - started < 15  # refused before the searches (8 topics, seconds each)
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: x\ntopics:\n  - heading: [a\n", encoding="utf-8")
    one_line_error(run("brief", str(bad), "--index", str(mission_index)), 2, "not valid YAML", "line 4")
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    one_line_error(run("brief", str(empty), "--index", str(mission_index)), 2, "is empty")
    one_line_error(run("brief", "/dev/zero", "--index", str(mission_index)), 2, "larger than 1 MB")
    blank = tmp_path / "blank.yaml"
    blank.write_text('title: x\ntopics:\n  - heading: A\n    questions: ["\\u200b"]\n', encoding="utf-8")
    one_line_error(run("brief", str(blank), "--index", str(mission_index)), 2, "topic 1 ('A'): question 1")


def test_eval_doc_keys_may_be_document_ids(mission_index: Path, tmp_path: Path) -> None:
    doc_id = json.loads(run("docs", "--json", "--index", str(mission_index)).stdout)[0]["doc_id"]
    qrels = tmp_path / "q.jsonl"
    qrels.write_text(json.dumps({"id": "q1", "query": "voies de mobilité de main-d'œuvre pour les réfugiés",
                                 "relevant": [{"text": "réfugiés", "doc": doc_id}]}) + "\n", encoding="utf-8")
    out = run("eval", str(qrels), "--json", "--index", str(mission_index))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["overall"]["recall@10"] == 1.0


# -- models and ports -----------------------------------------------------------------------------
def test_a_model_name_typo_fails_at_once_and_creates_nothing(tmp_path: Path) -> None:
    started = time.monotonic()
    out = run("ingest", str(MISSION), "--index", str(tmp_path / "idx"), "--model", "e5-small")
    one_line_error(out, 2, "did you mean 'e5-small-q4'")
    assert time.monotonic() - started < 30  # no minute of model-hub retries
    assert not (tmp_path / "idx").exists()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once it is closed


@pytest.mark.parametrize("offline", [True, False], ids=["HF_HUB_OFFLINE", "hub-unreachable"])
def test_a_model_only_an_unreachable_hub_has_fails_at_once(mission_index: Path, tmp_path: Path, offline: bool) -> None:
    """Before: huggingface_hub retried for 55 s, and ingest had already made the index folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update({"HF_HUB_OFFLINE": "1"} if offline else {"HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"})
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(var, None)
    reason = "HF_HUB_OFFLINE" if offline else "cannot be reached"
    started = time.monotonic()
    out = run("search", "visas", "--index", str(mission_index), "--rerank", "nosuch-reranker", env=env)
    one_line_error(out, 2, "'nosuch-reranker'", "neither a folder nor in the local model cache", reason)
    for option in ("--model", "--companion"):
        out = run("ingest", str(MISSION), "--index", str(tmp_path / "idx"), option, "nosuch/model", env=env)
        one_line_error(out, 2, "'nosuch/model'", reason)
        assert not (tmp_path / "idx").exists()
    assert time.monotonic() - started < 30


def test_serve_on_a_busy_port_says_so(mission_index: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        one_line_error(run_process("serve", "--port", str(port), "--index", str(mission_index)), 6, f"127.0.0.1:{port}")
    out = run_process("serve", "--port", "99999", "--index", str(mission_index))
    assert out.returncode == 2 and "Traceback" not in out.stderr


# -- ingesting ------------------------------------------------------------------------------------
def test_folders_with_nothing_to_ingest_are_reported(tmp_path: Path) -> None:
    empty, other = tmp_path / "empty", tmp_path / "other"
    empty.mkdir()
    other.mkdir()
    (other / "notes.odt").write_bytes(b"not a format kb reads")
    out = run("ingest", str(empty), str(other), str(MISSION), "--index", str(tmp_path / "idx"), *FAST_ARGS,
              "--json")
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    failed = {Path(f["path"]).name: f["reason"] for f in report["failures"]}
    assert set(failed) == {"empty", "other"} and "no files to ingest" in failed["empty"]
    assert report["added"] == 1


def test_one_file_named_twice_is_one_document(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "a.md").write_text(f"# A\n\n{BODY}\n", encoding="utf-8")
    out = run("ingest", "t/a.md", "t/../t/a.md", "--index", "idx", *FAST_ARGS, "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["added"], report["replaced"]) == (1, 0)


def test_exclude_takes_a_folder_name(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "drafts" / "old").mkdir(parents=True)
    for rel in ("policy.md", "drafts/old/a.md", "drafts/b.md"):
        (folder / rel).write_text(f"# {rel}\n\n{BODY}\n", encoding="utf-8")
    out = run("ingest", str(folder), "-x", "drafts", "--index", str(tmp_path / "idx"), *FAST_ARGS, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["added"] == 1


def test_manifest_languages_become_codes_or_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text(f"# A\n\n{BODY}\n", encoding="utf-8")
    manifest = tmp_path / "meta.csv"
    manifest.write_bytes("\ufefffile,title,language\na.md,Notes,French\n".encode("utf-8"))  # Excel's "CSV UTF-8"
    out = run("ingest", str(folder), "--meta", str(manifest), "--index", str(tmp_path / "idx"), *FAST_ARGS)
    assert out.returncode == 0, out.stderr
    docs = json.loads(run("docs", "--json", "--index", str(tmp_path / "idx")).stdout)
    assert [(d["title"], d["lang"]) for d in docs] == [("Notes", "fr")]
    manifest.write_text("file,title,language\na.md,Notes,Klingonese\n", encoding="utf-8")
    one_line_error(run("ingest", str(folder), "--meta", str(manifest), "--index", str(tmp_path / "idx2"),
                       *FAST_ARGS), 2, "entry 1", "'Klingonese'")


# -- permissions ----------------------------------------------------------------------------------
def test_an_index_cannot_be_made_where_no_folder_can_be(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    one_line_error(run("ingest", str(MISSION), "--index", str(blocker / "idx"), *FAST_ARGS), 6,
                   "cannot create an index")


def test_index_files_get_the_usual_permissions(mission_index: Path) -> None:
    """Snapshots are written to a temporary file first (mkstemp: 0600); another user who may read
    the SQLite file must be able to read them too."""
    umask = os.umask(0)
    os.umask(umask)
    for name in ("index.json", "vectors.json"):
        assert stat.S_IMODE((mission_index / name).stat().st_mode) == 0o666 & ~umask, name


@pytest.fixture
def read_only_copy(mission_index: Path, tmp_path: Path):
    """The index on a read-only bind mount (needs root and mount rights, as CI has)."""
    copy, mount = tmp_path / "copy", tmp_path / "ro"
    copy.mkdir()
    mount.mkdir()
    for file in mission_index.iterdir():
        if file.is_file() and file.name != "writer.lock":
            (copy / file.name).write_bytes(file.read_bytes())
    steps = (["mount", "--bind", str(copy), str(mount)], ["mount", "-o", "remount,bind,ro", str(mount)])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            subprocess.run(["umount", str(mount)], capture_output=True)
            pytest.skip(f"cannot make a read-only mount here ({' '.join(step[:2])}: {done.stderr.strip()})")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_read_only_index_can_be_searched_but_not_changed(read_only_copy: Path) -> None:
    out = run("search", "obstacles", "--k", "1", "--json", "--index", str(read_only_copy))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["results"]
    assert run("docs", "--index", str(read_only_copy)).returncode == 0
    for args in (("ingest", str(MISSION)), ("remove", "x"), ("relabel",)):
        one_line_error(run(*args, "--index", str(read_only_copy)), 6, "read-only")


def test_a_brief_from_an_empty_index_is_refused(tmp_path: Path) -> None:
    index = tmp_path / "idx"
    assert run("ingest", str(MISSION), "--index", str(index), *FAST_ARGS, *SETUP_ARGS).returncode == 0
    assert run("remove", str(MISSION), "--index", str(index)).returncode == 0
    out = run("brief", str(ROOT / "corpus" / "topics.yaml"), "--out", str(tmp_path / "pack.md"), "--index", str(index))
    one_line_error(out, 2, "holds no passages")
    assert not (tmp_path / "pack.md").exists()
