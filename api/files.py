"""``GET /documents/{doc_id}/file``: a document's original file, read-only, found by its id.

Why it is safe to serve: the request names an id, never a path; the path is the one the
index stored at ingest, and the file is sent only while its bytes still hash to the
ingested SHA-256. A file that has been edited, replaced (by a symlink to something else,
say) or moved since is refused: its pages would no longer match the citations anyway.

Why the headers: a source document is text someone else wrote. An HTML source would run its
scripts with this server's origin (and the page's API key) if sent as it is, so HTML and
text are sent under a ``sandbox`` Content-Security-Policy (no script, a unique origin) and
``nosniff``; Markdown and plain text go as ``text/plain`` in UTF-8 (decoded as ingestion
decoded them), so the browser shows their characters and never interprets them; HTML is sent
re-encoded the same way (the header's charset wins over the file's own ``<meta>``). PDFs get
no sandbox: Chromium's PDF viewer refuses to open in a sandboxed document.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from urllib.parse import quote

from fastapi import HTTPException
from fastapi.responses import FileResponse, Response

from kb.models import Document

#: format -> (media type, shown in the browser or downloaded)
MEDIA: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", "inline"),
    "html": ("text/html; charset=utf-8", "inline"),
    "md": ("text/plain; charset=utf-8", "inline"),
    "txt": ("text/plain; charset=utf-8", "inline"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "attachment"),
}
_TEXT = {"html", "md", "txt"}
SANDBOX = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"


class Verified:
    """Which files were found unchanged, keyed by (path, size, mtime): hashing a 50 MB PDF on
    every page view would cost a tenth of a second each time for nothing."""

    def __init__(self, limit: int = 4096) -> None:
        self._seen: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()
        self._limit = limit

    def sha256(self, path: Path) -> str:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key in self._seen:
                return self._seen[key]
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        with self._lock:
            if len(self._seen) >= self._limit:
                self._seen.clear()
            self._seen[key] = digest.hexdigest()
        return self._seen[key]


def _disposition(kind: str, name: str) -> str:
    """RFC 6266 with an ASCII fallback: file names in the corpus are often French or Spanish."""
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_").replace("\\", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_response(doc: Document, path: Path, verified: Verified) -> Response:
    """The ingested file of ``doc`` at ``path`` (the absolute path the index recorded at ingestion),
    or a 404/409 whose ``detail`` says why it cannot be."""
    media, kind = MEDIA.get(doc.format, ("application/octet-stream", "attachment"))
    try:
        unchanged = path.is_file() and verified.sha256(path) == doc.sha256
    except OSError:
        unchanged = False
    if not path.is_file():
        raise HTTPException(404, f"the file of document {doc.doc_id!r} is no longer where it was ingested "
                                 f"({path.name}): ingest it again from its new place")
    if not unchanged:
        raise HTTPException(409, f"the file of document {doc.doc_id!r} ({path.name}) changed since it was "
                                 "ingested: `kb ingest` it again, so that citations match its pages")
    headers = {"Content-Disposition": _disposition(kind, path.name), "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer", "Cache-Control": "private, no-cache"}
    if doc.format in _TEXT or kind == "attachment":
        headers["Content-Security-Policy"] = SANDBOX
    if doc.format in _TEXT:
        from kb.ingest.extract._common import decode_bytes  # as ingestion read it: the browser cannot guess cp1252

        text, _ = decode_bytes(path.read_bytes())
        return Response(text.encode("utf-8"), media_type=media, headers=headers)
    return FileResponse(path, media_type=media, headers=headers)
