"""Which kind of lesson a question asks for: "What blocks ...?" asks for barriers, "What worked
...?" for good practice, "What does the evaluation recommend ...?" for recommendations.

Passages carry lesson types from ingestion (kb/lessons/). A question that names a kind of lesson
is answered far more often by a passage of that type than by any other (a barrier question's
answer is labelled a barrier several times as often as a passage picked at random), so search
weighs such passages up a little (Settings.intent_weight); it never filters: `--type` does.

The cues are the words questions use in the six languages of the corpus, not the passage cues of
kb/data/lesson_cues.yaml: a question says "obstacles", a passage says "cannot access".
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

_CUES: dict[str, str] = {
    "barrier": (
        r"\bbarriers?\b|\bobstacles?\b|\bchallenges?\b|\bdifficult(?:y|ies)\b|\bhinder|\bhamper|\bimped(?:e|es|ed|ing)\b"
        r"|\bprevent(?:s|ed|ing)?\b|\bblock(?:s|ed|ing)?\b|\bbottlenecks?\b|\bconstraints?\b|\bstand in the way\b"
        r"|\bfreins?\b|\bentraves?\b|\bbarri[eè]res?\b|\bdifficult[eé]s?\b|\bemp[eê]ch|\bbloqu|\bd[eé]fis?\b|\bcontraintes?\b"
        r"|\bobst[aá]culos?\b|\bbarreras?\b|\bdificultad(?:es)?\b|\bimpid|\bimpide|\btrabas?\b|\bdesaf[ií]os?\b|\bretos?\b"
        r"|\bbarreiras?\b|\bdificuldades?\b|\bimpede|\bentraves?\b"
        r"|\bhindernis|\bh[uü]rden?\b|\bbarrieren?\b|\bschwierigkeiten\b|\bhinder|\berschwer|\bherausforderung"
        r"|عائق|عوائق|عقبة|عقبات|تحديات|صعوبات|يعيق|تعيق|تحول دون|يحول دون"
    ),
    "good_practice": (
        r"\bgood practices?\b|\bbest practices?\b|\bwhat worked\b|\bworked well\b|\bsuccess(?:ful|fully|es)?\b"
        r"|\blessons? learn|\bpromising\b|\beffective\b"
        r"|\bbonnes? pratiques?\b|\bce qui a (?:bien )?fonctionn|\br[eé]ussi|\bsucc[eè]s\b|\ble[cç]ons? (?:apprises|tir[eé]es)|\befficaces?\b"
        r"|\bbuenas? pr[aá]cticas?\b|\blo que funcion[oó]\b|\bexitos|\b[eé]xitos?\b|\blecciones aprendidas\b|\beficaz"
        r"|\bboas? pr[aá]ticas?\b|\bo que funcionou\b|\bbem[- ]sucedid|\bsucesso\b|\bli[cç][oõ]es aprendidas\b"
        r"|\bgute praxis\b|\bbew[aä]hrt|\berfolgreich|\berfolg\b"
        r"|الممارسات الجيدة|أفضل الممارسات|الممارسات الفضلى|نجح|ناجحة|الدروس المستفادة"
    ),
    "recommendation": (
        r"\brecommend|\bshould\b|\bought to\b|\badvise|\bpropos(?:e|es|ed|al)\b"
        r"|\brecommand|\bpr[eé]conis|\bdevrai(?:en)?t\b|\bpropos"
        r"|\brecomi[ée]nd|\brecomend|\bdeber[ií]a(?:n)?\b|\bpropon"
        r"|\bdeveria(?:m)?\b|\bprop[oõ]e"
        r"|\bempf(?:ehl|iehl)|\bsollte(?:n)?\b|\bvorschl|\bschl[aä]gt\b.*\bvor\b"
        r"|توصي|توصية|توصيات|ينبغي|يوصي|تقترح|يقترح"
    ),
    "risk": (
        r"\brisks?\b|\brisky\b|\bdangers?\b|\bthreats?\b|\bharm(?:s|ful)?\b"
        r"|\brisques?\b|\bmenaces?\b"
        r"|\briesgos?\b|\bpeligros?\b|\bamenazas?\b"
        r"|\briscos?\b|\bperigos?\b|\bamea[cç]as?\b"
        r"|\brisik(?:o|en)\b|\bgefahr(?:en)?\b|\bbedroh"
        r"|مخاطر|خطر|تهديد|أخطار"
    ),
}
_PATTERNS = {kind: re.compile(cues, re.IGNORECASE) for kind, cues in _CUES.items()}


def asked_types(text: str) -> tuple[str, ...]:
    """The lesson types ``text`` names, in kb's order of types (none for a plain fact question)."""
    return tuple(kind for kind, pattern in _PATTERNS.items() if pattern.search(text))


def weigh_asked_types(text: str, lists: dict[str, list[tuple[int, float]]],
                      types_of: Callable[[Iterable[int]], dict[int, dict[str, float]]], weight: float,
                      item_weights: dict[str, dict[int, float]] | None) -> dict[str, dict[int, float]] | None:
    """Fusion's per-item weights with the passages of the types ``text`` asks for at 1 + ``weight``
    in every list (``types_of``: Database.passage_types); other weights of an item multiply with it."""
    asked = set(asked_types(text))
    if not asked:
        return item_weights
    rowids = sorted({r for found in lists.values() for r, _ in found})
    types = types_of(rowids)
    boosted = [r for r in rowids if asked & set(types.get(r, {}))]
    if not boosted:
        return item_weights
    out = {name: dict(weights) for name, weights in (item_weights or {}).items()}
    for name in lists:
        scale = out.setdefault(name, {})
        for r in boosted:
            scale[r] = scale.get(r, 1.0) * (1.0 + weight)
    return out
