"""kb.ingest.clean: each cleaning step on its own, then whole documents from the real corpus."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from conftest import corpus_params, pypdf_pages
from kb.ingest import structure
from kb.ingest.clean import (
    PAGE_JOINER,
    clean_pages,
    drop_running_lines,
    hyphen_join,
    join_hyphenated,
    reflow,
)
from kb.models import CleanText, Page

ROOT = Path(__file__).resolve().parent.parent
MISSION = ROOT / "corpus" / "000_56388bd38537218d.txt"
CORPUS = ROOT.parent / "shared" / "corpus"
A_RES = CORPUS / "en" / "A_RES_79_217.pdf"
INFO_MNGT = CORPUS / "en" / "Info_Mngt_eval_2019.pdf"
AAP = CORPUS / "en" / "AAP_EN_Evaluation Brief_final_0.pdf"
FR_GCM = CORPUS / "fr" / "5 - FILIERES DE MIGRATION REGULIERE.pdf"
LEY = CORPUS / "es" / "Reg_LNac.pdf"


def _has_repair() -> bool:
    try:
        import kb.ingest.repair  # noqa: F401
    except ImportError:
        return False
    return True


needs_repair = pytest.mark.skipif(not _has_repair(), reason="kb/ingest/repair.py (ligature repair) not written yet")


def pdf_pages(path: Path) -> tuple[Page, ...]:
    """pypdf text per page, as the brief prescribes (no kb.ingest.extract in between)."""
    return pypdf_pages(path)


@lru_cache(maxsize=None)
def cleaned(path: Path, lang: str | None) -> CleanText:
    if path.suffix == ".txt":
        return clean_pages([Page(None, path.read_text(encoding="utf-8"))], lang)
    return clean_pages(list(pdf_pages(path)), lang)


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.strip()]


def squash(text: str) -> str:
    return " ".join(text.split())


def check_spans(clean: CleanText, n_pages: int) -> None:
    """Every character is in exactly one page span or in a joiner between two spans."""
    assert len(clean.pages) == n_pages
    pos = 0
    for i, span in enumerate(clean.pages):
        if i:
            assert clean.text[pos:span.start] == PAGE_JOINER
            pos += len(PAGE_JOINER)
        assert span.start == pos and span.end >= span.start
        pos = span.end
    assert pos == len(clean.text)


# -- step 1: running headers, footers and page numbers ------------------------------------------
@pytest.mark.parametrize("line", ["12", "- 12 -", "Page 12 of 30", "3 de 72", "2/10", " 7 ", "Página 4 de 9"])
def test_page_number_lines(line: str) -> None:
    assert structure.is_page_number(line)


@pytest.mark.parametrize("line", ["12 months later", "2019", "Article 12", "1. Introduction", ""])
def test_not_page_numbers(line: str) -> None:
    assert not structure.is_page_number(line)


_BODY = ["Article {a}. Migrants shall have access to services.", "Body text of page {i} about migration.",
         "Another line that differs: {w}.", "Repeated body line.", "More text about pathways ({w}).",
         "Final body line, {w} again."]
_WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


def _body(i: int) -> list[str]:
    return [line.format(a=3 * i * i + 7, i=i, w=_WORDS[i]) for line in _BODY]


def _paged(n: int) -> list[str]:
    return ["\n".join([f"Global Report on Mobility 2024", f"{i + 1} | Chapter One", *_body(i),
                       f"Page {i + 1} of {n}"]) for i in range(n)]


def test_running_lines_dropped_and_counted() -> None:
    texts, dropped = drop_running_lines(_paged(5))
    for i, text in enumerate(texts):
        assert text.split("\n") == _body(i)
    expected = sum(len(f"Global Report on Mobility 2024{i + 1} | Chapter OnePage {i + 1} of 5") for i in range(5))
    assert dropped == expected


def test_lines_with_numbers_unrelated_to_pages_are_not_headers() -> None:
    """"Article 7.", "Article 10."... at the top of every page are body text."""
    texts = [f"Article {3 * i * i + 7}. Scope\nBody {_WORDS[i]} text.\nMore {_WORDS[i]} text." for i in range(6)]
    assert drop_running_lines(texts) == (texts, 0)


def test_body_lines_that_repeat_are_kept() -> None:
    """"Repeated body line." recurs on every page but is not at the page's edge."""
    texts, _ = drop_running_lines(_paged(6))
    assert all("Repeated body line." in t for t in texts)


def test_short_documents_keep_their_headers() -> None:
    pages = [Page(i + 1, t) for i, t in enumerate(_paged(2))]
    assert "Global Report on Mobility 2024" in clean_pages(pages, "en").text


