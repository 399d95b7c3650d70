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

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Sequence

from kb.ingest import structure as st
from kb.ingest.glued import unglue_caps
from kb.models import CleanText, Page, PageSpan

__all__ = ["PAGE_JOINER", "clean_pages", "drop_running_lines", "join_hyphenated", "reflow"]

drop_running_lines = st.drop_running_lines  # step 1 lives with the other layout rules

PAGE_JOINER = "\n\n"
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi",
              "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st"}
_LIGATURE_RE = re.compile("[\ufb00-\ufb06]")
# Starts only at a word start: otherwise each letter of a long hyphen-less word retries
# the whole rest of the word (quadratic on space-less text).
_HYPHEN_BREAK = re.compile(r"(?<![^\W\d_])([^\W\d_]+)-[ \t]*\n(?:[ \t]*\n)?[ \t]*([^\W\d_][\w'’\-]*)")
_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
JOIN_ZIPF = 3.9      # a joined word this common is a word ("framework"), not a compound
JOIN_MARGIN = 1.5    # ... as is one nearly as common as the hyphenated pair ("streamline")
_ELISION = re.compile(r"^(?:[^\W\d_]|qu)['’]", re.IGNORECASE)  # "main-d’œuvre", not "tion’s"
_SUSPENDED = frozenset("und oder bzw sowie or and nor et ou y o u e ni".split())


# -- the pipeline ------------------------------------------------------------------------------
def clean_pages(pages: list[Page], lang: str | None) -> CleanText:
    """Clean, reflow and repair ``pages``; ``CleanText.pages`` has one span per page."""
    texts = [_normalise_raw(p.text) for p in pages]
    expanded = sum(len(_LIGATURE_RE.findall(p.text)) for p in pages)
    dropped = 0
    if len(texts) >= 3:
        texts, dropped = st.drop_running_lines(texts)
    lang = lang or _guess_language(texts)
    wf_lang = lang if lang in _wordfreq_languages() else "en"
    seen = word_counts(texts)
    texts = [unglue_caps(join_hyphenated(t, wf_lang, seen), wf_lang) for t in texts]
    paragraphs = [reflow(t) for t in texts]
    dropped += sum(r.dropped for r in paragraphs)
    texts = [PAGE_JOINER.join(r.paragraphs) for r in paragraphs]
    texts = join_across_pages(texts, wf_lang, seen)
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


# -- step 2: words hyphenated at line ends -----------------------------------------------------
def _guess_language(texts: list[str]) -> str | None:
    """The document's language when the caller does not know it (hyphenation needs one)."""
    from kb.text.lang import detect_language

    return detect_language(" ".join(texts)[:4000])


@lru_cache(maxsize=1)
def _wordfreq_languages() -> frozenset[str]:
    import wordfreq

    return frozenset(wordfreq.available_languages())


@lru_cache(maxsize=20000)
def _zipf(word: str, lang: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word.replace("’", "'"), lang)


def hyphen_join(left: str, right: str, lang: str, seen: Counter[str] | None = None) -> str:
    """How "left-⏎right" reads: "leftright", "left-right" or "left- right".

    A capitalised second part ("EU-Passworld"), an acronym ("COVID-"), an elision
    ("main-d’œuvre") or a suspended compound ("Rechts- oder") keeps its hyphen.
    Otherwise the document's own spelling elsewhere (``seen``: word counts) decides,
    then word frequency: a common joined word ("framework", "migration") wins, and
    so does a hyphenated pair far more common than its joined form ("well-being").
    """
    if right.lower() in _SUSPENDED:
        return f"{left}- {right}"
    if right[0].isupper() or (len(left) > 1 and left.isupper()) or _ELISION.match(right):
        return f"{left}-{right}"
    joined, hyphenated = left + right, f"{left}-{right}"
    if "\ufffd" in joined:
        return joined
    if seen and seen[joined.lower()] != seen[hyphenated.lower()]:
        return joined if seen[joined.lower()] > seen[hyphenated.lower()] else hyphenated
    zj = _zipf(joined.lower(), lang)
    if zj == 0:
        both_words = _zipf(left.lower(), lang) >= 2.0 and _zipf(right.lower(), lang) >= 2.0
        return hyphenated if both_words else joined
    return joined if zj >= JOIN_ZIPF or zj >= _zipf(hyphenated.lower(), lang) - JOIN_MARGIN else hyphenated


def word_counts(texts: list[str]) -> Counter[str]:
    """Lower-cased words and hyphenated compounds of the document, for ``hyphen_join``."""
    return Counter(m.group().lower() for t in texts for m in _WORD.finditer(t))


