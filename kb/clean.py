"""Raw page texts -> one repaired document text that still knows where each page lies.

PDF text layers keep the printed layout: running headers and page numbers on every
page, words hyphenated at line ends, hard line breaks inside paragraphs, and footnotes
or link annotations wedged between the two halves of a paragraph.  Embedding that
as-is scatters one idea over several passages and pollutes them with boilerplate.

Every step below works inside one page (except joining a word hyphenated across a
page break, which moves the word's tail onto the page where it starts), so the page
spans stay exact: ``text[span.start:span.end]`` is that page's cleaned content and
pages are joined with ``PAGE_JOINER``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from kb import structure as st
from kb.models import CleanText, Page, PageSpan

__all__ = ["PAGE_JOINER", "clean_pages", "drop_running_lines", "join_hyphenated", "reflow"]

PAGE_JOINER = "\n\n"
EDGE_TOP = 8          # running headers sit among the first lines of a page ...
EDGE_BOTTOM = 5       # ... and footers among the last ones
RUNNING_SHARE = 0.4   # a line is "running" when it recurs on this share of pages ...
RUNNING_MIN = 3       # ... and on at least this many
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi",
              "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st"}
_LIGATURE_RE = re.compile("[\ufb00-\ufb06]")
_PAGE_NUMBER = re.compile(
    r"^[\s\-–—|·•]*(?:(?:page|página|pagina|pág\.?|p\.|seite|s\.)\s*)?\d{1,3}"
    r"(?:\s*(?:/|of|de|sur|von|sobre)\s*\d{1,4})?[\s\-–—|·•]*$",
    re.IGNORECASE,
)
_FOLIO_TITLE = re.compile(r"^\s*(?:\d{1,3}\s*[|\-–—·]\s*(?P<a>.+?)|(?P<b>.+?)\s*[|\-–—·]\s*\d{1,3})\s*$")
_HYPHEN_BREAK = re.compile(r"([^\W\d_]+)-[ \t]*\n(?:[ \t]*\n)?[ \t]*([^\W\d_][\w'’\-]*)")
_SUSPENDED = frozenset("und oder bzw sowie or and nor et ou y o u e ni".split())


# -- the pipeline ------------------------------------------------------------------------------
def clean_pages(pages: list[Page], lang: str | None) -> CleanText:
    """Clean, reflow and repair ``pages``; ``CleanText.pages`` has one span per page."""
    texts = [_normalise_raw(p.text) for p in pages]
    expanded = sum(len(_LIGATURE_RE.findall(p.text)) for p in pages)
    dropped = 0
    if len(texts) >= 3:
        texts, dropped = drop_running_lines(texts)
    wf_lang = _wordfreq_lang(lang, texts)
    texts = [join_hyphenated(t, wf_lang) for t in texts]
    paragraphs = [reflow(t) for t in texts]
    dropped += sum(r.dropped for r in paragraphs)
    texts = [PAGE_JOINER.join(r.paragraphs) for r in paragraphs]
    texts = join_across_pages(texts, wf_lang)
    texts, repairs = repair_pages(texts, lang)
    return _assemble(texts, pages, lang, repairs + expanded, dropped)


def _normalise_raw(text: str) -> str:
    """Newlines, tabs, non-breaking spaces and typographic ligatures ("ﬁ" -> "fi")."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u00ad", "")
    return _LIGATURE_RE.sub(lambda m: _LIGATURES[m.group()], text)


def _assemble(texts: list[str], pages: list[Page], lang: str | None, repairs: int, dropped: int) -> CleanText:
    spans, pos = [], 0
    for i, (page, text) in enumerate(zip(pages, texts)):
        if i:
            pos += len(PAGE_JOINER)
        spans.append(PageSpan(page.number, pos, pos + len(text)))
        pos += len(text)
    return CleanText(PAGE_JOINER.join(texts), spans, lang=lang, repairs=repairs, dropped=dropped)


