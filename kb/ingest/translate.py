"""The ingestion step after chunking that gives each passage its keyword text in the pivot
language (kb/translate/), stored in the passage's own transaction.

Translation runs on a thread while the main thread embeds the same document: the thread mostly
waits on the Apertium processes, which work on the other core, so it adds little to the run
(bench/translate.py). Without a translator (no Apertium, KB_TRANSLATE=0) nothing is started
and passages are stored without pivot texts, as before.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from kb.models import Passage
    from kb.settings import Settings
    from kb.translate import Translator

Bodies = tuple["list[str | None] | None", "list[str]"]


class PivotStep:
    """One per ingest run; ``start`` a document's passages, ``finish`` to get their bodies."""

    def __init__(self, settings: "Settings") -> None:
        from kb.translate import enabled

        self.translator: Translator | None = enabled(settings.translate)
        self._pool: ThreadPoolExecutor | None = None
        #: whether any pivot body was stored in this run (the index then records the translator)
        self.used = False

    def start(self, passages: Sequence["Passage"]) -> "Future[Bodies] | None":
        if self.translator is None:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-translate")
        return self._pool.submit(self._bodies, [p.text for p in passages], [p.lang for p in passages])

    def _bodies(self, texts: list[str], langs: list[str | None]) -> Bodies:
        from kb.translate.bodies import pivot_bodies

        assert self.translator is not None
        return pivot_bodies(texts, langs, self.translator)

    def finish(self, future: "Future[Bodies] | None") -> Bodies:
        """(bodies or None when translation is off, warnings)."""
        if future is None:
            return None, []
        try:
            bodies, warnings = future.result()
        except Exception as err:  # noqa: BLE001 - translation must never cost a document its place
            return None, [f"translation failed ({type(err).__name__}: {err}); passages indexed without it"]
        self.used = self.used or any(b is not None for b in bodies or [])
        return bodies, warnings

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
