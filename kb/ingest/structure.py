"""Recognising the visible structure of policy documents: page furniture, markers, headings.

Shared by the cleaner (which must drop running headers and know where paragraphs start
while it reflows PDF lines) and the chunker (which must know what to cite).  UN and IOM papers number their
paragraphs ("8.") and sub-items ("a)", "(iv)"), laws number articles ("Artículo 3.",
"§ 3") and headings are short lines without a final full stop.  Everything here is a
plain regular expression or a small predicate on one line or one paragraph, so that
each rule can be tested on its own and the CLI imports nothing heavy.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from kb.text.urls import URL

EDGE_TOP = 8          # running headers sit among the first lines of a page ...
EDGE_BOTTOM = 5       # ... and footers among the last ones
RUNNING_SHARE = 0.4   # a line is "running" when it recurs on this share of pages ...
RUNNING_MIN = 3       # ... and on at least this many
EDGE_SKIPS = 2        # short lines looked past at a page's edge to reach its running lines ...
EDGE_SKIP_CHARS = 30  # ... when this short
GLUED_MIN = 10       # characters of a line key that may count where it is run into another line
VARIANT_PREFIX = 30   # characters of a line key shared with a running line: a variant of that footer
BULLET_CHARS = "•▪●◦■□➢►✓‣⁃◆❖"
UPPER = "A-ZÀ-ÖØ-ÞĀ-Ž"

URL_LINE = re.compile(rf"^\s*{URL.pattern}\s*$", re.IGNORECASE)
SEPARATOR_LINE = re.compile(r"^\s*(?:_{4,}|-{4,}|\*{3,}|={4,}|\.{6,})\s*$")
# "1  Il convient", " 23 A/79/323.": a note number, then text (not "8." nor "1994 (").
FOOTNOTE_LINE = re.compile(r"^\s{0,3}(\d{1,3})\s{1,4}(?=[^\W\d_]|[\"“«(\[])")

_PARA = re.compile(r"^\s*(\d{1,3})\.(?=\s+\S)")
# Capitalised: a lower-case "artículo 52 de esta Ley." at a line start is a cross-reference that
# wrapped there, and read as a heading it numbered the next articles wrongly ("Art. 52 VI" for 40 VI)
_LEGAL = re.compile(
    r"^\s*(?:Art[ií]culo|ART[IÍ]CULO|Article|ARTICLE|Artigo|ARTIGO|Artikel|ARTIKEL|Art\.|ART\.)\s+"
    r"(\d{1,4}[a-z]?(?:\s+(?:bis|ter|quater|Bis|Ter|BIS|TER))?)"
    r"(?=\s*(?:[.:\-–—]|$|\s+[" + UPPER + r"]))"
)
_SECTION_SIGN = re.compile(r"^\s*§{1,2}\s*(\d{1,4}[a-z]?)(?=\s*$|\s+[" + UPPER + r"(]|\.)")
_SUB_PAREN = re.compile(r"^\s*\(([a-z]{1,2}|[ivx]{1,5})\)(?=\s+\S)")
_SUB_CLOSE = re.compile(r"^\s*([a-z]|[ivx]{1,5})\)(?=\s+\S)")
# "b. … de services": an item whose first words the PDF lost (kb/ingest/extract/pdf_layout.py)
_SUB_DOT = re.compile(r"^\s*([a-z])\.(?=\s+(?:[" + UPPER + r"]|… ))")
_SUB_NUM = re.compile(r"^\s*\((\d{1,2})\)(?=\s+\S)")
_ROMAN = re.compile(r"^\s*([IVX]{1,6})\.(?=\s+\S)")
_BULLET = re.compile(r"^\s*[" + BULLET_CHARS + r"](?=\s*\S)")
_DASH = re.compile(r"^\s*[-–—*+](?=\s+\S)")
_BARE_MARKER = re.compile(r"^\s*(?:\d{1,3}[.)]|[a-z][.)]|\(?[a-z]\)|[" + BULLET_CHARS + r"])\s*$")

_PAGE_NUMBER = re.compile(
    r"^[\s\-–—|·•]*(?:(?:page|página|pagina|pág\.?|p\.|seite|s\.)\s*)?\d{1,3}"
    r"(?:\s*(?:/|of|de|sur|von|sobre)\s*\d{1,4})?[\s\-–—|·•]*$",
    re.IGNORECASE,
)
_FOLIO_TITLE = re.compile(r"^\s*(?:\d{1,3}\s*[|\-–—·]\s*(?P<a>.+?)|(?P<b>.+?)\s*[|\-–—·]\s*\d{1,3})\s*$")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S")
_KEYWORD_HEADING = re.compile(
    r"^\s*(?:Objective|Objectif|Objetivo|Ziel|Chapter|Chapitre|Cap[ií]tulo|Kapitel|Part|Partie|Parte|Teil"
    r"|Section|Secci[oó]n|Abschnitt|T[ií]tulo|Titre|Annex|Annexe|Anexo|Anhang|Appendix|Step|[ÉE]tape|Paso"
    r"|Action|Acci[oó]n|Tool|Outil|Herramienta)\s+(?:\d{1,3}|[IVXLC]{1,6})\b"
)
_MULTI_LEVEL = re.compile(r"^\s*(?:\d{1,2}|[IVX]{1,5})(?:\.\d{1,2})+\.?\s+\S")
_LETTER_HEADING = re.compile(r"^\s*[A-H]\.\s+\S")
_SHORT_NUMBERED = re.compile(r"^\s*\d{1,2}\.\s+\S")
_END_PUNCT = re.compile(r"[.,;:!?…—–]\s*$")
_FOOTNOTE_TAIL = re.compile(r"(?<=[.,;:!?)”»\"])\s?\d{1,3}\s*$")
_CAPTION = re.compile(
    r"^\s*(?:figure|fig\.|table|box|chart|graph|map|source|tableau|encadré|graphique|carte|figura|tabla|cuadro"
    r"|gráfico|recuadro|fuente|abbildung|tabelle|quelle)\b",
    re.IGNORECASE,
)  # captions label a picture; they do not open a section
_DATE = re.compile(r"\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b")
_SENTENCE_BREAK = re.compile(r"[^\W\d_]{2}[.!?]\s+[" + UPPER + r"]")  # not after "3." or "A."


@dataclass(frozen=True)
class Marker:
    """What opens a paragraph: ``kind`` is para, legal, sub, num, roman, bullet or dash."""

    kind: str
    label: str | None


def marker(line: str) -> Marker | None:
    """The structural marker a line starts with, if any ("8." -> para 8, "(c)" -> sub c))."""
    for pattern, kind in ((_PARA, "para"), (_SUB_PAREN, "sub"), (_SUB_CLOSE, "sub"), (_SUB_NUM, "num")):
        m = pattern.match(line)
        if m:
            label = f"({m.group(1)})" if kind == "num" else m.group(1) if kind == "para" else f"{m.group(1)})"
            return Marker(kind, label)
    m = _LEGAL.match(line)
    if m:
        return Marker("legal", "Art. " + " ".join(m.group(1).split()))
    m = _SECTION_SIGN.match(line)
    if m:
        return Marker("legal", "§ " + m.group(1))
    m = _SUB_DOT.match(line)
    if m:
        return Marker("sub", f"{m.group(1)})")
    m = _ROMAN.match(line)
    if m:
        return Marker("roman", m.group(1))
    if _BULLET.match(line):
        return Marker("bullet", None)
    if _DASH.match(line):
        return Marker("dash", None)
    return None


def is_bare_marker(line: str) -> bool:
    """A list marker alone on its line ("a.", "3.", "•"): layout debris of PDF lists."""
    return bool(_BARE_MARKER.match(line))


def footnote_number(line: str) -> str | None:
    """The note number of a line shaped like a footnote ("2  HCR, Mid-year Trends")."""
    m = FOOTNOTE_LINE.match(line)
    return m.group(1) if m else None


def letters(text: str) -> int:
    return sum(c.isalpha() for c in text)


def is_all_caps(text: str) -> bool:
    """Upper-case titles ("RECOMMENDATIONS", "PART III—APPLICATION"), not acronyms alone."""
    cased = [c for c in text if c.isalpha() and c.lower() != c.upper()]
    if len(cased) < 4:
        return False
    upper = sum(c.isupper() for c in cased)
    words = [w for w in text.split() if any(c.isalpha() for c in w)]
    return upper / len(cased) >= 0.85 and (len(words) >= 2 or len(cased) >= 8)


def is_upper_word_run(text: str, max_words: int = 3) -> bool:
    """A few words in capitals ("WORK", "PLUS SOUPLES"): too short for ``is_all_caps`` to trust alone."""
    words = text.split()
    cased = [c for c in text if c.isalpha() and c.lower() != c.upper()]
    return 0 < len(words) <= max_words and len(cased) >= 2 and all(c.isupper() for c in cased)


def ends_with_punct(text: str) -> bool:
    """Final punctuation, ignoring a footnote call glued after it ("Secretary-General;23")."""
    return bool(_END_PUNCT.search(_FOOTNOTE_TAIL.sub("", text.rstrip())))


def ends_sentence(text: str) -> bool:
    """A line that closes a sentence: ".", "!", "?", ":" or ";" (quotes, note calls allowed)."""
    t = _FOOTNOTE_TAIL.sub("", text.rstrip()).rstrip("\"'»”’)] ")
    return bool(t) and t[-1] in ".!?:;…"


def strong_heading(text: str) -> bool:
    """Headings that announce themselves: Markdown, all caps, "Objective 5:", "4.1.2 Title".

    Used on single lines while reflowing and on whole paragraphs while chunking.
    """
    t = text.strip()
    if not t or letters(t) < 2:
        return False
    if _MD_HEADING.match(t):
        return True
    if _CAPTION.match(t):
        return False
    m = marker(t)
    if m is not None and m.kind in {"bullet", "dash", "sub", "num"}:
        return False
    if is_all_caps(t) and len(t) <= 300 and not _SENTENCE_BREAK.search(t):
        return True
    if ends_with_punct(t) and not t.endswith(":"):
        return False
    if _KEYWORD_HEADING.match(t) and len(t) <= 200:
        return True
    if _DATE.search(t) or ";" in t or t.endswith(":"):  # "VIII. Constitución: ...; Fracción ... 11-11-2020"
        return False
    if _MULTI_LEVEL.match(t):
        return len(t) <= 150
    return bool(_ROMAN.match(t) or _LETTER_HEADING.match(t)) and len(t) <= 100


def numbered_heading(text: str) -> bool:
    """"2. Methodology": a short numbered line without final punctuation.

    As weak as ``weak_heading``: a numbered paragraph cut by a page break looks the same.
    """
    t = text.strip()
    return bool(_SHORT_NUMBERED.match(t)) and len(t) <= 80 and not ends_with_punct(t)


def weak_heading(text: str) -> bool:
    """A short title-like line without final punctuation ("Enseignements tirés de ...").

    Weak because table cells and list fragments look the same: the chunker only
    believes it when body text follows.
    """
    t = text.strip()
    if not t or len(t) > 160 or len(t.split()) > 22 or letters(t) < 3:
        return False
    if not (t[0].isupper() or t[0].isdigit()) or ends_with_punct(t):
        return False
    if marker(t) is not None or footnote_number(t) or URL_LINE.match(t) or _DATE.search(t) or _CAPTION.match(t):
        return False  # dated lines are amendment notes ("Fracción reformada DOF 30-10-2014")
    return not _SENTENCE_BREAK.search(t)


def heading_label(text: str) -> str | None:
    """A legal number carried by a heading ("### § 3 Begriffsbestimmungen" -> "§ 3")."""
    m = marker(re.sub(r"^\s*#{1,6}\s+", "", text))
    return m.label if m is not None and m.kind == "legal" else None


def starts_upper(text: str, digits: bool = True) -> bool:
    t = text.lstrip(" \t\"'“«(¿¡")
    return bool(t) and (t[0].isupper() or (digits and t[0].isdigit()))


_FUNCTION_WORDS = frozenset(
    """the a an of to in on for with and or by from at as into than that le la les des du de
    et ou à au aux en un une pour par sur dans avec que el los las del y o con por para al
    der die das und oder mit von zu im dem den em do da dos e com""".split()
)


def ends_mid_phrase(line: str) -> bool:
    """A line ending on "the", "de", "und"...: the sentence goes on, whatever comes next."""
    words = line.rstrip().rsplit(None, 1)
    return bool(words) and words[-1].lower() in _FUNCTION_WORDS


def starts_lower(text: str) -> bool:
    t = text.lstrip(" \t\"'“«(")
    return bool(t) and t[0].islower()


# -- running headers, footers, page numbers --------------------------------------------
def _line_key(line: str) -> str:
    """Header identity across pages: case, spacing and page numbers do not matter."""
    return re.sub(r"\s+", "", re.sub(r"\d+", "#", line.lower()))


def _edge_indexes(lines: list[str]) -> list[int]:
    """Indexes of the first EDGE_TOP and last EDGE_BOTTOM non-blank lines."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:EDGE_TOP]) | set(filled[-EDGE_BOTTOM:]))


