"""Retrieval quality against a QRELS file: did the passage that answers each question come back?

A QRELS file is JSON lines, one question per line::

    {"id": "q01", "query": "...", "lang": "en", "topic": "skills recognition",
     "relevant": [{"passage_id": "..."},
                  {"text": "key phrase that must appear", "doc": "document id, or a substring of the source path"}]}

Relevance is binary and judged on the passage itself, not on a stored id, so one QRELS
file survives re-chunking and re-ingestion: a hit is relevant when its passage id is
listed, or when a listed key phrase occurs in its text (after whitespace, case, accent and
quote normalisation) and, when ``doc`` is given, ``doc`` is its document's id or part of its source path.
Entries may also carry ``judged`` or ``note`` (where the judgement came from); scoring ignores them.
Parallel translations are handled by listing one entry per language version.

Metrics (per question, then averaged overall and per question language):

* ``recall@k`` is *success@k*: 1 when at least one relevant passage is in the top k,
  else 0.  With several equally valid passages (translations, repeated text) "did the
  user get an answer" is what matters, not what share of the copies came back.
* ``mrr@k``: reciprocal rank of the first relevant passage within the top k (0 if none).
* ``ndcg@k``: binary-gain nDCG; the ideal ranking puts all relevant passages of the index
  (counted by scanning it, capped at k) first.

Questions whose relevance entries match no passage of the index cannot be answered by
any ranking: they are reported in ``EvalReport.unmatched`` (a bug in the QRELS file or in
ingestion) and still count as misses, so they cannot flatter the averages.
"""

from __future__ import annotations

import json
import math
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from kb.errors import UsageError

if TYPE_CHECKING:  # the library imports models and FAISS; keep `import kb.evaluate` cheap
    from kb.library import KnowledgeBase
    from kb.models import Hit, Passage

__all__ = [
    "EvalReport", "Question", "QuestionResult", "Relevant", "evaluate", "load_qrels",
    "metrics_for", "normalise", "render", "summarise",
]

RECALL_CUTS: tuple[int, ...] = (1, 5, 10)

_QUOTES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u00ab": '"', "\u00bb": '"', "\u201e": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u00ad": None,  # soft hyphen: invisible, must not break a match
})
_SPACE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)\]»])")


