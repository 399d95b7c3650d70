"""Cleaned text -> citable passages that follow the document's own structure.

A passage is what gets embedded, retrieved and quoted, so it should be one idea with
a citation a reader can check: "para. 8 c)", "Art. 12", under the nearest heading.
Paragraph numbers and sub-items therefore bound passages; size only decides how a
long paragraph is cut (between sentences) and which tiny fragments are glued to their
neighbours (never across a different number, which would lose a citation).

Every passage's ``text`` is exactly ``clean.text[char_start:char_end]``.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Callable

from kb.ingest import structure as st
from kb.models import CleanText, Passage
from kb.text.urls import without_urls

__all__ = ["Segment", "chunk", "segments", "sentence_ends"]

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
LANG_MIN_LETTERS = 200  # below this, langdetect guesses: use the document's language
#: a word of three letters or more; a passage without one ("a.\n\nb.\n\nc.": list markers a PDF
#: drew apart from their items, as the GCM objective sheets do) has nothing to find or quote
_WORD = re.compile(r"[^\W\d_]{3,}")
LANG_SAMPLE = 800       # enough to tell a language; langdetect's time grows with the text
LANG_SURE_LETTERS = 800  # from this many letters langdetect's first answer is the passage's language;
LANG_CLEAR = 0.95        # below, another language than the document's needs this probability
SECTION_MAX = 200
JUNK_LETTERS = 3  # a fragment with fewer letters (a stray quote, "A") is glued to a neighbour


@dataclass
class Segment:
    """One paragraph of the cleaned text: a heading, body text or a note (footnote, links)."""

    start: int
    end: int
    kind: str
    label: str | None = None
    section: str | None = None
    block: int = 0  # how many headings precede it: passages never straddle a heading


# -- structure ---------------------------------------------------------------------------------
def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each blank-line-separated paragraph, surrounding whitespace excluded."""
    spans, pos = [], 0
    for m in [*_PARAGRAPH_BREAK.finditer(text), None]:
        end = m.start() if m else len(text)
        chunk_text = text[pos:end]
        stripped = chunk_text.strip()
        if stripped:
            lead = len(chunk_text) - len(chunk_text.lstrip())
            spans.append((pos + lead, pos + lead + len(stripped)))
        pos = m.end() if m else pos
    return spans


def _is_note(text: str) -> bool:
    return bool(st.footnote_number(text) or st.URL_LINE.match(text.split("\n", 1)[0]))


def _body_like(text: str | None) -> bool:
    """What a heading is followed by: a numbered paragraph or real prose."""
    if text is None or st.strong_heading(text) or st.weak_heading(text):
        return False
    m = st.marker(text)
    return (m is not None and m.kind != "dash") or len(text) >= 150


def _is_heading(text: str, following: str | None) -> bool:
    if st.strong_heading(text):
        return True
    if st.numbered_heading(text):  # "2. Methodology", unless the list just goes on ("3. ...")
        m, n = st.marker(text), st.marker(following or "")
        if m and n and n.kind == "para" and n.label == str(int(m.label or 0) + 1):
            return False
        return _body_like(following) or st.strong_heading(following or "")  # "4. Findings" + "4.1 ..."
    return st.weak_heading(text) and _body_like(following)


def _section_name(text: str) -> str:
    name = " ".join(re.sub(r"^\s*#{1,6}\s+", "", text).split())
    return name if len(name) <= SECTION_MAX else name[: SECTION_MAX - 1].rstrip() + "…"


_OUTER = {"nr": {"num"}, "letter": {"num", "nr"}, "roman": {"num", "nr", "letter"}}


class _Labeller:
    """Tracks the current paragraph number and sub-item levels: "8", "8 c)", "10 (3) a)"."""

    def __init__(self) -> None:
        self.top: str | None = None
        self.subs: list[tuple[str, str]] = []  # (level, label): "(3)", nr "2.", letter "a)", roman "iv)"

    def reset(self, top: str | None = None) -> None:
        self.top, self.subs = top, []

    def label(self) -> str | None:
        parts = ([self.top] if self.top else []) + [lab for _, lab in self.subs]
        return " ".join(parts) or None

    def feed(self, m: st.Marker | None) -> str | None:
        if m is None or m.kind in {"bullet", "dash"}:
            return self.label()
        if m.kind == "para" and self.top and self.top.startswith(("Art.", "§")):
            self._sub("nr", f"{m.label}.")  # "§ 4 (1) 1.": numbered items inside an article
        elif m.kind in {"para", "legal"}:
            self.reset(m.label)
        elif m.kind in {"num", "roman"}:
            self.subs = [("num", m.label or "")]
        else:
            self._sub(self._level(m.label or ""), m.label or "")
        return self.label()

    def _sub(self, level: str, label: str) -> None:
        """Enter a sub-level, dropping the levels at or below it: "(2)" ends "(1) 3. b)"."""
        keep = _OUTER[level]
        self.subs = [s for s in self.subs if s[0] in keep] + [(level, label)]

    def _level(self, label: str) -> str:
        """"i)" follows "h)" as a letter; otherwise i, ii, iv... are roman sub-sub-items."""
        core = label.rstrip(")")
        if not re.fullmatch(r"[ivx]+", core):
            return "letter"
        last_letter = next((lab for lvl, lab in reversed(self.subs) if lvl == "letter"), None)
        if len(core) == 1 and last_letter and ord(last_letter[0]) == ord(core) - 1:
            return "letter"
        return "roman"