def join_hyphenated(text: str, lang: str, seen: Counter[str] | None = None) -> str:
    """Rejoin words split by a hyphen at a line end, within one page."""
    return _HYPHEN_BREAK.sub(lambda m: hyphen_join(m.group(1), m.group(2), lang, seen), text)


_TRAILING_HYPHEN = re.compile(r"([^\W\d_]+)-$")
_LEADING_WORD = re.compile(r"^([^\W\d_][\w'’\-]*)[ \t]*")


def join_across_pages(texts: list[str], lang: str, seen: Counter[str] | None = None) -> list[str]:
    """A word hyphenated over a page break is completed on the page where it starts."""
    texts = list(texts)
    for i in range(len(texts) - 1):
        m = _TRAILING_HYPHEN.search(texts[i])
        n = _LEADING_WORD.match(texts[i + 1]) if m else None
        if not m or not n or not st.starts_lower(n.group(1)):
            continue
        texts[i] = texts[i][: m.start()] + hyphen_join(m.group(1), n.group(1), lang, seen)
        texts[i + 1] = texts[i + 1][n.end():]
    return texts


# -- steps 3 and 4: paragraphs, with notes moved out of their way ------------------------------
@dataclass
class Reflowed:
    """One page's paragraphs (lines joined by spaces) and the characters dropped doing it."""

    paragraphs: list[str]
    dropped: int = 0


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
        self.note_zone = False
        if self.body and not self._breaks(raw, s):
            self.body.append(s)
        else:
            self._flush()
            self.body, self.heading = [s], self._heading_line(s)
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
        if self.indent_ok and st.indented(raw) and not st.footnote_number(raw):
            return False  # the body resumes (a new page in a flattened PDF)
        m = st.marker(raw)
        if (m and m.kind not in {"bullet", "dash"}) or self._heading_line(s):
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
        if (m and m.kind != "dash") or self._heading_line(s) or self.heading:
            return False
        return st.starts_lower(s) or not st.ends_sentence(self.body[-1])

    # paragraphs -------------------------------------------------------------------------------
    def _heading_line(self, s: str) -> bool:
        """A heading line; numbered ones ("III. ...", "4.1 ...") must also stop short of the margin."""
        if not st.strong_heading(s):
            return False
        return st.is_all_caps(s) or s.startswith("#") or len(s) < 0.7 * self.width

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
            # the last line of a title set in capitals may be one short word ("WORK", "DÉCENT")
            caps = st.is_all_caps(prev) and (st.is_all_caps(s) or st.is_upper_word_run(s))
            return not ((caps and self.gap <= 1) or st.starts_lower(s))
        if self._heading_line(s):
            return True
        if self.gap > 0:
            return not self._soft_gap(raw, s, prev)
        if self.indent_ok and st.indented(raw) and st.starts_upper(s):
            return True
        short = len(prev) < 0.7 * self.width
        if not short or prev.endswith((",", "-")) or st.ends_mid_phrase(prev):
            return False
        return st.starts_upper(s, digits=False)

    def _soft_gap(self, raw: str, s: str, prev: str) -> bool:
        """A blank line that is layout, not structure (inside a wrapped sentence)."""
        if st.starts_lower(s) or prev.endswith((",", "-")):
            return True
        if self.indent_ok and st.indented(raw) and st.starts_upper(s):
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
    indent_ok = bool(filled) and sum(map(st.indented, filled)) < 0.5 * len(filled)
    flow = _Flow(st.line_width(lines), indent_ok)
    for line in lines:
        flow.feed(line)
    return flow.finish()


# -- step 5: ligature repair and Unicode normalisation -----------------------------------------
def repair_pages(texts: list[str], lang: str | None) -> tuple[list[str], int]:
    """Run ``kb.ingest.repair`` over the whole document (its evidence is document-wide), NFC per page.

    Repairs never span a page joiner (they replace single words), so each page's new
    extent follows from the repairs' length changes.
    """
    try:
        from kb.ingest.repair import repair_text
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


def _shift_bounds(bounds: list[tuple[int, int]], repairs: Sequence[Any]) -> list[tuple[int, int]]:
    """Map increasing (start, end) offsets of the input through in-order span replacements."""
    edits = sorted(repairs, key=lambda r: r.start)
    out, i, delta = [], 0, 0

    def moved(offset: int) -> int:
        nonlocal i, delta
        while i < len(edits) and edits[i].end <= offset:
            delta += len(edits[i].after) - (edits[i].end - edits[i].start)
            i += 1
        return offset + delta

    for a, b in bounds:
        out.append((moved(a), moved(b)))
    return out
