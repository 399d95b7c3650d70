"""Messy document folders through the real `kb ingest`: every bad file named with a one-line
reason, the good files still in, no traceback, the documented exit status.

`kb` runs through its entry point in this process (conftest.kb_cli), with the hashing embedder:
these tests are about files, not models.

All inputs are generated here, in tmp_path: zero-byte files, real PDFs cut at many points
or with bytes flipped, encrypted PDFs (empty and real user password), non-PDF bytes named
.pdf, DOCX that are not zips, text in unexpected encodings, enormous pages and
pathological nesting. ``generate_bad_files`` is also used by bench scripts.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("KB_SHARED_CORPUS", ROOT.parent / "shared" / "corpus"))
KB = [sys.executable, "-c", "from kb.cli import main; main()"]
#: a new index here gets the hashing embedder, no companion and one extraction worker
FAST_ARGS = ("--model", "test-hash", "--companion", "none", "--workers", "1")

#: small real PDFs whose truncations and mutations make most of the suite
SEED_PDFS = [
    CORPUS / "fr" / "CS1137-CS1138_Evaluation Brief_Javier SANCHEZ MARTI.pdf",
    CORPUS / "en" / "AAP_EN_Evaluation Brief_final_0.pdf",
    CORPUS / "en" / "A_RES_79_217.pdf",
]
GOOD_TEXT = (
    "La reconnaissance des qualifications des travailleurs migrants reste un obstacle majeur. "
    "Les procédures sont longues, coûteuses et mal connues des employeurs comme des candidats. "
    "Le plan d'action propose un guichet unique, des délais garantis et une aide financière "
    "pour les frais de traduction des diplômes.\n\n"
)


def run_kb(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``kb ARGS`` (in this process); a new index gets the hashing embedder: these tests are
    about files, not models."""
    from conftest import kb_cli

    if args and args[0] == "ingest":
        given = set(args)
        args = (*args, *(a for i in range(0, len(FAST_ARGS), 2) if FAST_ARGS[i] not in given
                         for a in FAST_ARGS[i:i + 2]))
    return kb_cli(*args, cwd=cwd or ROOT)


# -- a tiny PDF writer (for files pypdf cannot be asked to write) -------------------------------
def build_pdf(objects: list[bytes], root: int = 1, trailer_extra: bytes = b"", header: bytes = b"%PDF-1.4") -> bytes:
    """A PDF whose object n is ``objects[n-1]`` (the body between ``n 0 obj`` and ``endobj``)."""
    out = bytearray(header + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, trailer_extra, xref)
    return bytes(out)


def stream(data: bytes, extra: bytes = b"", compress: bool = False) -> bytes:
    if compress:
        data = zlib.compress(data)
        extra += b" /Filter /FlateDecode"
    return b"<< /Length %d %s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def text_page_pdf(lines: list[str], media: tuple[int, int] = (595, 842), compress: bool = True) -> bytes:
    """A one-page PDF showing ``lines`` in Helvetica (Latin-1 text)."""
    ops = [b"BT /F1 11 Tf 14 TL 40 %d Td" % (media[1] - 50)]
    for line in lines:
        esc = line.encode("cp1252", "replace").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
        ops.append(b"(" + esc + b") Tj T*")
    ops.append(b"ET")
    content = b"\n".join(ops)
    return build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>" % media,
        stream(content, compress=compress),
        FONT,
    ])


def image_page_pdf(width: int, height: int, pixels: bytes, *, bits: int = 8, space: bytes = b"/DeviceGray",
                   filters: bytes = b"/FlateDecode", encoded: bytes | None = None) -> bytes:
    """A one-page PDF that is a single full-page image (a "scan"): no text layer."""
    data = encoded if encoded is not None else zlib.compress(pixels)
    image = (b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent %d "
             b"/Filter %s /Length %d >>\nstream\n" % (width, height, space, bits, filters, len(data)) + data + b"\nendstream")
    content = b"q 595 0 0 842 0 0 cm /Im1 Do Q"
    return build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>",
        stream(content),
        image,
    ])


