"""A search for more hits shows the same first hits (kb/search/fusion.py: HEAD_DEPTH).

Before, fusion read every rank of lists searched five times as deep as the hits asked for,
and language centering re-scored a pool twice as deep: `kb search -k 50` showed other first
five than `kb search -k 10`. (On this small index the dense and keyword cases hold either way;
they guard the head rule, which tests below check directly.)"""

from __future__ import annotations

import pytest

from kb.library import KnowledgeBase
from kb.settings import Settings

QUESTIONS = [
    "skills recognition barriers for refugees",
    "Quels sont les obstacles à la reconnaissance des compétences des réfugiés ?",
    "¿Qué prácticas funcionaron para la integración laboral?",
    "language courses for displaced workers",
    "documents d'identité manquants",
]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_asking_for_more_hits_keeps_the_first_ones(fast_index, mode):
    with KnowledgeBase.open(Settings(index_dir=fast_index)) as kb:
        for text in QUESTIONS:
            ten = [h.passage.passage_id for h in kb.search(text, k=10, mode=mode).hits]
            more = [h.passage.passage_id for h in kb.search(text, k=60, mode=mode).hits]
            assert len(ten) == 10 and len(more) > 10, (text, len(ten), len(more))
            assert more[:10] == ten, (mode, text)


def test_a_rescored_list_keeps_its_head_from_the_shallow_pool():
    from kb.search.fusion import head_first

    # 7 was outside the pool a shallow search starts from: it may only follow the head
    ranked = [(7, 0.9), (1, 0.8), (2, 0.7), (3, 0.6)]
    assert head_first(ranked, {1, 2, 3}, head=2) == [(1, 0.8), (2, 0.7), (7, 0.9), (3, 0.6)]


def test_fusing_deeper_lists_only_lengthens_the_tail():
    from kb.search.fusion import fuse, fuse_head_first

    dense = [(i, 1.0 - i / 100) for i in range(1, 11)]
    # 6 to 10 are past both lists' first five, but found by both: fusing it all puts them first
    keyword = [(i, 10.0 - n) for n, i in enumerate([11, 12, 13, 14, 15, 6, 7, 8, 9, 10])]
    lists = {"dense": dense, "keyword": keyword}

    def fused_from(read):
        return fuse(read, {"dense": 1.0, "keyword": 1.0}, 60)

    shallow = [c.rowid for c in fused_from({n: found[:5] for n, found in lists.items()})]
    deep = fuse_head_first(lists, fused_from, head=5)
    assert [c.rowid for c in deep[: len(shallow)]] == shallow
    assert [c.rowid for c in fused_from(lists)][: len(shallow)] != shallow  # what fusing it all did
    scores = [c.score for c in deep]
    assert scores == sorted(scores, reverse=True)
