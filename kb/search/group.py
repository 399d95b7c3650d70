"""Show each piece of text once: translations and duplicate passages fold into one hit.

Runs after fusion, before citation. A hit whose passage has translation links (see
kb/derived/translations.py) takes the place of all its versions, shown in the reader's language
when a version exists in it, and lists the others; a passage whose text is the same as a
better-ranked one (the same report saved under two names) is listed as a duplicate of it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

_SPACE = re.compile(r"\s+")


@dataclass
class Group:
    """One hit to show: the passage displayed, and the versions folded into it."""

    rowid: int
    found: int  # the passage that retrieval ranked (may differ from the one displayed)
    translations: dict[int, float] = field(default_factory=dict)  # rowid -> alignment similarity
    duplicates: list[int] = field(default_factory=list)


def text_key(text: str) -> str:
    """Passages that differ only in spacing or case count as the same text."""
    return hashlib.sha1(_SPACE.sub(" ", text).strip().casefold().encode("utf-8")).hexdigest()


def group(ranked: list[int], links: dict[int, list[tuple[int, float]]], langs: dict[int, str | None],
          keys: dict[int, str], prefer: str | None, limit: int, eligible: set[int] | None = None) -> list[Group]:
    """Fold ``ranked`` (fused order) into at most ``limit`` groups.

    ``links``: translation links of the ranked passages and of their linked passages;
    ``langs``/``keys``: language and text key of every passage named in either;
    ``eligible``: the translations that may be displayed instead (None: all).
    """
    groups: list[Group] = []
    owner: dict[int, Group] = {}
    by_key: dict[str, Group] = {}
    for rowid in ranked:
        if rowid in owner:
            continue  # a version of a passage already shown
        key = keys.get(rowid)
        if key is not None and key in by_key:
            by_key[key].duplicates.append(rowid)
            owner[rowid] = by_key[key]
            continue
        if len(groups) == limit:
            continue  # keep folding later versions and duplicates of the hits we have
        g = Group(rowid, rowid)
        versions = dict(links.get(rowid, []))
        g.translations = {other: s for other, s in versions.items() if other != rowid}
        groups.append(g)
        owner[rowid] = g
        for other in g.translations:
            owner.setdefault(other, g)
        if key is not None:
            by_key[key] = g
    for g in groups:
        _show_in(g, prefer, langs, eligible)
    return groups


def _show_in(g: Group, prefer: str | None, langs: dict[int, str | None], eligible: set[int] | None = None) -> None:
    """Display the version in ``prefer`` when the found passage is in another language."""
    if prefer is None or langs.get(g.rowid) == prefer:
        return
    same = [(s, other) for other, s in g.translations.items()
            if langs.get(other) == prefer and (eligible is None or other in eligible)]
    if not same:
        return
    score, chosen = max(same)
    del g.translations[chosen]
    g.translations[g.rowid] = score
    g.rowid = chosen


def versions_by_language(g: Group, langs: dict[int, str | None]) -> list[int]:
    """The best translation per language other than the displayed one's, best first."""
    shown = langs.get(g.rowid)
    best: dict[str | None, tuple[float, int]] = {}
    for other, score in g.translations.items():
        lang = langs.get(other)
        if lang == shown:
            continue
        if lang not in best or score > best[lang][0]:
            best[lang] = (score, other)
    return [other for _, other in sorted(best.values(), reverse=True)]
