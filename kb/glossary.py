"""Acronyms a query may use, from a small editable glossary kept with the corpus.

"ACNUR" in a Spanish question should find "UNHCR" in an English report and "HCR" in a
French one; "DT4E" means nothing to an embedding model until it reads "Displaced Talent
for Europe". A glossary entry names the acronyms of one body in every language and its
name in some languages. The keyword side searches every acronym of the entry; the dense
side reads the name in the query's language (else English) beside the acronym.

`kb ingest FOLDER` stores the folder's ``kb-glossary.yaml`` in the index (or the file given
with ``--glossary``), so every search of that index uses it, from the CLI or the API.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.errors import UsageError

AUTO_NAMES = ("kb-glossary.yaml", "kb-glossary.yml", "kb-glossary.json")
from kb.store.keys import GLOSSARY as META_KEY  # noqa: E402,F401 - re-exported
_WORD = re.compile(r"[\w\-]+", re.UNICODE)


@dataclass(frozen=True)
class Entry:
    acronyms: tuple[str, ...]
    names: dict[str, str] = field(default_factory=dict)  # language -> full name


@dataclass(frozen=True)
class Expansion:
    """The query as each retriever should read it."""

    dense: str
    aliases: tuple[str, ...] = ()  # the other acronyms of the terms found, for the keyword side
    expanded: tuple[str, ...] = ()  # the acronyms found
    names: tuple[str, ...] = ()  # their names in every language, as phrases for the keyword side


class Glossary:
    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self._by_acronym = {a.casefold(): e for e in entries for a in e.acronyms}

    # -- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "Glossary":
        path = Path(path)
        from kb.inputs import read_user_file

        text = read_user_file(path, "glossary")
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except Exception as err:  # noqa: BLE001 - any parse error is the user's file, said in one line
            raise UsageError(f"glossary {path} is not valid {path.suffix.lstrip('.').upper()}: "
                             f"{str(err).splitlines()[0]}") from err
        return cls.from_data(data, str(path))

    @classmethod
    def from_data(cls, data: Any, where: str = "glossary") -> "Glossary":
        if isinstance(data, dict):
            data = data.get("terms")
        if not isinstance(data, list):
            raise UsageError(f"{where}: expected a list of terms under 'terms'")
        entries = []
        for i, item in enumerate(data, start=1):
            acronyms = item.get("acronyms") if isinstance(item, dict) else None
            names = item.get("names", {}) if isinstance(item, dict) else None
            if (not isinstance(acronyms, list) or not acronyms or not all(isinstance(a, str) and a.strip() for a in acronyms)
                    or not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values())):
                raise UsageError(f"{where}: term {i} needs 'acronyms' (a list of words) and optional "
                                 "'names' (language: full name)")
            entries.append(Entry(tuple(a.strip() for a in acronyms), {str(k): v.strip() for k, v in names.items()}))
        return cls(entries)

    def with_terms(self, other: "Glossary") -> "Glossary":
        """This glossary and the terms of ``other`` whose acronyms it does not know (its own win)."""
        extra = [e for e in other.entries if not any(a.casefold() in self._by_acronym for a in e.acronyms)]
        return Glossary(self.entries + extra) if extra else self

    def acronyms(self) -> int:
        return len(self._by_acronym)

    def to_json(self) -> str:
        return json.dumps({"terms": [{"acronyms": list(e.acronyms), "names": e.names} for e in self.entries]},
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> "Glossary":
        return cls.from_data(json.loads(text)) if text else cls([])

    # -- use ----------------------------------------------------------------------------------
    def expand(self, text: str, lang: str | None) -> Expansion:
        """Acronyms of ``text`` that the glossary knows, spelled out for each retriever."""
        found: list[Entry] = []
        words: list[str] = []
        for match in _WORD.finditer(text):
            entry = self._by_acronym.get(match.group().casefold())
            # an acronym is written in capitals (or digits): "who" is not WHO
            if entry is not None and entry not in found and not match.group().islower():
                found.append(entry)
                words.append(match.group())
        if not found:
            return Expansion(text)
        names = [e.names.get(lang or "", e.names.get("en", "")) for e in found]
        dense = text + " (" + "; ".join(n for n in names if n) + ")" if any(names) else text
        aliases = tuple(a for e in found for a in e.acronyms if a not in words)
        # a text that spells the name out and never uses the acronym ("Talent Beyond Boundaries",
        # not "TBB") is found by the name; a gloss in brackets is the glossary's, not the text's
        phrases = tuple(dict.fromkeys(n.split(" (")[0].strip() for e in found for n in e.names.values() if n))
        return Expansion(dense, aliases, tuple(words), tuple(p for p in phrases if p))


def find_in(folder: Path) -> Path | None:
    """The glossary file a folder carries, if any."""
    for name in AUTO_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None
