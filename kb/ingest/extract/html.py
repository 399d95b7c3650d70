"""HTML with the standard library parser: readable blocks, headings as ``#`` lines.

Page chrome (nav, header, footer) and code (script, style) are dropped because they
repeat on every page of a site and would pollute search results.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable

from kb.ingest.extract._common import decode_bytes, squash, stem_title
from kb.models import ExtractedDocument, Page

_SKIP = {"script", "style", "nav", "header", "footer", "noscript", "template", "svg", "aside"}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = {
    "p", "div", "section", "article", "main", "blockquote", "pre", "ul", "ol", "li",
    "table", "tr", "dl", "dt", "dd", "figure", "figcaption", "form", "fieldset",
    "address", "body", "caption", "details", "summary", "hr", *_HEADINGS,
}  # fmt: skip
_VOID = {
    "br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr",
}  # fmt: skip
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_SECTION_NAME = re.compile(r"[a-zA-Z][-_.a-zA-Z0-9]*")


class _TextParser(HTMLParser):
    """Collects text blocks; a block ends at every block-level tag boundary."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.title = ""
        self.first_h1 = ""
        self.lang: str | None = None
        self._buf: list[str] = []
        self._prefix = ""
        self._skip_depth = 0
        self._pre_depth = 0
        self._in_title = False
        self._failed_in: str | None = None
        self._failed_at: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.lang = dict(attrs).get("lang") or self.lang
        if self._skip_depth or tag in _SKIP:
            if tag not in _VOID:
                self._skip_depth += 1
            return
        if tag == "title":
            self._in_title = True
        elif tag == "br":
            self._buf.append("\n")
        elif tag in _BLOCKS:
            self._flush()
            if tag in _HEADINGS:
                self._prefix = "#" * _HEADINGS[tag] + " "
            elif tag == "li":
                self._prefix = "- "
            if tag == "pre":
                self._pre_depth += 1
        elif tag in {"td", "th"}:
            self._buf.append(" | " if self._buf else "")

    def handle_endtag(self, tag: str) -> None:
        if self._skip_depth:
            if tag not in _VOID:
                self._skip_depth -= 1
            return
        if tag == "title":
            self._in_title = False
        elif tag in _BLOCKS:
            if tag == "h1" and not self.first_h1:
                self.first_h1 = squash("".join(self._buf))
            self._flush()
            if tag in _HEADINGS or tag == "li":
                self._prefix = ""  # an empty heading must not prefix the next block
            if tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._in_title:
            self.title += data
        else:
            self._buf.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    # At close(), HTMLParser (before CPython gh-135462) takes an unclosed "<!--" or "<![" as
    # text up to the next ">" and parses on, searching the rest of the input again for the
    # closer of each later one: "<!--x>" * 50000 was quadratic.  A search that failed from
    # one opener fails from any later one (of the same kind) in the same buffer, so it is
    # not repeated.  The "<" after the last ">" are escaped before parsing (_escape_tail).
    def parse_comment(self, i: int, report: int = 1) -> int:
        return self._unless_failed("<!--", i, super().parse_comment, report)

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        name = _SECTION_NAME.match(self.rawdata, i + 3)  # closers differ: "]]>", "]>"
        kind = "<![" + (name.group().lower() if name else "")
        return self._unless_failed(kind, i, super().parse_marked_section, report)

    def _unless_failed(
        self, kind: str, i: int, parse: Callable[[int, int], int], report: int
    ) -> int:
        if self._failed_in is not self.rawdata:  # the parser keeps only the unparsed rest
            self._failed_in = self.rawdata
            self._failed_at = {}
        if i >= self._failed_at.get(kind, len(self.rawdata) + 1):
            return -1
        end = parse(i, report)
        if end < 0:
            self._failed_at[kind] = i
        return end

    def _flush(self) -> None:
        raw = "".join(self._buf)
        self._buf = []
        if self._pre_depth:
            text = raw.strip("\n")
        else:
            text = "\n".join(squash(line) for line in raw.split("\n"))
            text = re.sub(r"\n+", "\n", text).strip()
        if text.strip(" |"):
            self.blocks.append(self._prefix + text)
            self._prefix = ""  # kept otherwise: <li><p>text</p></li> keeps its bullet


def extract_html(path: Path) -> ExtractedDocument:
    """Read an HTML page into blocks separated by blank lines; title from <title> or <h1>."""
    data = path.read_bytes()
    text = _decode_html(data)
    parser = _TextParser()
    parser.feed(_escape_tail(text))
    parser.close()
    body = "\n\n".join(parser.blocks)
    title = squash(parser.title) or parser.first_h1 or stem_title(path)
    metadata = {"lang": parser.lang} if parser.lang else {}
    return ExtractedDocument(
        source=str(path),
        format="html",
        title=title,
        pages=[Page(number=None, text=body + "\n" if body else "")],
        metadata=metadata,
    )


def _escape_tail(text: str) -> str:
    """Write the "<" after the last ">" as "&lt;": the same text once parsed, in linear time.

    No tag, comment or declaration can close there, so the parser gives each back as text;
    but at close() it first searches the rest of the input for its end, once per "<" (66k
    "<a " without a ">", 200 KB: 7 minutes).  One difference: a "tag" cut short by a NUL
    there was given back with its entities undecoded ("<a&lt\\0" read "<a&lt", now "<a<").
    """
    last = text.rfind(">")
    if text.find("<", last + 1) < 0:
        return text
    return text[: last + 1] + text[last + 1 :].replace("<", "&lt;")


def _decode_html(data: bytes) -> str:
    """Honour a declared <meta charset> before guessing, as browsers do."""
    match = _META_CHARSET.search(data[:4096])
    if match and not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode(match.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_bytes(data)[0]
