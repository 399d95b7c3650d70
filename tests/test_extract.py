"""Extraction on the real shared corpus and on small files generated here (no mocks)."""

from __future__ import annotations

import functools
import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import corpus_params
from kb.errors import ExtractionError
from kb.ingest.extract import EXTRACTORS, SUPPORTED_SUFFIXES, extract

REPO = Path(__file__).resolve().parents[1]
# shared/ sits beside the checkout (for a developer and in CI's fresh clone alike)
CORPUS = Path(os.environ.get("KB_SHARED_CORPUS", REPO.parent / "shared" / "corpus"))
IMAGE_ONLY = CORPUS / "edge" / "AMI_REFUGIE_INFO.pdf"
FONT_WARNING_PDF = CORPUS / "en" / "16-INCLUSION AND SOCIAL COHESION.pdf"
MISSION_TXT = REPO / "corpus" / "000_56388bd38537218d.txt"

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not available")
CORPUS_PDFS = sorted(p for lang in ("en", "fr", "es") for p in (CORPUS / lang).glob("*.pdf"))


@functools.cache
def extract_once(path: Path):  # corpus PDFs are reused by several tests: read them once
    return extract(path)


FRENCH = (
    "Le réfugié a reçu une décision à l'unanimité : où, quand, ça dépend des États. "
    "Œuvre « Noël » naïve."
)


# --- the real corpus -------------------------------------------------------------------


@needs_corpus
@pytest.mark.parametrize("pdf", corpus_params(CORPUS_PDFS, ids=lambda p: f"{p.parent.name}/{p.name}"))
def test_corpus_pdf_pages_and_text(pdf: Path) -> None:
    from pypdf import PdfReader

    doc = extract_once(pdf)
    assert doc.format == "pdf"
    assert len(doc.pages) == len(PdfReader(pdf).pages)
    assert [p.number for p in doc.pages] == list(range(1, len(doc.pages) + 1))
    assert doc.char_count > 500, "text PDFs must give text"
    assert sum(bool(p.text.strip()) for p in doc.pages) >= len(doc.pages) // 2
    assert doc.title and doc.title.strip() == doc.title and "\n" not in doc.title
    print(f"TITLE {pdf.parent.name}/{pdf.name}: {doc.title!r}")


@needs_corpus
@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        # the long PDFs (conftest.LONG_PDFS) take seconds each to read: slow
        pytest.param("es/Ley_de_Migracion.pdf", "Ley de Migración", marks=pytest.mark.slow),
        ("es/Reg_LNac.pdf", "Reglamento de la Ley de Nacionalidad"),
        pytest.param(
            "en/Info_Mngt_eval_2019.pdf",
            "Evaluation of UNHCR’s data use and information management approaches",
            marks=pytest.mark.slow,
        ),
        pytest.param("en/guide.pdf", "Implementing the Global Compact for Safe, Orderly and Regular Migration",
                     marks=pytest.mark.slow),
        pytest.param(
            "es/guide_PDF_ES.pdf",
            "Aplicación del Pacto Mundial para la Migración Segura, Ordenada y Regular",
            marks=pytest.mark.slow,
        ),
        # the largest line names only the kind of document ("RÉSUMÉ D’ÉVALUATION"): the project
        # it evaluates is the title, without the "Type d’évaluation: ..." field under it
        (
            "fr/CS1137-CS1138_Evaluation Brief_Javier SANCHEZ MARTI.pdf",
            "ÉVALUATION FINALE DU PROJET « RENFORCEMENT DU DIALOGUE BINATIONAL ENTRE HAÏTI ET LA "
            "RÉPUBLIQUE DOMINICAINE POUR PROMOUVOIR LA COHÉSION SOCIALE DANS LA ZONE FRONTALIÈRE »",
        ),
    ],
)
def test_corpus_pdf_titles(relative: str, expected: str) -> None:
    assert extract_once(CORPUS / relative).title == expected


@pytest.mark.slow  # a long PDF
@needs_corpus
def test_microsoft_word_metadata_title_is_ignored() -> None:
    doc = extract_once(CORPUS / "en" / "ISP_IOM_Case-Management-Return-Reintegr-JI-Review_final.pdf")
    assert not doc.title.startswith("Microsoft Word")
    assert doc.title.startswith("Final Report: Study of Case Management Practice")


@pytest.mark.slow  # a long PDF
@needs_corpus
def test_pdf_metadata_author_year_lang() -> None:
    doc = extract_once(CORPUS / "es" / "Ley_de_Migracion.pdf")
    assert doc.metadata["lang"] == "es-MX"
    assert doc.metadata["year"] == 2026
    assert "Cámara de Diputados" in doc.metadata["author"]