# -- step 2: hyphenation -------------------------------------------------------------------------
@pytest.mark.parametrize(("left", "right", "lang", "expected"), [
    ("migra", "tion", "fr", "migration"),
    ("EU", "Passworld", "fr", "EU-Passworld"),
    ("main", "d’œuvre", "fr", "main-d’œuvre"),
    ("Organiza", "tion’s", "en", "Organization’s"),
    ("humanitarian", "development", "en", "humanitarian-development"),
    ("well", "being", "en", "well-being"),
    ("Frame", "work", "en", "Framework"),
    ("inter", "national", "en", "international"),
    ("independiente", "mente", "es", "independientemente"),
    ("au", "delà", "fr", "au-delà"),
    ("Rechts", "oder", "de", "Rechts- oder"),
])
def test_hyphen_join(left: str, right: str, lang: str, expected: str) -> None:
    assert hyphen_join(left, right, lang) == expected


def test_document_spelling_decides_first() -> None:
    from collections import Counter

    assert hyphen_join("re", "integration", "en", Counter({"reintegration": 3})) == "reintegration"
    assert hyphen_join("stream", "line", "en", Counter({"stream-line": 1})) == "stream-line"


def test_join_hyphenated_in_text() -> None:
    text = "la popula-\ntion est vieillissante et l’EU-\nPassworld aussi ; main-\nd’œuvre"
    assert join_hyphenated(text, "fr") == "la population est vieillissante et l’EU-Passworld aussi ; main-d’œuvre"


def test_hyphen_across_pages_moves_the_tail_back() -> None:
    pages = [Page(1, "This paragraph talks about inter-"), Page(2, "national migration today.")]
    clean = clean_pages(pages, "en")
    first, second = (clean.text[s.start:s.end] for s in clean.pages)
    assert first.endswith("international") and second == "migration today."
    check_spans(clean, 2)


# -- steps 3 and 4: paragraphs and notes ---------------------------------------------------------
def test_reflow_joins_lines_and_keeps_blank_line_breaks() -> None:
    text = "First line of a paragraph\ngoes on here.\n\nSecond paragraph.\n"
    assert reflow(text).paragraphs == ["First line of a paragraph goes on here.", "Second paragraph."]


def test_reflow_breaks_on_markers_and_headings() -> None:
    text = ("ANNEX ON SKILLS\nMOBILITY\n8. Numbered paragraph starts\nand continues.\na) A sub-item\n"
            "that wraps.\n• A bullet\n- Another bullet\n# A Markdown heading\nBody after heading.")
    assert reflow(text).paragraphs == [
        "ANNEX ON SKILLS MOBILITY", "8. Numbered paragraph starts and continues.", "a) A sub-item that wraps.",
        "• A bullet", "- Another bullet", "# A Markdown heading", "Body after heading.",
    ]


def test_reflow_ignores_blank_lines_inside_a_sentence() -> None:
    long = "a) Obstacles à l’admission et au séjour. Ces obstacles peuvent inclure l’absence de documents "
    text = f"{long}\n\n(par exemple, documents d’identité) ou la crainte.\n\nb) Obstacles à l’information."
    assert reflow(text).paragraphs == [
        f"{long.strip()} (par exemple, documents d’identité) ou la crainte.", "b) Obstacles à l’information.",
    ]


def test_short_line_ending_a_sentence_ends_a_paragraph() -> None:
    text = ("The first paragraph has a long first line that fills the whole width.\n"
            "It ends here.\nThe second paragraph starts with a capital letter and is long too.")
    assert len(reflow(text).paragraphs) == 2


def test_indented_capital_line_starts_a_paragraph() -> None:
    text = ("Recalling its resolution 70/1 of 25 September 2015 on the outcome of the summit and\n"
            "the follow-up,\n Reaffirming also the Paris Agreement and its implementation by all\nparties,")
    assert len(reflow(text).paragraphs) == 2


def test_footnotes_and_links_move_after_the_paragraph_they_interrupt() -> None:
    text = (
        "4. Le présent document entend stimuler la discussion sur le rôle que pourraient jouer ces types \n"
        "l’OIM est consciente que de tels programmes pourraient également présenter un intérêt pour les \n\n \n"
        "1  Il convient de noter que cette définition ne fait pas l’objet d’un consensus. "
        "Elle sera utilisée comme \n\n"
        "définition de travail.\n\n2  HCR, Mid-year Trends (2022). \n\n"
        "https://www.unhcr.org/fr/rapport\nhttps://www.talentbeyondboundaries.org/\n"
        " contextes dans lesquels les migrants se trouvent en situation de vulnérabilité3. \n \n"
        "5. Une approche de la migration.")
    assert reflow(text).paragraphs == [
        "4. Le présent document entend stimuler la discussion sur le rôle que pourraient jouer ces types "
        "l’OIM est consciente que de tels programmes pourraient également présenter un intérêt pour les "
        "contextes dans lesquels les migrants se trouvent en situation de vulnérabilité3.",
        "1 Il convient de noter que cette définition ne fait pas l’objet d’un consensus. Elle sera utilisée "
        "comme définition de travail.",
        "2 HCR, Mid-year Trends (2022).",
        "https://www.unhcr.org/fr/rapport\nhttps://www.talentbeyondboundaries.org/",
        "5. Une approche de la migration.",
    ]