def is_page_number(line: str) -> bool:
    """"12", "- 12 -", "Page 12 of 30", "3 de 72", "2/10"."""
    return bool(line.strip()) and bool(_PAGE_NUMBER.match(line))


def _folio_title(line: str) -> str | None:
    """"12 | Title", "14 - The GCM", "The GCM - 15": the title beside a page number."""
    m = _FOLIO_TITLE.match(line)
    if not m or is_page_number(line):
        return None
    title = (m.group("a") or m.group("b") or "").strip()
    return _line_key(title) if letters(title) >= 2 else None


def _numbers_move_with_pages(seen: list[tuple[int, tuple[int, ...]]]) -> bool:
    """Numbers in a running line are fixed ("2024") or follow the page ("2/10", "261").

    A body line that merely looks alike on many pages ("Artículo 12.", "Artículo 31.")
    has numbers that do neither.
    """
    if len({len(nums) for _, nums in seen}) > 1:
        return False  # "1" and a literal "#" share a key (_line_key): not one line whose numbers move
    for j in range(len(seen[0][1])):
        values = [nums[j] for _, nums in seen]
        offsets = Counter(v - page for page, v in zip((p for p, _ in seen), values))
        if len(set(values)) > 1 and offsets.most_common(1)[0][1] < 0.8 * len(seen):
            return False
    return True