def normalise(text: str) -> str:
    """Fold ``text`` so that a key phrase matches however the extractor spaced or accented it.

    Compatibility decomposition also expands ligature code points (``ﬁ`` -> ``fi``) and
    non-breaking spaces; typographic quotes and dashes become ASCII; spaces before
    punctuation go (French typography puts one before ``:`` and ``;``).
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = stripped.casefold()
    return _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACE.sub(" ", folded)).strip()


# -- the QRELS file --------------------------------------------------------------------------
@dataclass(frozen=True)
class Relevant:
    """One way a passage can be relevant: its id, or a key phrase (optionally in one document)."""

    passage_id: str | None = None
    text: str | None = None
    doc: str | None = None

    def __post_init__(self) -> None:
        if not self.passage_id and not self.text:
            raise UsageError("a relevant entry needs a passage_id or a text")

    @property
    def key(self) -> str:
        return normalise(self.text) if self.text else ""

    def matches(self, passage_id: str, norm_text: str, source: str) -> bool:
        if self.passage_id:
            return passage_id == self.passage_id
        if self.doc and self.doc.casefold() not in source.casefold() \
                and self.doc != passage_id.rsplit(":", 1)[0]:  # the document's id (`kb docs`) also names it
            return False
        return self.key in norm_text

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("passage_id", self.passage_id), ("text", self.text), ("doc", self.doc)) if v}


@dataclass(frozen=True)
class Question:
    id: str
    query: str
    lang: str
    topic: str
    relevant: tuple[Relevant, ...]

    def is_relevant(self, passage_id: str, norm_text: str, source: str) -> bool:
        return any(r.matches(passage_id, norm_text, source) for r in self.relevant)


def load_qrels(path: str | Path) -> list[Question]:
    """Parse and validate a QRELS file; a malformed line stops everything (the set must be sound)."""
    from kb.inputs import read_user_file

    lines = read_user_file(path, "QRELS file").splitlines()
    questions: list[Question] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise UsageError("expected a JSON object")
            question = _question(obj, number)
        except (ValueError, TypeError, UsageError) as err:
            raise UsageError(f"{path}, line {number}: {err}") from err
        if question.id in seen:
            raise UsageError(f"{path}, line {number}: duplicate question id {question.id!r}")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise UsageError(f"{path} holds no questions")
    return questions


#: keys a 'relevant' entry may carry to say where its judgement came from ("judged": "pool");
#: kept in the file for the reader, ignored by the scoring
PROVENANCE_KEYS = frozenset({"judged", "note"})


def _question(obj: dict[str, Any], number: int) -> Question:
    query = obj.get("query")
    if not isinstance(query, str) or not query.strip():
        raise UsageError("missing or empty 'query'")
    raw = obj.get("relevant")
    if not isinstance(raw, list) or not raw:
        raise UsageError("'relevant' must be a non-empty list")
    relevant: list[Relevant] = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise UsageError("each 'relevant' entry must be an object")
        unknown = set(entry) - {"passage_id", "text", "doc", *PROVENANCE_KEYS}
        if unknown:
            raise UsageError(f"unknown key(s) in a 'relevant' entry: {', '.join(sorted(unknown))}")
        relevant.append(Relevant(entry.get("passage_id"), entry.get("text"), entry.get("doc")))
    return Question(
        id=str(obj.get("id", f"line{number}")), query=query.strip(),
        lang=str(obj.get("lang") or "?"), topic=str(obj.get("topic") or obj.get("kind") or ""),
        relevant=tuple(relevant),
    )


# -- metrics (pure) --------------------------------------------------------------------------
def metrics_for(ranked_relevance: Sequence[bool], n_relevant: int, k: int = 10) -> dict[str, float]:
    """Metrics of one ranking: ``ranked_relevance[i]`` says whether the hit at rank i+1 is relevant.

    ``n_relevant`` is how many relevant passages the index holds (for nDCG's ideal ranking);
    it is raised to the number of relevant hits seen if smaller, so a stale count cannot
    push nDCG above 1.  Recall@c is success@c (see the module docstring).
    """
    ranked = [bool(r) for r in ranked_relevance]
    out: dict[str, float] = {}
    for cut in sorted(set(RECALL_CUTS) | {k}):
        out[f"recall@{cut}"] = 1.0 if any(ranked[:cut]) else 0.0
    first = next((i for i, r in enumerate(ranked[:k], start=1) if r), None)
    out[f"mrr@{k}"] = 1.0 / first if first else 0.0
    n_ideal = min(max(n_relevant, sum(ranked[:k])), k)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, r in enumerate(ranked[:k], start=1) if r)
    idcg = sum(1.0 / math.log2(rank + 1) for rank in range(1, n_ideal + 1))
    out[f"ndcg@{k}"] = dcg / idcg if idcg else 0.0
    return out


def summarise(rows: Iterable[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over ``rows`` (plus ``n``, the number of questions)."""
    rows = list(rows)
    if not rows:
        return {"n": 0}
    out: dict[str, float] = {"n": len(rows)}
    for key in rows[0]:
        out[key] = sum(r[key] for r in rows) / len(rows)
    return out


# -- running a QRELS file ---------------------------------------------------------------------
@dataclass
class QuestionResult:
    question: Question
    metrics: dict[str, float]
    first_rank: int | None  # rank of the first relevant hit within the retrieved depth
    n_relevant: int  # relevant passages present in the index
    top: list[dict[str, Any]] = field(default_factory=list)  # what came back instead, for diagnosis

    def to_dict(self) -> dict[str, Any]:
        q = self.question
        return {
            "id": q.id, "query": q.query, "lang": q.lang, "topic": q.topic,
            "first_rank": self.first_rank, "n_relevant": self.n_relevant,
            "metrics": {k: round(v, 4) for k, v in self.metrics.items()}, "top": self.top,
        }


@dataclass
class EvalReport:
    qrels: str
    model: str
    mode: str
    k: int
    results: list[QuestionResult]
    seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def overall(self) -> dict[str, float]:
        return summarise(r.metrics for r in self.results)

    @property
    def by_language(self) -> dict[str, dict[str, float]]:
        langs = sorted({r.question.lang for r in self.results})
        return {lang: summarise(r.metrics for r in self.results if r.question.lang == lang) for lang in langs}

    @property
    def by_topic(self) -> dict[str, dict[str, float]]:
        topics = sorted({r.question.topic for r in self.results})
        return {t: summarise(r.metrics for r in self.results if r.question.topic == t) for t in topics}

    @property
    def failures(self) -> list[QuestionResult]:
        """Questions with no relevant passage in the top k."""
        return [r for r in self.results if r.metrics[f"mrr@{self.k}"] == 0.0]

    @property
    def unmatched(self) -> list[QuestionResult]:
        """Questions whose relevance entries match nothing in the index (unanswerable as written)."""
        return [r for r in self.results if r.n_relevant == 0]

    def to_dict(self) -> dict[str, Any]:
        def rounded(d: dict[str, float]) -> dict[str, float]:
            return {k: (v if k == "n" else round(v, 4)) for k, v in d.items()}

        return {
            "qrels": self.qrels, "model": self.model, "mode": self.mode, "k": self.k,
            "settings": self.settings, "seconds": round(self.seconds, 3),
            "overall": rounded(self.overall),
            "by_language": {k: rounded(v) for k, v in self.by_language.items()},
            "by_topic": {k: rounded(v) for k, v in self.by_topic.items()},
            "failures": [r.question.id for r in self.failures],
            "unmatched": [r.question.id for r in self.unmatched],
            "questions": [r.to_dict() for r in self.results],
        }


def _normalised_passages(kb: "KnowledgeBase") -> list[tuple[str, str, str]]:
    """(passage id, normalised text, source) for every passage: to count relevant passages."""
    out: list[tuple[str, str, str]] = []
    for doc in kb.documents():
        for passage in kb.index.db.passages_of(doc.doc_id):
            out.append((passage.passage_id, normalise(passage.text), doc.source))
    return out


def _judge(question: Question, hit: "Hit", cache: dict[str, str], versions: bool = False) -> bool:
    """Whether the hit holds an answer; with ``versions``, also when one of the versions named
    beside it (its translations and duplicates, kb/search/group.py) does: a Spanish question
    whose answer the set names in an English report is shown the Spanish version of that
    passage, with the English one linked (``cache``: passage id -> normalised text)."""
    passage: Passage = hit.passage
    norm = cache.get(passage.passage_id)
    if norm is None:
        norm = cache[passage.passage_id] = normalise(passage.text)
    if question.is_relevant(passage.passage_id, norm, hit.citation.source):
        return True
    if not versions:
        return False
    named = [*hit.extra.get("translations", ()), *hit.extra.get("duplicates", ())]
    return any(v["passage_id"] in cache and question.is_relevant(v["passage_id"], cache[v["passage_id"]],
                                                                  v["citation"]["source"]) for v in named)


def evaluate(kb: "KnowledgeBase", qrels_path: str | Path, k: int = 10, mode: str | None = None,
             versions: bool = False) -> EvalReport:
    """Run every question of ``qrels_path`` against ``kb`` and score the rankings.

    The embedding model is loaded once by the index and reused for every question.  The
    search depth is at least 10 so that Recall@10 is always measured; ``k`` sets the
    cut-off of MRR and nDCG (and adds a Recall@k when above 10). ``versions``: a hit also counts
    when a translation or duplicate named beside it holds the answer (_judge).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise UsageError(f"k must be a positive whole number, got {k!r}")
    questions = load_qrels(qrels_path)
    chosen_mode = mode or kb.settings.mode
    depth = max(k, max(RECALL_CUTS))
    started = time.perf_counter()
    corpus = _normalised_passages(kb)
    cache = {pid: norm for pid, norm, _ in corpus}
    results: list[QuestionResult] = []
    for question in questions:
        n_relevant = sum(1 for pid, norm, src in corpus if question.is_relevant(pid, norm, src))
        query = kb.query(question.query, k=depth, mode=chosen_mode, id=question.id)
        hits = kb.run_query(query).hits
        ranked = [_judge(question, hit, cache, versions) for hit in hits]
        first = next((i for i, r in enumerate(ranked, start=1) if r), None)
        top = [{"rank": h.rank, "relevant": r, "source": h.citation.source, "cite": h.citation.short(),
                "text": h.passage.text[:160]} for h, r in list(zip(hits, ranked))[:3]]
        results.append(QuestionResult(question, metrics_for(ranked, n_relevant, k), first, n_relevant, top))
    s = kb.settings
    return EvalReport(
        qrels=str(qrels_path), model=kb.index.model, mode=chosen_mode, k=k, results=results,
        seconds=time.perf_counter() - started,
        settings={"rrf_k": s.rrf_k, "keyword_weight": s.keyword_weight, "versions": versions},
    )


# -- the readable table --------------------------------------------------------------------------
def _columns(k: int) -> list[str]:
    cols = [f"recall@{c}" for c in sorted(set(RECALL_CUTS) | {k})]
    return cols + [f"mrr@{k}", f"ndcg@{k}"]


def format_table(rows: dict[str, dict[str, float]], k: int = 10, label: str = "") -> str:
    """A fixed-width table: one row per entry of ``rows`` (each a ``summarise`` result)."""
    cols = _columns(k)
    heads = ["R@" + c.split("@")[1] if c.startswith("recall") else c.replace("mrr", "MRR").replace("ndcg", "nDCG")
             for c in cols]
    first = max([len(label)] + [len(name) for name in rows]) + 2
    lines = [f"{label:<{first}}{'n':>5}" + "".join(f"{h:>9}" for h in heads)]
    for name, values in rows.items():
        cells = "".join(f"{values.get(c, 0.0):>9.3f}" for c in cols)
        lines.append(f"{name:<{first}}{int(values.get('n', 0)):>5}" + cells)
    return "\n".join(lines)


def render(report: EvalReport) -> str:
    """The report as text: overall and per-language table, then the questions that failed."""
    rows = {"overall": report.overall}
    rows.update({f"  {lang}": v for lang, v in report.by_language.items()})
    settings = ", ".join(f"{k}={v}" for k, v in report.settings.items())
    out = [f"{report.qrels}: {len(report.results)} questions, model {report.model}, mode {report.mode}"
           + (f" ({settings})" if settings else "") + f", {report.seconds:.1f} s",
           "", format_table(rows, report.k, "")]
    if report.failures:
        out += ["", f"Not found in the top {report.k} ({len(report.failures)}):"]
        for r in report.failures:
            q = r.question
            got = r.top[0]["cite"] if r.top else "no results"
            rank = f", first relevant at {r.first_rank}" if r.first_rank else ""
            out.append(f"  {q.id} [{q.lang}] {q.query[:70]}{rank}; top hit: {got[:70]}")
    if report.unmatched:
        ids = ", ".join(r.question.id for r in report.unmatched)
        out += ["", f"Warning: no passage of the index matches the relevance entries of: {ids}"]
    return "\n".join(out)
