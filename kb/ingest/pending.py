"""A file an ingest will read: what discovery learnt about it, and the id it is given.

Both ingest paths (worker processes, kb/ingest/pipeline.py; a Ray cluster,
kb/ingest/distributed.py) hand these along and commit with them, so what decides
re-ingestion (size, mtime, hash, the metadata applied) travels with the file, named.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from kb.ingest.manifest import DocMeta


@dataclass(frozen=True)
class PendingFile:
    path: Path
    #: the resolved path the index records, to know a file again
    abs_path: str
    sha: str
    meta: DocMeta | None
    stat: os.stat_result
    #: the metadata (and OCR) the file was ingested with: another one re-ingests it
    meta_key: str
    #: given when the file's preparation starts (ids are handed out in order, kb/ingest/pipeline.py)
    doc_id: str = ""

    def with_id(self, doc_id: str) -> "PendingFile":
        return replace(self, doc_id=doc_id)