@needs_corpus
def test_image_only_pdf_gives_empty_pages_not_an_error() -> None:
    doc = extract(IMAGE_ONLY)
    assert len(doc.pages) == 2
    assert all(p.text.strip() == "" for p in doc.pages)
    assert doc.title == "AMI REFUGIE INFO"
    assert any("no text" in w for w in doc.warnings)


@needs_corpus
def test_corpus_markdown_front_matter_links_and_headings() -> None:
    path = next((CORPUS / "en").glob("2022-06-10-fact-sheet-*.md"))
    doc = extract(path)
    text = doc.pages[0].text
    assert doc.format == "md" and doc.pages[0].number is None
    assert doc.title.startswith("Fact Sheet: The Los Angeles Declaration")
    assert "\u00a0" not in doc.title
    assert doc.metadata["year"] == 2022
    assert doc.metadata["url"].startswith("https://")
    assert doc.metadata["tags"] == ["statements-releases"]
    assert not text.startswith("---") and "source_url" not in text
    assert "](" not in text and "https://www.state.gov" not in text
    assert "**" not in text and "<!--" not in text
    assert "additional $25 million to the Global Concessional" in " ".join(text.split())
    assert "## Pillar I: Stability and Assistance for Communities" in text.split("\n")


@needs_corpus
def test_corpus_german_law_markdown() -> None:
    doc = extract(CORPUS / "de" / "bqfg" / "index.md")
    lines = doc.pages[0].text.split("\n")
    assert doc.title == "Gesetz über die Feststellung der Gleichwertigkeit von Berufsqualifikationen"
    assert doc.metadata["jurabk"] == "BQFG"
    assert "### § 1 Zweck des Gesetzes" in lines
    assert "Ausfertigungsdatum: 2011-12-06" in lines


CORPUS_MD = sorted(CORPUS.glob("*/*.md")) + sorted(CORPUS.glob("de/*/*.md"))


@needs_corpus
@pytest.mark.parametrize("md", CORPUS_MD, ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_markdown_is_clean(md: Path) -> None:
    doc = extract(md)
    text = doc.pages[0].text
    assert doc.title and len(text) > 1000
    for junk in ("](", "**", "<sup>", "<u>", "\\#", "---\n"):
        assert junk not in text, junk
    assert all(line.lstrip("#").strip() for line in text.split("\n") if line.startswith("#"))


def test_mission_txt_title_is_its_heading() -> None:
    if not MISSION_TXT.exists():
        pytest.skip("mission corpus not available")
    doc = extract(MISSION_TXT)
    assert doc.format == "txt" and len(doc.pages) == 1 and doc.pages[0].number is None
    assert doc.title.startswith("ADAPTATION DES PROGRAMMES DE MIGRATION DE MAIN-D’ŒUVRE")
    assert doc.title.endswith("PLUS INCLUSIVES ET PLUS ADAPTÉES POUR TOUS")
    assert "\n" not in doc.title


# --- generated files, one per format -----------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "latin-1", "cp1252"])
def test_txt_encodings_round_trip(tmp_path: Path, encoding: str) -> None:
    body = "DÉCISION SUR LES RÉFUGIÉS\n\n" + (FRENCH + "\n") * 3
    if encoding == "latin-1":
        body = body.replace("Œuvre", "Oeuvre").replace("«", '"').replace("»", '"')
    path = tmp_path / f"note_{encoding}.txt"
    path.write_bytes(body.encode(encoding))  # "utf-16" writes a BOM
    doc = extract(path)
    assert doc.pages[0].text == body
    assert doc.title == "DÉCISION SUR LES RÉFUGIÉS"


def test_txt_crlf_and_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"\xef\xbb\xbfTitre court\r\n\r\nCorps du texte, \xc3\xa9t\xc3\xa9.\r\n")
    doc = extract(path)
    assert doc.pages[0].text == "Titre court\n\nCorps du texte, été.\n"
    assert doc.title == "Titre court"


def test_txt_without_heading_uses_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "policy_brief_2024.txt"
    path.write_text("1. " + "Une phrase longue qui continue encore et encore. " * 5, encoding="utf-8")
    assert extract(path).title == "policy brief 2024"


