"""Probe: PDFium (pypdfium2) against pypdf for the text layer: speed, and what the text loses.

pypdf is two thirds of kb's ingestion CPU before embedding, so a faster text engine is the
obvious lever for ingestion speed.  This script measures what switching would cost in text
quality, on the shared corpora: CPU seconds of each engine; pages where PDFium glues words
together (a run of 11+ letters that no en/fr/es/de/pt/ar word list knows, and pypdf does not
produce on that page); and lines that start indented in pypdf's text (the cue kb's reflow uses
for "a new paragraph starts here") against PDFium's, which drops leading spaces.  kb does
not depend on pypdfium2; install it into the venv to run this (``pip install pypdfium2``).

Usage::

    .venv/bin/python bench/pdf_engines.py                  # ../shared/corpus + ../shared/corpus-gcm, no guides
    .venv/bin/python bench/pdf_engines.py --with-guides
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = (ROOT.parent / "shared" / "corpus", ROOT.parent / "shared" / "corpus-gcm")
LONG = re.compile(r"[^\W\d_]{11,}")


def known_long_words() -> frozenset[str]:
    import wordfreq

    words: set[str] = set()
    for lang in ("en", "fr", "es", "de", "pt", "ar"):
        words.update(w for w in wordfreq.get_frequency_dict(lang, wordlist="best") if len(w) >= 11)
    return frozenset(words)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--with-guides", action="store_true", help="include the two 200+ page guides")
    args = ap.parse_args(argv)
    try:
        import pypdfium2 as pdfium
    except ImportError:
        print("pypdfium2 is not installed: .venv/bin/pip install pypdfium2", file=sys.stderr)
        return 2
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    files = sorted(p for folder in FOLDERS for p in folder.rglob("*.pdf")
                   if args.with_guides or "guide" not in p.name)
    known = known_long_words()
    cpu = {"pypdf": 0.0, "pdfium": 0.0}
    chars = {"pypdf": 0, "pdfium": 0}
    pages = glued = 0
    indented = {"pypdf": 0, "pdfium": 0}
    for path in files:
        t = time.process_time()
        reader = PdfReader(path, strict=False)
        slow = [(page.extract_text() or "") for page in reader.pages]
        cpu["pypdf"] += time.process_time() - t
        t = time.process_time()
        document = pdfium.PdfDocument(str(path))
        fast = [document[i].get_textpage().get_text_range().replace("\r\n", "\n").replace("\ufffe", "-\n")
                for i in range(len(document))]
        cpu["pdfium"] += time.process_time() - t
        for a, b in zip(slow, fast):
            pages += 1
            chars["pypdf"] += len(a)
            chars["pdfium"] += len(b)
            ours = {w for w in LONG.findall(b) if w.casefold() not in known}
            glued += bool(ours - set(LONG.findall(a)))
            for name, text in (("pypdf", a), ("pdfium", b)):
                indented[name] += sum(1 for line in text.split("\n") if line[:1] == " " and line.strip())
    print(f"{len(files)} PDFs, {pages} pages")
    print(f"{'engine':<8}{'CPU s':>8}{'chars':>12}{'indented lines':>16}")
    for name in ("pypdf", "pdfium"):
        print(f"{name:<8}{cpu[name]:>8.1f}{chars[name]:>12,}{indented[name]:>16,}")
    print(f"pages where PDFium glues words that pypdf separates: {glued} ({glued / max(pages, 1):.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
