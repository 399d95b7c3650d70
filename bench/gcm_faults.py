"""Counts the layout faults of the GCM objective sheets after extract -> clean -> chunk.

    .venv/bin/python bench/gcm_faults.py [FOLDER] [--show] [--json FILE]

FOLDER defaults to ../shared/corpus-gcm; its 69 objective sheets (23 objectives in en, es
and fr; the two 200-page guides are left out) go through kb's own ``prepare`` (the worker
step of ``kb ingest``: extraction, cleaning, chunking), so no model is loaded and the index
is not touched. Each fault is counted from what a user sees, with rules that do not reuse
kb's fixes:

- ``glued_title``: a word of the title that is no word of the sheet's language but splits
  into two that are ("LACONTRATACIÓN" = "LA" + "CONTRATACIÓN"; wordfreq decides).
- ``title_fragment_section``: a passage whose section is a piece of the title ("WORK",
  "DECENTE", "SOUPLES"): every word of the section is a title word, and it is not the title.
- ``stray_letters``: a passage holding a list letter on its own ("… industry a. b. c.").
- ``unlettered_action``: an action the sheet letters ("a." … "l." drawn in a column of their
  own) whose letter no passage cites as its paragraph ("p. 1" instead of "p. 1, para. a)").
- ``misplaced_letter``: a passage cited with an action letter that starts in the middle of
  a sentence (lower case) without continuing the passage before it, so the letter is not
  that action's.
- ``header_in_text``: the running header "› GCM OBJECTIVE 6" inside a passage's text.
- ``footer_in_text``: the running footer "Extract from Implementing the Global Compact …"
  inside a passage's text.

``--show`` prints each fault found; the totals go to stdout (and every count to ``--json``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GUIDES = ("guide.pdf", "guide_PDF_ES.pdf")
FAULTS = ("glued_title", "title_fragment_section", "stray_letters", "unlettered_action",
          "misplaced_letter", "header_in_text", "footer_in_text")
_BARE_LETTER = re.compile(r"^\s*([a-z])\.\s*$", re.M)
_STRAY = re.compile(r"(?:^|\s)[a-z]\.(?:\s+[a-z]\.)*\s*$|(?m:^\s*[a-z]\.\s*$)")
_LETTER_LABEL = re.compile(r"(?:^|\s)([a-z])\)$")
_LEAD_LETTER = re.compile(r"^[a-z][.)]\s+")
_HEADER = re.compile(r"›\s*(?:GCM|PMM)\s+OBJE", re.I)
_FOOTER = re.compile(r"Extract from Implementing|Extracto de Implementación|Extrait de Mise en œuvre", re.I)
_TOKEN = re.compile(r"[^\W\d_]+")


def sheets(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.pdf") if p.name not in GUIDES)


def _zipf(word: str, lang: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word.lower(), lang)


def glued_words(title: str, lang: str) -> list[str]:
    """Title words that are not words but two words run together."""
    out = []
    for token in _TOKEN.findall(title):
        if len(token) < 5 or _zipf(token, lang) > 0:
            continue
        for i in range(2, len(token) - 2):
            left, right = token[:i], token[i:]
            if _zipf(left, lang) >= 3.0 and _zipf(right, lang) >= 2.5:
                out.append(token)
                break
    return out


def _fold(text: str) -> list[str]:
    from kb.text.keywords import fold

    return _TOKEN.findall(fold(text))


def is_title_fragment(section: str | None, title: str) -> bool:
    if not section:
        return False
    words, title_words = _fold(section), _fold(title)
    return bool(words) and words != title_words and set(words) <= set(title_words) and len(words) < len(title_words)


def faults_of(path: Path) -> tuple[Counter[str], list[str], int]:
    """Fault counts of one sheet, a line per fault for --show, and its passage count."""
    from pypdf import PdfReader

    from kb.ingest.prepare import prepare
    from kb.settings import Settings

    settings = Settings()
    lang = path.parent.name
    prepared = prepare(str(path), "sheet", lang, settings.min_chars, settings.max_chars)
    raw = [page.extract_text() or "" for page in PdfReader(path).pages]  # the letters as the PDF stores them
    counts: Counter[str] = Counter()
    shown: list[str] = []
    name = f"{lang}/{path.name}"
    for word in glued_words(prepared.title, lang):
        counts["glued_title"] += 1
        shown.append(f"{name}: glued title word {word!r} in {prepared.title!r}")
    lettered: set[str] = set()
    previous = None
    for p in prepared.passages:
        flat = " ".join(p.text.split())
        if is_title_fragment(p.section, prepared.title):
            counts["title_fragment_section"] += 1
            shown.append(f"{name} [{p.ordinal}]: section {p.section!r} is a piece of the title")
        if _STRAY.search(p.text):
            counts["stray_letters"] += 1
            shown.append(f"{name} [{p.ordinal}]: stray letters: …{flat[-60:]!r}")
        if _HEADER.search(p.text):
            counts["header_in_text"] += 1
            shown.append(f"{name} [{p.ordinal}]: running header in text: {flat[:60]!r}…")
        if _FOOTER.search(p.text):
            counts["footer_in_text"] += 1
            shown.append(f"{name} [{p.ordinal}]: running footer in text: {flat[:60]!r}…")
        m = _LETTER_LABEL.search(p.paragraph or "")
        if m:
            lettered.add(m.group(1))
            continues = previous is not None and previous.paragraph == p.paragraph  # the item goes on after a page break
            if _LEAD_LETTER.sub("", p.text)[:1].islower() and not continues:
                counts["misplaced_letter"] += 1
                shown.append(f"{name} [{p.ordinal}]: para. {p.paragraph} starts mid-sentence: {flat[:50]!r}")
        previous = p
    drawn = sorted({m.group(1) for page in raw for m in _BARE_LETTER.finditer(page)})
    for letter in drawn:
        if letter not in lettered:
            counts["unlettered_action"] += 1
            shown.append(f"{name}: action {letter}. is cited without its letter")
    counts["actions"] = len(drawn)
    return counts, shown, len(prepared.passages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", default=str(ROOT.parent / "shared" / "corpus-gcm"))
    parser.add_argument("--show", action="store_true", help="print every fault found")
    parser.add_argument("--json", type=Path, help="write the counts (total, per language, per sheet) here")
    args = parser.parse_args()
    files = sheets(Path(args.folder))
    total: Counter[str] = Counter()
    by_lang: dict[str, Counter[str]] = {}
    per_sheet: dict[str, dict[str, int]] = {}
    passages = 0
    for path in files:
        counts, shown, n = faults_of(path)
        passages += n
        total.update(counts)
        by_lang.setdefault(path.parent.name, Counter()).update(counts)
        per_sheet[f"{path.parent.name}/{path.name}"] = {**{f: counts[f] for f in FAULTS}, "passages": n}
        if args.show:
            for line in shown:
                print(line)
    print(f"{len(files)} sheets, {passages} passages, {total['actions']} lettered actions")
    print(f"{'fault':<24}{'total':>7}" + "".join(f"{lang:>6}" for lang in sorted(by_lang)))
    for fault in FAULTS:
        print(f"{fault:<24}{total[fault]:>7}" + "".join(f"{by_lang[lang][fault]:>6}" for lang in sorted(by_lang)))
    if args.json:
        args.json.write_text(json.dumps({
            "sheets": len(files), "passages": passages, "actions": total["actions"],
            "total": {f: total[f] for f in FAULTS},
            "by_lang": {lang: {f: c[f] for f in FAULTS} for lang, c in sorted(by_lang.items())},
            "per_sheet": per_sheet,
        }, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