# -- step 1: running headers, footers, page numbers --------------------------------------------
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
    return _line_key(title) if st.letters(title) >= 2 else None


def running_keys(texts: list[str]) -> tuple[set[str], set[str]]:
    """Line keys recurring at page edges on enough pages, and folio titles seen 3+ times."""
    counts: Counter[str] = Counter()
    folios: Counter[str] = Counter()
    for text in texts:
        lines = text.split("\n")
        edge = [lines[i] for i in _edge_indexes(lines)]
        counts.update({_line_key(line) for line in edge})
        folios.update({f for f in map(_folio_title, edge) if f})
    need = max(RUNNING_MIN, math.ceil(RUNNING_SHARE * len(texts)))
    keys = {k for k, n in counts.items() if n >= need and k}
    return keys, {k for k, n in folios.items() if n >= RUNNING_MIN}


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
        return len(key) >= 15 and any(key in k for k in keys)  # a wrapped piece of a footer

    out, dropped = [], 0
    for text in texts:
        lines = text.split("\n")
        kill: set[int] = set()
        filled = [i for i, line in enumerate(lines) if line.strip()]
        for order, limit in ((filled, EDGE_TOP), (filled[::-1], EDGE_BOTTOM)):
            for i in order[:limit]:
                if not running(lines[i]):
                    break
                kill.add(i)
        dropped += sum(len(lines[i].strip()) for i in kill)
        out.append("\n".join(line for i, line in enumerate(lines) if i not in kill))
    return out, dropped


# -- step 2: words hyphenated at line ends -----------------------------------------------------
def _wordfreq_lang(lang: str | None, texts: list[str]) -> str:
    """A language wordfreq knows; guessed from the text when the caller has none."""
    if lang is None:
        from kb.lang import detect_language

        lang = detect_language(" ".join(texts)[:4000], default="en")
    return lang if lang in _wordfreq_languages() else "en"


@lru_cache(maxsize=1)
def _wordfreq_languages() -> frozenset[str]:
    import wordfreq

    return frozenset(wordfreq.available_languages())


@lru_cache(maxsize=20000)
def _zipf(word: str, lang: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word.replace("’", "'"), lang)


def hyphen_join(left: str, right: str, lang: str) -> str:
    """How "left-⏎right" reads: "leftright", "left-right" or "left- right".

    A capitalised second part ("EU-Passworld"), an acronym ("COVID-"), an elision
    ("main-d’œuvre") or a suspended compound ("Rechts- oder") keeps its hyphen;
    otherwise word frequency decides between the joined and the hyphenated form.
    """
    if right.lower() in _SUSPENDED:
        return f"{left}- {right}"
    if right[0].isupper() or (len(left) > 1 and left.isupper()) or "'" in right or "’" in right:
        return f"{left}-{right}"
    if "\ufffd" in left + right:
        return left + right
    joined, hyphenated = _zipf((left + right).lower(), lang), _zipf(f"{left}-{right}".lower(), lang)
    if joined > hyphenated:
        return left + right
    if hyphenated > joined:
        return f"{left}-{right}"
    both_words = _zipf(left.lower(), lang) >= 3.0 and _zipf(right.lower(), lang) >= 3.0
    return f"{left}-{right}" if both_words else left + right


def join_hyphenated(text: str, lang: str) -> str:
    """Rejoin words split by a hyphen at a line end, within one page."""
    return _HYPHEN_BREAK.sub(lambda m: hyphen_join(m.group(1), m.group(2), lang), text)


_TRAILING_HYPHEN = re.compile(r"([^\W\d_]+)-$")
_LEADING_WORD = re.compile(r"^([^\W\d_][\w'’\-]*)[ \t]*")


