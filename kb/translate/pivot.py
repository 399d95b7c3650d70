"""Translate text between languages with whatever Apertium pairs and FreeDict dictionaries are
installed, for the keyword index only: the output is rough and never shown.

One ``Translator`` per process (``shared()``) keeps one Apertium process per pair it has used,
so a question costs a few milliseconds, not a pipeline start (~0.3 s).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from kb.translate.apertium import MODES_DIR, ApertiumError, ApertiumPipe
from kb.translate.dictionary import DICTD_DIR, FreeDict
from kb.translate.routes import Step, installed_steps, route

#: the language every passage gets a keyword text in: Apertium's hub in Debian, one hop
#: from English, French and Portuguese
PIVOT = "es"
#: Debian packages that turn translation on: the engine, its pairs through Spanish, and
#: dictionaries for languages Apertium has no pair for (they go through English)
PACKAGES = ("apertium", "apertium-eng-spa", "apertium-fr-es", "apertium-es-pt",
            "dict-freedict-deu-eng", "dict-freedict-ara-eng")


class TranslationError(RuntimeError):
    """A text could not be translated (no route, or a step failed on it)."""


@dataclass(frozen=True)
class Status:
    """What translation can do here, for `kb stats`, `kb models` and the index's record."""

    #: languages with a route to the pivot (the pivot itself included)
    languages: tuple[str, ...]
    #: packages of PACKAGES not installed
    missing: tuple[str, ...]
    #: "apertium 3.8.3-1+b2, apertium-eng-spa 0.8.1-2, ..." (the packages in use and versions)
    version: str
    pivot: str = PIVOT
    routes: dict[str, str] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return len(self.languages) > 1

    def describe(self) -> str:
        if not self.enabled:
            return f"off (install the Debian packages: {' '.join(self.missing or PACKAGES)})"
        text = f"{', '.join(self.languages)} -> {self.pivot} ({self.version})"
        if self.missing:
            text += f"; more with: apt-get install {' '.join(self.missing)}"
        return text


def package_versions(packages: Sequence[str]) -> dict[str, str]:
    """Installed versions of Debian packages (empty where dpkg-query is absent)."""
    tool = shutil.which("dpkg-query")
    if not tool or not packages:
        return {}
    out = subprocess.run([tool, "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\\n", *packages],
                         capture_output=True, text=True, timeout=30)
    found = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2].startswith("ii"):
            found[parts[0]] = parts[1]
    return found


