"""Search: query -> retrieve (dense and keyword) -> fuse -> cite.

Dense retrieval finds answers across languages; keyword retrieval finds exact names,
numbers and acronyms that embeddings blur. Reciprocal rank fusion merges the two
lists without having to calibrate their scores against each other.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import numpy as np

from kb.glossary import META_KEY as GLOSSARY_KEY, Expansion, Glossary
from kb.store.keys import ACRONYM_TERMS
from kb.index import Index
from kb.models import Hit, SearchResult
from kb.search.bridge import Bridge
from kb.search.cite import citation_for, version_of
from kb.search.fusion import (HEAD_DEPTH, Candidate, fuse, fuse_head_first, head_first, in_sorted,
                              keep_language_shares)
from kb.search.group import group, text_key, versions_by_language
from kb.search.intent import weigh_asked_types
from kb.search.language import QueryLanguage
from kb.search.query import Query
from kb.search.roles import asks_for, keep
from kb.search.sparse import SparseSearch
from kb.text.roles import CONTENT
from kb.search.translated import PivotSearch
from kb.settings import Settings
from kb.store.keyword_rows import KEYWORD_TABLE
from kb.text.keywords import tokens
from kb.text.urls import only_links

#: fused candidates kept per requested hit, so that folding translations and duplicates
#: (kb/search/group.py) still leaves k distinct hits
GROUP_DEPTH = 3


class Searcher:
    """Runs queries against one open index; remembers recent query vectors.

    Tools and facilitators repeat questions (a brief re-run, a dashboard's fixed queries):
    the query embedding is most of a warm query's time, and it depends only on the text
    and the index's model, so a small LRU keyed by text is always valid.
    """

    CACHE_SIZE = 1024

    def __init__(self, index: Index, settings: Settings | None = None) -> None:
        self.index = index
        self.settings = settings or index.settings
        #: (model side, text) -> query vector, and text -> detected language (both small LRUs)
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._langs: OrderedDict[str, str | None] = OrderedDict()
        self._langs_generation = -1
        self._query_language = QueryLanguage(index.db)
        self._glossary: Glossary = Glossary([])
        self._glossary_raw: tuple[str | None, str | None] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._means: tuple[str | None, object] | None = None
        self._pivot = PivotSearch(index, self.settings)
        self._bridge = Bridge(index, self.settings)
        self._sparse = SparseSearch(index, self.settings)

    def _language(self, text: str) -> str | None:
        """The language of ``text`` (kb/search/language.py: the index's words help on short queries),
        cached for the index's generation."""
        generation = self.index.db.generation()
        if generation != self._langs_generation:
            self._langs.clear()
            self._langs_generation = generation
        if text in self._langs:
            self._langs.move_to_end(text)
            return self._langs[text]
        lang = self._query_language.detect(text)
        _remember(self._langs, text, lang, self.CACHE_SIZE)
        return lang

    def _expand(self, text: str, lang: str | None) -> Expansion:
        """The query with the index glossary's acronyms spelled out (kb/glossary.py)."""
        raw = (self.index.db.get_meta(GLOSSARY_KEY), self.index.db.get_meta(ACRONYM_TERMS))
        if raw != self._glossary_raw:  # the user's glossary, then the acronyms the documents define
            self._glossary = Glossary.from_json(raw[0]).with_terms(Glossary.from_json(raw[1]))
            self._glossary_raw = raw
        return self._glossary.expand(text, lang)

    def _vector_later(self, text: str, side: str = "dense") -> Callable[[], np.ndarray]:
        """Start embedding ``text`` on an embedding thread; call the result to get the vector.

        ``side``: "dense" (the index's model) or "companion" (kb/derived/companion.py).
        The query embedding is most of a warm query (e5: ~25 ms of ~40 ms at 100k passages)
        and the keyword side most of the rest; both run in C without the GIL (the model's
        engine, SQLite), so they overlap instead of adding up (bench/query.py, bench/scale.py).
        """
        key = (side, text)
        vector = self._cache.get(key)
        if vector is not None:
            self._cache.move_to_end(key)
            return lambda: vector
        # loaded here, in the caller's thread
        embedder = self.index.companion_embedder if side == "companion" else self.index.embedder
        future = self._submit(embedder.encode_queries, [text])

        def result() -> np.ndarray:
            found = future.result()[0]
            _remember(self._cache, key, found, self.CACHE_SIZE)
            return found

        return result

    def _vectors_later(self, texts: Sequence[str]) -> Callable[[], list[np.ndarray]]:
        """Like _vector_later for several texts under the index's model, the ones not cached
        embedded as one batch (a question's translations, kb/search/bridge.py)."""
        missing = list(dict.fromkeys(t for t in texts if ("dense", t) not in self._cache))
        future = None
        if missing:
            future = self._submit(self.index.embedder.encode_queries, missing)

        def result() -> list[np.ndarray]:
            found = dict(zip(missing, future.result())) if future is not None else {}
            for text, vec in found.items():
                _remember(self._cache, ("dense", text), vec, self.CACHE_SIZE)
            return [found[t] if t in found else self._cache[("dense", t)] for t in texts]

        return result

    def _submit(self, fn: Callable, *args: object):
        """Run ``fn`` on an embedding thread (the models' engines run in C without the GIL)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kb-embed")
        return self._pool.submit(fn, *args)

    def search(self, query: Query) -> SearchResult:
        settings = self.settings
        depth = max(query.k * 5, HEAD_DEPTH)
        dense_wanted = query.mode in ("hybrid", "dense")
        expansion = self._expand(query.text, None)
        # hybrid only: dense mode stays the index's model alone (what bench/README.md compares)
        with_companion = bool(query.mode == "hybrid" and settings.companion_weight > 0 and self.index.companion_model)
        vector = companion = None
        if dense_wanted and not expansion.expanded:  # no acronym: the text embedded does not depend on
            vector = self._vector_later(expansion.dense)  # the language, so start before detecting it
            companion = self._vector_later(expansion.dense, "companion") if with_companion else None
        query_lang = self._language(query.text)
        if expansion.expanded:
            expansion = self._expand(query.text, query_lang)
            vector = self._vector_later(expansion.dense) if dense_wanted else None
            companion = self._vector_later(expansion.dense, "companion") if with_companion else None
        lists: dict[str, list[tuple[int, float]]] = {}
        # the question in the index's other languages, embedded while the keyword side runs
        bridge = None
        if query.mode == "hybrid" and settings.bridge_weight > 0:
            bridge = self._bridge.start(query.text, query_lang, query.langs, self._vectors_later)
        sparse = self._sparse.start(query.text, self._submit) if self._sparse.applies(query.mode) else None
        allowed = None
        if query.langs or query.doc_ids or query.types:
            allowed = self.index.db.rowids_where(query.langs, query.doc_ids, query.types)
        # a lookup of a few words is keyword intent ("obstacles à l'information"): its exact
        # matches weigh as much as meaning; a question's words only break ties (README)
        lookup = len(tokens(query.text)) <= self.LOOKUP_WORDS
        keyword, exact, budget = None, set(), None
        if query.mode in ("hybrid", "keyword"):  # while the query is embedded
            budget = self.QUESTION_KEYWORD_BUDGET if query.mode == "hybrid" and not lookup else None
            # a lookup of an acronym also finds its name spelled out ("TBB": "Talent Beyond Boundaries");
            # in a question the names of IOM or UNHCR match too many passages (own set: two answers
            # lost a rank each), and the dense side reads the name already
            keyword, exact = self._keyword(query.text, query_lang, depth, allowed, expansion.aliases, budget, lookup,
                                           expansion.names if lookup else ())
        own_weight = 1.0 if lookup else settings.keyword_weight
        # the question in the pivot language, matched on the passages' translations (kb/search/translated.py)
        pivot, pivot_weight = self._pivot.for_query(
            query.text, query_lang, query.mode, lookup, own_weight, depth, allowed, budget or self.KEYWORD_BUDGET,
            self._keyword_matches)
        if vector is not None:
            if bridge is None:
                lists["dense"] = self._dense(vector(), query_lang, depth, allowed)
            else:  # a wider pool: a passage the translation lifts may start lower
                found = self._dense(vector(), query_lang, depth * self.BRIDGE_POOL, allowed)
                centered = self._centered(query_lang)
                rescored = bridge.rescore(found, self.index.db.langs_of([r for r, _ in found]), settings.bridge_weight,
                                          lambda vec, lang, ids: self._cosines(vec, lang, ids, centered))
                lists["dense"] = head_first(rescored, {r for r, _ in found[: HEAD_DEPTH * self.BRIDGE_POOL]})[:depth]
        if keyword is not None:
            lists["keyword"] = keyword
        if pivot:
            lists["pivot"] = pivot
        if companion is not None:
            lists["companion"] = self._companion(companion(), depth, allowed)
        if sparse is not None and "dense" in lists:
            lists["sparse"] = self._sparse.nearest(sparse(), depth, allowed)
        weights = {"dense": 1.0, "keyword": own_weight, "companion": settings.companion_weight, "pivot": pivot_weight,
                   "sparse": settings.sparse_weight}
        item_weights = self._cross_lingual(query.text, lists, query_lang, expansion)
        if exact:  # a lookup: passages with the words as typed outrank meaning alone (EXACT_LOOKUP_BOOST)
            item_weights = {"keyword": dict.fromkeys(exact, self.EXACT_LOOKUP_BOOST)}
        if settings.intent_weight > 0 and not query.types:  # kb/search/intent.py
            item_weights = weigh_asked_types(query.text, lists, self.index.db.passage_types, settings.intent_weight,
                                             item_weights)
        shares = bool(not lookup and "dense" in lists and "keyword" in lists and query_lang)

        def fused_from(read: dict[str, list[tuple[int, float]]]) -> list[Candidate]:
            found = fuse(read, weights, settings.rrf_k, item_weights)
            if shares:  # the sparse list too decides which ranks go to the question's language
                order = read["dense"] if "sparse" not in read else [(c.rowid, c.score) for c in fuse(
                    {"dense": read["dense"], "sparse": read["sparse"]}, weights, settings.rrf_k)]
                found = keep_language_shares(found, order, self.index.db.langs_of([c.rowid for c in found]),
                                             query_lang, settings.rrf_k)
            return found

        fused = fuse_head_first(lists, fused_from)
        fused = self._without_boilerplate(query.text, fused, lookup)
        if settings.reranker:
            from kb.search.rerank import rerank

            fused = rerank(self.index.db, query.text, fused, settings.reranker, query.k)
        fused = fused[: query.k * GROUP_DEPTH]
        # a translation may stand in for a hit only where the language and document filters
        # hold; a lesson type belongs to the text in every language, so --type alone allows any
        shown_in = None
        if query.langs or query.doc_ids:
            shown_in = allowed if not query.types else self.index.db.rowids_where(query.langs, query.doc_ids, ())
        hits = self._cite(fused, query.k, query_lang, shown_in)
        if vector is not None:
            self._similarity_scores(hits, vector())
        return SearchResult(query.text, hits, id=query.id, query_lang=query_lang)

    def _without_boilerplate(self, text: str, fused: list[Candidate], lookup: bool) -> list[Candidate]:
        """Staff lists, notices, bibliographies, contents, forms and link lists out, unless asked for
        (kb/search/roles.py)."""
        found = self.index.db.roles_of(c.rowid for c in fused)
        if not found:
            return fused
        asked = asks_for(text)
        return [c for c in fused if keep(found.get(c.rowid, CONTENT), asked, lookup, c.keyword is not None)]

    def _similarity_scores(self, hits: list[Hit], vector: np.ndarray) -> None:
        """Each hit's score: the cosine between the question and the passage shown, under the
        index's model. Fused ranks are equal-spaced (1/(60+rank)) and say nothing about how
        close a hit is; the cosine differs between hits and means the same in every search.
        Hits stay in fused order, so a lower score can rank above a higher one."""
        db = self.index.db
        rowids = [db.rowid_of(h.passage.passage_id) for h in hits]
        ids, vecs = db.vectors_for([r for r in rowids if r is not None])
        by_id = dict(zip(ids.tolist(), (vecs @ np.asarray(vector, dtype=np.float32).ravel()).tolist())) if len(ids) else {}
        for hit, rowid in zip(hits, rowids):
            if rowid in by_id:
                hit.score = round(float(by_id[rowid]), 4)

    #: under a filter, the companion's IVF probes nprobe / share**COMPANION_WIDEN lists (the
    #: model's index: share**2). At 1M, a 39% language filter: 166 lists instead of 429, 8.4 ms
    #: p50 instead of 19.6, 97.4% of its top 50 found against 99.7% (every list probed as the
    #: reference; README.md, "Figures measured"); a list fused at weight 0.2 does not need the last 2%
    COMPANION_WIDEN = 1.0

    def _companion(self, vector: np.ndarray, depth: int, allowed) -> list[tuple[int, float]]:
        """Nearest passages by the companion model's meaning (kb/derived/companion.py), as measured: plain cosine."""
        vectors = self.index.companion_vectors
        return vectors.search(vector, depth, allowed, widen=self.COMPANION_WIDEN) if vectors is not None else []

    def _dense(self, vector: np.ndarray, lang: str | None, depth: int, allowed) -> list[tuple[int, float]]:
        """Nearest passages by meaning, corrected for language bias in a mixed index (kb/derived/language_means.py),
        headings and passages made of questions demoted (kb/search/nonanswer.py)."""
        penalty = self.settings.non_answer_penalty
        if not penalty:
            return self._nearest(vector, lang, depth, allowed)
        from kb.search.nonanswer import demote

        found = self._nearest(vector, lang, depth, allowed)
        texts = self.index.db.passages_by_rowids([r for r, _ in found])
        return head_first(demote(found, {r: p.text for r, p in texts.items()}, penalty),
                          {r for r, _ in found[:HEAD_DEPTH]})

    def _nearest(self, vector: np.ndarray, lang: str | None, depth: int, allowed) -> list[tuple[int, float]]:
        """Nearest passages by meaning, corrected for language bias in a mixed index (kb/derived/language_means.py)."""
        from kb.derived.language_means import DEPTH_FACTOR

        strength = self.settings.language_centering
        means = self._language_means() if strength else None
        if means is None or not means.applies(lang):
            return self.index.vectors.search(vector, depth, allowed)
        query = means.query(vector, lang, strength)  # type: ignore[arg-type]
        found = self.index.vectors.search(query, depth * DEPTH_FACTOR, allowed)
        ids, vectors = self.index.db.vectors_for(r for r, _ in found)
        if not len(ids):
            return []
        langs = self.index.db.langs_of(ids.tolist())
        scores = means.rescore(query, vectors, [langs.get(int(i)) for i in ids], strength)
        order = np.argsort(-scores, kind="stable")
        rescored = [(int(ids[i]), float(scores[i])) for i in order]
        return head_first(rescored, {r for r, _ in found[: HEAD_DEPTH * DEPTH_FACTOR]})[:depth]

    #: dense candidates re-scored by the bridge, per passage wanted (kb/search/bridge.py)
    BRIDGE_POOL = 4

    def _centered(self, lang: str | None) -> bool:
        """Whether _nearest corrects a question in ``lang`` for language bias."""
        strength = self.settings.language_centering
        means = self._language_means() if strength else None
        return bool(means is not None and means.applies(lang))

    def _cosines(self, vector: np.ndarray, lang: str, rowids: Sequence[int], centered: bool) -> np.ndarray:
        """Dense scores of ``rowids`` (all in ``lang``) for a question in ``lang``, on the scale of
        the question's own dense scores: corrected for language bias only when those were
        (``centered``): a corrected cosine runs well below a plain one, and blending the two
        pushed every passage of a translated language down in an index whose question language
        had too few passages for a mean."""
        ids, vectors = self.index.db.vectors_for(rowids)
        strength = self.settings.language_centering
        means = self._language_means() if centered else None
        if means is not None and means.applies(lang):
            query = means.query(vector, lang, strength)
            found = means.rescore(query, vectors, [lang] * len(ids), strength)
        else:
            found = vectors @ np.asarray(vector, dtype=np.float32).ravel()
        by_id = dict(zip(ids.tolist(), found.tolist()))
        return np.array([by_id.get(r, -1.0) for r in rowids], dtype=np.float32)

    def _language_means(self):
        """The index's language means, re-read when an ingest stored new ones (computed once for
        an index built before they were stored)."""
        from kb.derived.language_means import META_KEY, LanguageMeans, compute

        raw = self.index.db.get_meta(META_KEY)
        if self._means is None or raw != self._means[0]:
            self._means = (raw, LanguageMeans.from_json(raw) if raw is not None else compute(self.index.db))
        return self._means[1]

    #: a query of at most this many words is a lookup ("EU-Passworld", "Jordanie", "DT4E"):
    #: its keyword matches count in every language, and its language is a guess anyway
    LOOKUP_WORDS = 3
    #: a lookup's passages holding its words as typed weigh this much more in fusion: the
    #: bare name "Jordanie" (one French passage) tied at rank 1 with the dense side's nearest
    #: passage, a Swahili form, whose only tie to a lone rare word is being near everything
    EXACT_LOOKUP_BOOST = 1.5

    def _cross_lingual(self, text: str, lists: dict[str, list[tuple[int, float]]], query_lang: str | None,
                       expansion: Expansion | None = None):
        """Keyword matches in another language than the question's are weighted down in fusion.

        Across languages the words that match are cognates and the names an article repeats
        in every paragraph: on XQuAD every share of them given to fusion cost Recall@1
        (en-es: 0.875 dense, 0.815 with a quarter weight, 0.868 counting only names found in
        one passage), so by default they count nothing and a question's hybrid ranking in
        another language is its dense one. Short lookups keep them (LOOKUP_WORDS), and so do
        passages holding an acronym of the question in any of its glossary forms ("IOM" asked,
        "OIM" written): the glossary says these are the same name.

        A question most of whose words the index has never seen is in another language than
        its passages whatever its detected language: "¿Cuántas pinturas le dio John Sheeshanks
        al museo?" is detected as English, and against English paragraphs its keyword matches
        are the names (XQuAD es-en and de-en each lost a question to them at keyword_weight 0.3).
        """
        factor = self.settings.cross_keyword_weight
        if ("dense" not in lists or not lists.get("keyword") or not query_lang or factor == 1.0
                or len(tokens(text)) <= self.LOOKUP_WORDS):
            return None
        ids = [r for r, _ in lists["keyword"]]
        langs = self.index.db.langs_of(ids)
        foreign = self._known_share(text) < self.MIN_KNOWN_WORDS
        other = [r for r in ids if foreign or langs.get(r) not in (None, query_lang)]
        if expansion is not None and expansion.aliases and other:
            forms = re.compile(r"\b(?:" + "|".join(map(re.escape, (*expansion.aliases, *expansion.expanded))) + r")\b")
            texts = self.index.db.passages_by_rowids(other)
            other = [r for r in other if r not in texts or not forms.search(texts[r].text)]
        return {"keyword": {r: factor for r in other}}

    #: a question with a smaller share of its words in the index's vocabulary is foreign to it
    #: (_cross_lingual): XQuAD en questions on en paragraphs 0.75 at least, es and de questions
    #: 0.36 and 0.29 at the median; the own set's questions 0.5 at least (German, 252 passages)
    MIN_KNOWN_WORDS = 0.4

    def _known_share(self, text: str) -> float:
        """The share of the question's words that some passage holds (1.0 when none does: the
        vocabulary could not be read, or the question matches nothing anyway)."""
        words = [w for w in tokens(text) if len(w) > 1]
        counts = self.index.db.term_doc_freq(words)
        known = sum(1 for w in words if counts.get(w))
        return known / len(words) if known else 1.0

    #: passages an OR keyword query may touch (term by term, rarest first); see match_expression
    KEYWORD_BUDGET = 20_000
    #: the same for a question in hybrid mode, where keyword matches only break ties among
    #: meaning matches (keyword_weight 0.3): its rarest terms (names, numbers) are what count.
    #: 1M passages, keyword side alone: p50 6.8 ms against 15.6 ms at 20k (bench/scale.py --fts-study)
    QUESTION_KEYWORD_BUDGET = 5_000
    #: a filter of fewer contiguous id runs than this is searched run by run in FTS5
    MAX_RANGES = 16

    def _keyword(self, text: str, lang: str | None, depth: int, allowed,
                 aliases: Sequence[str] = (), budget: int | None = None,
                 exact_first: bool = False, names: Sequence[str] = ()) -> tuple[list[tuple[int, float]], set[int]]:
        """Passages matching the query's words or their stems (and the glossary's forms of its
        acronyms), best bm25 first. ``exact_first`` (lookups): passages holding the words as
        typed, in any language, come first; then those matching only a stem, and only in the
        query's language, whose stemmer made it: "Jordanie" stems to "jordan", and English
        passages full of "Jordan" outscored and outnumbered the one French passage that says
        "Jordanie" (a lookup's keyword matches count in every language, _cross_lingual).
        Returns the list and, with ``exact_first``, the rowids holding the words as typed."""
        from kb.text.keywords import match_expression, phrase_expression

        db = self.index.db
        extra = " OR ".join(e for e in (match_expression(" ".join(aliases), None) if aliases else None,
                                        phrase_expression(names)) if e) or None
        expr = match_expression(text, lang, db.term_doc_freq, budget or self.KEYWORD_BUDGET)
        expr = " OR ".join(e for e in (expr, extra) if e)
        if not expr:
            return [], set()
        found = self._keyword_matches(expr, depth, allowed)
        if not exact_first or not found:
            return found, set()
        exact = match_expression(text, None, db.term_doc_freq, budget or self.KEYWORD_BUDGET)
        exact = " OR ".join(e for e in (exact, extra) if e)
        first = found if exact == expr else self._keyword_matches(exact, depth, allowed)
        seen = {r for r, _ in first}
        rest = [(r, s) for r, s in found if r not in seen]
        langs = db.langs_of([r for r, _ in rest])
        rest = [(r, s) for r, s in rest if langs.get(r) in (None, lang)]
        if first and rest:  # scores stay in order: the exact tier is lifted above the rest
            lift = max(0.0, max(s for _, s in rest) - min(s for _, s in first))
            first = [(r, s + lift) for r, s in first]
        return (first + rest)[:depth], seen

    def _keyword_matches(self, expr: str, depth: int, allowed, table: str = KEYWORD_TABLE) -> list[tuple[int, float]]:
        """An FTS5 MATCH on ``table``, within ``allowed`` rowids (sorted) when a filter is set."""
        db = self.index.db
        if allowed is None:
            return db.keyword_search(expr, depth, table=table)
        allowed = np.asarray(allowed, dtype=np.int64)  # sorted (Database.rowids_where)
        if len(allowed) == 0:
            return []
        breaks = np.flatnonzero(np.diff(allowed) != 1)
        if len(breaks) < self.MAX_RANGES:  # documents: a few runs of consecutive ids
            starts = np.concatenate([[allowed[0]], allowed[breaks + 1]])
            ends = np.concatenate([allowed[breaks], [allowed[-1]]])
            return db.keyword_search(expr, depth, list(zip(starts.tolist(), ends.tolist())), table)
        found = db.keyword_search(expr, depth * 4, table=table)
        keep = in_sorted(allowed, [i for i, _ in found])
        return [hit for hit, ok in zip(found, keep.tolist()) if ok][:depth]

    def _cite(self, candidates: list[Candidate], k: int, prefer: str | None,
              shown_in: np.ndarray | None = None) -> list[Hit]:
        """The top ``k`` hits with their citations, each text once (kb/search/group.py).

        ``prefer``: show a translation in this language in place of the passage found, if the
        translation is among ``shown_in`` (sorted rowids) when that is given: under a language
        or document filter, the passage shown must pass it. Before, any filter turned this off,
        and ``--type barrier`` showed a Portuguese passage to an English question that had an
        English version.
        """
        db = self.index.db
        ranked = [c.rowid for c in candidates]
        links = db.translations_of(ranked)
        linked = {other for versions in links.values() for other, _ in versions}
        passages = db.passages_by_rowids(list(dict.fromkeys([*ranked, *linked])))
        by_id = {c.rowid: c for c in candidates}
        ranked = [r for r in ranked if r in passages  # removed between retrieval and citation
                  and not (by_id[r].keyword is None and only_links(passages[r].text))]
        langs = {r: p.lang for r, p in passages.items()}
        keys = {r: text_key(passages[r].text) for r in ranked}
        eligible = None
        if shown_in is not None:
            others = list(linked)
            eligible = {r for r, ok in zip(others, in_sorted(shown_in, others).tolist()) if ok}
        groups = group(ranked, links, langs, keys, prefer, k, eligible)
        shown = {g.rowid for g in groups}
        docs = db.documents_by_ids(p.doc_id for p in passages.values())
        types = db.passage_types(shown)
        hits: list[Hit] = []
        for g in groups:
            cand = by_id[g.found]
            passage = passages[g.rowid]
            extra: dict[str, object] = {
                "scores": {k: v for k, v in (("dense", cand.dense), ("keyword", cand.keyword),
                                             ("companion", cand.companion), ("pivot", cand.pivot),
                                             ("sparse", cand.sparse), ("rerank", cand.rerank))
                           if v is not None},
                "types": types.get(g.rowid, {}),
            }
            others = versions_by_language(g, langs)
            if others:
                extra["translations"] = [version_of(passages[r], docs) for r in others]
            if g.duplicates:
                extra["duplicates"] = [version_of(passages[r], docs) for r in g.duplicates]
            hits.append(Hit(len(hits) + 1, cand.score, passage, citation_for(passage, docs.get(passage.doc_id)),
                            extra=extra))
        return hits


def _remember(cache: OrderedDict, key: str, value: object, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


