"""Markdown pack: readable as plain text, and renders cleanly on GitHub or in Pandoc.

Quote text is escaped only where Markdown would otherwise reinterpret it (a line
starting "8." would become a list item, a "*" would start emphasis), so the source
reads as the passage and ``unescape`` gives back the exact quoted text.
"""

from __future__ import annotations

import re

from kb.brief.labels import Labels
from kb.brief.pack import Pack, Quote

_INLINE = re.compile(r"([\\`*_\[\]<>|])")
_LINE_START = re.compile(r"^(\s*)(#{1,6}(?=\s|$)|[-+](?=\s)|>|(\d{1,9})([.)])(?=\s|$))")
_UNESCAPE = re.compile(r"\\([\\`*_\[\]<>|#+\-.)])")


def escape(text: str) -> str:
    """Escape one line of text for Markdown."""
    text = _INLINE.sub(r"\\\1", text)

    def fix(m: re.Match[str]) -> str:
        lead, token = m.group(1), m.group(2)
        if m.group(3):  # "8." -> "8\."
            return f"{lead}{m.group(3)}\\{m.group(4)}"
        return f"{lead}\\{token}"

    return _LINE_START.sub(fix, text, count=1)


def unescape(text: str) -> str:
    return _UNESCAPE.sub(r"\1", text)


def _blockquote(text: str) -> list[str]:
    return [f"> {escape(line)}".rstrip() for line in text.split("\n")]


def _quote(quote: Quote, labels: Labels, pack_lang: str | None) -> list[str]:
    title, rest = quote.cite_parts()
    cite = f"— *{escape(title)}*{escape(rest)} [{quote.source_number}]"
    notes = labels.language_notes(quote.lang, quote.other_languages, pack_lang)
    if notes:
        cite += f" · {escape(notes)}"
    lines = [f"<!-- passage {quote.passage_id} -->"]
    lines += _blockquote(quote.display_text)
    lines += [">", f"> {cite}", ""]
    notes = []  # under the quote, outside it: what the reader should know about the cut and repeats
    if quote.whole:
        notes.append(f"*{escape(labels.excerpt(quote.whole))}* ([{quote.whole}](#whole-{quote.whole}))")
    if quote.also_under:
        notes.append(f"*{escape(labels.also_under(quote.also_under))}*")
    return lines + ([" · ".join(notes), ""] if notes else [])


def _wholes(pack: Pack, labels: Labels) -> list[str]:
    """The passages quoted in part, whole: the pack quotes word for word."""
    if not pack.wholes:
        return []
    out = [f"## {labels['wholes']}", ""]
    for whole in pack.wholes:
        title, rest = whole.citation.title, whole.cite()[len(whole.citation.title):]
        out += [f'<a id="whole-{whole.number}"></a>', "", f"**{whole.number}.** <!-- passage {whole.passage_id} -->", ""]
        out += _blockquote(whole.text)
        out += [">", f"> — *{escape(title)}*{escape(rest)} [{whole.source_number}]", ""]
    return out


def render_markdown(pack: Pack) -> str:
    labels = Labels(pack.lang)
    out: list[str] = [f"# {escape(pack.title)}", ""]
    if pack.intro:
        out += [escape(line) for line in pack.intro.split("\n")] + [""]
    for topic in pack.topics:
        out += [f"## {escape(topic.heading)}", ""]
        if topic.intro:
            out += [escape(line) for line in topic.intro.split("\n")] + [""]
        if topic.questions:  # a pack of chosen passages (kb/brief/chosen.py) has none
            questions = " · ".join(escape(q) for q in topic.questions)
            out += [f"*{labels['questions']} {questions}*", ""]
        if not topic.quotes:
            out += [f"_{labels['no_quotes']}_", ""]
        for quote in topic.quotes:
            out += _quote(quote, labels, pack.lang)
    out += _wholes(pack, labels)
    out += [f"## {labels['sources']}", ""]
    for source in pack.sources:
        line = f"{source.number}. **{escape(source.title)}**"
        if source.details():
            line += f". {escape(source.details())}"
        line += f". <{source.url}>" if source.url else f". {labels['file']} `{source.source}`"
        out.append(line)
    out += ["", "---", "", f"*{escape(labels.generated(pack.generated))}*", ""]
    return "\n".join(out)