def join_across_pages(texts: list[str], lang: str) -> list[str]:
    """A word hyphenated over a page break is completed on the page where it starts."""
    texts = list(texts)
    for i in range(len(texts) - 1):
        m = _TRAILING_HYPHEN.search(texts[i])
        j = next((k for k in range(i + 1, len(texts)) if texts[k].strip()), None)
        if not m or j is None or j != i + 1:
            continue
        n = _LEADING_WORD.match(texts[j])
        if not n or not st.starts_lower(n.group(1)):
            continue
        word = hyphen_join(m.group(1), n.group(1), lang)
        texts[i] = texts[i][: m.start()] + word
        texts[j] = texts[j][n.end():]
    return texts


# -- step 5: ligature repair and Unicode normalisation -----------------------------------------
def repair_pages(texts: list[str], lang: str | None) -> tuple[list[str], int]:
    """Run ``kb.repair`` over the whole document (its evidence is document-wide), NFC per page.

    Repairs never span a page joiner (they replace single words), so each page's new
    extent follows from the repairs' length changes.
    """
    try:
        from kb.repair import repair_text
    except ImportError:  # the repair stage is optional for the cleaner
        return [unicodedata.normalize("NFC", t) for t in texts], 0
    whole = PAGE_JOINER.join(texts)
    result = repair_text(whole, lang)
    bounds, pos = [], 0
    for t in texts:
        bounds.append((pos, pos + len(t)))
        pos += len(t) + len(PAGE_JOINER)
    shifted = _shift_bounds(bounds, result.repairs)
    pages = [unicodedata.normalize("NFC", result.text[a:b]) for a, b in shifted]
    return pages, len(result.repairs)


def _shift_bounds(bounds: list[tuple[int, int]], repairs: list) -> list[tuple[int, int]]:
    """Map (start, end) offsets of the input through in-order span replacements."""
    edits = sorted(repairs, key=lambda r: r.start)

    def moved(offset: int) -> int:
        return offset + sum(len(r.after) - (r.end - r.start) for r in edits if r.end <= offset)

    return [(moved(a), moved(b)) for a, b in bounds]


# -- steps 3 and 4: paragraphs, with notes moved out of their way ------------------------------
@dataclass
class Reflowed:
    """One page's paragraphs (lines joined by spaces) and the characters dropped doing it."""

    paragraphs: list[str]
    dropped: int = 0


def _line_width(lines: list[str]) -> float:
    """The page's full line length (90th percentile): shorter lines may end a paragraph."""
    sizes = sorted(len(s.strip()) for s in lines if s.strip() and not st.URL_LINE.match(s))
    return float(sizes[int(0.9 * (len(sizes) - 1))]) if sizes else 80.0


def _indented(raw: str) -> bool:
    return raw[:1] in (" ", "\t") and bool(raw.strip())


