"""What a document is called: its id, and the path its citations show for its file.

Ids are read by people (`kb docs`, `--doc ID`, URLs), so they come from the file's name, or
from its folder when the name says nothing ("de/bqfg/index.md" is "bqfg", not "index"). A
name already taken gets its longer or folder-qualified form before a hash is added.

A citation's path is the one the user gave to `kb ingest` ("../shared/corpus/en/x.pdf"),
taken as written: symbolic links are not resolved and nothing is made relative to the
folder ingest ran in. A path given from the root ("/home/alice/docs") starts at the folder
named ("docs/x.pdf"): the folders above it are the machine's, not the document's, and the
citation goes into packs and API answers read elsewhere.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Iterable

from kb.ingest.extract._common import GENERIC_STEMS

ID_CHARS = 48       # a readable id; the whole name when that is taken ...
ID_CHARS_LONG = 96  # ... up to this


def slug(text: str, limit: int = ID_CHARS) -> str:
    """Lower-case ASCII words joined by "-", cut at a word's end."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(words) > limit:
        cut = words[: limit + 1]
        words = cut[: cut.rfind("-")] if "-" in cut[1:] else words[:limit]
    return words.strip("-") or "doc"


def id_candidates(path: Path) -> list[str]:
    """Ids for a new document, best first: the name's slug (the folder's for "index.md"),
    the whole name, then the folder and the name."""
    folder = Path(os.path.abspath(path)).parent.name
    name = folder if path.stem.lower() in GENERIC_STEMS and folder else path.stem
    out = [slug(name), slug(name, ID_CHARS_LONG)]
    if folder and name != folder:
        out.append(slug(f"{folder} {name}", ID_CHARS_LONG))
    return list(dict.fromkeys(out))


def display_sources(given: Iterable[str | Path], files: Iterable[Path]) -> dict[Path, str]:
    """The path each file is cited by, from the paths given to `kb ingest` (see the module's docstring)."""
    roots = [Path(g) for g in given]
    return {f: display_source(f, roots) for f in files}


def display_source(file: Path, roots: list[Path]) -> str:
    for root in roots:
        if file.parts[: len(root.parts)] != root.parts:
            continue
        inside = PurePosixPath(*file.parts[len(root.parts):]) if file != root else PurePosixPath()
        if root.is_absolute():
            base = PurePosixPath(root.name) if file != root else PurePosixPath(file.name)
        else:
            base = PurePosixPath(root.as_posix())
        shown = os.path.normpath((base / inside).as_posix())
        return shown.replace(os.sep, "/")
    return file.name


def shown_here(source: str, path: str | None, cwd: Path | None = None) -> str:
    """For the terminal: ``source`` if it names the file from the working folder, else the
    file's path from there when it lies below it, else ``source`` as it is."""
    if not path:
        return source
    here = cwd or Path.cwd()
    try:
        if (here / source).exists() and os.path.samefile(here / source, path):
            return source
        inside = Path(path).relative_to(here.resolve())
    except (OSError, ValueError):
        return source
    return inside.as_posix()
