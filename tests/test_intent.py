"""A question that names a kind of lesson weighs passages of that type up (kb/search/intent.py).

Fast: conftest's fast_index (the hashing embedder, lesson types from the real labeller's cues).
"""

from __future__ import annotations

import pytest

from kb.search.intent import asked_types

QUESTION_FR = "Quels sont les obstacles à la reconnaissance des compétences ?"


@pytest.mark.parametrize("text, kinds", [
    ("What are the main barriers to recognising refugees' qualifications?", ("barrier",)),
    ("Quels freins empêchent les réfugiés de travailler ?", ("barrier",)),
    ("¿Qué obstáculos enfrentan los trabajadores migrantes?", ("barrier",)),
    ("Welche Hürden gibt es bei der Anerkennung?", ("barrier",)),
    ("ما هي العوائق أمام الاعتراف بالمؤهلات؟", ("barrier",)),
    ("Quais são as boas práticas para a integração laboral de refugiados?", ("good_practice",)),
    ("What worked in the Talent Beyond Boundaries pilot?", ("good_practice",)),
    ("What does the evaluation recommend to UNHCR?", ("recommendation",)),
    ("Que recommande le rapport ?", ("recommendation",)),
    ("¿Qué riesgos corren los trabajadores migrantes?", ("risk",)),
    ("Welche Risiken bestehen für Geflüchtete?", ("risk",)),
    ("How long is a Kenyan refugee travel document valid?", ()),
    ("¿Qué permiso creó Colombia en 2017 para los venezolanos?", ()),
])
def test_the_kind_of_lesson_a_question_names(text, kinds):
    assert asked_types(text) == kinds


@pytest.fixture(scope="module")
def kb(fast_index):
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    with KnowledgeBase.open(Settings(index_dir=fast_index)) as opened:
        yield opened


def _types(kb, weight: float, **filters) -> list[set[str]]:
    return [set(h.extra["types"]) for h in kb.with_settings(intent_weight=weight).search(QUESTION_FR, k=8, **filters).hits]


def test_a_question_on_obstacles_ranks_barriers_higher(kb):
    off, on = _types(kb, 0.0), _types(kb, 0.5)
    first = [next(i for i, t in enumerate(found) if "barrier" in t) for found in (off, on)]
    assert first[1] < first[0]
    assert sum("barrier" in t for t in on[:3]) > sum("barrier" in t for t in off[:3])


def test_the_weight_does_not_touch_a_search_filtered_by_type(kb):
    assert _types(kb, 0.0, types=["good_practice"]) == _types(kb, 0.5, types=["good_practice"])
