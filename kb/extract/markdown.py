"""Markdown: YAML front-matter into metadata, body reduced to readable text.

Headings stay as ``#`` lines because the chunker uses them as section names; links,
images, emphasis and inline HTML are removed since they only add noise to embeddings.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import Any

from kb.extract._common import decode_bytes, one_line, squash, stem_title
from kb.extract.text import normalise_newlines
from kb.models import ExtractedDocument, Page

_FRONT = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FENCE = re.compile(r"^\s*(```|~~~)")
_SUBS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"<!--.*?-->", re.DOTALL), ""),
    (re.compile(r"^(?:[-_*][ \t]*){3,}$", re.MULTILINE), ""),  # thematic breaks
    # Bracket texts exclude "[" and URLs stop at an unbalanced "(", so a run of unmatched "["
    # or "![a](" is scanned once, not once per bracket (100k "[" took minutes).
    (re.compile(r"!\[[^\[\]]*\]\((?:[^()]|\([^()]*\))*\)", re.DOTALL), ""),  # images
    (re.compile(r"!\[[^\[\]]*\]\[[^\[\]]*\]"), ""),  # reference images
    (re.compile(r"\[([^\[\]]+)\]\((?:[^()]|\([^()]*\))*\)", re.DOTALL), r"\1"),  # [text](url)
    (re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]"), r"\1"),  # [text][ref]
    (re.compile(r"^[ \t]*\[[^\[\]\n]+\]:[ \t]+\S+.*$", re.MULTILINE), ""),  # [ref]: url
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),  # autolinks
    (re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>"), ""),  # inline HTML tags
    (re.compile(r"(\*\*|__)(?=\S)((?:(?!\n\n).)+?)(?<=\S)\1", re.DOTALL), r"\2"),  # bold
    (re.compile(r"\*{2,}"), ""),  # leftover bold markers (pandoc glues them to no-break spaces)
    (re.compile(r"(?<=[^\s*])\*|\*(?=[^\s*])"), ""),  # italic stars; "* item" bullets stay
    (re.compile(r"^#{1,6}[ \t]*$", re.MULTILINE), ""),  # empty headings
    (re.compile(r"^\\#+[ \t]*$", re.MULTILINE), ""),  # "\###": end-of-release marker
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!$<>|~])"), r"\1"),  # backslash escapes
    (re.compile(r"\\$", re.MULTILINE), ""),  # hard line break
    (re.compile(r"^(\S[^\n]*)\n:[ \t]+", re.MULTILINE), r"\1: "),  # definition lists
    (re.compile(r"^([-*+])[ \t]+", re.MULTILINE), r"\1 "),  # "-   item" -> "- item"
]
_SETEXT = re.compile(r"^([^\s#][^\n]*)\n(=+|-+)[ \t]*$", re.MULTILINE)
_BOLD_PARAGRAPH = re.compile(r"(?:(?<=\n\n)|\A)\*\*([^*\n]{1,120}?)\*\*(?=\n\n|\n?\Z)")
_ATX = re.compile(r"^(#{1,6})[^\S\n]+(.+?)[^\S\n]*(?:#+[^\S\n]*)?$", re.MULTILINE)


def extract_markdown(path: Path) -> ExtractedDocument:
    """Read a Markdown file; the title comes from front-matter, a ``#`` heading or the name."""
    raw, encoding = decode_bytes(path.read_bytes())
    warnings: list[str] = []
    front, body = split_front_matter(normalise_newlines(raw), warnings)
    metadata = normalise_metadata(front)
    if encoding not in {"utf-8", "utf-8-sig"}:
        metadata["encoding"] = encoding
    text = markdown_to_text(body)
    title = metadata.get("title") or _first_atx_heading(text) or stem_title(path)
    return ExtractedDocument(
        source=str(path),
        format="md",
        title=title,
        pages=[Page(number=None, text=text)],
        metadata=metadata,
        warnings=warnings,
    )


def split_front_matter(text: str, warnings: list[str]) -> tuple[dict[str, Any], str]:
    """Split a leading ``---`` YAML block from the body; bad YAML is reported, not fatal."""
    match = _FRONT.match(text)
    if not match:
        return {}, text
    import yaml

    body = text[match.end() :]
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        warnings.append(one_line(f"front-matter is not valid YAML: {err}", 160))
        return {}, body
    if not isinstance(data, dict):
        return {}, body
    return {str(k).strip().lower(): v for k, v in data.items()}, body


def normalise_metadata(front: dict[str, Any]) -> dict[str, Any]:
    """Plain JSON-friendly values plus the common keys the index uses (title, year, url...)."""
    meta = {key: _plain(value) for key, value in front.items()}
    if isinstance(meta.get("title"), str):
        meta["title"] = squash(meta["title"]) or None
    url = meta.get("url") or meta.get("source_url") or meta.get("link") or meta.get("canonical")
    if url:
        meta["url"] = str(url)
    lang = meta.get("lang") or meta.get("language")
    if lang:
        meta["lang"] = str(lang)
    year = _year(meta.get("year") or meta.get("date") or meta.get("published_time"))
    if year:
        meta["year"] = year
    tags = meta.get("tags")
    if isinstance(tags, str):
        meta["tags"] = [t.strip() for t in tags.split(",") if t.strip()]
    elif isinstance(tags, list):
        meta["tags"] = [str(t) for t in tags]
    return meta


def markdown_to_text(body: str) -> str:
    """Strip Markdown syntax outside fenced code; keep ``#`` headings and list bullets."""
    parts = _split_fences(body)
    out = [part if fenced else _clean_prose(part) for fenced, part in parts]
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"


def _clean_prose(text: str) -> str:
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _SETEXT.sub(lambda m: ("# " if m.group(2)[0] == "=" else "## ") + m.group(1), text)
    # A paragraph that is one short bold line is a section title in pandoc/HTML exports.
    text = _BOLD_PARAGRAPH.sub(r"## \1", text)
    text = _ATX.sub(lambda m: f"{m.group(1)} {m.group(2)}", text)
    for pattern, repl in _SUBS:
        text = pattern.sub(repl, text)
    return html.unescape(text)


def _split_fences(text: str) -> list[tuple[bool, str]]:
    """Cut the body into (is_code, text) runs so code blocks are left untouched."""
    parts: list[tuple[bool, str]] = []
    buf: list[str] = []
    fenced = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            if not fenced:
                parts.append((False, "\n".join(buf)))
                buf = [line]
            else:
                buf.append(line)
                parts.append((True, "\n".join(buf)))
                buf = []
            fenced = not fenced
            continue
        buf.append(line)
    parts.append((fenced, "\n".join(buf)))
    return parts


def _first_atx_heading(text: str) -> str | None:
    match = re.search(r"^#[ \t]+(.+?)[ \t#]*$", text, re.MULTILINE)
    return squash(match.group(1)) if match else None


def _plain(value: Any) -> Any:
    """YAML dates become ISO strings so metadata can be stored as JSON."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _year(value: Any) -> int | None:
    if isinstance(value, int) and 1000 <= value <= 2999:
        return value
    match = re.match(r"\s*(\d{4})", str(value)) if value else None
    return int(match.group(1)) if match else None
