"""Briefing packs: for each topic of a topics file, the best cited passages, grouped.

Front ends make one call each:

- CLI ``kb brief TOPICS --out FILE --format md|html|docx``::

      write_brief(kb, topics_path, out_path, fmt)        # fmt None: from the file suffix

- API ``POST /briefs`` (body: a topics object, optionally with ``"format"``)::

      brief = make_brief(kb, body, fmt)                   # fmt None: body["format"] or "md"
      Response(brief.content, media_type=brief.media_type)

Both raise ``kb.errors.UsageError`` with a readable message for a bad topics file or
format. The stages are public too: ``load_topics`` -> ``build_pack`` -> ``render``.
This module imports nothing heavy: search, numpy and python-docx load on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from kb.brief.pack import Pack, PackTopic, Quote, Source
from kb.brief.topics import TopicSpec, TopicsSpec, load_topics
from kb.errors import NotPermittedError, UsageError

if TYPE_CHECKING:
    from datetime import datetime

    from kb.library import KnowledgeBase

FORMATS = ("md", "html", "docx")
MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
_ALIASES = {"markdown": "md", "htm": "html", "word": "docx"}


@dataclass
class Brief:
    """A rendered pack and what a front end needs to send or save it."""

    content: str | bytes
    format: str
    media_type: str
    filename: str
    pack: Pack


def normalise_format(fmt: str | None, out: str | Path | None = None) -> str:
    """"md", "html" or "docx" from an explicit format, else the output file's suffix, else "md"."""
    if fmt is None and out is not None and str(out) != "-":
        fmt = Path(out).suffix.lstrip(".") or None
    if fmt is None:
        return "md"
    if not isinstance(fmt, str):
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    key = fmt.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return key


def build_pack(kb: "KnowledgeBase", spec: TopicsSpec | Mapping[str, Any] | str | Path,
               now: "datetime | None" = None) -> Pack:
    """Select and cite the passages of every topic (see ``kb.brief.build``); ``now`` fixes the stamp."""
    from kb.brief.build import build_pack as _build

    return _build(kb, load_topics(spec), now=now)


def render(pack: Pack, fmt: str = "md") -> str | bytes:
    """Markdown or HTML (str), or DOCX (bytes)."""
    fmt = normalise_format(fmt)
    if fmt == "html":
        from kb.brief.render_html import render_html

        return render_html(pack)
    if fmt == "docx":
        from kb.brief.render_docx import render_docx

        return render_docx(pack)
    from kb.brief.render_md import render_markdown

    return render_markdown(pack)


def make_brief(kb: "KnowledgeBase", topics: TopicsSpec | Mapping[str, Any] | str | Path,
               fmt: str | None = None) -> Brief:
    """Load, build and render in one call (what ``POST /briefs`` does).

    ``topics`` may instead name chosen passages (``{"title", "passages": [ids]}``, kb/brief/chosen.py).
    """
    if isinstance(topics, Mapping) and "format" in topics:
        fmt = fmt or topics["format"]
        topics = {k: v for k, v in topics.items() if k != "format"}
    fmt = normalise_format(fmt)
    from kb.brief.chosen import build_chosen_pack, is_chosen, load_chosen

    if is_chosen(topics):  # passages a person picked (the web page's pack), not topics to search
        chosen = load_chosen(topics)  # type: ignore[arg-type]
        pack = build_chosen_pack(kb, chosen)
        return Brief(render(pack, fmt), fmt, MEDIA_TYPES[fmt], f"{_slug(chosen.title)}.{fmt}", pack)
    spec = load_topics(topics)
    pack = build_pack(kb, spec)
    return Brief(render(pack, fmt), fmt, MEDIA_TYPES[fmt], f"{_slug(spec.title)}.{fmt}", pack)


def write_brief(kb: "KnowledgeBase", topics: str | Path | Mapping[str, Any] | TopicsSpec,
                out: str | Path, fmt: str | None = None) -> Brief:
    """Build the pack and write it to ``out`` (what ``kb brief`` does); the format defaults to out's suffix."""
    fmt = normalise_format(fmt, out)
    spec = load_topics(topics)  # a bad topics file fails before anything is written
    out = Path(out)
    if out.parent and not out.parent.exists():
        raise UsageError(f"cannot write {out}: folder {out.parent} does not exist")
    tmp = out.with_name(f".{out.name}.tmp")
    try:  # before the searches, which take seconds to minutes: a folder we cannot write fails now
        tmp.touch()
    except OSError as err:
        raise NotPermittedError(f"cannot write {out}: {err.strerror or err}") from err
    try:
        brief = make_brief(kb, spec, fmt)
        data = brief.content.encode("utf-8") if isinstance(brief.content, str) else brief.content
        tmp.write_bytes(data)
        tmp.replace(out)
    except OSError as err:
        raise NotPermittedError(f"cannot write {out}: {err.strerror or err}") from err
    finally:
        tmp.unlink(missing_ok=True)
    return brief


def _slug(title: str) -> str:
    import re
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-") or "brief"


__all__ = [
    "Brief", "FORMATS", "MEDIA_TYPES", "Pack", "PackTopic", "Quote", "Source", "TopicSpec", "TopicsSpec",
    "build_pack", "load_topics", "make_brief", "normalise_format", "render", "write_brief",
]
