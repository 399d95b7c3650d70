"""HTML pack: one self-contained file that reads on screen and prints on A4.

No external fonts, scripts or images, so it opens offline, can be mailed as one
attachment and prints the same anywhere. Print rules: A4 with 18 mm margins, each
topic starting on a new page, a quote never split across pages, the sources list on
its own page. Every piece of corpus text goes through ``html.escape``.
"""

from __future__ import annotations

from html import escape

from kb.brief.labels import Labels
from kb.brief.pack import Pack, PackTopic, Quote

CSS = """
@page { size: A4; margin: 18mm;
        @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #5f6b76;
                         font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; } }
:root { --ink: #1f2933; --muted: #5f6b76; --accent: #1d4e89; --rule: #d5dbe1; --tint: #f3f6fa; }
* { box-sizing: border-box; }
html { font-size: 11pt; }
body { margin: 0 auto; max-width: 174mm; color: var(--ink); line-height: 1.45;
       font-family: "DejaVu Sans", "Liberation Sans", "Segoe UI", Arial, Helvetica, sans-serif; }
header.pack { border-bottom: 3px solid var(--accent); padding-bottom: 6mm; margin-bottom: 6mm; }
h1 { font-size: 21pt; line-height: 1.2; color: var(--accent); margin: 0 0 4mm; }
h2 { font-size: 15pt; color: var(--accent); margin: 0 0 3mm; padding-bottom: 1.5mm;
     border-bottom: 1px solid var(--rule); break-after: avoid; page-break-after: avoid; }
.intro { font-size: 11.5pt; }
nav.contents { background: var(--tint); padding: 3mm 5mm; margin: 0 0 6mm; border-radius: 2mm; }
nav.contents h3 { margin: 0 0 1mm; font-size: 10pt; text-transform: uppercase; letter-spacing: .06em;
                  color: var(--muted); }
nav.contents ol { margin: 0; padding-left: 6mm; }
nav.contents a { color: var(--ink); text-decoration: none; }
section.topic + section.topic, section.wholes, section.sources { break-before: page; page-break-before: always; }
.questions { color: var(--muted); font-size: 9.5pt; margin: 0 0 4mm; }
.questions span + span::before { content: " · "; }
figure.quote { margin: 0 0 5mm; padding: 3mm 5mm 3mm 6mm; background: var(--tint);
               border-left: 4px solid var(--accent); break-inside: avoid; page-break-inside: avoid; }
figure.quote blockquote { margin: 0; font-family: "DejaVu Serif", "Liberation Serif", Georgia, serif;
                          font-size: 10.5pt; white-space: pre-line; hyphens: auto; }
figure.quote figcaption { margin-top: 2mm; font-size: 9pt; color: var(--muted); }
figure.quote figcaption cite { font-style: italic; color: var(--ink); }
figure.quote .ref { color: var(--accent); text-decoration: none; font-weight: bold; }
figure.quote .langs, figure.quote .note { display: block; margin-top: .5mm; font-size: 8.5pt; }
figure.quote .note a { color: inherit; }
ol.wholes { padding-left: 7mm; }
ol.wholes li { margin-bottom: 5mm; break-inside: avoid; page-break-inside: avoid; }
ol.wholes .whole { font-family: "DejaVu Serif", "Liberation Serif", Georgia, serif; font-size: 10.5pt;
                   white-space: pre-line; padding-left: 4mm; border-left: 2px solid var(--rule); }
ol.wholes .whole-cite { margin: 1mm 0 0; font-size: 9pt; color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
ol.sources { padding-left: 7mm; font-size: 10pt; }
ol.sources li { margin-bottom: 2.5mm; }
ol.sources .where { color: var(--muted); font-size: 9pt; overflow-wrap: anywhere; }
footer.generated { margin-top: 8mm; padding-top: 2mm; border-top: 1px solid var(--rule);
                   font-size: 8.5pt; color: var(--muted); }
@media screen { body { padding: 12mm 8mm; } }
@media print { a { color: inherit; } }
"""


