"""Markdown: YAML front-matter into metadata, body reduced to readable text.

Headings stay as ``#`` lines because the chunker uses them as section names; links,
images, emphasis and inline HTML are removed since they only add noise to embeddings.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import re
from bisect import bisect_left
from pathlib import Path
from typing import Any, Callable

from kb.ingest.extract._common import decode_bytes, one_line, squash, stem_title
from kb.ingest.extract.text import normalise_newlines
from kb.models import ExtractedDocument, Page

_FRONT = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FENCE = re.compile(r"^\s*(```|~~~)")
_Step = Callable[[str], str]
_PARAGRAPH_BREAK = re.compile(r"(?=\n\n)")
_BOLD_OPEN = re.compile(r"(?=(\*\*|__)\S)")
_BOLD_CLOSE = {"**": re.compile(r"(?<=\S)(?=\*\*)"), "__": re.compile(r"(?<=\S)(?=__)")}


def _strip_comments(text: str) -> str:
    """``re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)`` in linear time.

    The regex scans to the end of the text for every unclosed ``<!--`` (50k of them: 100 s
    for 200 KB); here the first opener without a later ``-->`` ends the search, since no later
    opener can have one either.
    """
    out: list[str] = []
    pos = 0
    while (start := text.find("<!--", pos)) >= 0 and (end := text.find("-->", start + 4)) >= 0:
        out.append(text[pos:start])
        pos = end + 3
    out.append(text[pos:])
    return "".join(out)


def _strip_bold(text: str) -> str:
    r"""``(\*\*|__)(?=\S)((?:(?!\n\n).)+?)(?<=\S)\1`` (DOTALL) replaced by ``\2``, in linear time.

    The regex reads to the end of the paragraph for each opener without a closer: a
    paragraph of 50k unclosed ``**`` (200 KB) took over 10 minutes.  Same matches here:
    the closer of an opener at ``i`` is the first closing delimiter at ``i + 3`` or later
    (lazy match of at least one character), taken only if no blank line starts before it.
    """
    opens = [(m.start(), m.group(1)) for m in _BOLD_OPEN.finditer(text)]
    if not opens:
        return text
    closes = {delim: [m.start() for m in c.finditer(text)] for delim, c in _BOLD_CLOSE.items()}
    breaks = [m.start() for m in _PARAGRAPH_BREAK.finditer(text)]
    out: list[str] = []
    pos = 0
    for start, delim in opens:
        if start < pos:
            continue
        ends = closes[delim]
        k = bisect_left(ends, start + 3)
        if k == len(ends):
            continue
        end = ends[k]
        b = bisect_left(breaks, start + 2)
        if b < len(breaks) and breaks[b] < end:
            continue
        out.append(text[pos:start])
        out.append(text[start + 2 : end])
        pos = end + 2
    out.append(text[pos:])
    return "".join(out)


def _sub(pattern: str, repl: str | Callable[[re.Match[str]], str], flags: int = 0) -> _Step:
    """One step of _SUBS: ``re.sub(pattern, repl, text, flags=flags)``, compiled once."""
    return functools.partial(re.compile(pattern, flags).sub, repl)


# Applied in order to prose (outside code fences).  Every step must stay linear on hostile
# input (tests/test_bad_files.py times the known bad shapes): a lazy ".*?" or a "+" run
# tried from each of many openers that never close reads the rest of the text each time.
_SUBS: list[_Step] = [
    _strip_comments,  # <!-- ... -->
    _sub(r"^(?:[-_*][ \t]*){3,}$", "", re.MULTILINE),  # thematic breaks
    # Bracket texts exclude "[" and URLs stop at an unbalanced "(", so a run of unmatched "["
    # or "![a](" is scanned once, not once per bracket (100k "[" took minutes).
    _sub(r"!\[[^\[\]]*\]\((?:[^()]|\([^()]*\))*\)", "", re.DOTALL),  # images
    _sub(r"!\[[^\[\]]*\]\[[^\[\]]*\]", ""),  # reference images
    _sub(r"\[([^\[\]]+)\]\((?:[^()]|\([^()]*\))*\)", r"\1", re.DOTALL),  # [text](url)
    _sub(r"\[([^\[\]]+)\]\[[^\[\]]*\]", r"\1"),  # [text][ref]
    _sub(r"^[ \t]*\[[^\[\]\n]+\]:[ \t]+\S+.*$", "", re.MULTILINE),  # [ref]: url
    # Autolinks <http://...>: a run without ">" is consumed whole and put back, so a run of
    # 30k "<http://" is read once (the later openers in it cannot close either).
    _sub(r"<(https?://[^>\s]+)(>?)", lambda m: m.group(1) if m.group(2) else m.group(0)),
    _sub(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>", ""),  # inline HTML tags
    _strip_bold,  # **bold**, __bold__
    _sub(r"\*{2,}", ""),  # leftover bold markers (pandoc glues them to no-break spaces)
    _sub(r"(?<=[^\s*])\*|\*(?=[^\s*])", ""),  # italic stars; "* item" bullets stay
    _sub(r"^#{1,6}[ \t]*$", "", re.MULTILINE),  # empty headings
    _sub(r"^\\#+[ \t]*$", "", re.MULTILINE),  # "\###": end-of-release marker
    _sub(r"\\([\\`*_{}\[\]()#+\-.!$<>|~])", r"\1"),  # backslash escapes
    _sub(r"\\$", "", re.MULTILINE),  # hard line break
    _sub(r"^(\S[^\n]*)\n:[ \t]+", r"\1: ", re.MULTILINE),  # definition lists
    _sub(r"^([-*+])[ \t]+", r"\1 ", re.MULTILINE),  # "-   item" -> "- item"
]
_SETEXT = re.compile(r"^([^\s#][^\n]*)\n(=+|-+)[ \t]*$", re.MULTILINE)
_BOLD_PARAGRAPH = re.compile(r"(?:(?<=\n\n)|\A)\*\*([^*\n]{1,120}?)\*\*(?=\n\n|\n?\Z)")
# ATX heading lines, cut into hashes, spaces and the rest; the closing "#"s are taken off in
# Python (_atx_heading): the regex "(.+?)[^\S\n]*(?:#+[^\S\n]*)?$" was quadratic on a long
# run of spaces or "#" inside a heading line.
_ATX = re.compile(r"^(#{1,6})([^\S\n]+)([^\n]*)$", re.MULTILINE)
_FIRST_ATX = re.compile(r"^#([ \t]+)([^\n]*)$", re.MULTILINE)


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
        # aliases are refused: nested ones ("billion laughs") expand to gigabytes when the
        # metadata is flattened, and no real front matter needs them
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(match.group(1), Loader=yaml.SafeLoader)):
            warnings.append("front-matter uses YAML aliases (*name); ignored")
            return {}, body
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
    text = _ATX.sub(_atx_heading, text)
    for step in _SUBS:
        text = step(text)
    return _unwrap(html.unescape(text))


_BLOCK_START = re.compile(r"#|[-*+] |\d{1,3}[.)] |\||>")
_HYPHEN_END = re.compile(r"[^\W\d_]-$")


def _unwrap(text: str) -> str:
    """Soft line breaks inside a paragraph become spaces, as Markdown means them.

    Left to the cleaner's reflow, which reads line widths the way a PDF needs, a line that a
    link had made short ("Recruitment Practices for Temporary" before "Workers](http://...)")
    ended a paragraph, and the next one, "Workers.”", was taken for a heading and lost. Lines
    that start a block (heading, list item, table row, quote) or a numbered part of a text
    ("(2)", "§ 3", "Artículo 4.", "a)": kb.ingest.structure.marker) keep their line.
    """
    from kb.ingest.structure import marker

    out: list[str] = []
    for line in text.split("\n"):
        prev = out[-1] if out else ""
        if (line and prev and not prev.startswith(("#", "|")) and not _BLOCK_START.match(line)
                and marker(line) is None):
            # a compound wrapped at its hyphen ("(Datenschutz-" / "Grundverordnung)") stays one word
            out[-1] = prev + line if _HYPHEN_END.search(prev) else f"{prev} {line}"
        else:
            out.append(line)
    return "\n".join(out)


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


def _atx_heading(match: re.Match[str]) -> str:
    r""""##  Title ##" -> "## Title", as ``^(#{1,6})[^\S\n]+(.+?)[^\S\n]*(?:#+[^\S\n]*)?$`` did."""
    hashes, spaces, rest = match.groups()
    kept = rest.rstrip()
    if kept.endswith("#"):  # closing sequence: spaces, "#"s, spaces
        kept = kept.rstrip("#").rstrip()
    title = _lazy_group(rest, spaces, len(kept))
    return match.group(0) if title is None else f"{hashes} {title}"


def _lazy_group(rest: str, spaces: str, kept: int) -> str | None:
    """What the lazy "(.+?)" of the heading regexes takes: ``rest[:kept]`` (``rest`` without
    its closing characters) but at least one character, or when ``rest`` is empty the last
    of ``spaces`` (the "+" before it gives one back); None when the line does not match."""
    if rest:
        return rest[: max(1, kept)]
    return spaces[-1] if len(spaces) > 1 else None


def _first_atx_heading(text: str) -> str | None:
    r"""First "# Title" line, as ``re.search(r"^#[ \t]+(.+?)[ \t#]*$", text, re.M)`` did."""
    for match in _FIRST_ATX.finditer(text):
        spaces, rest = match.groups()
        title = _lazy_group(rest, spaces, len(rest.rstrip(" \t#")))
        if title is not None:
            return squash(title)
    return None


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