def test_markdown_front_matter_and_syntax(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text(
        "---\ntitle: Politique d’intégration\ndate: 2021-03-04\nlang: fr\n"
        "url: https://example.org/x\ntags: [asile, travail]\n---\n\n"
        "# Premier titre\n\nVoir ![logo](img/logo.png) le [rapport\nannuel](https://example.org/r(1)) "
        "et **les décisions**.\n\n## Section 2 ##\n\n-   point un\n-   point deux\n",
        encoding="utf-8",
    )
    doc = extract(path)
    text = doc.pages[0].text
    assert doc.title == "Politique d’intégration"
    assert doc.metadata["date"] == "2021-03-04" and doc.metadata["year"] == 2021
    assert doc.metadata["lang"] == "fr" and doc.metadata["tags"] == ["asile", "travail"]
    assert doc.metadata["url"] == "https://example.org/x"
    assert text.startswith("# Premier titre\n")
    assert "Voir  le rapport annuel et les décisions." in text  # a soft line break is a space in Markdown
    assert "## Section 2\n" in text and "- point un\n- point deux" in text
    assert "logo" not in text and "http" not in text


def test_markdown_title_falls_back_to_heading_then_stem(tmp_path: Path) -> None:
    with_heading = tmp_path / "a.md"
    with_heading.write_text("Intro\n\n# Le vrai titre\n\ntexte\n", encoding="utf-8")
    assert extract(with_heading).title == "Le vrai titre"
    bare = tmp_path / "some_notes.md"
    bare.write_text("just text\n", encoding="utf-8")
    assert extract(bare).title == "some notes"


def test_markdown_bad_front_matter_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_text("---\ntitle: [unclosed\n---\n# Titre\n\ncorps\n", encoding="utf-8")
    doc = extract(path)
    assert doc.title == "Titre" and "corps" in doc.pages[0].text
    assert any("front-matter" in w for w in doc.warnings)


def test_html_structure(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>Titre de la page</title>"
        "<style>body{color:red}</style><script>var x = '<p>no</p>';</script></head><body>"
        "<header>Menu du site</header><nav><a href='/'>Accueil</a></nav>"
        "<h1>Politique  d'asile</h1><p>Premier   paragraphe,<br>ligne deux.</p>"
        "<h2>Droits</h2><ul><li>Accès au travail</li><li><p>Accès à l’école</p></li></ul>"
        "<table><tr><th>Pays</th><th>Taux</th></tr><tr><td>France</td><td>12 %</td></tr></table>"
        "<p>Fin &amp; suite &eacute;t&eacute;.</p><footer>© 2024 pied de page</footer></body></html>",
        encoding="utf-8",
    )
    doc = extract(path)
    text = doc.pages[0].text
    assert doc.title == "Titre de la page" and doc.metadata["lang"] == "fr"
    assert text == (
        "# Politique d'asile\n\nPremier paragraphe,\nligne deux.\n\n## Droits\n\n"
        "- Accès au travail\n\n- Accès à l’école\n\nPays | Taux\n\nFrance | 12 %\n\n"
        "Fin & suite été.\n"
    )
    for dropped in ("Menu", "Accueil", "color", "var x", "pied de page"):
        assert dropped not in text


def test_html_title_from_h1_and_declared_charset(tmp_path: Path) -> None:
    path = tmp_path / "legacy.htm"
    html = "<html><head><meta http-equiv='Content-Type' content='text/html; charset=iso-8859-1'>"
    html += "</head><body><h1>Réfugiés</h1><p>Texte accentué.</p></body></html>"
    path.write_bytes(html.encode("latin-1"))
    doc = extract(path)
    assert doc.title == "Réfugiés"
    assert "Texte accentué." in doc.pages[0].text


def _make_docx(path: Path, title: str | None = "Rapport annuel") -> None:
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    document.add_heading("Introduction générale", level=1)
    document.add_paragraph("Premier paragraphe avec des accents : été, naïve.")
    document.add_heading("Détails", level=2)
    document.add_paragraph("Un point de liste", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "Pays", (0, 1): "Taux", (1, 0): "Chili", (1, 1): "7 %"}.items():
        table.cell(r, c).text = value
    document.add_paragraph("Après le tableau.")
    document.save(str(path))


def test_docx_paragraphs_headings_tables(tmp_path: Path) -> None:
    path = tmp_path / "rapport.docx"
    _make_docx(path)
    doc = extract(path)
    assert doc.format == "docx" and doc.title == "Rapport annuel"
    assert doc.pages[0].text == (
        "# Introduction générale\n\nPremier paragraphe avec des accents : été, naïve.\n\n"
        "## Détails\n\n- Un point de liste\n\nPays | Taux\nChili | 7 %\n\nAprès le tableau.\n"
    )
    assert "author" not in doc.metadata  # python-docx's template author is not a person


def test_docx_title_falls_back_to_first_heading(tmp_path: Path) -> None:
    path = tmp_path / "sans_titre.docx"
    _make_docx(path, title=None)
    assert extract(path).title == "Introduction générale"


def test_docx_that_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "fake.docx"
    path.write_bytes(b"%PDF-1.4 this is not a word file")
    with pytest.raises(ExtractionError, match=r"^not a DOCX \(not a zip file\)$"):
        extract(path)


def test_zip_that_is_not_a_docx(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ExtractionError, match=r"^not a DOCX"):
        extract(path)


# --- PDFs that must fail cleanly (or not) --------------------------------------------------


def _assert_one_line(err: pytest.ExceptionInfo[ExtractionError]) -> None:
    message = str(err.value)
    assert message and "\n" not in message and len(message) <= 200


def test_zero_byte_file(tmp_path: Path) -> None:
    for name in ("empty.pdf", "empty.txt", "empty.docx"):
        path = tmp_path / name
        path.write_bytes(b"")
        with pytest.raises(ExtractionError, match=r"^empty file$"):
            extract(path)


def test_random_bytes_named_pdf(tmp_path: Path) -> None:
    path = tmp_path / "random.pdf"
    path.write_bytes(bytes(range(7, 256)) * 40)
    with pytest.raises(ExtractionError, match=r"^not a PDF \(starts with b'") as err:
        extract(path)
    _assert_one_line(err)


@needs_corpus
def test_truncated_real_pdf(tmp_path: Path) -> None:
    data = (CORPUS / "en" / "A_RES_79_217.pdf").read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(data[: int(len(data) * 0.3)])
    with pytest.raises(ExtractionError, match=r"^corrupt PDF: ") as err:
        extract(path)
    _assert_one_line(err)


def test_docx_renamed_pdf(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    _make_docx(path)
    with pytest.raises(ExtractionError, match=r"^not a PDF \(starts with b'PK\\x03\\x04', a zip file"):
        extract(path)


def _encrypted_pdf(path: Path, user_password: str) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": "Document protégé"})
    writer.encrypt(user_password=user_password, owner_password="owner-secret")
    with path.open("wb") as fh:
        writer.write(fh)


def test_encrypted_pdf_with_password(tmp_path: Path) -> None:
    path = tmp_path / "locked.pdf"
    _encrypted_pdf(path, "s3cret")
    with pytest.raises(ExtractionError, match=r"^encrypted PDF: needs a password$"):
        extract(path)


def test_encrypted_pdf_with_empty_user_password_reads(tmp_path: Path) -> None:
    path = tmp_path / "owner_only.pdf"
    _encrypted_pdf(path, "")
    doc = extract(path)
    assert len(doc.pages) == 1 and doc.title == "Document protégé"


@needs_corpus
def test_encrypted_real_pdf_with_empty_user_password_keeps_text(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(CORPUS / "es" / "Reg_LNac.pdf"))
    writer.encrypt(user_password="", owner_password="owner-secret")
    path = tmp_path / "reg_encrypted.pdf"
    buffer = io.BytesIO()
    writer.write(buffer)
    path.write_bytes(buffer.getvalue())
    doc = extract(path)
    assert len(doc.pages) == 15 and "NACIONALIDAD" in doc.pages[0].text


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "data.xyz"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(ExtractionError, match=r"^unsupported file type: \.xyz$"):
        extract(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match=r"^file not found: "):
        extract(tmp_path / "nope.pdf")


def test_registry_is_consistent() -> None:
    assert SUPPORTED_SUFFIXES == frozenset(EXTRACTORS)
    assert {".pdf", ".txt", ".md", ".html", ".docx"} <= SUPPORTED_SUFFIXES
    assert all(s.startswith(".") and s == s.lower() for s in SUPPORTED_SUFFIXES)


# --- no noise on the terminal, cheap import --------------------------------------------------


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)


@needs_corpus
def test_pdf_font_warnings_do_not_reach_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    # In-process, pytest's own log capture would hide a leak; a fresh interpreter
    # without logging configured is what a CLI user has.
    code = (
        "from kb.ingest.extract import extract\n"
        f"doc = extract({str(FONT_WARNING_PDF)!r})\n"
        f"doc2 = extract({str(IMAGE_ONLY)!r})\n"
        "print(len(doc.warnings) + len(doc2.warnings))\n"
    )
    result = _run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert int(result.stdout.strip()) > 0, "the test PDFs should have produced pypdf warnings"
    extract(FONT_WARNING_PDF)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    # (which warnings an in-process read records depends on what pypdf has already parsed in
    # this process, so the count is checked in the fresh interpreter above, not here)


def test_pypdf_warnings_reach_logging_when_configured() -> None:
    if not IMAGE_ONLY.exists():
        pytest.skip("shared corpus not available")
    code = (
        "import logging\n"
        "logging.basicConfig(level=logging.DEBUG, format='%(name)s|%(message)s')\n"
        "from kb.ingest.extract import extract\n"
        f"extract({str(IMAGE_ONLY)!r})\n"
    )
    result = _run_python(code)
    assert result.returncode == 0
    assert "kb.ingest.extract|pypdf" in result.stderr and "wrong pointing object" in result.stderr


def test_import_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys, kb.ingest.extract\n"
        "heavy = [m for m in ('pypdf', 'docx', 'charset_normalizer', 'yaml') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = _run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