def test_notes_after_a_separator_each_get_a_paragraph() -> None:
    text = ("Recalling the Programme of Action of the International Conference on Population and\n"
            "Development1 and the declaration of the\n__________________\n"
            " 1 Report of the International Conference, Cairo,\n1994, chap. I.\n 2 See Official Records.")
    out = reflow(text)
    assert out.paragraphs[1:] == ["1 Report of the International Conference, Cairo, 1994, chap. I.",
                                  "2 See Official Records."]
    assert out.dropped == len("__________________")


# -- step 5: repair and normalisation ------------------------------------------------------------
@needs_repair
def test_ligatures_repaired_and_counted() -> None:
    clean = clean_pages([Page(None, "La migra\ufffdon des popula\ufffdons a ateint un niveau record.")], "fr")
    assert clean.text == "La migration des populations a atteint un niveau record."
    assert clean.repairs == 3


def test_unicode_ligatures_and_nfc() -> None:
    clean = clean_pages([Page(1, "quali\ufb01cations and cafe\u0301")], "en")
    assert clean.text == "qualifications and café" and unicodedata.is_normalized("NFC", clean.text)
    assert clean.repairs >= 1


def test_empty_pages_keep_a_zero_length_span() -> None:
    clean = clean_pages([Page(1, "First page."), Page(2, "  \n"), Page(3, "Third page.")], "en")
    assert [(s.number, s.end - s.start) for s in clean.pages] == [(1, 11), (2, 0), (3, 11)]
    check_spans(clean, 3)
    assert clean.page_at(clean.text.index("Third")) == 3


def test_no_pages() -> None:
    clean = clean_pages([], "en")
    assert clean.text == "" and clean.pages == []


# -- invariant -----------------------------------------------------------------------------------
_LINES = hs.one_of(
    hs.sampled_from(["", " ", "12", "Page 3 of 9", "Annual Report 2023", "8. Numbered paragraph text",
                     "a) sub-item", "• bullet", "1  A footnote.", "https://example.org/x", "____",
                     "migra-", "tion of people", "MAJOR HEADING", "ends a sentence.", "\ufb01nal", "e\u0301t\u00e9"]),
    hs.text(alphabet=hs.characters(blacklist_categories=("Cs",)), max_size=40),
)
_PAGES = hs.lists(hs.lists(_LINES, max_size=12).map("\n".join), max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_PAGES, hs.sampled_from(["en", "fr", None]))
def test_page_spans_partition_the_text(texts: list[str], lang: str | None) -> None:
    pages = [Page(i + 1, t) for i, t in enumerate(texts)]
    clean = clean_pages(pages, lang)
    check_spans(clean, len(pages))
    assert [s.number for s in clean.pages] == [p.number for p in pages]
    assert unicodedata.is_normalized("NFC", clean.text)


# -- the mission's document ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def mission() -> CleanText:
    if not MISSION.exists():
        pytest.skip(f"mission document missing: {MISSION}")
    return cleaned(MISSION, "fr")


@needs_repair
def test_mission_has_no_replacement_characters(mission: CleanText) -> None:
    assert "\ufffd" not in mission.text
    assert mission.repairs > 100
    for word in ("migration", "Attirer", "atteint", "permettent", "Consulting"):
        assert word in mission.text


def test_mission_numbered_paragraphs_start_paragraphs(mission: CleanText) -> None:
    paras = paragraphs(mission.text)
    starts = [m.group(1) for p in paras if (m := re.match(r"(\d{1,2})\. ", p))]
    assert starts == [str(n) for n in range(1, 15)]
    subs = [p[:2] for p in paras if re.match(r"[a-e]\) ", p)]
    assert subs == ["a)", "b)", "c)", "d)", "a)", "b)", "c)", "d)", "e)", "a)", "b)"]


