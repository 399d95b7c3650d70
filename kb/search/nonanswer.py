"""Passages that cannot answer a question: page furniture and passages that are questions.

Dense retrieval ranks two kinds of passage near many questions without their saying
anything. Headings, table-of-contents lines and running heads ("Preguntas orientativas
111", "TOOL 10", "Capítulo adicionado DOF 30-10-2014") are embedded with their context
header (kb/embed/context.py), so their vector is mostly the document's title and section. And
interview guides and guiding-question lists ("32. Quelles sont les principales leçons
apprises de la mise en œuvre du projet ?") are questions themselves, phrased like the
user's. On the own question set (bench/eval_corpus.py) they took the top five ranks of
Portuguese, French and English questions whose answers were elsewhere. They are 502 of the
shared corpus's 4,025 passages and none of the 139 passages judged relevant there; XQuAD
has none. Searcher._dense lowers their score by Settings.non_answer_penalty; keyword
matches keep them ("Guiding Questions" asked for by name still finds them).
"""

from __future__ import annotations

import re

#: a fragment shorter than this, without an end of sentence or a list lead-in, is furniture
FRAGMENT_CHARS = 80
#: what ends a sentence, a list's lead-in ("... as follows:", "(3) The Commissioner shall —")
#: or an item of a list ("a) ...;", "...,")
_ENDS = (".", "!", "?", "؟", ":", ";", ",", "—", "–", "-", "…")
#: a sentence boundary after ., ! or ? (also the Arabic question mark)
_SENTENCES = re.compile(r"(?<=[.!?؟])\s+")
#: "32." or "iv." alone: the number of a list item, split off as if it were a sentence
_NUMBER = re.compile(r"(?:\d{1,3}|[ivxlc]{1,5}|[a-z])[.)]", re.IGNORECASE)
#: a passage with more than this share of questions among its sentences asks rather than
#: answers (a question followed by its answer, as in a FAQ, is half and is kept)
QUESTION_SHARE = 0.5


def is_fragment(text: str) -> bool:
    """A short piece of text that ends no sentence: a heading, a TOC line, a page's running head."""
    body = text.strip()
    return len(body) < FRAGMENT_CHARS and not body.endswith(_ENDS)


def question_share(text: str) -> float:
    """The share of the passage's sentences that are questions (a numbered item counts as one)."""
    sentences = [s for s in _SENTENCES.split(text.strip()) if s.strip() and not _NUMBER.fullmatch(s.strip())]
    if not sentences:
        return 0.0
    return sum(s.rstrip().endswith(("?", "؟")) for s in sentences) / len(sentences)


def non_answer(text: str) -> bool:
    """True for page furniture and for passages that are mostly questions."""
    if len(text) < 2 * FRAGMENT_CHARS and is_fragment(text):
        return True
    return ("?" in text or "؟" in text) and question_share(text) > QUESTION_SHARE  # most have no "?"


def demote(found: list[tuple[int, float]], texts: dict[int, str], penalty: float) -> list[tuple[int, float]]:
    """``found`` (rowid, score), best first, with non-answers' scores lowered by ``penalty`` and re-sorted."""
    scored = [(rowid, score - penalty if rowid in texts and non_answer(texts[rowid]) else score)
              for rowid, score in found]
    return sorted(scored, key=lambda item: -item[1])