def _quote(quote: Quote, labels: Labels, pack_lang: str | None) -> str:
    title, rest = quote.cite_parts()
    notes = labels.language_notes(quote.lang, quote.other_languages, pack_lang)
    langs = f'<span class="langs">{escape(notes)}</span>' if notes else ""
    lang_attr = f' lang="{escape(quote.lang)}"' if quote.lang else ""
    return (
        f'<figure class="quote" data-passage-id="{escape(quote.passage_id)}">'
        f"<blockquote{lang_attr}>{escape(quote.display_text)}</blockquote>"
        f"<figcaption>— <cite>{escape(title)}</cite>{escape(rest)} "
        f'<a class="ref" href="#source-{quote.source_number}">[{quote.source_number}]</a>{langs}'
        f"{_notes(quote, labels)}</figcaption></figure>"
    )


def _notes(quote: Quote, labels: Labels) -> str:
    """Where an excerpt was cut and where its whole passage is; the other topics quoting it."""
    out = ""
    if quote.whole:
        out += (f'<span class="note excerpt"><a href="#whole-{quote.whole}">'
                f"{escape(labels.excerpt(quote.whole))}</a></span>")
    if quote.also_under:
        out += f'<span class="note also">{escape(labels.also_under(quote.also_under))}</span>'
    return out


def _wholes(pack: Pack, labels: Labels) -> str:
    if not pack.wholes:
        return ""
    items = []
    for w in pack.wholes:
        title, rest = w.citation.title, w.cite()[len(w.citation.title):]
        items.append(f'<li id="whole-{w.number}" value="{w.number}" data-passage-id="{escape(w.passage_id)}">'
                     f'<div class="whole">{escape(w.text)}</div><p class="whole-cite">— <cite>{escape(title)}</cite>'
                     f'{escape(rest)} <a class="ref" href="#source-{w.source_number}">[{w.source_number}]</a></p></li>')
    return (f'<section class="wholes"><h2>{escape(labels["wholes"])}</h2>'
            f'<ol class="wholes">{"".join(items)}</ol></section>')


def _topic(number: int, topic: PackTopic, labels: Labels, pack_lang: str | None) -> str:
    parts = [f'<section class="topic" id="topic-{number}">', f"<h2>{escape(topic.heading)}</h2>"]
    if topic.intro:
        parts.append(f'<p class="intro">{escape(topic.intro)}</p>')
    if topic.questions:  # a pack of chosen passages (kb/brief/chosen.py) has none
        questions = "".join(f"<span>{escape(q)}</span>" for q in topic.questions)
        parts.append(f'<p class="questions">{escape(labels["questions"])} {questions}</p>')
    if not topic.quotes:
        parts.append(f'<p class="empty">{escape(labels["no_quotes"])}</p>')
    parts += [_quote(q, labels, pack_lang) for q in topic.quotes]
    parts.append("</section>")
    return "\n".join(parts)


def _sources(pack: Pack, labels: Labels) -> str:
    items = []
    for s in pack.sources:
        details = f". {escape(s.details())}" if s.details() else ""
        if s.url:
            where = f'<a href="{escape(s.url)}">{escape(s.url)}</a>'
        else:
            where = f"{escape(labels['file'])} {escape(s.source)}"
        items.append(f'<li id="source-{s.number}"><strong>{escape(s.title)}</strong>{details}.'
                     f'<br><span class="where">{where}</span></li>')
    return (f'<section class="sources"><h2>{escape(labels["sources"])}</h2>'
            f'<ol class="sources">{"".join(items)}</ol>'
            f'<footer class="generated">{escape(labels.generated(pack.generated))}</footer></section>')


def render_html(pack: Pack) -> str:
    labels = Labels(pack.lang)
    contents = "".join(f'<li><a href="#topic-{n}">{escape(t.heading)}</a></li>'
                       for n, t in enumerate(pack.topics, start=1))
    intro = "".join(f'<p class="intro">{escape(p.strip())}</p>' for p in (pack.intro or "").split("\n\n") if p.strip())
    body = "\n".join(_topic(n, t, labels, pack.lang) for n, t in enumerate(pack.topics, start=1))
    lang = escape(pack.lang or labels.lang)
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="{escape(pack.generated.tool)} {escape(pack.generated.version)}">\n'
        f"<title>{escape(pack.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<header class="pack"><h1>{escape(pack.title)}</h1>{intro}</header>\n'
        f'<nav class="contents"><h3>{escape(labels["contents"])}</h3><ol>{contents}</ol></nav>\n'
        f"{body}\n{_wholes(pack, labels)}\n{_sources(pack, labels)}\n</body>\n</html>\n"
    )