def nested_page_tree_pdf(depth: int) -> bytes:
    """One text page under ``depth`` levels of /Pages nodes."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        number = 2 + level
        parent = b"" if level == 0 else b"/Parent %d 0 R " % (number - 1)
        objects.append(b"<< /Type /Pages %s/Kids [%d 0 R] /Count 1 >>" % (parent, number + 1))
    page_no = 2 + depth
    objects.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> "
                   b"/Contents %d 0 R >>" % (page_no - 1, page_no + 2, page_no + 1))
    objects.append(stream(b"BT /F1 12 Tf 40 800 Td (" + GOOD_TEXT[:80].encode("cp1252") + b") Tj ET"))
    objects.append(FONT)
    return build_pdf(objects)


def page_tree_cycle_pdf() -> bytes:
    """A /Pages node whose kid is itself."""
    return build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ])


def nested_array_pdf(depth: int) -> bytes:
    """A page whose /Annots is ``depth`` arrays deep: a recursion bomb for object parsers."""
    nested = b"[" * depth + b"1" + b"]" * depth
    return build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots " + nested + b" /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        stream(b"BT /F1 12 Tf 40 800 Td (Nested arrays) Tj ET"),
        FONT,
    ])


def nested_dict_pdf(depth: int) -> bytes:
    nested = b"<< /A " * depth + b"1" + b" >>" * depth
    return build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R /Extra " + nested + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ])


def nested_outline_pdf(depth: int) -> bytes:
    """An outline (bookmarks) ``depth`` levels deep, on a page with text."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Outlines 6 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        stream(b"BT /F1 12 Tf 40 800 Td (" + GOOD_TEXT[:90].encode("cp1252") + b") Tj ET"),
        FONT,
        b"<< /Type /Outlines /First 7 0 R /Last 7 0 R /Count %d >>" % depth,
    ]
    for level in range(depth):
        number = 7 + level
        parent = 6 if level == 0 else number - 1
        child = b"/First %d 0 R /Last %d 0 R " % (number + 1, number + 1) if level < depth - 1 else b""
        objects.append(b"<< /Title (Level %d) /Parent %d 0 R %s/Dest [3 0 R /Fit] >>" % (level, parent, child))
    return build_pdf(objects)


def nested_q_pdf(depth: int) -> bytes:
    """A content stream with ``depth`` nested q (save graphics state) operators."""
    body = b"q " * depth + b"BT /F1 12 Tf 40 800 Td (" + GOOD_TEXT[:90].encode("cp1252") + b") Tj ET " + b"Q " * depth
    return build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        stream(body, compress=True),
        FONT,
    ])


