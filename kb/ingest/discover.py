"""Discovery: which files an ingest takes, and the hashes that tell an unchanged file."""

from __future__ import annotations

import fnmatch
import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Iterable, Sequence

from kb.ingest.extract import SUPPORTED_SUFFIXES
from kb.ingest.manifest import AUTO_NAMES, Manifest
from kb.ingest.report import FileOutcome

def discover(paths: Iterable[str | Path], exclude: Sequence[str] = ()
             ) -> tuple[list[Path], list[FileOutcome], list[Manifest]]:
    """Files to ingest (sorted, recursive), missing paths as failures, and auto manifests.

    ``exclude``: glob patterns for files found inside folders (a folder often holds its own
    README or source list, which would otherwise be searched like a policy document); a
    pattern matches the file name or the path relative to the folder given. Files named
    one by one are always taken.
    """
    files: list[Path] = []
    missing: list[FileOutcome] = []
    manifests: list[Manifest] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for name in AUTO_NAMES:
                if (path / name).is_file():
                    manifests.append(Manifest.load(path / name))
            found = [
                p for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(".")
                and not excluded(p, path, exclude)
            ]
            if not found:  # a mistyped or empty folder must not look like a successful ingest
                kinds = ", ".join(sorted(s.lstrip(".") for s in SUPPORTED_SUFFIXES))
                missing.append(FileOutcome(str(raw), "failed", reason=f"no files to ingest in this folder ({kinds})"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            missing.append(FileOutcome(str(raw), "failed", reason="no such file or folder"))
    unique: dict[Path, Path] = {}  # one file named twice ("t/a.txt", "t/../t/a.txt") is ingested once
    for file in files:
        unique.setdefault(file.resolve(), file)
    return list(unique.values()), missing, manifests


def excluded(path: Path, folder: Path, patterns: Sequence[str]) -> bool:
    """True if a glob of ``patterns`` matches the file's name, the name of a folder on its way
    under ``folder`` (``-x drafts`` leaves out everything in drafts/), or its path under ``folder``."""
    if not patterns:
        return False
    relative = path.relative_to(folder)
    names = relative.parts  # the folders on the way, then the file's own name
    return any(fnmatch.fnmatchcase(name, pat) for pat in patterns for name in names) or any(
        fnmatch.fnmatchcase(relative.as_posix(), pat) for pat in patterns)


def slugify(text: str, limit: int = 48) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].strip("-") or "doc"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def text_sha(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()
