"""The library object every front end uses: the CLI and the API each make one call per command.

``KnowledgeBase`` owns an open ``Index``; input parsing (query files, manifests,
filters) lives here so that the CLI and the API cannot drift apart.
"""

from __future__ import annotations

import dataclasses

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from kb.errors import UnknownIdError, UsageError
from kb.index import Index
from kb.models import Document, Passage, SearchResult
from kb.search.query import Query, lang_codes
from kb.search.searcher import Searcher
from kb.settings import Settings
from kb.store.lock import WriterLock

if TYPE_CHECKING:  # ingestion pulls in extraction and multiprocessing: keep it off the search path
    from kb.ingest import EventHandler, IngestReport


class KnowledgeBase:
    def __init__(self, settings: Settings, index: Index) -> None:
        self.settings = settings
        self.index = index
        self._searcher = Searcher(index, settings)

    @classmethod
    def open(cls, settings: Settings | None = None, create: bool = False) -> "KnowledgeBase":
        settings = settings or Settings.from_env()
        return cls(settings, Index.open(settings, create=create))

    def with_settings(self, **changes: object) -> "KnowledgeBase":
        """The same open index (database, vectors, model shared) searched with other settings:
        for benchmarks that compare fusion or language-correction parameters side by side."""
        return KnowledgeBase(dataclasses.replace(self.settings, **changes), self.index)  # type: ignore[arg-type]

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> "KnowledgeBase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------
    def ingest(self, paths: Sequence[str | Path], meta: str | Path | None = None,
               on_event: EventHandler | None = None, wait: bool = False,
               glossary: str | Path | None = None, exclude: Sequence[str] = (),
               ray: str | None = None, ray_workers: int | None = None) -> IngestReport:
        """Add or refresh documents; one writer at a time per index.

        ``ray``: a Ray cluster's address (``local``: a private one) whose workers prepare and
        embed the documents while this process commits them (kb/ingest/distributed.py); ``ray_workers``
        caps how many (default: one per CPU of the cluster).

        ``exclude``: glob patterns of files inside the folders to leave out (kb/ingest.py).

        ``glossary``: acronyms for query expansion (kb/glossary.py), stored in the index; a
        folder's own kb-glossary.yaml is used when none is given.
        """
        if self.settings.ocr:
            from kb.ingest.ocr import ocr_available

            hint = ocr_available()
            if hint:
                raise UsageError(f"--ocr: {hint}")
        from kb.ingest import Ingestor
        from kb.ingest.manifest import Manifest

        from kb.glossary import Glossary

        self.index.db.require_writable("ingest")
        manifest = Manifest.load(Path(meta)) if meta else None
        terms = Glossary.load(glossary) if glossary else None
        with WriterLock(self.index.dir, wait=wait):
            if ray is None:
                return Ingestor(self.index, on_event, manifest, terms).run(paths, exclude)
            from kb.ingest.distributed import RayIngestor
            from kb.ingest.ray_cluster import connected

            with connected(ray):
                ingestor = RayIngestor(self.index, on_event, manifest, terms, ray_workers)
                try:
                    return ingestor.run(paths, exclude)
                finally:
                    ingestor.close()

    def remove(self, doc_ids: Sequence[str], wait: bool = False) -> list[str]:
        """Delete documents by id (or by source path); returns the ids removed."""
        self.index.db.require_writable("remove documents")
        removed: list[str] = []
        with WriterLock(self.index.dir, wait=wait):
            for ref in doc_ids:
                doc_id = self._resolve_doc(ref)
                self.index.db.remove_document(doc_id)
                removed.append(doc_id)
            if removed:
                from kb.derived.refresh import refresh_derived

                refresh_derived(self.index, removed)
            self.index.save()
        return removed

    def _resolve_doc(self, ref: str) -> str:
        """A document's id from its id or its source path; a typo is reported, never matches nothing."""
        if self.index.db.document(ref):
            return ref
        try:
            record = self.index.db.document_by_path(str(Path(ref).resolve()))
        except (OSError, ValueError):  # a NUL or an unresolvable path: not a path we hold
            record = None
        if record:
            return record.document.doc_id
        raise UnknownIdError(f"no document {ref!r} in the index (see `kb docs` or GET /documents)")

    # -- reading ----------------------------------------------------------------------------
    def query(self, text: object, k: object = None, langs: Sequence[str] = (), doc_ids: Sequence[str] = (),
              mode: str | None = None, id: object = None, types: Sequence[str] = ()) -> Query:
        s = self.settings
        query = Query.build(text, s.k if k is None else k, langs, doc_ids, mode or s.mode, id,
                            max_chars=s.max_query_chars, k_max=s.k_max, types=types)
        self._check_langs(query.langs)
        return dataclasses.replace(query, doc_ids=tuple(self._resolve_doc(d) for d in query.doc_ids))

    def _check_langs(self, langs: Sequence[str]) -> None:
        """A language filter no passage is in could never return anything: say what there is,
        as for a document id that is not here."""
        if langs and not self.index.db.holds_language(langs):
            held = ", ".join(sorted(lang for lang in self.index.db.languages() if lang != "?")) or "none"
            raise UnknownIdError(f"no passage in {', '.join(langs)} in this index (its languages: {held})")

    def search(self, text: str, k: int | None = None, langs: Sequence[str] = (),
               doc_ids: Sequence[str] = (), mode: str | None = None, types: Sequence[str] = ()) -> SearchResult:
        """``types``: only passages with any of these lesson types (barrier, good_practice, ...)."""
        return self._searcher.search(self.query(text, k, langs, doc_ids, mode, types=types))

    def run_query(self, query: Query) -> SearchResult:
        return self._searcher.search(query)

    def search_file(self, path: str | Path, langs: Sequence[str] = (), doc_ids: Sequence[str] = (),
                    mode: str | None = None, types: Sequence[str] = (), k: int | None = None) -> Iterator[dict[str, Any]]:
        """Batch search: one JSON object per line in, one result object per line out, in order.

        ``k`` is for lines without their own. A bad line yields ``{"id": ..., "error": "..."}``
        in its place rather than stopping the batch.
        """
        for query in self.parse_queries(path, langs, doc_ids, mode, types, k):
            if isinstance(query, dict):
                yield query
            else:
                yield self._searcher.search(query).to_dict()

    def parse_queries(self, path: str | Path, langs: Sequence[str] = (), doc_ids: Sequence[str] = (),
                      mode: str | None = None, types: Sequence[str] = (),
                      k: int | None = None) -> list[Query | dict[str, Any]]:
        from kb.inputs import read_user_file

        lines = read_user_file(path, "queries file").splitlines()
        # the command line's filters, checked once: a mistake there fails the batch, not each line
        langs = lang_codes(langs)
        self._check_langs(langs)
        doc_ids = [self._resolve_doc(d) for d in doc_ids]
        out: list[Query | dict[str, Any]] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            obj: object = None
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise UsageError("expected a JSON object")
                out.append(self.query(obj.get("query"), obj.get("k", k), langs, doc_ids, mode, obj.get("id", number),
                                      types=obj.get("types") or types))
            except (ValueError, UsageError) as err:
                ident = obj.get("id", number) if isinstance(obj, dict) else number
                out.append({"id": ident, "error": f"line {number}: {err}"})
        return out

    def documents(self, limit: int | None = None, offset: int = 0) -> list[Document]:
        return self.index.db.documents(limit, offset)

    def document(self, doc_id: str) -> Document | None:
        return self.index.db.document(doc_id)

    def passage(self, passage_id: str) -> Passage | None:
        return self.index.db.passage(passage_id)

    # -- lesson types -----------------------------------------------------------------------
    def relabel(self, force: bool = False, wait: bool = False):
        """Recompute every passage's lesson types from its stored vector (no embedding).

        Without ``force`` nothing happens when the labels already come from the current
        cue file; returns a ``kb.derived.relabel.RelabelReport`` or None.
        """
        from kb.derived.relabel import ensure_current, relabel

        self.index.db.require_writable("relabel")
        with WriterLock(self.index.dir, wait=wait):
            if force:
                return relabel(self.index.db, self.index.labeler)
            return ensure_current(self.index.db, self.index.labeler)

    # -- translation for keyword search (kb/translate/) --------------------------------------
    def translate(self, redo: bool = False, wait: bool = False, on_progress=None):
        """Give stored passages their pivot-language keyword text (nothing is embedded);
        ``redo``: every passage, not only those without one. Returns a TranslateReport."""
        from kb.derived.pivot import backfill
        from kb.translate import enabled, shared

        translator = enabled(self.settings.translate)
        if translator is None:
            reason = ("KB_TRANSLATE turns translation off" if not self.settings.translate
                      else f"translation is {shared().status().describe()}")
            raise UsageError(f"cannot translate: {reason}")
        self.index.db.require_writable("translate")
        with WriterLock(self.index.dir, wait=wait):
            return backfill(self.index.db, translator, redo, on_progress)

    def type_counts(self) -> dict[str, Any]:
        """Passages per lesson type and language, and whether the labels match the cue file."""
        data = self.index.db.type_counts()
        data["current"] = data["fingerprint"] == self.index.labeler.fingerprint
        data["cues"] = str(self.index.labeler.cues.path)
        return data

    def stats(self) -> dict[str, Any]:
        manifest = self.index.manifest()
        size = sum(f.stat().st_size for f in self.index.dir.iterdir() if f.is_file())
        manifest.update({"index": str(self.index.dir), "bytes_on_disk": size, "glossary": self._glossary_stats()})
        from kb.derived.pivot import summary

        manifest["translation"] = summary(self.index.db, self.settings.translate)
        manifest["bridge"] = self._bridge_stats(manifest["translation"])
        from kb.derived.sparse import head_of

        head = head_of(self.index)
        manifest["sparse"] = ({"head": head, "coded": self.index.db.coded_passages(), "weight": self.settings.sparse_weight}
                              if head else None)
        return manifest

    def _bridge_stats(self, translation: dict[str, Any]) -> dict[str, Any]:
        """Which of the index's languages questions are translated into for dense scores
        (kb/search/bridge.py): those a route reaches, when translation is on here."""
        reachable = set(translation.get("languages") or ()) if translation.get("enabled") else set()
        langs = sorted(lang for lang in self.index.db.document_languages() if lang in reachable)
        return {"weight": self.settings.bridge_weight, "languages": langs}

    def _glossary_stats(self) -> dict[str, int]:
        """What query expansion has to go on: the user's glossary (terms, acronyms) and the
        acronyms the documents define (kb/derived/acronyms.py)."""
        from kb.glossary import Glossary
        from kb.store.keys import ACRONYM_TERMS, GLOSSARY

        given = Glossary.from_json(self.index.db.get_meta(GLOSSARY))
        found = Glossary.from_json(self.index.db.get_meta(ACRONYM_TERMS))
        return {"terms": len(given.entries), "acronyms": given.acronyms(), "defined_in_documents": found.acronyms()}
