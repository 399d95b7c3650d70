"""Topics spec + index -> Pack: select per topic, prefer the reader's language, cite.

Topics are filled in order and everything quoted is remembered (its id, its
translations' ids, its vector), so a passage never appears twice in a pack, not even
as a copy in another file or as its own translation under a later topic.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np

import kb as kb_package
from kb.brief.excerpt import choose
from kb.brief.pack import Generated, Pack, PackTopic, Quote, Source, Whole
from kb.brief.pool import candidates
from kb.brief.select import REPEAT_MIN, Candidate, Picker
from kb.brief.topics import TopicsSpec, load_topics
from kb.brief.translations import Translation, TranslationFinder
from kb.brief.vectors import Vectors
from kb.errors import EmptyIndexError
from kb.search.group import text_key
from kb.library import KnowledgeBase
from kb.search.cite import citation_for


class _PackState:
    """What the pack already holds: quoted ids (and their translations), vectors, numbered sources."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.keys: set[str] = set()  # texts quoted (kb.search.group.text_key): a copy in another file is not quoted again
        self.sources: dict[str, Source] = {}

    def renumber(self, quotes: list[Quote]) -> None:
        """Number the sources in reading order (quotes are chosen round robin, not in order)."""
        order = list(dict.fromkeys(q.doc_id for q in quotes))
        self.sources = {d: replace(self.sources[d], number=i) for i, d in enumerate(order, start=1)}
        for q in quotes:
            q.source_number = self.sources[q.doc_id].number

    def number(self, kb: KnowledgeBase, doc_id: str) -> int:
        if doc_id not in self.sources:
            doc = kb.document(doc_id)
            self.sources[doc_id] = Source(
                number=len(self.sources) + 1, doc_id=doc_id,
                title=doc.title if doc else doc_id,
                organisation=doc.organisation if doc else None,
                year=doc.year if doc else None,
                source=Path(doc.source).name if doc else "",  # where it lives on this machine means nothing to readers
                url=doc.url if doc else None,
                lang=doc.lang if doc else None,
            )
        return self.sources[doc_id].number


def build_pack(kb: KnowledgeBase, spec: TopicsSpec | Mapping[str, Any] | str, *,
               now: datetime | None = None) -> Pack:
    """Select, for every topic, the best distinct passages and cite them."""
    spec = load_topics(spec)
    if not kb.index.db.counts()["passages"]:  # a pack of empty sections, printed, helps nobody
        raise EmptyIndexError(f"the index at {kb.index.dir} holds no passages: "
                              "ingest documents first (kb ingest PATH), or name another --index")
    if spec.group_by == "type":  # one section per (topic, lesson type); empty ones are left out
        from kb.brief.lesson_topics import group_topics_by_type

        spec = group_topics_by_type(spec)
    vectors = Vectors(kb)
    finder = TranslationFinder(kb)
    state = _PackState()
    pools = candidates(kb, vectors, list(spec.topics), spec.lang, [spec.quota(t) for t in spec.topics])
    pickers = [Picker(cands) for cands in pools]
    question_vectors = [vectors.queries(t.questions) for t in spec.topics]
    quotes: list[list[Quote]] = [[] for _ in spec.topics]
    quoted_vectors: list[list[np.ndarray]] = [[] for _ in spec.topics]
    # round robin: every topic takes its best quote before any topic takes a second one, the
    # topic with the fewest candidates first, so that a passage fitting two topics does not
    # leave one of them with nothing
    open_topics = list(range(len(spec.topics)))
    while open_topics:
        for t in sorted(open_topics, key=lambda t: (len(pickers[t].pool), t)):
            made = None
            while made is None:
                cand = pickers[t].pick(state.ids, state.keys)
                if cand is None:
                    break
                made = _quote(kb, vectors, finder, cand, spec.lang, state, question_vectors[t])
            if made is None:
                open_topics.remove(t)
                continue
            quote, vector = made
            pickers[t].record(quote.doc_id, vector)
            quotes[t].append(quote)
            quoted_vectors[t].append(vector)
            if len(quotes[t]) >= spec.quota(spec.topics[t]):
                open_topics.remove(t)
    for t, topic in enumerate(spec.topics):  # what the round robin could not give without repeats
        _fill(kb, vectors, finder, pools[t], spec, t, quotes[t], quoted_vectors[t], state, question_vectors[t])
    _note_repeats(spec, quotes)
    topics = [PackTopic(topic.heading, list(topic.questions), got, topic.intro, topic.type)
              for topic, got in zip(spec.topics, quotes) if got or spec.group_by != "type"]
    state.renumber([q for t in topics for q in t.quotes])
    return Pack(
        title=spec.title, intro=spec.intro, lang=spec.lang, topics=topics,
        sources=list(state.sources.values()), generated=_generated(kb, now), wholes=_wholes(kb, topics),
    )