def segments(clean: CleanText) -> list[Segment]:
    """Classify every paragraph and attach its citation label and section."""
    text = clean.text
    spans = _paragraph_spans(text)
    out: list[Segment] = []
    section: str | None = None
    block = 0
    labeller = _Labeller()
    for i, (s, e) in enumerate(spans):
        para = text[s:e]
        following = text[slice(*spans[i + 1])] if i + 1 < len(spans) else None
        if _is_heading(para, following):
            section, block = _section_name(para), block + 1
            labeller.reset(st.heading_label(para))
            out.append(Segment(s, e, "heading", labeller.label(), section, block))
        elif _is_note(para):
            out.append(Segment(s, e, "note", None, section, block))
        else:
            m = st.marker(para)
            if m is None and labeller.subs and st.weak_heading(para):
                labeller.subs = []  # a title-like line ("Example practices") ends the list before it
            out.append(Segment(s, e, "body", labeller.feed(m), section, block))
    return out


# -- sentences ---------------------------------------------------------------------------------
_ABBREVIATIONS = frozenset(
    """e.g i.e cf etc al vs mr mrs ms dr prof no nos nº n° núm vol vols p pp para paras art arts
    chap ch sect sec fig figs ed eds op cit approx dept inc ltd co corp st jr sr sra srs av
    mme mlle m env ex p.ex u.s u.k u.n d.c é.-u e.-u ee.uu resp lit inc ss sig""".split()
)
_BOUNDARY = re.compile(r"[.!?…]+[\"'»”’)\]]*(?:\d{1,3})?\s+(?=[\"'«“(¿¡]?[" + st.UPPER + r"0-9])")


def sentence_ends(text: str) -> list[int]:
    """Offsets in ``text`` just after each sentence-final whitespace run.

    A full stop after a known abbreviation ("e.g.", "No.", "É.-U.") or a single letter
    (an initial, "a.") does not end a sentence.
    """
    out = []
    for m in _BOUNDARY.finditer(text):
        before = text[max(0, m.start() - 12):m.start()].split()
        word = before[-1].lower() if before else ""
        if text[m.start()] == "." and (word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())):
            continue
        out.append(m.end())
    return out


# -- sizes -------------------------------------------------------------------------------------
def _hard_cut(text: str, start: int, limit: int) -> int:
    """Where to cut a sentence longer than the limit: after ";", else ",", else a space."""
    window = text[start:limit]
    for sep in ("; ", ", ", " "):
        i = window.rfind(sep)
        if i > len(window) // 2:
            return start + i + len(sep)
    return limit


def _split(text: str, seg: Segment, max_chars: int) -> list[Segment]:
    """Cut a long paragraph between sentences into near-equal pieces of at most max_chars."""
    if seg.end - seg.start <= max_chars:
        return [seg]
    ends = [seg.start + b for b in sentence_ends(text[seg.start:seg.end])]
    pieces, pos = [], seg.start
    while seg.end - pos > max_chars:
        n = math.ceil((seg.end - pos) / max_chars)
        target = pos + (seg.end - pos) / n
        fits = [b for b in ends if pos < b <= pos + max_chars]
        cut = min(fits, key=lambda b: abs(b - target)) if fits else _hard_cut(text, pos, pos + max_chars)
        piece_end = cut
        while piece_end > pos and text[piece_end - 1].isspace():
            piece_end -= 1
        pieces.append(Segment(pos, piece_end, seg.kind, seg.label, seg.section, seg.block))
        while cut < seg.end and text[cut].isspace():
            cut += 1
        pos = cut
    pieces.append(Segment(pos, seg.end, seg.kind, seg.label, seg.section, seg.block))
    return [p for p in pieces if p.end > p.start]


def _parent(label: str) -> str:
    return label.rsplit(" ", 1)[0] if " " in label else ""


def _descends(label: str | None, parent: str | None) -> bool:
    """"10 (6) a)" lies inside "10 (6)"."""
    return parent is not None and label is not None and label.startswith(parent + " ")


@dataclass
class _Group:
    """Consecutive pieces that become one passage, and the citation they share."""

    segs: list[Segment]
    label: str | None
    letters: int

    @property
    def size(self) -> int:
        return self.segs[-1].end - self.segs[0].start