def nested_form_pdf(depth: int) -> bytes:
    """Form XObjects drawing each other ``depth`` deep, the last one a loop back to the first."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /X 5 0 R >> "
        b"/Font << /F1 4 0 R >> >> /Contents %d 0 R >>" % (5 + depth),
        FONT,
    ]
    for level in range(depth):
        target = 5 + level + 1 if level < depth - 1 else 5
        objects.append(stream(b"BT /F1 9 Tf 10 10 Td (form %d) Tj ET /X Do" % level,
                              b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /XObject << /X %d 0 R >> "
                              b"/Font << /F1 4 0 R >> >>" % target))
    objects.append(stream(b"/X Do"))
    return build_pdf(objects)


def zero_pages_pdf() -> bytes:
    return build_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


def deflate_bomb_pdf() -> bytes:
    """A content stream that inflates 1000-fold (200 MB of zeros from ~200 KB)."""
    raw = zlib.compress(b"\0" * 200_000_000, 9)
    return build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(raw) + raw + b"\nendstream",
    ])


def encrypted_pdf(source: Path, user: str, owner: str = "owner-secret", algorithm: str = "RC4-128") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user, owner_password=owner, algorithm=algorithm)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def docx_bytes(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Reconnaissance des qualifications", level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def docx_with_part(name: str, data: bytes) -> bytes:
    """A real DOCX with one part replaced by ``data``."""
    src = zipfile.ZipFile(io.BytesIO(docx_bytes([GOOD_TEXT])))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for item in src.infolist():
            out.writestr(item, data if item.filename == name else src.read(item.filename))
    return buf.getvalue()


def mutate(data: bytes, rng: random.Random, kind: str) -> bytes:
    """One kind of damage a download, a disk or a careless tool does to a file."""
    buf = bytearray(data)
    n = len(buf)
    if kind == "flip":  # scattered bit flips
        for _ in range(rng.randint(1, 40)):
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
    elif kind == "garbage":  # a block overwritten with random bytes
        start, size = rng.randrange(n), rng.randint(16, 4096)
        buf[start:start + size] = rng.randbytes(min(size, n - start))
    elif kind == "zeros":  # a block of zeros (a sparse, unfinished download)
        start, size = rng.randrange(n), rng.randint(512, 65536)
        buf[start:start + size] = bytes(min(size, n - start))
    elif kind == "delete":  # a chunk missing in the middle: every offset after it is wrong
        start = rng.randrange(n)
        del buf[start:start + rng.randint(1, 2048)]
    elif kind == "duplicate":
        start = rng.randrange(n)
        buf[start:start] = buf[start:start + rng.randint(1, 2048)]
    elif kind == "no_xref":  # cross-reference table and trailer wiped
        at = data.rfind(b"startxref")
        buf = bytearray(data[:max(0, at - rng.randint(0, 200))])
    elif kind == "bad_startxref":
        buf = bytearray(re.sub(rb"startxref\s+\d+", b"startxref\n999999999", bytes(buf)))
    elif kind == "keywords":  # structural keywords garbled
        for word in (b"endobj", b"stream", b"/Type", b"/Pages", b"/Kids"):
            for m in list(re.finditer(re.escape(word), data))[:: rng.randint(2, 5)]:
                buf[m.start():m.start() + len(word)] = rng.randbytes(len(word))
    elif kind == "crlf":  # a text-mode transfer turned LF into CRLF
        buf = bytearray(bytes(buf).replace(b"\n", b"\r\n"))
    else:
        raise ValueError(kind)
    return bytes(buf)


MUTATIONS = ["flip", "garbage", "zeros", "delete", "duplicate", "no_xref", "bad_startxref", "keywords", "crlf"]


def generate_bad_files(folder: Path, seed: int = 1234, big: bool = True) -> dict[str, str]:
    """Write the suite into ``folder``; returns {file name: case} for every file written."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, str] = {}

    def put(name: str, data: bytes | str, case: str) -> None:
        path = folder / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        assert name not in cases, name
        cases[name] = case

    # zero-byte and empty-ish files, every format
    for suffix in (".pdf", ".txt", ".md", ".html", ".docx"):
        put(f"zero{suffix}", b"", "zero-byte")
    put("blank.txt", " \n\t\n \r\n", "empty text")
    put("front-matter-only.md", "---\ntitle: Nothing here\nyear: 2023\n---\n", "md front-matter only")
    put("bad-front-matter.md", "---\ntitle: [unclosed\n---\n" + GOOD_TEXT, "md invalid YAML front-matter")
    put("chrome-only.html", "<html><nav>menu</nav><script>var a=1;</script><footer>f</footer></html>", "html chrome only")
    put("nul.html", b"<html><body><p>" + GOOD_TEXT.encode() + b"\x00\x00<b>gras\x00</b></p>\x00</body></html>", "html with NUL bytes")
    put("nul-only.txt", b"\x00" * 4096, "text of NUL bytes")

    seeds = [p for p in SEED_PDFS if p.is_file()]
    # truncated downloads: every seed cut at many points, from a few bytes to one byte short
    for k, src in enumerate(seeds):
        data = src.read_bytes()
        cuts = sorted({5, 9, 64, 1024, len(data) - 1, len(data) - 7, len(data) - 600}
                      | {int(len(data) * f) for f in (0.01, 0.03, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45,
                                                       0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95,
                                                       0.98, 0.99, 0.995, 0.999)})
        for cut in cuts:
            put(f"trunc-{k}-{cut:07d}.pdf", data[:cut], "truncated PDF")
    # damaged copies: byte flips, overwritten blocks, missing chunks, wiped xref...
    for k, src in enumerate(seeds):
        data = src.read_bytes()
        for kind in MUTATIONS:
            for j in range({"flip": 3, "garbage": 2, "delete": 2, "keywords": 2}.get(kind, 1)):
                put(f"mut-{k}-{kind}-{j}.pdf", mutate(data, rng, kind), f"mutated PDF ({kind})")
    # encrypted: empty user password reads, a real one is reported
    if seeds:
        for algorithm in ("RC4-40", "RC4-128"):
            put(f"enc-empty-{algorithm}.pdf", encrypted_pdf(seeds[0], ""), "encrypted, empty user password")
            put(f"enc-secret-{algorithm}.pdf", encrypted_pdf(seeds[1 % len(seeds)], "secret", algorithm=algorithm),
                "encrypted, real password")
        for algorithm in ("AES-128", "AES-256"):  # pypdf needs `cryptography` to write (and read) AES
            try:
                put(f"enc-secret-{algorithm}.pdf", encrypted_pdf(seeds[0], "secret", algorithm=algorithm),
                    "encrypted, real password")
                put(f"enc-empty-{algorithm}.pdf", encrypted_pdf(seeds[1 % len(seeds)], "", algorithm=algorithm),
                    "encrypted, empty user password (AES)")
            except Exception:  # noqa: BLE001 - no AES backend installed here
                pass
    # not a PDF at all, under a .pdf name
    for i, size in enumerate((1, 3, 100, 5000, 200_000)):
        put(f"random-{i}.pdf", rng.randbytes(size), "random bytes .pdf")
    for i, size in enumerate((10, 3000, 100_000)):
        put(f"random-header-{i}.pdf", b"%PDF-1.7\n" + rng.randbytes(size), "random bytes after a PDF header")
    put("header-only.pdf", b"%PDF-1.4\n%%EOF\n", "PDF header only")
    put("word-renamed.pdf", docx_bytes([GOOD_TEXT]), "DOCX renamed .pdf")
    put("html-renamed.pdf", b"<!DOCTYPE html><html><body><p>hello</p></body></html>", "HTML renamed .pdf")
    put("png-renamed.pdf", b"\x89PNG\r\n\x1a\n" + rng.randbytes(2000), "PNG renamed .pdf")
    put("text-renamed.pdf", GOOD_TEXT, "text renamed .pdf")
    put("zip-renamed.pdf", _zip({"a.txt": b"hello"}), "zip renamed .pdf")
    # DOCX that are not Word packages
    put("not-a-zip.docx", GOOD_TEXT, "DOCX not a zip")
    put("random.docx", rng.randbytes(3000), "DOCX random bytes")
    put("pdf-renamed.docx", seeds[0].read_bytes()[:50_000] if seeds else b"%PDF-1.4", "PDF renamed .docx")
    put("plain-zip.docx", _zip({"hello.txt": b"hello"}), "zip without Word parts")
    put("broken-xml.docx", docx_with_part("word/document.xml", b"<w:document><w:body><w:p>"), "DOCX with broken XML")
    put("no-ctypes.docx", _zip_without(docx_bytes([GOOD_TEXT]), "[Content_Types].xml"), "DOCX without content types")
    good_docx = docx_bytes([GOOD_TEXT] * 3)
    for cut in (30, 500, len(good_docx) // 2, len(good_docx) - 30):
        put(f"trunc-{cut}.docx", good_docx[:cut], "truncated DOCX")
    put("billion-laughs.docx", docx_with_part("word/document.xml", _laughs()), "DOCX XML entity bomb")
    # text in unexpected encodings (all readable: they must go in)
    french = GOOD_TEXT * 3
    put("latin1.txt", french.encode("latin-1"), "text latin-1")
    put("cp1252.txt", (french + "Œuvre « citée » – 10 €.\n").encode("cp1252"), "text cp1252")
    put("utf16.txt", french.encode("utf-16"), "text UTF-16 with BOM")
    put("utf16le-nobom.txt", french.encode("utf-16-le"), "text UTF-16-LE without BOM")
    put("utf32.txt", french.encode("utf-32"), "text UTF-32")
    put("utf8-bom.md", ("# Titre\n\n" + french).encode("utf-8-sig"), "markdown UTF-8 BOM")
    put("mixed-invalid.txt", french.encode("utf-8") + b"\xff\xfe\x81\x8d\x8f\x90\x9d" + french.encode("latin-1"),
        "text mixed UTF-8/Latin-1 and invalid bytes")
    put("latin1.html", b"<html><head><meta charset='iso-8859-1'></head><body><p>" + french.encode("latin-1") + b"</p></body></html>",
        "html latin-1 declared")
    put("lying-charset.html", b"<html><head><meta charset='utf-8'></head><body><p>" + french.encode("latin-1") + b"</p></body></html>",
        "html declares UTF-8, is Latin-1")
    put("unknown-charset.html", b"<meta charset='x-no-such'><p>" + french.encode("utf-8") + b"</p>", "html unknown charset")
    put("cr-only.txt", french.replace("\n", "\r").encode(), "text with CR line ends")
    put("random.txt", rng.randbytes(20_000), "random bytes .txt")
    put("control-chars.txt", "".join(chr(rng.randrange(1, 32)) for _ in range(3000)) + french, "text with control characters")
    put("arabic-cp1256.txt", ("تعترف الدولة بمؤهلات العمال المهاجرين وتسهل إجراءات المعادلة. " * 12).encode("cp1256"),
        "text Arabic cp1256")
    # pathological nesting and structure
    put("nested-divs.html", "<div>" * 100_000 + GOOD_TEXT + "</div>" * 100_000, "html 100k nested divs")
    put("unclosed-tags.html", "<p><b><i><span>" * 20_000 + GOOD_TEXT, "html 80k unclosed tags")
    put("nested-lists.md", "".join("  " * i + "- item\n" for i in range(3000)) + GOOD_TEXT, "md 3000-deep list")
    put("nested-quotes.md", ">" * 50_000 + " " + GOOD_TEXT, "md 50k-deep blockquote")
    put("nested-brackets.md", "[" * 10_000 + GOOD_TEXT + "](" * 5_000, "md 10k brackets")
    put("deep-page-tree.pdf", nested_page_tree_pdf(3000), "PDF page tree 3000 deep")
    put("deeper-page-tree.pdf", nested_page_tree_pdf(90), "PDF page tree 90 deep")
    put("page-tree-cycle.pdf", page_tree_cycle_pdf(), "PDF page tree cycle")
    put("nested-arrays.pdf", nested_array_pdf(50_000), "PDF arrays 50k deep")
    put("nested-dicts.pdf", nested_dict_pdf(50_000), "PDF dictionaries 50k deep")
    put("deep-outline.pdf", nested_outline_pdf(2000), "PDF outline 2000 deep")
    put("nested-q.pdf", nested_q_pdf(100_000), "PDF 100k nested q")
    put("form-loop.pdf", nested_form_pdf(50), "PDF form XObjects 50 deep, looping")
    put("zero-pages.pdf", zero_pages_pdf(), "PDF with no pages")
    put("deflate-bomb.pdf", deflate_bomb_pdf(), "PDF deflate bomb")
    put("scan.pdf", image_page_pdf(400, 560, rng.randbytes(400 * 560)), "image-only PDF (scan)")
    put("huge-mediabox.pdf", text_page_pdf(GOOD_TEXT.split(". ") * 2, media=(14400, 14400)), "PDF 200x200 inch page")
    if big:  # enormous single pages
        put("enormous.txt", (GOOD_TEXT * (5_000_000 // len(GOOD_TEXT) + 1)).encode(), "5 MB single-page text")
        lines = [s.strip() for s in GOOD_TEXT.split(". ") if s.strip()] * 4000  # ~1 MB in one content stream
        put("enormous-page.pdf", text_page_pdf(lines), "PDF one page with 1 MB of text")
        put("one-line.txt", "mot " * 250_000, "1 MB on one line")
    return cases


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for name, data in files.items():
            out.writestr(name, data)
    return buf.getvalue()


def _zip_without(data: bytes, name: str) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    return _zip({i.filename: src.read(i.filename) for i in src.infolist() if i.filename != name})


def _laughs() -> bytes:
    entities = ['<!ENTITY l0 "lol">'] + [f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 10)]
    return ("<?xml version='1.0'?><!DOCTYPE w:document [" + "".join(entities) + "]>"
            "<w:document xmlns:w='http://schemas.openxmlformats.org/wordprocessingml/2006/main'>"
            "<w:body><w:p><w:r><w:t>&l9;</w:t></w:r></w:p></w:body></w:document>").encode()


def good_files(folder: Path) -> list[Path]:
    """Two small documents that must always go in."""
    folder.mkdir(parents=True, exist_ok=True)
    a = folder / "good-note.txt"
    a.write_text("# Note sur la reconnaissance des compétences\n\n" + GOOD_TEXT * 4, encoding="utf-8")
    b = folder / "good-brief.md"
    b.write_text("---\ntitle: Skills brief\n---\n# Skills recognition\n\n" + (
        "Recognition of prior learning helps migrant workers use the skills they already have. "
        "Employers report that assessment centres shorten hiring times and reduce mismatch.\n\n") * 4,
        encoding="utf-8")
    return [a, b]


# -- the tests ---------------------------------------------------------------------------------
FAILED_LINE = re.compile(r"^\s*failed:?\s+(?P<path>.+?)(?:: | \()(?P<reason>.+?)\)?$")


def _failures(stderr: str) -> dict[str, str]:
    """{file name: reason} from the per-file and summary lines of `kb ingest`."""
    out: dict[str, str] = {}
    for line in stderr.splitlines():
        m = FAILED_LINE.match(line)
        if m:
            out[Path(m.group("path")).name] = m.group("reason")
    return out


@pytest.mark.slow  # minutes: 230 damaged, enormous or hostile files are each read to the end
@pytest.mark.skipif(not all(p.is_file() for p in SEED_PDFS), reason="shared corpus not available")
def test_messy_folder_is_ingested_with_one_line_reasons(tmp_path: Path) -> None:
    bad = tmp_path / "inbox"
    cases = generate_bad_files(bad)
    good = good_files(bad / "good")
    index = tmp_path / "index"
    out = run_kb("ingest", str(bad), "--index", str(index))
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text[-5000:]
    assert out.returncode == 1, (out.returncode, out.stderr[-3000:])

    failures = _failures(out.stderr)
    docs = json.loads(run_kb("docs", "--json", "--index", str(index)).stdout)
    sources = {Path(d["source"]).name for d in docs}
    # every file is accounted for: in the index, or named as failed with a reason
    for name in cases:
        assert (name in sources) != (name in failures), (name, cases[name], failures.get(name))
    for path in good:
        assert path.name in sources, (path.name, failures.get(path.name))
    for name, reason in failures.items():
        assert reason and "\n" not in reason and len(reason) <= 240, (name, reason)
        assert "Traceback" not in reason and "File \"" not in reason, (name, reason)

    # the cases whose outcome is certain
    must_fail = {
        "zero-byte": "empty", "random bytes .pdf": "not a PDF", "DOCX renamed .pdf": "zip",
        "DOCX not a zip": "not a DOCX", "encrypted, real password": "password",
        "image-only PDF (scan)": "needs OCR", "PDF with no pages": "no pages", "HTML renamed .pdf": "not a PDF",
        "PNG renamed .pdf": "not a PDF", "md front-matter only": "", "html chrome only": "",
        "DOCX with broken XML": "DOCX", "zip without Word parts": "DOCX", "PDF page tree cycle": "cyclic",
    }
    for name, case in cases.items():
        if case in must_fail:
            assert name in failures, (name, case)
            assert must_fail[case].lower() in failures[name].lower(), (name, case, failures[name])
    must_read = {"text latin-1", "text cp1252", "text UTF-16 with BOM", "text UTF-32", "markdown UTF-8 BOM",
                 "text mixed UTF-8/Latin-1 and invalid bytes", "html latin-1 declared", "encrypted, empty user password",
                 "html 100k nested divs", "html with NUL bytes", "5 MB single-page text", "1 MB on one line",
                 "PDF one page with 1 MB of text", "PDF page tree 90 deep", "PDF outline 2000 deep",
                 "text with CR line ends", "html declares UTF-8, is Latin-1", "md invalid YAML front-matter"}
    for name, case in cases.items():
        if case in must_read:
            assert name in sources, (name, case, failures.get(name))
    # what was read in an odd encoding reads right
    by_name = {Path(d["source"]).name: d for d in docs}
    for name in ("latin1.txt", "cp1252.txt", "utf16.txt", "lying-charset.html"):
        if name in by_name:
            passages = _passages(index, by_name[name]["doc_id"])
            assert "qualifications" in passages and "coûteuses" in passages, (name, passages[:200])

    search = run_kb("search", "reconnaissance des qualifications", "--k", "3", "--json", "--index", str(index))
    assert search.returncode == 0, search.stderr
    assert json.loads(search.stdout)["results"]
    stats = json.loads(run_kb("stats", "--json", "--index", str(index)).stdout)
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    with KnowledgeBase.open(Settings(index_dir=index)) as kb:
        assert kb.index.vectors.count == stats["passages"]

    # the figures
    total = len(cases) + len(good)
    reasons = Counter(_reason_kind(r) for r in failures.values())
    print(f"\nBAD-FILE SUITE: {total} files tried, {len(sources)} ingested, {len(failures)} failed "
          f"(exit {out.returncode}), 0 tracebacks")
    for reason, n in reasons.most_common():
        print(f"  {n:4d}  {reason}")
    assert total >= 200


def _reason_kind(reason: str) -> str:
    """A reason without its file-specific details, for counting."""
    reason = re.sub(r"\s*\([^)]*\)?", "", reason)  # "(starts with b'...')", "(page 3: ...)"
    reason = re.sub(r"\d+", "N", reason)
    return ": ".join(reason.split(": ")[:2])[:80]


def _passages(index: Path, doc_id: str) -> str:
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    with KnowledgeBase.open(Settings(index_dir=index)) as kb:
        return "\n".join(p.text for p in kb.index.db.passages_of(doc_id))


def test_all_good_exits_zero_and_rerun_is_unchanged(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    good = good_files(folder)
    index = tmp_path / "index"
    first = run_kb("ingest", str(folder), "--index", str(index))
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    again = run_kb("ingest", str(folder), "--index", str(index), "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["unchanged"] == len(good) and report["failed"] == 0


def test_one_bad_file_exits_one_and_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    good_files(folder)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n" + b"\x00garbage" * 50)
    index = tmp_path / "index"
    out = run_kb("ingest", str(folder), "--index", str(index), "--json")
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert report["added"] == 2 and report["failed"] == 1
    assert report["failures"][0]["path"].endswith("broken.pdf") and report["failures"][0]["reason"]
    assert "Traceback" not in out.stderr


def test_missing_path_is_reported_not_a_crash(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    good_files(folder)
    out = run_kb("ingest", str(folder), str(tmp_path / "nope.pdf"), "--index", str(tmp_path / "index"))
    assert out.returncode == 1
    assert "nope.pdf" in out.stderr and "no such file" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["ingest", "--no-such-option", "x"],
        ["ingest"],
        ["ingest", "{docs}", "--meta", "{tmp}/no-such-manifest.yaml"],
        ["ingest", "{docs}", "--workers", "many"],
        ["search"],
        ["bogus-command"],
    ],
    ids=["unknown-option", "no-paths", "missing-meta", "bad-int", "search-no-query", "unknown-command"],
)
def test_usage_errors_exit_two(tmp_path: Path, args: list[str]) -> None:
    folder = tmp_path / "docs"
    good_files(folder)
    index = tmp_path / "index"
    if args[0] == "search":  # needs an index to get past "no index"
        assert run_kb("ingest", str(folder), "--index", str(index)).returncode == 0
    argv = [a.format(docs=folder, tmp=tmp_path) for a in args] + ["--index", str(index)]
    out = run_kb(*argv)
    assert out.returncode == 2, (argv, out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stdout + out.stderr
    assert out.stderr.strip(), "a usage error says what is wrong"


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("syntax.yaml", "files: [unclosed\n  - {file: x"),
        ("scalars.yaml", "good-note.txt: hello\n"),
        ("strings.yaml", "- good-note.txt\n- good-brief.md\n"),
        ("numbers.json", "[1, 2]"),
        ("broken.json", '{"a": '),
        ("no-file.csv", "title,year\nx,2020\n"),
        ("bad-year.csv", "file,year\ngood-note.txt,abc\n"),
        ("binary.yaml", "\x00\x01\x02"),
    ],
)
def test_broken_manifest_is_a_usage_error(tmp_path: Path, name: str, body: str) -> None:
    folder = tmp_path / "docs"
    good_files(folder)
    manifest = tmp_path / name
    manifest.write_text(body, encoding="utf-8")
    out = run_kb("ingest", str(folder), "--meta", str(manifest), "--index", str(tmp_path / "index"))
    assert "Traceback" not in out.stdout + out.stderr, out.stderr[-1500:]
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert len(out.stderr.strip().splitlines()) == 1 and str(manifest) in out.stderr, out.stderr


def test_broken_manifest_inside_the_folder_is_a_usage_error(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    good_files(folder)
    (folder / "kb-manifest.yaml").write_text("documents: [\n", encoding="utf-8")
    out = run_kb("ingest", str(folder), "--index", str(tmp_path / "index"))
    assert "Traceback" not in out.stdout + out.stderr, out.stderr[-1500:]
    assert out.returncode == 2 and "kb-manifest.yaml" in out.stderr, (out.returncode, out.stderr[-2000:])


@pytest.mark.parametrize("shape", ["one-word", "at-signs", "hyphen-word"])
def test_pathological_single_page_finishes_in_time(tmp_path: Path, shape: str, timed_child) -> None:
    """300 KB without a space took quadratic time in cleaning (40 KB: 50 s, 5 MB: hours); linear now."""
    from kb.errors import ExtractionError
    from kb.ingest.prepare import prepare

    text = {"one-word": "a" * 300_000, "at-signs": "a@" * 150_000, "hyphen-word": "b" * 300_000 + "-\nsuite"}[shape]
    path = tmp_path / f"{shape}.txt"
    path.write_text(text, encoding="utf-8")
    try:
        outcome = str(len(timed_child.run(prepare, str(path), "x", "fr", 300, 1500, timeout=60).passages))
    except ExtractionError as err:
        outcome = str(err)
    except TimeoutError:
        pytest.fail(f"cleaning 300 KB of {shape!r} took more than 60 s (quadratic regex in kb/ingest/clean.py or kb/ingest/repair.py)")
    if shape == "at-signs":  # not one word of three letters: nothing to find, said in one line
        assert outcome.startswith("no passages"), outcome
    else:
        assert int(outcome) > 0


def test_markdown_with_many_brackets_finishes_in_time(tmp_path: Path, timed_child) -> None:
    """100k unmatched "[" made the link regexes quadratic (minutes); must stay linear."""
    from kb.ingest.extract import extract

    path = tmp_path / "brackets.md"
    path.write_text("[" * 100_000 + GOOD_TEXT + "](" * 20_000, encoding="utf-8")
    try:
        timed_child.run(extract, str(path), timeout=60)
    except TimeoutError:
        pytest.fail("extracting 100k '[' took more than 60 s (quadratic link regex in kb/ingest/extract/markdown.py)")


#: 200 KB to 1 MB of openers that never close; each took minutes when something searched the
#: rest of the text once per opener (Markdown regexes, HTMLParser at close); well under 1 s now
HOSTILE_MARKUP = {
    "md-unclosed-comments": ("md", lambda: "<!--" * 75_000),
    "md-unclosed-bold": ("md", lambda: "**a " * 75_000),
    "md-unclosed-underscores": ("md", lambda: "__a " * 75_000),
    "md-unclosed-stars": ("md", lambda: "*a " * 100_000),
    "md-unclosed-emphasis": ("md", lambda: "_a " * 100_000),
    "md-bold-before-no-break-spaces": ("md", lambda: "a\u00a0**" * 75_000),
    "md-spaces-in-heading": ("md", lambda: "# a" + " " * 300_000 + "b"),
    "md-unclosed-autolinks": ("md", lambda: "<http://" * 40_000),
    "html-lt": ("html", lambda: "<" * 300_000),
    "html-unclosed-comments": ("html", lambda: "<!--" * 75_000),
    "html-unclosed-tags": ("html", lambda: "<a " * 100_000),
    "html-unclosed-end-tags": ("html", lambda: "</" * 300_000),
    "html-comments-without-close": ("html", lambda: "<!--x>" * 50_000),
    "html-cdata-without-close": ("html", lambda: "<![CDATA[x>" * 100_000),
    "html-nested-100k": ("html", lambda: "<div>" * 100_000 + "x" + "</div>" * 100_000),
}


@pytest.mark.parametrize("shape", sorted(HOSTILE_MARKUP))
def test_hostile_markup_finishes_in_time(tmp_path: Path, shape: str, timed_child) -> None:
    from kb.ingest.extract import extract

    suffix, make = HOSTILE_MARKUP[shape]
    path = tmp_path / f"{shape}.{suffix}"
    path.write_text(make(), encoding="utf-8")
    try:
        extracted = timed_child.run(extract, str(path), timeout=20)
    except TimeoutError:
        pytest.fail(f"extracting {shape} took more than 20 s (super-linear pattern in kb/ingest/extract/{suffix.replace('md', 'markdown')}.py)")
    assert extracted.char_count > 0


@pytest.mark.parametrize("kind", ["nul", "random", "controls"])
def test_binary_data_named_txt_is_refused(tmp_path: Path, kind: str) -> None:
    from kb.errors import ExtractionError
    from kb.ingest.extract import extract

    rng = random.Random(5)
    data = {"nul": b"\x00" * 4096, "random": rng.randbytes(20_000),
            "controls": bytes(rng.randrange(1, 32) for _ in range(3000)) + b"hello"}[kind]
    path = tmp_path / f"{kind}.txt"
    path.write_bytes(data)
    with pytest.raises(ExtractionError, match="not a text file"):
        extract(path)


def test_utf8_with_a_few_bad_bytes_keeps_its_accents(tmp_path: Path) -> None:
    from kb.ingest.extract import extract

    path = tmp_path / "mixed.txt"
    path.write_bytes(GOOD_TEXT.encode("utf-8") * 3 + b"\xe9t\xe9 \x81\n" + GOOD_TEXT.encode("utf-8"))
    text = extract(path).pages[0].text
    assert "procédures sont longues" in text and "coûteuses" in text
    assert "Ã" not in text


@pytest.mark.skipif(not all(p.is_file() for p in SEED_PDFS), reason="shared corpus not available")
def test_truncated_download_is_called_truncated(tmp_path: Path) -> None:
    from kb.errors import ExtractionError
    from kb.ingest.extract import extract

    data = SEED_PDFS[0].read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ExtractionError, match=r"^corrupt PDF: truncated"):
        extract(path)


def test_front_matter_with_nested_yaml_aliases_is_ignored_not_expanded(tmp_path: Path) -> None:
    """"Billion laughs" in a Markdown file's front matter: the file goes in, the metadata does not."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    doc = tmp_path / "laughs.md"
    doc.write_text("---\n" + "\n".join(lines) + "\ntitle: Laughs\n---\n\n# Real title\n\n" + GOOD_TEXT, encoding="utf-8")
    # a process of its own, killed if the aliases are expanded (memory and minutes)
    out = subprocess.run([*KB, "ingest", str(doc), "--index", str(tmp_path / "index"), "--json", *FAST_ARGS],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-800:]
    assert json.loads(out.stdout)["added"] == 1
