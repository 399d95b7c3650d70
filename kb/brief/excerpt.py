"""Sentence-bounded, verbatim excerpts of long passages.

A printed pack is read on paper in a session: a 1,400-character paragraph is too
long to quote whole, but a cut in mid-sentence or a paraphrase would misquote the
source. So a long passage is cut only where a sentence ends, the excerpt is always a
verbatim substring of the passage (``passage.text[start:end]``), the renderers mark each
cut with "…" and say so, and the pack prints the whole passage at its end. The window
kept is the one closest to the topic's questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

MAX_CHARS = 700
#: passages up to this long are quoted whole (cutting 50 characters helps nobody)
WHOLE_UP_TO = 800
#: the opening window carries the paragraph's number and subject: keep it on near-ties
START_BONUS = 0.05
#: a leading or trailing "sentence" with fewer letters is a stray list marker, not content
MIN_LETTERS_IN_SPAN = 3

# a sentence ends at . ! ? or … followed by space and a capital, digit, quote or bracket, or at
# a blank line (a list item ends there); abbreviations followed by lower case ("É.-U. par an")
# do not end one, nor does ";" or ":" (a cut there would leave half a sentence quoted)
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”»)]?\s+(?=[\"'“«(\[A-ZÀ-ÖØ-Þ0-9])|\n\s*\n")


@dataclass(frozen=True)
class Excerpt:
    start: int
    end: int
    text: str

    def trimmed(self, passage_text: str) -> tuple[bool, bool]:
        """Whether content was left out before / after the excerpt (whitespace does not count)."""
        return bool(passage_text[:self.start].strip()), bool(passage_text[self.end:].strip())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, whitespace excluded, covering all the text.

    A paragraph number on the same line ("2. Ces prochaines années…", "a) Obstacles…")
    stays with its sentence; a marker alone on its line ("d." then a blank line) does not.
    """
    raw: list[tuple[int, int]] = []
    pos = 0
    for match in _BOUNDARY.finditer(text):
        raw.append((pos, match.start()))
        pos = match.end()
    raw.append((pos, len(text)))
    spans: list[tuple[int, int]] = []
    for start, end in raw:
        chunk = text[start:end]
        lead = len(chunk) - len(chunk.lstrip())
        trail = len(chunk) - len(chunk.rstrip())
        if end - trail <= start + lead:
            continue
        span = (start + lead, end - trail)
        if spans and _is_marker(text, spans[-1]) and "\n" not in text[spans[-1][1]:span[0]]:
            span = (spans.pop()[0], span[1])
        spans.append(span)
    return spans


def _is_marker(text: str, span: tuple[int, int]) -> bool:
    return _letters(text[span[0]:span[1]]) < MIN_LETTERS_IN_SPAN


def windows(text: str, max_chars: int = MAX_CHARS) -> list[tuple[int, int]]:
    """Maximal runs of whole sentences no longer than ``max_chars`` (a single longer sentence stands alone)."""
    spans = sentence_spans(text)
    out: list[tuple[int, int]] = []
    for i, (start, end) in enumerate(spans):
        stop = end
        for _, later_end in spans[i + 1:]:
            if later_end - start > max_chars:
                break
            stop = later_end
        if not out or stop > out[-1][1]:  # a window inside the previous one adds nothing
            out.append((start, stop))
    return out


def _content_bounds(text: str) -> tuple[int, int]:
    """Start and end of the passage without stray list letters or marks at its edges ("d.", "›")."""
    spans = sentence_spans(text)
    while len(spans) > 1 and _letters(text[spans[0][0]:spans[0][1]]) < MIN_LETTERS_IN_SPAN:
        spans.pop(0)
    while len(spans) > 1 and _letters(text[spans[-1][0]:spans[-1][1]]) < MIN_LETTERS_IN_SPAN:
        spans.pop()
    if not spans:
        return 0, 0
    return spans[0][0], spans[-1][1]


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def choose(text: str, question_vectors: np.ndarray, encode, max_chars: int = MAX_CHARS) -> Excerpt:
    """The passage itself when short, else its sentence window closest to the questions.

    ``encode`` maps a list of strings to unit vectors (the index's passage encoder).
    Offsets are into ``text``, so ``text[e.start:e.end] == e.text`` always holds.
    """
    lo, hi = _content_bounds(text)
    body = text[lo:hi]
    if len(body) <= max(WHOLE_UP_TO, max_chars):
        return Excerpt(lo, hi, body)
    spans = windows(body, max_chars)
    if len(spans) == 1:
        start, end = spans[0]
    else:
        vecs = np.asarray(encode([body[s:e] for s, e in spans]))
        scores = (vecs @ np.asarray(question_vectors).T).max(axis=1)
        scores[0] += START_BONUS
        start, end = spans[int(np.argmax(scores))]
    return Excerpt(lo + start, lo + end, body[start:end])