def _joined_label(text: str, group: _Group, seg: Segment, min_chars: int, max_chars: int) -> tuple[bool, str | None]:
    """Whether a piece may be glued to the passage before it, and the label it then has.

    Never across sections, never beyond ``max_chars``, and never so that a citation
    is lost:
    - same citation (or a note, which sides with the paragraph it follows): when
      either side is under ``min_chars``;
    - a very short sub-item of the passage's paragraph ("(b) role of the interpreter;"
      under "10 (6)"); longer sub-items are worth citing on their own ("8 b)");
    - a run of very short siblings ("1. Nom et prénom :", "2. Organisation :"),
      cited as a range ("1–5").
    """
    head, last = group.segs[0], group.segs[-1]
    new = seg.end - seg.start
    if seg.block != head.block or seg.end - head.start > max_chars:
        return False, None
    if group.letters < JUNK_LETTERS:  # a stray '"' or "A" says nothing: it cites nothing
        return True, seg.label
    if st.letters(text[seg.start:seg.end]) < JUNK_LETTERS:
        return True, group.label
    if seg.label == group.label or seg.kind == "note":
        return group.size < min_chars or new < min_chars, group.label
    tiny = min_chars // 3
    if new >= tiny:
        return False, None
    if _descends(seg.label, group.label):
        return True, group.label
    first = head.label
    siblings = first and seg.label and last.label and _parent(first) == _parent(seg.label) == _parent(last.label)
    if siblings and group.size < min_chars and all(g.end - g.start < tiny for g in group.segs):
        prefix = _parent(first)
        span = f"{first[len(prefix):].strip()}–{seg.label[len(prefix):].strip()}"  # type: ignore[index]
        return True, f"{prefix} {span}".strip()
    return False, None


def _merge(text: str, pieces: list[Segment], min_chars: int, max_chars: int) -> list[_Group]:
    groups: list[_Group] = []
    for seg in pieces:
        if groups:
            ok, label = _joined_label(text, groups[-1], seg, min_chars, max_chars)
            if ok:
                groups[-1].segs.append(seg)
                groups[-1].label = label
                groups[-1].letters += st.letters(text[seg.start:seg.end])
                continue
        groups.append(_Group([seg], seg.label, st.letters(text[seg.start:seg.end])))
    return groups


# -- passages ----------------------------------------------------------------------------------
def _page_finder(clean: CleanText) -> Callable[[int], int | None]:
    """Physical page of an offset; with zero-length spans, the page actually holding it."""
    starts = [p.start for p in clean.pages]

    def page(offset: int) -> int | None:
        i = bisect_right(starts, offset) - 1
        return clean.pages[i].number if i >= 0 else (clean.pages[0].number if clean.pages else None)

    return page


def _language(text: str, default: str | None) -> str | None:
    """The passage's own language (a French report may quote English), if there is prose enough.

    A short passage keeps its document's language unless it is clearly another: a French
    footnote citing English titles ("The Principle of Non-Refoulement …") is French, while a
    Swahili form in an English law is Swahili.
    """
    prose = without_urls(text)
    letters = st.letters(prose)
    if letters < LANG_MIN_LETTERS:
        return default
    if default is None or letters >= LANG_SURE_LETTERS:
        from kb.text.lang import detect_language

        return detect_language(prose, default=default, max_chars=LANG_SAMPLE)
    from kb.text.lang import language_probabilities

    ranked = sorted(language_probabilities(prose, max_chars=LANG_SAMPLE).items(), key=lambda kv: -kv[1])
    if ranked and ranked[0][0] != default and ranked[0][1] >= LANG_CLEAR and default not in dict(ranked):
        return ranked[0][0]
    return default


def chunk(clean: CleanText, doc_id: str, *, min_chars: int = 300, max_chars: int = 1500) -> list[Passage]:
    """Split ``clean`` into passages with paragraph/section citations and page ranges."""
    segs = segments(clean)
    units = [s for s in segs if s.kind != "heading"]
    if not units:  # a document of headings only still deserves to be found
        units = [Segment(s.start, s.end, "body", s.label, s.section, s.block) for s in segs]
    pieces = [p for u in units for p in _split(clean.text, u, max_chars)]
    page = _page_finder(clean)
    out: list[Passage] = []
    for group in _merge(clean.text, pieces, min_chars, max_chars):
        start, end = group.segs[0].start, group.segs[-1].end
        text = clean.text[start:end]
        if not _WORD.search(text):
            continue
        ordinal = len(out)
        out.append(Passage(
            passage_id=f"{doc_id}:{ordinal}", doc_id=doc_id, ordinal=ordinal, text=text,
            lang=_language(text, clean.lang), page_start=page(start), page_end=page(end - 1),
            paragraph=group.label, section=group.segs[0].section, char_start=start, char_end=end,
        ))
    return out
