"""What an ingest run reports: one outcome per file, totals and timings, and progress events.

Typed so that the CLI's progress display, the API and the Ray driver read the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

@dataclass
class FileOutcome:
    path: str
    status: str  # added | replaced | unchanged | failed
    doc_id: str | None = None
    pages: int = 0
    passages: int = 0
    reason: str | None = None
    #: things the user should know about a file that went in (text left untranslated)
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=lambda: {"extract": 0.0, "embed": 0.0, "store": 0.0, "total": 0.0})
    embedded: int = 0
    interrupted: bool = False
    #: passages whose lesson types were recomputed because the cue file changed
    relabelled: int = 0
    #: document pairs linked as translations of each other (kb/derived/translations.py)
    linked: int = 0
    #: stored passages given their companion model's vectors (kb/derived/companion.py)
    companion_embedded: int = 0
    #: passages given their sparse code (kb/derived/sparse.py)
    sparse_coded: int = 0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def to_dict(self) -> dict[str, object]:
        done = [o for o in self.outcomes if o.status in ("added", "replaced")]
        return {
            "added": self.count("added"), "replaced": self.count("replaced"),
            "unchanged": self.count("unchanged"), "failed": self.count("failed"),
            "pages": sum(o.pages for o in done), "passages": sum(o.passages for o in done),
            "embedded": self.embedded, "relabelled": self.relabelled, "linked": self.linked,
            "companion_embedded": self.companion_embedded, "sparse_coded": self.sparse_coded,
            "interrupted": self.interrupted,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "failures": [{"path": o.path, "reason": o.reason} for o in self.failed],
            "warnings": [{"path": o.path, "warning": w} for o in self.outcomes for w in o.warnings],
        }


@dataclass(frozen=True)
class ProgressEvent:
    """One thing an ingest reports as it goes, to a progress display or a caller's handler.

    ``kind``: "start" (``files`` found), "document" (a prepared file about to be embedded:
    ``passages`` to embed), "embedded" (``passages`` of that document done so far), "file"
    (a file finished: its ``outcome``), "companion" (an older index getting its companion
    model's vectors: ``done`` of ``total`` stored passages), "sparse" (passages getting their
    sparse codes: ``done`` of ``total``).
    """

    kind: str
    path: str = ""
    doc_id: str | None = None
    files: int = 0
    passages: int = 0
    done: int = 0
    total: int = 0
    outcome: FileOutcome | None = None


EventHandler = Callable[[ProgressEvent], None]