def running_keys(texts: list[str]) -> tuple[set[str], set[str]]:
    """Line keys recurring at page edges on enough pages, and folio titles seen 3+ times."""
    seen: dict[str, list[tuple[int, tuple[int, ...]]]] = {}
    folios: Counter[str] = Counter()
    for page, text in enumerate(texts):
        lines = text.split("\n")
        edge = [lines[i] for i in _edge_indexes(lines)]
        for line in edge:
            key = _line_key(line)
            if key and all(p != page for p, _ in seen.get(key, [])[-1:]):
                seen.setdefault(key, []).append((page, tuple(int(n) for n in re.findall(r"\d+", line))))
        folios.update({f for f in map(_folio_title, edge) if f})
    _count_glued(texts, seen)
    need = max(RUNNING_MIN, math.ceil(RUNNING_SHARE * len(texts)))
    keys = {k for k, v in seen.items()
            if (len(v) >= need or _every_other_page([p for p, _ in v], len(texts))) and _numbers_move_with_pages(v)}
    return keys, {k for k, n in folios.items() if n >= RUNNING_MIN}


def _count_glued(texts: list[str], seen: dict[str, list[tuple[int, tuple[int, ...]]]]) -> None:
    """An edge line that starts or ends with another edge line's text counts as that line too: a
    short running title run into the footer ("RemittancesExtract from …") is still that title."""
    short = [k for k in seen if len(k) >= GLUED_MIN]
    for page, text in enumerate(texts):
        lines = text.split("\n")
        for i in _edge_indexes(lines):
            key = _line_key(lines[i])
            for k in short:
                if len(k) < len(key) and (key.startswith(k) or key.endswith(k)) and all(p != page for p, _ in seen[k]):
                    width = len(seen[k][0][1])
                    seen[k].append((page, tuple(int(n) for n in re.findall(r"\d+", lines[i]))[:width]))
    for v in seen.values():
        v.sort()


