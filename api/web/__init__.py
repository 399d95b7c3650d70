"""The web page that ``kb serve`` shows at ``/``: search, documents and a briefing pack in a browser.

Everything the browser loads comes from ``static/`` inside this package (no CDN: offices and
learning events are often offline), by name from a fixed list made at start-up, so no part of
a request's path ever reaches the disk. The pages are plain HTML; their scripts are separate
files because the Content-Security-Policy below forbids inline script. The page holds no rule
of its own: it asks the API (``/types``, ``/documents``, ``/search``, ``/briefs``) and reads kb's
vocabulary (lesson types and their names, stopwords) from ``vocabulary()``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import HTTPException
from fastapi.responses import FileResponse, Response

STATIC = Path(__file__).resolve().parent / "static"
#: page path -> its file; the gate (api/gate.py) lets these and ASSETS/* through without the key,
#: since a browser cannot send a header on navigation: the page asks for the key, then sends it
PAGES: dict[str, str] = {"/": "search.html", "/pack": "pack.html", "/library": "library.html"}
ASSETS = "/web"
#: the languages of the page's own labels (api/web/static/i18n.js)
UI_LANGUAGES = ("en", "fr", "es")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-cache"}
_MEDIA = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}


@lru_cache(maxsize=1)
def _files() -> dict[str, Path]:
    """The assets by name, listed once: a request picks one of these or gets a 404."""
    return {f.name: f for f in STATIC.iterdir() if f.is_file() and f.suffix in _MEDIA}


def asset(name: str) -> Response:
    found = _files().get(name)
    if found is None:
        raise HTTPException(404, f"no web asset {name!r}")
    return FileResponse(found, media_type=_MEDIA[found.suffix], headers=HEADERS)


def page(path: str) -> Response:
    return asset(PAGES[path])


def is_public(path: str) -> bool:
    """Whether a request path is part of the page itself (open without the API key)."""
    return path in PAGES or path == ASSETS + "/vocabulary" or path.startswith(ASSETS + "/static/")


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, object]:
    """kb's own words and rules that the page shows or applies: the lesson types in their order
    with their names in each page language, the search's stopwords (so that highlighting skips
    the words the keyword search skips), and the API's limits."""
    from api.schemas import K_DEFAULT, MAX_FILTER_VALUES, MAX_QUERY_CHARS
    from kb.text.keywords import STOPWORDS
    from kb.lessons import type_label
    from kb.models import LESSON_TYPES as TYPES

    return {
        "types": list(TYPES),
        "type_labels": {lang: {t: type_label(t, lang) for t in TYPES} for lang in UI_LANGUAGES},
        "stopwords": {lang: sorted(words) for lang, words in STOPWORDS.items()},
        "max_filter_values": MAX_FILTER_VALUES,
        "max_query_chars": MAX_QUERY_CHARS,
        "k": K_DEFAULT,
    }
