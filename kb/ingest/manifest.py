"""Document metadata manifests (CSV, JSON or YAML) that `kb ingest --meta` attaches.

Each entry names a file (relative to the manifest, or a bare file name) and gives any of
title, organisation, year, country, language, url, tags. Parsing lives here, not in the CLI.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.errors import UsageError

FIELDS = ("title", "organisation", "year", "country", "language", "url", "tags")
_ALIASES = {"organization": "organisation", "org": "organisation", "lang": "language", "path": "file"}
#: a folder holding one of these gets it applied automatically by `kb ingest FOLDER`
AUTO_NAMES = ("kb-manifest.yaml", "kb-manifest.yml", "kb-manifest.json", "kb-manifest.csv")


@dataclass
class DocMeta:
    title: str | None = None
    organisation: str | None = None
    year: int | None = None
    country: str | None = None
    language: str | None = None
    url: str | None = None
    tags: list[str] = field(default_factory=list)


def _entry(raw: dict[str, Any], where: str) -> tuple[str, DocMeta]:
    item = {_ALIASES.get(k.strip().lower(), k.strip().lower()): v for k, v in raw.items()}
    name = item.pop("file", None)
    if not name:
        raise UsageError(f"{where}: every entry needs a 'file'")
    unknown = sorted(set(item) - set(FIELDS))
    if unknown:
        raise UsageError(f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(FIELDS)})")
    tags = item.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.replace(";", ",").split(",") if t.strip()]
    year = item.get("year")
    try:
        year = int(year) if year not in (None, "") else None
    except (TypeError, ValueError):
        raise UsageError(f"{where}: year must be a number, got {year!r}") from None
    language = item.get("language") or None
    if language is not None:
        from kb.text.lang import iso_code

        code = iso_code(str(language), names=True)
        if code is None:
            raise UsageError(f"{where}: language must be an ISO 639-1 code such as 'fr', got {language!r}")
        language = code
    meta = DocMeta(
        title=item.get("title") or None, organisation=item.get("organisation") or None,
        year=year, country=item.get("country") or None,
        language=language, url=item.get("url") or None,
        tags=[str(t) for t in tags],
    )
    return str(name), meta


class Manifest:
    """File name -> metadata, looked up by path relative to the manifest or by bare name."""

    def __init__(self, base: Path, entries: dict[str, DocMeta]) -> None:
        self.base = base.resolve()
        self.entries = entries

    @classmethod
    def load(cls, path: Path) -> "Manifest":
        from kb.inputs import read_user_file

        text = read_user_file(path, "manifest")
        suffix = path.suffix.lower()
        try:
            if suffix == ".csv":
                rows: Any = list(csv.DictReader(text.splitlines()))
            elif suffix == ".json":
                rows = json.loads(text)
            elif suffix in (".yaml", ".yml"):
                import yaml

                rows = yaml.safe_load(text)
            else:
                raise UsageError(f"manifest {path}: use .csv, .json or .yaml")
        except UsageError:
            raise
        except Exception as err:  # noqa: BLE001 - yaml.YAMLError, csv.Error, JSON errors: all "not valid"
            reason = " ".join(str(err).split())[:200]
            raise UsageError(f"manifest {path} is not valid {suffix[1:].upper()}: {reason}") from None
        if isinstance(rows, dict):
            rows = rows.get("documents", rows)
        if isinstance(rows, dict):  # {file: {fields}}
            if not all(isinstance(v, dict) or v is None for v in rows.values()):
                raise UsageError(f"manifest {path}: expected 'file: {{title: ..., ...}}' entries")
            rows = [{"file": k, **(v or {})} for k, v in rows.items()]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise UsageError(f"manifest {path}: expected a list of entries, each an object with a 'file'")
        entries = dict(_entry(r, f"{path} entry {i + 1}") for i, r in enumerate(rows))
        return cls(path.parent, entries)

    def lookup(self, file: Path) -> DocMeta | None:
        resolved = file.resolve()
        try:
            rel = resolved.relative_to(self.base).as_posix()
            if rel in self.entries:
                return self.entries[rel]
        except ValueError:
            pass
        return self.entries.get(resolved.name)