@dataclass
class _Flow:
    """Line-by-line paragraph builder; footnotes and link lines wait in ``pending``."""

    width: float
    indent_ok: bool
    paras: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    heading: bool = False
    pending: list[str] = field(default_factory=list)
    note: list[str] | None = None
    note_is_url: bool = False
    note_zone: bool = False
    gap: int = 0
    dropped: int = 0

    def feed(self, raw: str) -> None:
        s = " ".join(raw.split())
        if not s:
            self.gap += 1
            return
        if st.SEPARATOR_LINE.match(s):
            self.dropped += len(s)
            self.note_zone, self.gap = True, self.gap + 1
            return
        if self.note is not None:
            if self._stays_in_note(raw, s):
                self._add_note(raw, s)
                return
            self._close_note()
            self.note_zone = False
            if self.body and self._resumes_body(raw, s):
                self.body.append(s)
                self.gap = 0
                return
            self._flush()
        elif self._opens_note(raw, s):
            self._add_note(raw, s)
            return
        if self.body and not self._breaks(raw, s):
            self.body.append(s)
        else:
            self._flush()
            self.body, self.heading = [s], st.strong_heading(s)
        self.gap = 0

    def finish(self) -> Reflowed:
        self._close_note()
        self._flush()
        return Reflowed(self.paras, self.dropped)

    # notes ------------------------------------------------------------------------------------
    def _opens_note(self, raw: str, s: str) -> bool:
        if st.URL_LINE.match(s):
            return True
        return bool(st.footnote_number(raw)) and (self.note_zone or self.gap > 0)

    def _stays_in_note(self, raw: str, s: str) -> bool:
        """Inside a block of notes: does this line still belong to it?"""
        if st.URL_LINE.match(s):
            return True
        if self.indent_ok and _indented(raw) and not st.footnote_number(raw):
            return False  # the body resumes (a new page in a flattened PDF)
        m = st.marker(raw)
        if (m and m.kind not in {"bullet", "dash"}) or st.strong_heading(s):
            return False
        if st.footnote_number(raw):
            return True
        if self.note_is_url:
            return False
        assert self.note is not None
        return self.gap == 0 or st.starts_lower(s) or not st.ends_sentence(self.note[-1])

    def _add_note(self, raw: str, s: str) -> None:
        is_url = bool(st.URL_LINE.match(s))
        new = st.footnote_number(raw) is not None
        if self.note is None or is_url != self.note_is_url or (new and not is_url):
            self._close_note()
            self.note, self.note_is_url = [], is_url
        self.note.append(s)
        self.gap = 0

    def _close_note(self) -> None:
        if self.note:
            self.pending.append(("\n" if self.note_is_url else " ").join(self.note))
        self.note = None

    def _resumes_body(self, raw: str, s: str) -> bool:
        """After notes: does the interrupted paragraph go on ("... pour les" + "contextes")?"""
        m = st.marker(raw)
        if (m and m.kind != "dash") or st.strong_heading(s) or self.heading:
            return False
        return st.starts_lower(s) or not st.ends_sentence(self.body[-1])

    # paragraphs -------------------------------------------------------------------------------
    def _flush(self) -> None:
        if self.body:
            self.paras.append(" ".join(self.body))
        self.paras.extend(self.pending)
        self.body, self.pending, self.heading = [], [], False

    def _breaks(self, raw: str, s: str) -> bool:
        """Does line ``s`` start a new paragraph after ``self.body``?"""
        prev = self.body[-1]
        m = st.marker(raw)
        if m and m.kind == "dash":
            if st.starts_upper(s.lstrip("-–—*+ ")) or st.ends_sentence(prev):
                return True
        elif m or st.is_bare_marker(s) or st.is_bare_marker(prev):
            return True
        if self.heading:
            caps = st.is_all_caps(s) and st.is_all_caps(prev)
            return not ((caps and self.gap <= 1) or st.starts_lower(s))
        if st.strong_heading(s):
            return True
        if self.gap > 0:
            return not self._soft_gap(raw, s, prev)
        if self.indent_ok and _indented(raw) and st.starts_upper(s):
            return True
        short = len(prev) < 0.7 * self.width
        return short and st.starts_upper(s) and not prev.endswith((",", "-"))

    def _soft_gap(self, raw: str, s: str, prev: str) -> bool:
        """A blank line that is layout, not structure (inside a wrapped sentence)."""
        if st.starts_lower(s) or prev.endswith((",", "-")):
            return True
        if self.indent_ok and _indented(raw) and st.starts_upper(s):
            return False
        return not st.ends_with_punct(prev) and len(prev) >= 0.8 * self.width


def reflow(text: str) -> Reflowed:
    """Join a page's lines into paragraphs; move footnotes and bare links out of them.

    A footnote block or a run of link lines that interrupts a paragraph (the paragraph
    goes on after it in lower case, or its sentence was unfinished) is emitted after
    that paragraph instead, each note as its own paragraph.
    """
    lines = text.split("\n")
    filled = [x for x in lines if x.strip()]
    indent_ok = bool(filled) and sum(map(_indented, filled)) < 0.5 * len(filled)
    flow = _Flow(_line_width(lines), indent_ok)
    for line in lines:
        flow.feed(line)
    return flow.finish()
