"""DOCX pack for people who will edit it in Word or LibreOffice before the event.

Built only from the default template's own styles (Title, Heading 1, Quote, List
Number), so the file opens anywhere and a facilitator can restyle it in one place.
Each quote is one "Quote" paragraph (line breaks kept), followed by its citation in
italics, which is also what the tests read back. python-docx is imported here only.
"""

from __future__ import annotations

import io
import re

from kb.brief.labels import Labels
from kb.brief.pack import Pack, Quote

QUOTE_STYLE = "Quote"
WHOLE_STYLE = "Intense Quote"  # the passages quoted in part, whole: told apart from the quotes themselves
CITATION_STYLE = "Normal"
# characters XML 1.0 cannot carry; passages should never hold them, but one must not break the file
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _XML_INVALID.sub("", text)


def _quote(doc, quote: Quote, labels: Labels, pack_lang: str | None) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    para = doc.add_paragraph(_clean(quote.display_text), style=QUOTE_STYLE)
    para.paragraph_format.keep_with_next = True
    title, rest = quote.cite_parts()
    cite = doc.add_paragraph(style=CITATION_STYLE)
    cite.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    cite.paragraph_format.space_after = Pt(12)
    run = cite.add_run("— " + _clean(title))
    run.italic = True
    cite.add_run(_clean(rest) + f" [{quote.source_number}]").italic = True
    notes = labels.language_notes(quote.lang, quote.other_languages, pack_lang)
    if notes:
        cite.add_run(f" · {notes}").font.size = Pt(8)
    for note in ([labels.excerpt(quote.whole)] if quote.whole else []) + (
            [labels.also_under(quote.also_under)] if quote.also_under else []):
        cite.add_run("\n" + _clean(note)).font.size = Pt(8)


def _wholes(doc, pack: Pack, labels: Labels) -> None:
    """The passages quoted in part, whole, numbered as the quotes' notes say."""
    from docx.shared import Pt

    if not pack.wholes:
        return
    heading = doc.add_heading(_clean(labels["wholes"]), level=1)
    heading.paragraph_format.page_break_before = True
    for whole in pack.wholes:
        doc.add_paragraph(f"{whole.number}.").runs[0].bold = True
        doc.add_paragraph(_clean(whole.text), style=WHOLE_STYLE).paragraph_format.keep_with_next = True
        cite = doc.add_paragraph(style=CITATION_STYLE)
        cite.add_run(f"— {_clean(whole.cite())} [{whole.source_number}]").italic = True
        cite.paragraph_format.space_after = Pt(12)


def _a4_with_page_numbers(doc) -> None:
    """A4 like the HTML pack (python-docx's template is US Letter), a page number in the footer."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm

    for section in doc.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.left_margin = section.right_margin = Mm(20)
        footer = section.footer.paragraphs[0]
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = footer.add_run()
        for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
            if kind:
                element = OxmlElement("w:fldChar")
                element.set(qn("w:fldCharType"), kind)
            else:
                element = OxmlElement("w:instrText")
                element.set(qn("xml:space"), "preserve")
                element.text = text
            run._r.append(element)


def render_docx(pack: Pack) -> bytes:
    from docx import Document
    from docx.shared import Pt

    labels = Labels(pack.lang)
    doc = Document()
    _a4_with_page_numbers(doc)
    doc.core_properties.title = _clean(pack.title)
    doc.core_properties.author = f"{pack.generated.tool} {pack.generated.version}"
    doc.core_properties.language = pack.lang or labels.lang
    doc.add_heading(_clean(pack.title), level=0)
    for part in (pack.intro or "").split("\n\n"):
        if part.strip():
            doc.add_paragraph(_clean(part.strip()))
    for number, topic in enumerate(pack.topics):
        heading = doc.add_heading(_clean(topic.heading), level=1)
        heading.paragraph_format.page_break_before = number > 0
        if topic.intro:
            doc.add_paragraph(_clean(topic.intro))
        if topic.questions:  # a pack of chosen passages (kb/brief/chosen.py) has none
            questions = doc.add_paragraph()
            run = questions.add_run(f"{labels['questions']} " + " · ".join(_clean(q) for q in topic.questions))
            run.font.size = Pt(9)
            run.italic = True
        if not topic.quotes:
            doc.add_paragraph(labels["no_quotes"]).runs[0].italic = True
        for quote in topic.quotes:
            _quote(doc, quote, labels, pack.lang)
    _wholes(doc, pack, labels)
    sources = doc.add_heading(labels["sources"], level=1)
    sources.paragraph_format.page_break_before = True
    for source in pack.sources:
        item = doc.add_paragraph(style="List Number")
        item.add_run(_clean(source.title)).bold = True
        if source.details():
            item.add_run(". " + _clean(source.details()))
        item.add_run(". " + (source.url or f"{labels['file']} {source.source}"))
    footer = doc.add_paragraph()
    footer_run = footer.add_run(labels.generated(pack.generated))
    footer_run.italic = True
    footer_run.font.size = Pt(8)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