class Translator:
    """Translation along installed routes; thread-safe; processes started on first use."""

    def __init__(self, pivot: str = PIVOT, modes_dir: Path = MODES_DIR, dictd_dir: Path = DICTD_DIR,
                 timeout: float = 10.0) -> None:
        self.pivot = pivot
        self.modes_dir = modes_dir
        self.dictd_dir = dictd_dir
        self.timeout = timeout
        self.steps = installed_steps(modes_dir, dictd_dir, apertium=shutil.which("apertium-wblank-mode") is not None)
        self._pipes: dict[str, ApertiumPipe] = {}
        self._dicts: dict[str, FreeDict] = {}
        self._lock = threading.Lock()
        self._status: Status | None = None

    # -- what is possible -------------------------------------------------------------
    def route(self, src: str | None, dst: str | None = None) -> list[Step] | None:
        if not src:
            return None
        return route(self.steps, src, dst or self.pivot)

    def can(self, src: str | None, dst: str | None = None) -> bool:
        return self.route(src, dst) is not None

    def status(self) -> Status:
        if self._status is None:
            langs = sorted({s.src for s in self.steps} | {s.dst for s in self.steps} | {self.pivot})
            reachable = tuple(lang for lang in langs if self.can(lang))
            routes = {lang: self.route(lang) or [] for lang in reachable if lang != self.pivot}
            used = sorted({s.package for steps in routes.values() for s in steps})
            engine = ["apertium"] if any(p.startswith("apertium-") for p in used) else []
            versions = package_versions([*engine, *used])
            installed = {s.package for s in self.steps}  # found where this translator looks
            if shutil.which("apertium-wblank-mode"):
                installed.add("apertium")
            missing = tuple(p for p in PACKAGES if p not in installed)
            version = ", ".join(f"{p} {versions.get(p, '(version unknown)')}" for p in [*engine, *used])
            described = {lang: " -> ".join([lang, *[s.dst for s in steps]]) for lang, steps in routes.items()}
            self._status = Status(reachable if routes else (), missing, version, self.pivot, described)
        return self._status

    def headwords(self, step: Step) -> int | None:
        """A dictionary step's number of entries (None for an Apertium pair)."""
        return self._dict(step.name).headwords() if step.kind == "freedict" else None

    # -- translating ------------------------------------------------------------------
    def _pipe(self, mode: str) -> ApertiumPipe:
        with self._lock:
            pipe = self._pipes.get(mode)
            if pipe is None:
                pipe = self._pipes[mode] = ApertiumPipe(mode, self.modes_dir, self.timeout)
            return pipe

    def _dict(self, name: str) -> FreeDict:
        with self._lock:
            found = self._dicts.get(name)
            if found is None:
                found = self._dicts[name] = FreeDict(name, self.dictd_dir)
            return found

    def translate(self, text: str, src: str | None, dst: str | None = None) -> str:
        """``text`` from ``src`` into ``dst`` (default: the pivot); TranslationError if it cannot."""
        out = self.translate_many([text], src, dst)[0]
        if out is None:
            raise TranslationError(f"could not translate the text from {src} to {dst or self.pivot}")
        return out

    def translate_many(self, texts: Sequence[str], src: str | None, dst: str | None = None) -> list[str | None]:
        """Each text from ``src`` into ``dst``; None for a text a step failed on. TranslationError
        when there is no route at all."""
        steps = self.route(src, dst)
        if steps is None:
            raise TranslationError(f"no installed translation from {src} to {dst or self.pivot}")
        current: list[str | None] = list(texts)
        for step in steps:
            todo = [i for i, t in enumerate(current) if t is not None]
            done = self._run(step, [current[i] or "" for i in todo])
            for i, out in zip(todo, done):
                current[i] = out
        return current

    def _run(self, step: Step, texts: list[str]) -> list[str | None]:
        if step.kind == "apertium":
            return self._pipe(step.name).translate_many(texts)
        from kb.text.keywords import STOPWORDS

        skip = STOPWORDS.get(step.src, frozenset())
        dictionary = self._dict(step.name)
        out: list[str | None] = []
        for text in texts:
            try:
                out.append(dictionary.translate(text, skip=skip))
            except (OSError, ValueError):  # a damaged dictionary file: this text stays untranslated
                out.append(None)
        return out

    def close(self) -> None:
        with self._lock:
            pipes, self._pipes = list(self._pipes.values()), {}
            dicts, self._dicts = list(self._dicts.values()), {}
        for pipe in pipes:
            pipe.close()
        for d in dicts:
            d.close()


_shared: Translator | None = None
_shared_lock = threading.Lock()


def shared() -> Translator:
    """The process's translator (its Apertium processes end with the process).

    $KB_APERTIUM_MODES and $KB_DICTD_DIR name other data folders than Debian's (Apertium built
    from source installs its modes under /usr/local/share/apertium/modes); an empty folder
    turns that kind of translation off. $KB_TRANSLATE_TIMEOUT: seconds allowed per text."""
    global _shared
    with _shared_lock:
        if _shared is None:
            env = os.environ
            try:
                timeout = float(env.get("KB_TRANSLATE_TIMEOUT") or 10.0)
            except ValueError:
                from kb.errors import UsageError

                raise UsageError(f"KB_TRANSLATE_TIMEOUT must be a number, got {env['KB_TRANSLATE_TIMEOUT']!r}") from None
            _shared = Translator(modes_dir=Path(env.get("KB_APERTIUM_MODES") or MODES_DIR),
                                 dictd_dir=Path(env.get("KB_DICTD_DIR") or DICTD_DIR), timeout=timeout)
            atexit.register(_shared.close)
        return _shared




def enabled(on: bool = True) -> Translator | None:
    """The process's translator when ``on`` (Settings.translate) and it can translate anything."""
    if not on:
        return None
    translator = shared()
    return translator if translator.status().enabled else None


__all__ = ["ApertiumError", "PACKAGES", "PIVOT", "Status", "TranslationError", "Translator", "enabled", "shared"]
