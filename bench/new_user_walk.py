"""A new user's first hour, scripted: the ten things issue 19 found, checked on the shared corpus.

    .venv/bin/python bench/new_user_walk.py                      # fresh index of ../shared/corpus (20-40 min)
    .venv/bin/python bench/new_user_walk.py --index DIR          # an index already built (a copy: it is written to)
    .venv/bin/python bench/new_user_walk.py --index DIR -x SOURCES.md -x guide.pdf -x guide_PDF_ES.pdf

Everything goes through the `kb` command line and `kb serve` as a user runs them from the
checkout (so "../shared/corpus" is the README's path), with this checkout's code. The fresh
build uses the default model, as the README does; ``--index`` skips it and the ingestion
timing checks. The sample index of item 9 (corpus/, 30 passages) is built in a temporary
folder with the default model (about a minute; ``--no-sample`` skips it). The index given
is written to: the glossary step (item 7) runs `kb ingest … --glossary`, as docs/glossary.md
tells a user to. Pass a copy.

Prints one line per check ("ok" or "FAIL", the item, what was checked and what was seen) and
exits 1 when any check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CORPUS_ARG = "../shared/corpus"  # as the README writes it, from the checkout (--corpus changes it)
KB = [sys.executable, "-c", "from kb.cli import main; main()"]


@dataclass
class Walk:
    index: Path
    excludes: list[str]
    results: list[tuple[bool, str, str, str]] = field(default_factory=list)

    def check(self, ok: bool, item: str, what: str, seen: str = "") -> bool:
        self.results.append((bool(ok), item, what, seen))
        print(f"{'ok  ' if ok else 'FAIL'} {item:<3} {what}" + (f": {seen}" if seen else ""), flush=True)
        return bool(ok)

    def kb(self, *args: str, cwd: Path = ROOT, timeout: float = 3600) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run([*KB, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

    def xargs(self) -> list[str]:
        return [a for x in self.excludes for a in ("-x", x)]


def _library(index: Path):
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    return KnowledgeBase.open(Settings(index_dir=index))


# -- 1. ingestion: speed a user can see ------------------------------------------------------------
def fresh_build(walk: Walk) -> None:
    started = time.monotonic()
    done = walk.kb("ingest", CORPUS_ARG, *walk.xargs(), "--index", str(walk.index), timeout=4 * 3600)
    minutes = (time.monotonic() - started) / 60
    lines = done.stderr.splitlines()
    walk.check(done.returncode in (0, 1), "1", "the README's ingest of ../shared/corpus ran",
               f"exit {done.returncode}, {minutes:.1f} min")
    progress = [x for x in lines if x.startswith(("added", "replaced"))]
    walk.check(progress and all(re.search(r"passages/s, .* left$", x) for x in progress), "1",
               "each file's line shows passages done, the rate and the time left",
               progress[-1][-90:] if progress else "no lines")
    walk.check(bool(lines) and "passages/s" in lines[-1] or any("passages/s" in x for x in lines[-8:]), "1",
               "the summary gives the rate", next((x for x in lines if " added, " in x), "")[-100:])


def docs_speed(walk: Walk) -> None:
    text = (ROOT / "docs" / "ingest.md").read_text(encoding="utf-8") if (ROOT / "docs" / "ingest.md").is_file() else ""
    walk.check("../shared/corpus" in text and bool(re.search(r"\d+ min", text)), "1",
               "docs/ingest.md says how long the shared corpus takes", "found" if text else "no docs/ingest.md")
    walk.check("--model usem3" in text and "-x guide.pdf" in text, "1", "… and how to make it faster")


# -- 2. where a file came from ---------------------------------------------------------------------
def sources(walk: Walk) -> None:
    with _library(walk.index) as base:
        docs = base.documents()
        hit = base.search("recognition of qualifications", k=5).to_dict()
    shown = [d.source for d in docs] + [r["citation"]["source"] for r in hit["results"]]
    private = [s for s in shown if s.startswith("/") or s.count("../") > CORPUS_ARG.count("../")]
    walk.check(not private, "2", "no citation or API source is absolute or climbs past the path given",
               f"{len(private)} of {len(shown)}, e.g. {private[0]}" if private else f"e.g. {shown[0]}")
    given = [s for s in (d.source for d in docs) if s.startswith(CORPUS_ARG + "/")]
    walk.check(len(given) == len(docs), "2", f"sources read as given ({CORPUS_ARG}/…)", f"{len(given)}/{len(docs)}")
    out = walk.kb("search", "recognition of qualifications", "--k", "3", "--index", str(walk.index.resolve()),
                  cwd=Path("/")).stdout
    paths = re.findall(r"^    — (.+?)  \[", out, re.M)
    walk.check(bool(paths) and all((Path("/") / p).exists() for p in paths), "2",
               "kb search run from / shows paths that exist from /", ", ".join(paths[:2]))


# -- 3. document ids and titles ----------------------------------------------------------------------
def ids_and_titles(walk: Walk) -> None:
    with _library(walk.index) as base:
        docs = base.documents()
    german = [d.doc_id for d in docs if d.source.endswith("index.md")]
    walk.check(bool(german) and not any(i.startswith("index") for i in german), "3",
               "the German laws (de/*/index.md) get readable ids", ", ".join(german))
    hashed = [d.doc_id for d in docs if re.search(r"-[0-9a-f]{6}$", d.doc_id)]
    walk.check(not hashed, "3", "no id carries a hash", ", ".join(hashed))
    un = [d.title for d in docs if re.search(r"A_RES_", d.source)]
    walk.check(bool(un) and all(not t.startswith("United Nations") and "(A/RES/" in t for t in un), "3",
               "UN resolutions are titled by their own title", "; ".join(un))


# -- 4. GCM sheets ------------------------------------------------------------------------------------
def gcm(walk: Walk) -> None:
    from gcm_faults import glued_words, is_title_fragment

    with _library(walk.index) as base:
        sheets = [d for d in base.documents() if re.match(r".*/\d{1,2}[ -]", d.source) and d.source.endswith(".pdf")]
        passages = {d.doc_id: base.index.db.passages_of(d.doc_id) for d in sheets}
    glued = [w for d in sheets for w in glued_words(d.title, d.lang or "en")]
    walk.check(not glued, "4", f"no glued title words in {len(sheets)} GCM sheets", ", ".join(glued))
    fragments = sorted({p.section for d in sheets for p in passages[d.doc_id] if is_title_fragment(p.section, d.title)})
    walk.check(not fragments, "4", "no piece of a title shows as a section", ", ".join(map(str, fragments))[:120])
    stray = [p.passage_id for ps in passages.values() for p in ps
             if re.search(r"(?:^|\s)[a-z]\.(?:\s+[a-z]\.)*\s*$|(?m:^\s*[a-z]\.\s*$)", p.text)]
    walk.check(not stray, "4", "no passage ends in stray list letters", ", ".join(stray[:5]))
    lettered = [p for ps in passages.values() for p in ps if re.match(r"[a-z]\. ", p.text)]
    unlabelled = [p.passage_id for p in lettered if not (p.paragraph or "").endswith(f"{p.text[0]})")]
    walk.check(bool(lettered) and not unlabelled, "4", f"{len(lettered)} lettered actions cite their letter",
               ", ".join(unlabelled[:5]) or (lettered[0].passage_id + " para. " + str(lettered[0].paragraph) if lettered else ""))


# -- 5. language of a passage --------------------------------------------------------------------------
def languages(walk: Walk) -> None:
    with _library(walk.index) as base:
        mixed = {}
        for d in base.documents():
            langs = [p.lang for p in base.index.db.passages_of(d.doc_id)]
            others = {x: langs.count(x) for x in set(langs) if x != d.lang}
            if others:
                mixed[d.doc_id] = others
    mission = mixed.get("000-56388bd38537218d")
    walk.check(mission is None, "5", "the French mission paper has only French passages", str(mission or ""))
    walk.check(True, "5", "documents with passages in another language", json.dumps(mixed)[:200])


# -- 6, 8. search: nothing to search for; one message for one mistake --------------------------------
def queries(walk: Walk) -> None:
    done = walk.kb("search", "?!...;:", "--index", str(walk.index))
    walk.check(done.returncode == 2, "6", 'kb search "?!...;:" is refused with exit 2',
               f"exit {done.returncode}: {done.stderr.strip()[:90]}")
    cli = walk.kb("search", "x", "--lang", "english", "--index", str(walk.index))
    walk.check(cli.returncode == 2, "8", "kb search --lang english is a usage error", cli.stderr.strip()[:100])
    with _server(walk) as url:
        import httpx

        nothing = httpx.post(url + "/search", json={"query": "?!...;:"}, timeout=120)
        walk.check(nothing.status_code == 422, "6", "POST /search with \"?!...;:\" is a 422",
                   f"{nothing.status_code} {nothing.text[:100]}")
        lang = httpx.post(url + "/search", json={"query": "x", "filters": {"lang": ["english"]}}, timeout=120)
        msg = lang.json().get("detail", [{}])[0].get("msg", "") if lang.status_code == 422 else lang.text
        walk.check(lang.status_code == 422 and msg == cli.stderr.strip().removeprefix("kb: error: "), "8",
                   "the API's language error uses the CLI's words", msg[:100])


class _server:
    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    def __enter__(self) -> str:
        import httpx

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([*KB, "serve", "--index", str(self.walk.index), "--port", str(port)],
                                     cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    return url
            except httpx.TransportError:
                time.sleep(0.5)
        raise RuntimeError("kb serve did not start")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


# -- 7. the glossary on your own corpus ------------------------------------------------------------------
def glossary(walk: Walk) -> None:
    stats = walk.kb("stats", "--index", str(walk.index)).stdout
    line = next((x for x in stats.splitlines() if x.startswith("glossary")), "")
    walk.check(bool(line), "7", "kb stats says whether the index has a glossary", line)
    before = _mentions_tbb(walk)
    walk.check(True, "7", "kb search TBB before a glossary: hits naming Talent Beyond Boundaries", str(before))
    doc = (ROOT / "docs" / "glossary.md").is_file()
    walk.check(doc, "7", "docs/glossary.md tells how to apply a glossary to any folder")
    applied = walk.kb("ingest", CORPUS_ARG, *walk.xargs(), "--glossary", str(ROOT / "corpus" / "kb-glossary.yaml"),
                      "--index", str(walk.index), timeout=4 * 3600)
    after = _mentions_tbb(walk)
    found = json.loads(walk.kb("stats", "--json", "--index", str(walk.index)).stdout).get("glossary", {})
    walk.check(found.get("defined_in_documents", 0) > 0 and found.get("terms", 0) > 0, "7",
               "the glossary is stored, beside the acronyms the documents define (found at every ingest)", str(found))
    walk.check(applied.returncode in (0, 1) and after > 0, "7",
               "after `kb ingest ../shared/corpus --glossary corpus/kb-glossary.yaml`, kb search TBB finds it",
               f"{after} hits name it; {applied.stderr.strip().splitlines()[-1][:90] if applied.stderr.strip() else ''}")


def _mentions_tbb(walk: Walk) -> int:
    out = walk.kb("search", "TBB", "--json", "--index", str(walk.index)).stdout
    return sum("Talent Beyond Boundaries" in r["text"] for r in json.loads(out)["results"]) if out else 0


# -- 9, 10. briefing packs --------------------------------------------------------------------------------
def packs(walk: Walk, index: Path, label: str, para8: bool) -> None:
    from kb.brief import build_pack, load_topics
    from kb.brief.render_md import render_markdown

    spec = load_topics(ROOT / "corpus" / "topics.yaml")
    with _library(index) as base:
        pack = build_pack(base, spec)
        empty = [t.heading for t in pack.topics if not t.quotes]
        walk.check(not empty, "9", f"every topic of corpus/topics.yaml has quotes ({label})", "; ".join(empty))
        counts = [len(t.quotes) for t in pack.topics]
        walk.check(sum(c > 1 for c in counts) > len(counts) / 2, "9",
                   f"most topics get more than one quote (per_topic {spec.per_topic}; {label})", str(counts))
        if para8:
            existing = next(t for t in pack.topics if "existants" in t.heading)
            walk.check(any(q.citation.paragraph == "8" for q in existing.quotes), "9",
                       "« s’appuyer sur les programmes existants » quotes para. 8 (sample index)",
                       ", ".join(str(q.citation.paragraph) for q in existing.quotes))
        bad = []
        for q in pack.quotes():
            passage = base.passage(q.passage_id)
            if passage is None or q.text not in passage.text:
                bad.append(q.passage_id)
            elif q.trimmed_end and not _ends_sentence(q.text, passage.text):
                bad.append(q.passage_id + " (cut mid-sentence)")
        walk.check(not bad, "10", f"quotes are verbatim and cut only where a sentence ends ({label})", ", ".join(bad[:4]))
        cut = [q for q in pack.quotes() if q.trimmed_start or q.trimmed_end]
        md = render_markdown(pack)
        whole = all(q.whole and f"(#whole-{q.whole})" in md for q in cut) and len(pack.wholes) == len({q.passage_id for q in cut})
        walk.check(whole, "10", f"each cut quote says so and links its whole passage ({len(cut)} cut; {label})")


def _ends_sentence(quote: str, passage: str) -> bool:
    """A cut after ". ! ? …" (a closing quote or bracket allowed), or where a paragraph or list item ends."""
    after = passage[passage.index(quote) + len(quote):]
    return bool(re.search(r"[.!?…][\"'”»)\]]*$", quote) or re.match(r"[ \t]*\n\s*\n", after))


def sample_index(walk: Walk, folder: Path) -> Path:
    index = folder / "sample"
    done = walk.kb("ingest", "corpus", "--index", str(index), timeout=3600)
    walk.check(done.returncode == 0, "9", "the sample index (corpus/) built with the default model",
               done.stderr.strip().splitlines()[-1][:100] if done.stderr.strip() else "")
    return index


def main() -> int:
    global CORPUS_ARG
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, help="an existing index (written to: give a copy); default: build a fresh one")
    ap.add_argument("--fresh-index", type=Path, help="where to build the fresh index (default: a temporary folder)")
    ap.add_argument("-x", "--exclude", action="append", default=None,
                    help="excludes for the corpus ingest (default: SOURCES.md, as the README)")
    ap.add_argument("--corpus", default=CORPUS_ARG,
                    help="the folder to ingest, relative to the checkout (default ../shared/corpus; a smaller one for a try-out)")
    ap.add_argument("--no-sample", action="store_true", help="skip the sample-index pack checks of item 9")
    ap.add_argument("--json", type=Path, help="also write the checks to this file")
    args = ap.parse_args()
    CORPUS_ARG = args.corpus
    with tempfile.TemporaryDirectory(prefix="kb-walk-") as tmp:
        index = args.index or args.fresh_index or Path(tmp) / "shared"
        walk = Walk(index, args.exclude or ["SOURCES.md"])
        print(f"new-user walk on {index} ({'given' if args.index else 'fresh'}), code {ROOT}\n", flush=True)
        if args.index is None:
            fresh_build(walk)
        docs_speed(walk)
        sources(walk)
        ids_and_titles(walk)
        gcm(walk)
        languages(walk)
        queries(walk)
        packs(walk, index, "shared corpus", para8=False)
        if not args.no_sample:
            packs(walk, sample_index(walk, Path(tmp)), "sample index", para8=True)
        glossary(walk)  # last: it re-ingests, which refreshes what the checks above looked at
    failed = [r for r in walk.results if not r[0]]
    print(f"\n{len(walk.results) - len(failed)} of {len(walk.results)} checks passed")
    if args.json:
        args.json.write_text(json.dumps([{"ok": ok, "item": i, "check": w, "seen": s} for ok, i, w, s in walk.results],
                                        ensure_ascii=False, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