def _covered(key: str, keys: set[str]) -> bool:
    """The line is running lines run together ("Envois de fonds" + the footer's two lines)."""
    parts = list(keys)
    reach = [True] + [False] * len(key)
    for i in range(len(key)):
        if reach[i]:
            for k in parts:
                if key.startswith(k, i):
                    reach[i + len(k)] = True
    return reach[-1]


def _every_other_page(pages: list[int], count: int) -> bool:
    """A header of left-hand (or right-hand) pages only: on every other page from the second
    or third to the end ("› GCM OBJECTIVE 3" on pages 2 and 4 of five)."""
    return count >= 4 and len(pages) >= 2 and pages[0] in (1, 2) and pages == list(range(pages[0], count, 2))


def drop_running_lines(texts: list[str]) -> tuple[list[str], int]:
    """Remove running headers/footers and page numbers; returns texts and characters dropped.

    Only lines at a page's top or bottom are candidates, scanned from the edge inwards
    and stopping at the first line that is not running, so that a body line that
    happens to repeat elsewhere is never touched.
    """
    keys, folios = running_keys(texts)

    def running(line: str) -> bool:
        key = _line_key(line)
        if is_page_number(line) or key in keys or _folio_title(line) in folios:
            return True
        if key in folios:  # the running title alone, printed beside the page number elsewhere
            return True
        if len(key) >= VARIANT_PREFIX and any(key[:VARIANT_PREFIX] in k for k in keys):
            return True  # another wording of a long running footer
        if len(key) < 15:
            return False
        if any(key in k for k in keys):  # a piece of a footer that wrapped here
            return True
        return _covered(key, keys)  # footer lines run together

    out, dropped = [], 0
    for text in texts:
        lines = text.split("\n")
        kill: set[int] = set()
        filled = [i for i, line in enumerate(lines) if line.strip()]
        for order, limit in ((filled, EDGE_TOP), (filled[::-1], EDGE_BOTTOM)):
            skips = EDGE_SKIPS
            for i in order[:limit]:
                if running(lines[i]):
                    kill.add(i)
                elif skips and len(lines[i].strip()) <= EDGE_SKIP_CHARS:
                    skips -= 1  # a logo's words ("Repository of Practices") below the footer: kept, looked past
                else:
                    break
        dropped += sum(len(lines[i].strip()) for i in kill)
        out.append("\n".join(line for i, line in enumerate(lines) if i not in kill))
    return out, dropped


# -- lines ---------------------------------------------------------------------------------------
def line_width(lines: list[str]) -> float:
    """The page's full line length (90th percentile): shorter lines may end a paragraph."""
    sizes = sorted(len(s.strip()) for s in lines if s.strip() and not URL_LINE.match(s))
    return float(sizes[int(0.9 * (len(sizes) - 1))]) if sizes else 80.0


def indented(raw: str) -> bool:
    return raw[:1] in (" ", "\t") and bool(raw.strip())
