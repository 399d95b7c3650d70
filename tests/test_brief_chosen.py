"""A briefing pack from chosen passage ids (kb/brief/chosen.py): what the web page's pack asks for.

Fast: conftest's fast_index (three real language versions of one PDF, a Markdown file and the
mission's paper), built once per run with the deterministic test-hash embedder.
"""

from __future__ import annotations

import io

import pytest

from kb.brief import make_brief
from kb.brief.chosen import MAX_PASSAGES, load_chosen
from kb.brief.render_md import unescape
from kb.errors import UnknownIdError, UsageError
from kb.search.cite import citation_for

@pytest.fixture(scope="module")
def kb(fast_index):
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    with KnowledgeBase.open(Settings(index_dir=fast_index)) as opened:  # read only
        yield opened


@pytest.fixture(scope="module")
def chosen(kb) -> list:
    """Three passages from three documents (the best hit in es, fr, en), in that order."""
    questions = (("reconocimiento de cualificaciones", "es"), ("reconnaissance des compétences", "fr"),
                 ("recognition of skills", "en"))
    picked = [kb.search(q, k=1, langs=[lang]).hits[0].passage for q, lang in questions]
    assert len({p.doc_id for p in picked}) == 3
    return picked


def test_the_pack_quotes_the_chosen_passages_whole_in_the_given_order(kb, chosen):
    made = make_brief(kb, {"title": "Atelier", "passages": [p.passage_id for p in chosen], "lang": "fr"}, "md")
    quotes = made.pack.quotes()
    assert [q.passage_id for q in quotes] == [p.passage_id for p in chosen]
    assert [q.text for q in quotes] == [p.text for p in chosen]  # whole, not an excerpt
    assert [q.source_number for q in quotes] == [1, 2, 3]  # sources numbered in reading order
    assert [s.doc_id for s in made.pack.sources] == [p.doc_id for p in chosen]
    for quote, passage in zip(quotes, chosen):  # cited as `kb search` cites it
        assert quote.cite() == citation_for(passage, kb.document(passage.doc_id)).short()
    text = made.content
    assert made.filename == "atelier.md" and text.startswith("# Atelier")
    assert "## Passages choisis" in text  # the section heading in the pack's language
    assert "Questions" not in text  # no empty "Questions:" line: nobody asked any
    positions = [text.index(f"<!-- passage {p.passage_id} -->") for p in chosen]
    assert positions == sorted(positions)
    assert unescape(chosen[0].text.split("\n")[0]) in unescape(text)


def test_html_and_docx_hold_the_same_passages(kb, chosen):
    from docx import Document

    ids = [p.passage_id for p in chosen]
    html = make_brief(kb, {"title": "Pack <b>", "passages": ids, "heading": "Mes choix"}, "html").content
    assert [html.index(f'data-passage-id="{i}"') for i in ids] == sorted(html.index(f'data-passage-id="{i}"') for i in ids)
    assert "Pack &lt;b&gt;" in html and "Mes choix" in html and 'class="questions"' not in html
    docx = make_brief(kb, {"title": "Pack", "passages": ids}, "docx").content
    paragraphs = [p.text for p in Document(io.BytesIO(docx)).paragraphs]
    assert "Selected passages" in paragraphs
    assert not any(p.startswith("Questions") for p in paragraphs)


def test_a_passage_with_a_linked_translation_says_so(kb):
    """The EN, FR and ES PDFs are versions of one text: a quote lists the other languages, as in topic packs."""
    for hit in kb.search("mutual recognition of skills qualifications", k=10, langs=["en"]).hits:
        if hit.extra.get("translations"):
            made = make_brief(kb, {"title": "T", "passages": [hit.passage.passage_id]}, "md")
            expected = sorted({t["lang"] for t in hit.extra["translations"]})
            assert set(expected) <= set(made.pack.quotes()[0].other_languages)
            return
    pytest.skip("no linked translation among the hits of this index")


def test_unknown_ids_are_named_not_dropped(kb, chosen):
    with pytest.raises(UnknownIdError, match="no-such-doc:3"):
        make_brief(kb, {"title": "T", "passages": [chosen[0].passage_id, "no-such-doc:3"]}, "md")


@pytest.mark.parametrize("request_, message", [
    ({"title": "T", "passages": []}, "non-empty list"),
    ({"title": "T", "passages": "a:1"}, "non-empty list"),
    ({"title": "T", "passages": ["a:1", "a:1"]}, "listed twice: a:1"),
    ({"title": " ", "passages": ["a:1"]}, "'title'"),
    ({"title": "T", "passages": ["a:1"], "per_topic": 3}, "unknown key"),
    ({"title": "T", "passages": ["a:1"], "topics": []}, "not both"),
    ({"title": "T", "passages": ["a:1"], "lang": "klingon"}, "'lang'"),
    ({"title": "T", "passages": [f"a:{i}" for i in range(MAX_PASSAGES + 1)]}, "the limit"),
])
def test_mistakes_are_usage_errors_that_say_what_to_fix(request_, message):
    with pytest.raises(UsageError, match=message):
        load_chosen(request_)
