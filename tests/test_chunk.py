"""kb.ingest.chunk: passages follow numbered paragraphs, sub-items and headings, and cover the text."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from conftest import corpus_params, pypdf_pages
from kb.ingest.chunk import chunk, segments, sentence_ends
from kb.ingest.clean import clean_pages
from kb.models import CleanText, Page, PageSpan, Passage

ROOT = Path(__file__).resolve().parent.parent
MISSION = ROOT / "corpus" / "000_56388bd38537218d.txt"
CORPUS = ROOT.parent / "shared" / "corpus"
SKILLS = CORPUS / "en" / "18-SKILLS DEVELOPMENT AND RECOGNITION.pdf"
A_RES = CORPUS / "en" / "A_RES_79_217.pdf"
KENYA = CORPUS / "en" / "THE-REFUGEES-GENERAL-REGULATIONS-2024.pdf"
LEY = CORPUS / "es" / "Ley_Federal_Refugiados.pdf"
FR_EVAL = CORPUS / "fr" / "CS1137-CS1138_Evaluation ToR_Javier SANCHEZ MARTI.pdf"
BQFG = CORPUS / "de" / "bqfg" / "index.md"


def _pdf_pages(path: Path) -> list[Page]:
    return list(pypdf_pages(path))


@lru_cache(maxsize=None)
def _cleaned(path: Path) -> tuple[CleanText, tuple[Page, ...]]:
    """Pages and cleaned text of a corpus file, in the language of its folder."""
    lang = path.relative_to(CORPUS).parts[0]
    if path.suffix == ".pdf":
        pages = _pdf_pages(path)
    else:
        if not path.exists():
            pytest.skip(f"corpus file missing: {path}")
        pages = [Page(None, path.read_text(encoding="utf-8"))]
    return clean_pages(pages, lang), tuple(pages)


WORD = re.compile(r"[^\W\d_]{3,}")


def check_passages(clean: CleanText, passages: list[Passage], doc_id: str = "d", max_chars: int = 1500) -> None:
    """The chunker's contract: exact slices, ordered ids, and every non-heading character once,
    except stretches without a word of three letters (list markers a PDF drew apart from their
    items, a lone "30%"), which make no passage.

    Headings belong to no passage, unless the document has nothing but headings.
    """
    text = clean.text
    end = 0
    for i, p in enumerate(passages):
        assert p.text == text[p.char_start:p.char_end]
        assert p.text and p.text == p.text.strip()
        assert (p.passage_id, p.doc_id, p.ordinal) == (f"{doc_id}:{i}", doc_id, i)
        assert len(p.text) <= max_chars and p.char_start >= end  # in order, no overlap
        end = p.char_end
    segs = segments(clean)
    skip = [(s.start, s.end) for s in segs if s.kind == "heading"] if any(s.kind != "heading" for s in segs) else []
    for a, b in skip:
        assert not any(p.char_start < b and a < p.char_end for p in passages), text[a:b]
    covered = sorted([(p.char_start, p.char_end) for p in passages] + skip)
    pos = 0
    for a, b in covered:
        assert not WORD.search(text[pos:a]), text[pos:a][:80]  # nothing to find between covered stretches
        pos = max(pos, b)
    assert not WORD.search(text[pos:])
    assert all(WORD.search(p.text) for p in passages)


def one_page(text: str) -> CleanText:
    return CleanText(text, [PageSpan(None, 0, len(text))], lang="en")


# -- units ---------------------------------------------------------------------------------------
def test_list_markers_drawn_apart_from_their_items_make_no_passage() -> None:
    """The GCM sheets draw "a." "b." "c." in a column of their own: pypdf gives them as a block
    after the items, which made a passage of three letters that searches found and briefs quoted."""
    sheet = ROOT.parent / "shared" / "corpus-gcm" / "en" / "3-INFORMATION PROVISION.pdf"
    pages = _pdf_pages(sheet)
    assert any(re.search(r"^a\.\nb\.\nc\.$", p.text, re.M) for p in pages)  # the stray block is there
    passages = chunk(clean_pages(pages, "en"), "gcm3")
    assert passages and all(WORD.search(p.text) for p in passages)
    assert [p.ordinal for p in passages] == list(range(len(passages)))


def test_a_document_of_list_markers_alone_has_no_passage() -> None:
    assert chunk(one_page("a.\n\nb.\n\nc.\n\n30%"), "d") == []

def test_sentence_ends_skip_abbreviations() -> None:
    text = "See e.g. the report by Dr. Smith, p. 4. It was adopted in 2019. A. Jones agreed! Next one."
    cuts = [text[:i] for i in sentence_ends(text)]
    assert [c.rsplit(None, 2)[-2:] for c in cuts] == [["p.", "4."], ["in", "2019."], ["Jones", "agreed!"]]


def test_labels_follow_paragraphs_and_sub_items() -> None:
    text = ("# Recommendations\n\n1. The first paragraph is numbered.\n\n(a) Its first sub-item;\n\n"
            "(b) Its second sub-item.\n\n2. The second paragraph.\n\n• a bullet inside paragraph 2\n\n"
            "Objective 5: Enhance pathways\n\nText under the objective, long enough to be body text. " * 1 +
            "x" * 160)
    passages = chunk(one_page(text), "doc", min_chars=60)
    assert [(p.paragraph, p.section) for p in passages] == [
        ("1", "Recommendations"), ("1 a)", "Recommendations"), ("1 b)", "Recommendations"),
        ("2", "Recommendations"), (None, "Objective 5: Enhance pathways"),
    ]
    assert passages[3].text.endswith("• a bullet inside paragraph 2")
    check_passages(one_page(text), passages, "doc")


def test_legal_articles_and_sections() -> None:
    text = ("Artículo 12. Toda persona tiene derecho a solicitar asilo.\n\nI. Primera fracción del artículo, "
            "con texto suficiente para que no sea un título;\n\n### § 3 Begriffsbestimmungen\n\n"
            "(1) Berufsqualifikationen sind Qualifikationen.\n\n(2) Ausbildungsnachweise sind Zeugnisse.")
    labels = [p.paragraph for p in chunk(one_page(text), "x", min_chars=10)]
    assert labels == ["Art. 12", "Art. 12 I", "§ 3 (1)", "§ 3 (2)"]


@pytest.mark.parametrize("path,start,label", [
    pytest.param(CORPUS / "es" / "Ley_de_Migracion.pdf", "VI. Visa de residencia permanente", "Art. 40 VI",
                 marks=pytest.mark.slow, id="Ley_de_Migracion"),  # a long PDF
    pytest.param(CORPUS / "es" / "Reg_LNac.pdf", "ARTÍCULO 16.- Para naturalizarse mexicano", "Art. 16", id="Reg_LNac"),
])
def test_a_cross_reference_at_a_line_start_is_not_an_article(path: Path, start: str, label: str) -> None:
    """"...fracción VIII del\nartículo 52 de esta Ley." wraps onto a line of its own; read as the
    heading of article 52 it numbered the rest of article 40 (and of the articles after) wrongly."""
    clean, _ = _cleaned(path)
    found = [p for p in chunk(clean, "law") if p.text.startswith(start)]
    assert [p.paragraph for p in found] == [label]


def test_markdown_words_after_a_wrapped_link_stay_in_a_passage() -> None:
    """The fact sheet wraps links: "[Guidance on Fair Recruitment Practices for Temporary" /
    "Workers](http://...).”". With the link gone the line before was short, the reflow ended the
    paragraph there, and "Workers.”" (like "Department’s" elsewhere) became a heading: in no passage."""
    path = CORPUS / "en" / ("2022-06-10-fact-sheet-the-los-angeles-declaration-on-migration-and-protection-"
                            "u-s-government-and-foreign-partner-deliverables.md")
    if not path.exists():
        pytest.skip(f"corpus file missing: {path}")
    from kb.ingest.extract import extract

    clean = clean_pages(extract(path).pages, "en")
    passages = chunk(clean, "sheet")
    text = " ".join(" ".join(p.text.split()) for p in passages)
    assert "Recruitment Practices for Temporary Workers.”" in text
    assert "State Department’s" in text
    check_passages(clean, passages, "sheet")


def test_long_paragraph_split_between_sentences() -> None:
    sentence = "This sentence about labour mobility has exactly some words in it. "
    text = "7. " + sentence * 60
    passages = chunk(one_page(text.strip()), "d", min_chars=300, max_chars=1000)
    assert len(passages) == 4 and all(p.paragraph == "7" for p in passages)
    assert all(p.text.endswith("in it.") for p in passages)
    assert max(len(p.text) for p in passages) - min(len(p.text) for p in passages) < len(sentence) + 5


def test_one_huge_sentence_is_cut_at_a_clause() -> None:
    text = "(c) " + "; ".join(f"measure number {i} for the protection of migrants" for i in range(80)) + "."
    passages = chunk(one_page(text), "d", max_chars=500)
    assert all(len(p.text) <= 500 for p in passages) and len(passages) >= 8
    assert all(p.text.endswith((";", ".")) for p in passages)
    check_passages(one_page(text), passages, max_chars=500)


def test_tiny_fragments_merge_but_not_across_numbers() -> None:
    text = ("14. Il est recommandé aux États Membres :\n\na) De promouvoir le dialogue entre les partenaires "
            "gouvernementaux, de la société civile et du secteur privé intéressés.\n\n"
            "b) De faire connaître l’approche à d’autres gouvernements, en particulier à ceux qui envisagent "
            "d’adapter leurs programmes.\n\nUnnumbered tail that follows b).\n\n15. Next paragraph.")
    passages = chunk(one_page(text), "d")
    assert [p.paragraph for p in passages] == ["14", "14 a)", "14 b)", "15"]
    assert passages[2].text.endswith("Unnumbered tail that follows b).")


def test_very_short_items_merge_with_a_range_or_their_parent() -> None:
    text = ("1. Nom et prénom :\n\n2. Organisation :\n\n3. Pays :\n\n"
            "(6) A refugee officer shall explain the interview including the—\n\n(a) duty to be truthful;\n\n"
            "(b) role of the interpreter;")
    passages = chunk(one_page(text), "d")
    assert [p.paragraph for p in passages] == ["1–3", "3 (6)"]


def test_passages_never_straddle_a_heading_even_a_repeated_one() -> None:
    text = "# Annex\n\nShort text.\n\n# Annex\n\nMore short text."
    passages = chunk(one_page(text), "d")
    assert [p.text for p in passages] == ["Short text.", "More short text."]
    check_passages(one_page(text), passages)


def test_heading_only_and_empty_documents() -> None:
    assert chunk(one_page(""), "d") == []
    only = chunk(one_page("# Title\n\n## Subtitle"), "d")
    assert [p.text for p in only] == ["# Title", "## Subtitle"]


def test_pages_and_language_of_passages() -> None:
    pages = [Page(3, "8. Les pénuries de main-d’œuvre dans le monde ont atteint un niveau sans précédent en "
                     "2022 avec quelque trente millions d’emplois vacants dans les plus grandes économies et"),
             Page(4, "elles coûtent aux pays plus de mille milliards de dollars par an, selon ce rapport.\n\n"
                     "9. Short English paragraph.")]
    clean = clean_pages(pages, "fr")
    passages = chunk(clean, "d")
    assert [(p.paragraph, p.page_start, p.page_end) for p in passages] == [("8", 3, 4), ("9", 4, 4)]
    assert passages[0].lang == "fr" and passages[1].lang == "fr"  # too short to detect: document's


# -- invariants ----------------------------------------------------------------------------------
_WORDS = hs.sampled_from("migration labour skills pathway refugees protection rights the of and to".split())
_SENTENCE = hs.lists(_WORDS, min_size=2, max_size=40).map(lambda w: " ".join(w).capitalize() + ".")
_BODY = hs.lists(_SENTENCE, min_size=1, max_size=30).map(" ".join)
_PARA = hs.one_of(
    _BODY,
    hs.tuples(hs.integers(1, 40), _BODY).map(lambda t: f"{t[0]}. {t[1]}"),
    hs.tuples(hs.sampled_from("abcdefgh"), _BODY).map(lambda t: f"{t[0]}) {t[1]}"),
    hs.tuples(hs.sampled_from("abcdefgh"), _BODY).map(lambda t: f"({t[0]}) {t[1]}"),
    _BODY.map(lambda b: "• " + b),
    _WORDS.map(lambda w: f"# Heading about {w}"),
    _WORDS.map(lambda w: f"SECTION ON {w.upper()} AND MORE"),
    _WORDS.map(lambda w: f"Objective 3: {w}"),
    hs.integers(1, 9).map(lambda n: f"{n} See the footnote text."),
    hs.just("https://example.org/page"),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs.lists(hs.lists(_PARA, max_size=8).map("\n\n".join), min_size=1, max_size=4),
       hs.integers(50, 400), hs.integers(400, 1600))
def test_structured_text_is_covered_exactly_once(pages: list[str], min_chars: int, max_chars: int) -> None:
    clean = clean_pages([Page(i + 1, t) for i, t in enumerate(pages)], "en")
    passages = chunk(clean, "h", min_chars=min_chars, max_chars=max_chars)
    check_passages(clean, passages, "h", max_chars)
    for p in passages:
        assert p.page_start is not None and p.page_start <= p.page_end  # type: ignore[operator]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs.text(alphabet=hs.sampled_from("ab .,;:()\n\t1#•-–§\u00e9XYZ"), max_size=600))
def test_arbitrary_text_is_covered_exactly_once(text: str) -> None:
    clean = one_page(text)
    check_passages(clean, chunk(clean, "a", min_chars=20, max_chars=120), "a", 120)


# -- the mission's document ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def mission() -> tuple[CleanText, list[Passage]]:
    if not MISSION.exists():
        pytest.skip(f"mission document missing: {MISSION}")
    clean = clean_pages([Page(None, open(MISSION, encoding="utf-8").read())], "fr")
    return clean, chunk(clean, "m")


def test_mission_citations(mission: tuple[CleanText, list[Passage]]) -> None:
    _, passages = mission
    labels = {p.paragraph for p in passages} - {None}
    expected = {str(n) for n in range(1, 15)} | {f"8 {x})" for x in "abcd"} | {f"13 {x})" for x in "abcde"} \
        | {"14 a)", "14 b)"}
    assert labels == expected
    by_label = {p.paragraph: p for p in passages}
    assert by_label["13 e)"].text.startswith("e) Réalisant une cartographie")
    assert by_label["8 a)"].section == "Enseignements tirés de la mise en œuvre de l’approche"
    assert by_label["12"].section == "Recommandations"
    assert by_label["1"].section.startswith("ADAPTATION DES PROGRAMMES")  # type: ignore[union-attr]
    assert "https://" not in by_label["4"].text and "Il convient de noter" not in by_label["4"].text


def test_mission_passages_cover_the_text(mission: tuple[CleanText, list[Passage]]) -> None:
    clean, passages = mission
    check_passages(clean, passages, "m")
    assert all(p.page_start is None and p.page_end is None for p in passages)
    assert all(p.lang == "fr" for p in passages if p.paragraph)  # a footnote citing English titles may be "en"
    assert all(not re.match(r"(Recommandations|Enseignements tirés)$", p.text) for p in passages)


# -- real PDFs: every passage is on the pages it cites -------------------------------------------
def _words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[^\W\d_]{3,}", text)]


@lru_cache(maxsize=None)
def _page_words(page: Page) -> frozenset[str]:
    """Words of a raw pypdf page, also with line-end hyphens joined (rejoined words count)."""
    import unicodedata

    raw = unicodedata.normalize("NFKC", page.text)
    return frozenset(_words(raw)) | frozenset(_words(re.sub(r"-\s*\n\s*", "", raw)))


def _raw_words(pages: tuple[Page, ...], first: int, last: int) -> frozenset[str]:
    return frozenset().union(*(_page_words(p) for p in pages if p.number and first <= p.number <= last))


@pytest.mark.parametrize("path", corpus_params([SKILLS, A_RES, KENYA, LEY, FR_EVAL], ids=lambda p: p.name))
def test_passages_are_found_on_the_pages_they_cite(path: Path) -> None:
    clean, pages = _cleaned(path)
    passages = chunk(clean, "p")
    check_passages(clean, passages, "p")
    spans = {s.number: s for s in clean.pages}
    for p in passages:
        first, last = spans[p.page_start], spans[p.page_end]
        assert first.start <= p.char_start < first.end or first.start == first.end
        assert last.start < p.char_end <= last.end
        start_page = " ".join(clean.text[first.start:first.end].split())
        assert " ".join(p.text.split())[:80] in start_page or p.page_start != p.page_end
        words = _words(p.text)
        own = _raw_words(pages, p.page_start, p.page_end)  # type: ignore[arg-type]
        missing = [w for w in words if w not in own]
        assert len(missing) <= max(1, 0.03 * len(words)), (p.passage_id, missing[:8])


def test_un_resolution_paragraph_citations() -> None:
    clean, _ = _cleaned(A_RES)
    passages = chunk(clean, "r")
    labels = [p.paragraph for p in passages if p.paragraph]
    numbers = [int(lab) for lab in labels if lab.isdigit()]
    assert numbers == list(range(1, 22))  # the resolution's 21 operative paragraphs
    assert {"15 a)", "15 b)", "15 c)"} <= set(labels)
    first = next(p for p in passages if p.paragraph == "2")
    assert first.text.startswith("2. Recognizes the need to strengthen synergies") and first.page_start == 6


@pytest.mark.slow  # a long PDF
def test_regulations_nested_sub_items() -> None:
    clean, _ = _cleaned(KENYA)
    labels = {p.paragraph for p in chunk(clean, "k")}
    assert {"9 (2)", "10 (2)", "4 (3) b)"} <= labels
    assert any("–" in lab for lab in labels if lab)  # runs of one-line items cited as a range


def test_markdown_law_sections() -> None:
    clean, _ = _cleaned(BQFG)
    passages = chunk(clean, "g")
    check_passages(clean, passages, "g")
    by_label = {p.paragraph: p for p in passages}
    assert by_label["§ 3 (1)"].section == "§ 3 Begriffsbestimmungen"
    assert by_label["§ 3 (1)"].text.startswith("(1) Berufsqualifikationen sind Qualifikationen")