def test_mission_notes_are_not_inside_body_paragraphs(mission: CleanText) -> None:
    paras = paragraphs(mission.text)
    body = [p for p in paras if re.match(r"(\d{1,2}\.|[a-e]\)) ", p)]
    for p in body:
        assert "http" not in p and "Il convient de noter" not in p and "Mid-year Trends" not in p
        assert "Voir Haut-Commissariat" not in p
    four = next(p for p in body if p.startswith("4. "))
    assert "présenter un intérêt pour les contextes dans lesquels" in four
    assert four.endswith("statut de réfugié3.")
    eight = next(p for p in body if p.startswith("8. "))
    assert "fondés sur les compétences – une démarche" in eight
    ten = next(p for p in body if p.startswith("10. "))
    assert "fondés sur les compétences adaptés n’aient pas" in ten
    notes = [i for i, p in enumerate(paras) if p.startswith(("1 Il convient", "2 HCR", "https://web-assets"))]
    assert notes == sorted(notes) and notes[0] == paras.index(four) + 1


def test_mission_keeps_real_hyphens_and_headings(mission: CleanText) -> None:
    paras = paragraphs(mission.text)
    assert "EU-Passworld" in mission.text and "main-d’œuvre" in mission.text
    assert paras[0].startswith("ADAPTATION DES PROGRAMMES") and paras[0].endswith("PLUS ADAPTÉES POUR TOUS")
    for heading in ("Enseignements tirés de la mise en œuvre de l’approche", "Recommandations",
                    "Solutions à grande échelle et cohérence des politiques",
                    "Programmes de migration de main-d’œuvre fondée sur les compétences et protection "
                    "internationale : raison d’être et possibilités"):
        assert heading in paras
    assert mission.pages == [type(mission.pages[0])(None, 0, len(mission.text))]


# -- real PDFs -----------------------------------------------------------------------------------
def _tokens(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[^\W\d_]{4,}", text)}


def _unligature(raw: str) -> str:
    return re.sub("[\ufb00-\ufb06]", lambda m: unicodedata.normalize("NFKC", m.group()), raw)


def _raw_tokens(raw: str) -> set[str]:
    """Words of a raw page, also with line-end hyphens joined, so rejoined words count."""
    raw = _unligature(raw)
    return _tokens(raw) | _tokens(re.sub(r"-\s*\n\s*", "", raw)) | _tokens(re.sub(r"-\s*\n\s*", "-", raw))


@pytest.mark.parametrize("path", corpus_params([A_RES, INFO_MNGT, AAP, FR_GCM, LEY], ids=lambda p: p.name))
def test_page_spans_slice_back_to_each_page(path: Path) -> None:
    pages = pdf_pages(path)
    clean = cleaned(path, None)
    check_spans(clean, len(pages))
    for span, page in zip(clean.pages, pages):
        got = clean.text[span.start:span.end]
        own = _raw_tokens(page.text)
        words = _tokens(got)
        missing = words - own
        assert len(missing) <= max(2, 0.02 * len(words)), (page.number, sorted(missing)[:10])
        if got.strip():
            head = squash(re.sub(r"[^\w\s]", "", got))[:30]
            assert head in squash(re.sub(r"[^\w\s]", "", _unligature(page.text).replace("-\n", "")))


def test_un_resolution_headers_gone() -> None:
    clean = cleaned(A_RES, "en")
    assert not re.search(r"24-24338\s+\d+/10|\d+/10\s+24-24338", clean.text)
    assert "A/RES/79/217 International migration and development" not in clean.text
    assert "International migration and development A/RES/79/217" not in clean.text
    assert clean.dropped > 400
    paras = paragraphs(clean.text)
    assert "1. Takes note of the report of the Secretary-General;23" in paras
    assert any(p.startswith("Recalling also that the Global Compact is based on") for p in paras)
    assert "23 A/79/323." in paras


@pytest.mark.slow  # a long PDF
def test_evaluation_report_headers_gone_and_paragraphs_kept() -> None:
    clean = cleaned(INFO_MNGT, "en")
    paras = paragraphs(clean.text)
    assert not [p for p in paras if re.fullmatch(r"\d+ UNHCR", p)]
    assert "Conclusions" in paras
    assert any(p.startswith("23. The value proposition for UNHCR") for p in paras)
    assert "humanitarian-development settings" in clean.text  # a real compound stays hyphenated


def test_soft_hyphens_rejoined_in_a_justified_brief() -> None:
    clean = cleaned(AAP, "en")
    for word in ("taking account of", "seek to assist", "affected populations", "Organization’s zero",
                 "responsible for the overall", "technical support", "efficiency and sustainability"):
        assert word in clean.text
    assert not re.search(r"\b(ac-count|as-sist|pop-ulations|tech-nical)\b", clean.text)


def test_french_pdf_footer_dropped() -> None:
    clean = cleaned(FR_GCM, "fr")
    assert "orientations pour les gouvernements et toutes les parties prenantes" not in clean.text.lower()
    assert clean.lang == "fr" and clean.dropped > 0
