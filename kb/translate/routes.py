"""Which translation steps are installed, and the cheapest chain of them between two languages.

Debian's Apertium pairs all meet in Spanish (en<->es, fr<->es, pt<->es), and FreeDict covers
German and Arabic to and from English, so most routes are chains: fr -> es -> en,
de -> en -> es. A dictionary step is word by word, rougher than an Apertium pair: it costs more,
so fr -> en goes through Apertium's two hops rather than FreeDict's small French dictionary.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from pathlib import Path

#: ISO 639-3 (as Apertium and FreeDict name languages) -> ISO 639-1 (as kb does)
ISO1 = {"eng": "en", "spa": "es", "fra": "fr", "por": "pt", "deu": "de", "ara": "ar", "ita": "it",
        "cat": "ca", "glg": "gl", "nld": "nl", "rus": "ru", "tur": "tr", "swe": "sv", "pol": "pl"}
_MODE = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})$")
_FREEDICT = re.compile(r"^freedict-([a-z]{3})-([a-z]{3})\.index$")
APERTIUM_COST, DICTIONARY_COST = 1.0, 2.5


def iso1(code: str) -> str | None:
    return code if len(code) == 2 else ISO1.get(code)


@dataclass(frozen=True)
class Step:
    """One installed translation step: ``kind`` "apertium" (``name`` a mode such as "fr-es")
    or "freedict" (``name`` a dictionary such as "deu-eng")."""

    kind: str
    name: str
    src: str
    dst: str
    #: the Debian package that provides it
    package: str

    @property
    def cost(self) -> float:
        return APERTIUM_COST if self.kind == "apertium" else DICTIONARY_COST


def _apertium_package(mode_file: Path, fallback: str) -> str:
    """The pair's data package, read from the paths its mode file runs on."""
    try:
        found = re.search(r"/usr/share/apertium/(apertium-[a-z_-]+)/", mode_file.read_text())
    except OSError:
        found = None
    return found.group(1) if found else f"apertium-{fallback}"


def installed_steps(modes_dir: Path, dictd_dir: Path, apertium: bool = True) -> list[Step]:
    """Every step found on disk (``apertium``: whether the Apertium programs are installed)."""
    steps: list[Step] = []
    if apertium and modes_dir.is_dir():
        for path in sorted(modes_dir.glob("*.mode")):
            m = _MODE.match(path.stem)
            src, dst = (iso1(m.group(1)), iso1(m.group(2))) if m else (None, None)
            if src and dst:
                steps.append(Step("apertium", path.stem, src, dst, _apertium_package(path, path.stem)))
    if dictd_dir.is_dir():
        for path in sorted(dictd_dir.glob("freedict-*.index")):
            m = _FREEDICT.match(path.name)
            src, dst = (iso1(m.group(1)), iso1(m.group(2))) if m else (None, None)
            if src and dst and path.with_name(path.name[:-6] + ".dict.dz").exists():
                name = f"{m.group(1)}-{m.group(2)}"  # type: ignore[union-attr]
                steps.append(Step("freedict", name, src, dst, f"dict-freedict-{name}"))
    return steps


def route(steps: list[Step], src: str, dst: str, max_hops: int = 3) -> list[Step] | None:
    """The cheapest chain of steps from ``src`` to ``dst`` ([] when they are the same)."""
    if src == dst:
        return []
    queue: list[tuple[float, int, str, list[Step]]] = [(0.0, 0, src, [])]
    best: dict[str, float] = {src: 0.0}
    tie = 0
    while queue:
        cost, _, lang, path = heapq.heappop(queue)
        if lang == dst:
            return path
        if len(path) >= max_hops:
            continue
        for step in steps:
            if step.src != lang:
                continue
            new = cost + step.cost
            if new < best.get(step.dst, float("inf")):
                best[step.dst] = new
                tie += 1
                heapq.heappush(queue, (new, tie, step.dst, [*path, step]))
    return None
