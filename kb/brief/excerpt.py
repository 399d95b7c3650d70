"""Sentence-bounded, verbatim excerpts of long passages.

A printed pack is read on paper in a session: a 1,400-character paragraph is too
long to quote whole, but a cut in mid-sentence or a paraphrase would misquote the
source. So a long passage is cut only at sentence boundaries, the excerpt is always a
verbatim substring of the passage (``passage.text[start:end]``), and the renderers
mark each cut with "…". The window kept is the one closest to the topic's questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

MAX_CHARS = 700
#: passages up to this long are quoted whole (cutting 50 characters helps nobody)
WHOLE_UP_TO = 800
#: the opening window carries the paragraph's number and subject: keep it on near-ties
START_BONUS = 0.02

# a sentence ends at . ! ? ; or : followed by space and a capital, digit, quote or bracket,
# or at a blank line; abbreviations followed by lower case ("É.-U. par an") do not end one
_BOUNDARY = re.compile(r"(?<=[.!?;:…])[\"'”»)]?\s+(?=[\"'“«(\[A-ZÀ-ÖØ-Þ0-9])|\n\s*\n")


@dataclass(frozen=True)
class Excerpt:
    start: int
    end: int
    text: str

    def trimmed(self, passage_text: str) -> tuple[bool, bool]:
        return self.start > 0, self.end < len(passage_text.rstrip())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, whitespace excluded, covering all the text."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in _BOUNDARY.finditer(text):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, len(text)))
    out = []
    for start, end in spans:
        chunk = text[start:end]
        lead = len(chunk) - len(chunk.lstrip())
        trail = len(chunk) - len(chunk.rstrip())
        if end - trail > start + lead:
            out.append((start + lead, end - trail))
    return out


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


def choose(text: str, question_vectors: np.ndarray, encode, max_chars: int = MAX_CHARS) -> Excerpt:
    """The passage itself when short, else its sentence window closest to the questions.

    ``encode`` maps a list of strings to unit vectors (the index's passage encoder).
    """
    body = text.strip()
    offset = text.find(body) if body else 0
    if len(body) <= max(WHOLE_UP_TO, max_chars):
        return Excerpt(offset, offset + len(body), body)
    spans = windows(body, max_chars)
    if len(spans) == 1:
        start, end = spans[0]
    else:
        vecs = np.asarray(encode([body[s:e] for s, e in spans]))
        scores = (vecs @ np.asarray(question_vectors).T).max(axis=1)
        scores[0] += START_BONUS
        start, end = spans[int(np.argmax(scores))]
    return Excerpt(offset + start, offset + end, body[start:end])