def _fill(kb: KnowledgeBase, vectors: Vectors, finder: TranslationFinder, pool: list[Candidate],
          spec: TopicsSpec, t: int, got: list[Quote], got_vectors: list[np.ndarray], state: _PackState,
          question_vectors: np.ndarray) -> None:
    """Fill a topic short of its quota with its own good candidates, quoted under other topics or
    not: a passage that answers two topics belongs under both. The first round gave every topic
    its best unquoted passage; here a topic whose best passage went to another topic shows it
    too, and every topic gets the passages it ranks at least ``REPEAT_MIN`` (0..1 scale)."""
    quota = spec.quota(spec.topics[t])
    if len(got) >= quota:
        return
    own = _PackState()
    own.sources = state.sources  # one numbering of sources for the whole pack
    for q in got:
        passage = kb.passage(q.passage_id)
        own.ids.add(q.passage_id)
        if passage is not None:
            own.ids.update(t.passage_id for t in finder.find(passage))
            own.keys.add(text_key(passage.text))
    picker = Picker([c for c in pool if c.score >= REPEAT_MIN or not got])
    for q, v in zip(got, got_vectors):
        picker.record(q.doc_id, v)
    while len(got) < quota:
        cand = picker.pick(own.ids, own.keys)
        if cand is None:
            return
        made = _quote(kb, vectors, finder, cand, spec.lang, own, question_vectors)
        if made is None:
            continue
        quote, vector = made
        picker.record(quote.doc_id, vector)
        got.append(quote)
        got_vectors.append(vector)


def _note_repeats(spec: TopicsSpec, quotes: list[list[Quote]]) -> None:
    """Each quote names the other topics that quote the same passage."""
    where: dict[str, list[int]] = {}
    for t, got in enumerate(quotes):
        for q in got:
            where.setdefault(q.passage_id, []).append(t)
    for t, got in enumerate(quotes):
        for q in got:
            q.also_under = [spec.topics[u].heading for u in where[q.passage_id] if u != t]


def _wholes(kb: KnowledgeBase, topics: list[PackTopic]) -> list[Whole]:
    """The passages quoted in part, whole, numbered in reading order (the pack's last section)."""
    out: dict[str, Whole] = {}
    for topic in topics:
        for q in topic.quotes:
            if not (q.trimmed_start or q.trimmed_end):
                continue
            if q.passage_id not in out:
                passage = kb.passage(q.passage_id)
                out[q.passage_id] = Whole(len(out) + 1, q.passage_id, passage.text if passage else q.text,
                                          q.citation, q.source_number)
            q.whole = out[q.passage_id].number
    return list(out.values())


def _quote(kb: KnowledgeBase, vectors: Vectors, finder: TranslationFinder, cand: Candidate,
           lang: str | None, state: _PackState, question_vectors: np.ndarray) -> tuple[Quote, np.ndarray] | None:
    """The quote for a picked candidate (its translation when that is in the preferred language).

    None when the candidate is a translation of a passage the pack already quotes.
    """
    passage, citation, vector = cand.passage, cand.citation, cand.vector
    translations = finder.find(passage, cand.translations)
    if any(t.passage_id in state.ids for t in translations):
        state.ids.add(passage.passage_id)
        return None
    if lang and passage.lang != lang:
        swap = _in_language(translations, lang, state.ids)
        other = kb.passage(swap.passage_id) if swap is not None else None
        if other is not None:
            state.ids.add(passage.passage_id)
            state.keys.add(text_key(passage.text))
            original = Translation(passage.lang or "?", passage.passage_id, passage.doc_id)
            passage, vector = other, vectors.passages([other])[0]
            citation = citation_for(passage, kb.document(passage.doc_id))
            # the swapped-in passage may have translations of its own that the original lacked
            translations = _merge([original], translations, finder.find(passage))
    excerpt = choose(passage.text, question_vectors, vectors.excerpts)
    trimmed_start, trimmed_end = excerpt.trimmed(passage.text)
    translations = [t for t in translations if t.passage_id != passage.passage_id]
    state.ids.add(passage.passage_id)
    state.ids.update(t.passage_id for t in translations)
    state.keys.add(text_key(passage.text))
    quote = Quote(
        passage_id=passage.passage_id, doc_id=passage.doc_id, text=excerpt.text, citation=citation,
        lang=passage.lang, other_languages=sorted({t.lang for t in translations if t.lang != passage.lang}),
        source_number=state.number(kb, passage.doc_id), score=round(cand.score, 4),
        trimmed_start=trimmed_start, trimmed_end=trimmed_end,
    )
    return quote, vector


def _merge(*lists: list[Translation]) -> list[Translation]:
    seen: dict[str, Translation] = {}
    for items in lists:
        for t in items:
            seen.setdefault(t.passage_id, t)
    return list(seen.values())


def _in_language(translations: list[Translation], lang: str, used: set[str]) -> Translation | None:
    for t in translations:
        if t.lang == lang and t.passage_id not in used:
            return t
    return None


def _generated(kb: KnowledgeBase, now: datetime | None) -> Generated:
    counts = kb.index.db.counts()
    when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return Generated(
        tool="kb", version=kb_package.__version__, at=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        index=kb.index.dir.name or str(kb.index.dir), model=kb.index.model,
        documents=int(counts.get("documents", 0)), passages=int(counts.get("passages", 0)),
    )
