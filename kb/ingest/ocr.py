"""OCR for PDF pages that have no text layer (scans, flattened prints), through Tesseract.

The ``tesseract`` command line is run in a subprocess (no Python binding needed). A page
is rendered to an image by ``pdftoppm`` (poppler-utils) when it is installed, which
also handles text drawn as vector outlines; otherwise the page's embedded images are
taken out with pypdf (JPEG, JPEG 2000 and CCITT fax streams as they are, other bitmaps
written as Netpbm), which covers scanned documents.

    hint = ocr_available()          # None when OCR can run, else how to install it
    pages = ocr_pdf(path, ["fr"])   # one Page per page (or per page asked for)

Every failure is an ``ExtractionError`` whose message is one line for the user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

from kb.errors import ExtractionError
from kb.models import Page

__all__ = [
    "INSTALL_HINT", "MIN_TEXT_CHARS", "TESSERACT_LANGS", "installed_languages", "ocr_available", "ocr_pdf",
    "pages_needing_ocr", "renderer_hint", "tesseract_langs",
]

INSTALL_HINT = (
    "OCR needs Tesseract: apt-get install tesseract-ocr tesseract-ocr-fra "
    "tesseract-ocr-eng tesseract-ocr-spa tesseract-ocr-ara"
)
#: ISO 639-1 (what the index stores) -> Tesseract's traineddata names
TESSERACT_LANGS: dict[str, str] = {
    "fr": "fra", "en": "eng", "es": "spa", "ar": "ara", "de": "deu", "pt": "por", "it": "ita",
}
#: languages tried when the caller does not know the document's language
DEFAULT_LANGS: tuple[str, ...] = ("en", "fr", "es")
#: a page with fewer non-space characters than this has no usable text layer
MIN_TEXT_CHARS = 16
#: rendering resolution, lowered for large pages so an image stays below MAX_PIXELS per side
DPI = 300
MAX_PIXELS = 5000
#: seconds allowed for rendering or recognising one page
PAGE_TIMEOUT = 300


# -- availability ------------------------------------------------------------------------------
def ocr_available() -> str | None:
    """None when OCR can run here, else a one-line hint saying how to install Tesseract."""
    if shutil.which("tesseract") is None:
        return INSTALL_HINT
    if not installed_languages():
        return f"Tesseract has no language data. {INSTALL_HINT}"
    return None


@lru_cache(maxsize=1)
def installed_languages() -> frozenset[str]:
    """Tesseract's installed traineddata names ("fra", "eng", ...), empty if it cannot run."""
    try:
        out = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=60, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    lines = (out.stdout + "\n" + out.stderr).splitlines()
    return frozenset(
        line.strip() for line in lines
        if line.strip() and " " not in line.strip() and not line.strip().endswith(":") and line.strip() != "osd"
    )


def renderer_hint() -> str | None:
    """None when whole pages can be rendered (pdftoppm); else what is missing and its effect."""
    if shutil.which("pdftoppm"):
        return None
    return ("only the images embedded in pages are read, not text drawn as outlines: "
            "apt-get install poppler-utils to render whole pages")


def tesseract_langs(langs: Iterable[str | None]) -> str:
    """The ``-l`` argument for ISO codes: mapped, de-duplicated, limited to what is installed.

    Unknown codes pass through (a caller may already say "fra"); when none of the asked
    languages is installed, the error names the package to install.
    """
    wanted: list[str] = []
    for code in langs:
        if not code:
            continue
        code = code.strip().lower()
        name = TESSERACT_LANGS.get(code) or TESSERACT_LANGS.get(code.replace("_", "-").split("-")[0]) or code
        if name not in wanted:
            wanted.append(name)
    if not wanted:
        wanted = [TESSERACT_LANGS[c] for c in DEFAULT_LANGS]
    installed = installed_languages()
    usable = [name for name in wanted if name in installed]
    if not usable:
        packages = " ".join(f"tesseract-ocr-{name}" for name in wanted)
        raise ExtractionError(f"OCR: no Tesseract data for {'+'.join(wanted)}: apt-get install {packages}")
    return "+".join(usable)


def pages_needing_ocr(pages: Sequence[Page], min_chars: int = MIN_TEXT_CHARS) -> list[int]:
    """1-based positions of the pages whose text layer is (nearly) empty."""
    return [i for i, page in enumerate(pages, start=1) if len("".join(page.text.split())) < min_chars]


# -- OCR ---------------------------------------------------------------------------------------
def ocr_pdf(
    path: str | Path,
    langs: Sequence[str | None] = (),
    pages: Iterable[int] | None = None,
    *,
    renderer: str | None = None,
    dpi: int = DPI,
) -> list[Page]:
    """Recognise the text of ``pages`` (1-based; default: every page) of the PDF at ``path``.

    ``langs`` are ISO codes ("fr", "ar"...); empty means English, French and Spanish.
    ``renderer`` is "pdftoppm" or "pypdf" (default: pdftoppm when installed). Returns one
    ``Page`` per page asked for, in order; a page with nothing recognisable has empty text.
    """
    hint = ocr_available()
    if hint:
        raise ExtractionError(hint)
    lang = tesseract_langs(langs)
    path = Path(path)
    reader = _reader(path)
    total = len(reader.pages)
    wanted = sorted({n for n in (pages if pages is not None else range(1, total + 1)) if 1 <= n <= total})
    renderer = renderer or ("pdftoppm" if shutil.which("pdftoppm") else "pypdf")
    if renderer not in {"pdftoppm", "pypdf"}:
        raise ValueError(f"unknown renderer {renderer!r}")
    out: list[Page] = []
    with tempfile.TemporaryDirectory(prefix="kb-ocr-") as tmp:
        for number in wanted:
            folder = Path(tmp) / f"p{number}"
            folder.mkdir()
            if renderer == "pdftoppm":
                images = [_render_page(path, number, _page_dpi(reader.pages[number - 1], dpi), folder)]
            else:
                images = _page_images(reader.pages[number - 1], folder)
            texts = [_tesseract(image, lang) for image in images]
            out.append(Page(number=number, text="\n\n".join(t for t in texts if t.strip())))
    return out


def _reader(path: Path) -> Any:
    from pypdf import PdfReader

    from kb.ingest.extract.pdf import _route_pypdf_logging

    _route_pypdf_logging()  # pypdf's repair notes go to the debug log, not the terminal

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("encrypted PDF: needs a password")
        _ = len(reader.pages)
        return reader
    except ExtractionError:
        raise
    except Exception as err:  # noqa: BLE001 - any pypdf failure is a one-line reason
        raise ExtractionError(_one_line(f"OCR: cannot open PDF: {type(err).__name__}: {err}")) from err


def _page_dpi(page: Any, dpi: int) -> int:
    """``dpi``, lowered so that neither side of the rendered page exceeds MAX_PIXELS."""
    try:
        box = page.mediabox
        longest = max(abs(float(box.width)), abs(float(box.height))) / 72.0
    except Exception:  # noqa: BLE001 - a broken box is rendered at the default size
        return dpi
    if longest <= 0:
        return dpi
    return max(36, min(dpi, int(MAX_PIXELS / longest)))


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("OMP_THREAD_LIMIT", "1")  # Tesseract's OpenMP threads only slow a busy machine down
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=PAGE_TIMEOUT, env=env, check=False)
    except subprocess.TimeoutExpired as err:
        raise ExtractionError(f"OCR: {what} took more than {PAGE_TIMEOUT} s") from err
    except OSError as err:
        raise ExtractionError(_one_line(f"OCR: cannot run {cmd[0]}: {err.strerror or err}")) from err
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ExtractionError(_one_line(f"OCR: {what} failed: {message[-1] if message else done.returncode}"))
    return done


def _render_page(path: Path, number: int, dpi: int, folder: Path) -> Path:
    """Page ``number`` as a grey PNG (pdftoppm), the usual input of Tesseract."""
    prefix = folder / "page"
    _run(["pdftoppm", "-f", str(number), "-l", str(number), "-r", str(dpi), "-gray", "-png",
          str(path), str(prefix)], f"rendering page {number}")
    found = sorted(folder.glob("page*.png"))
    if not found:
        raise ExtractionError(f"OCR: page {number} could not be rendered")
    return found[0]


def _tesseract(image: Path, lang: str) -> str:
    done = _run(["tesseract", str(image), "stdout", "-l", lang, "--psm", "3"], f"tesseract on {image.name}")
    return done.stdout.decode("utf-8", "replace").replace("\f", "").strip()


# -- embedded images (the fallback without poppler) --------------------------------------------
def _page_images(page: Any, folder: Path) -> list[Path]:
    """The page's image XObjects (also inside forms) written as files Tesseract reads."""
    out: list[Path] = []
    seen: set[int] = set()

    def walk(resources: Any, depth: int) -> None:
        if depth > 8 or resources is None:
            return
        try:
            xobjects = resources.get_object().get("/XObject")
            items = list(xobjects.get_object().items()) if xobjects is not None else []
        except Exception:  # noqa: BLE001 - unreadable resources: nothing to recognise
            return
        for _name, ref in items:
            try:
                obj = ref.get_object()
                key = id(obj) if not hasattr(ref, "idnum") else ref.idnum
                if key in seen:
                    continue
                seen.add(key)
                subtype = obj.get("/Subtype")
                if subtype == "/Image":
                    written = _write_image(obj, folder / f"img{len(out)}")
                    if written is not None:
                        out.append(written)
                elif subtype == "/Form":
                    walk(obj.get("/Resources"), depth + 1)
            except Exception:  # noqa: BLE001 - one odd image must not cost the page
                continue

    walk(page.get("/Resources"), 0)
    return out


def _filters(obj: Any) -> list[str]:
    raw = obj.get("/Filter")
    if raw is None:
        return []
    raw = raw.get_object() if hasattr(raw, "get_object") else raw
    return [str(f) for f in raw] if isinstance(raw, list) else [str(raw)]


def _write_image(obj: Any, stem: Path) -> Path | None:
    """One image XObject as .jpg / .jp2 / .tif / .pgm / .ppm / .pbm; None when unsupported or tiny."""
    width, height = int(obj.get("/Width", 0)), int(obj.get("/Height", 0))
    if width < 32 or height < 32:
        return None  # icons and rules, not text
    filters = _filters(obj)
    last = filters[-1] if filters else None
    if last in {"/DCTDecode", "/DCT", "/JPXDecode"} and len(filters) >= 1:
        data = obj._data  # noqa: SLF001 - the encoded bytes are a complete JPEG / JPEG 2000 file
        if len(filters) > 1:  # e.g. [/FlateDecode /DCTDecode]: undo the outer filters only
            data = zlib.decompress(data) if filters[0] in {"/FlateDecode", "/Fl"} and len(filters) == 2 else None
            if data is None:
                return None
        path = stem.with_suffix(".jp2" if last == "/JPXDecode" else ".jpg")
        path.write_bytes(data)
        return path
    data = obj.get_data()
    if last in {"/CCITTFaxDecode", "/CCF"}:
        path = stem.with_suffix(".tif")  # pypdf wraps fax data in a TIFF header
        path.write_bytes(data)
        return path
    bits = int(obj.get("/BitsPerComponent", 8) or 8)
    if obj.get("/ImageMask"):
        bits = 1
    components, palette = _colour_space(obj.get("/ColorSpace"))
    decode = obj.get("/Decode")
    inverted = bool(decode) and float(decode[0]) == 1.0
    if bits == 1 and components == 1:
        row = (width + 7) // 8
        body = bytes(data[: row * height])
        if len(body) < row * height:
            return None
        if not (inverted ^ bool(obj.get("/ImageMask"))):  # PDF 1 = white, PBM 1 = black
            body = bytes(b ^ 0xFF for b in body)
        path = stem.with_suffix(".pbm")
        path.write_bytes(b"P4\n%d %d\n" % (width, height) + body)
        return path
    if bits != 8:
        return None
    if palette is not None:
        base, table = palette
        pixels = bytes(data[: width * height])
        if len(pixels) < width * height:
            return None
        lut = [table[i * base:(i + 1) * base] for i in range(len(table) // base)]
        blank = bytes(base)
        data = b"".join(lut[p] if p < len(lut) else blank for p in pixels)
        components = base
    size = width * height * components
    body = bytes(data[:size])
    if len(body) < size:
        return None
    if components == 4:  # CMYK -> RGB, naively
        body = bytes(
            255 - min(255, body[i + k] + body[i + 3]) for i in range(0, len(body), 4) for k in range(3)
        )
        components = 3
    if inverted and components == 1:
        body = bytes(255 - b for b in body)
    if components == 1:
        path = stem.with_suffix(".pgm")
        path.write_bytes(b"P5\n%d %d\n255\n" % (width, height) + body)
    elif components == 3:
        path = stem.with_suffix(".ppm")
        path.write_bytes(b"P6\n%d %d\n255\n" % (width, height) + body)
    else:
        return None
    return path


def _colour_space(space: Any) -> tuple[int, tuple[int, bytes] | None]:
    """(components per pixel, (base components, palette bytes) for /Indexed else None)."""
    if space is None:
        return 1, None
    space = space.get_object() if hasattr(space, "get_object") else space
    if isinstance(space, list) and space:
        kind = str(space[0])
        if kind == "/ICCBased":
            return int(space[1].get_object().get("/N", 3)), None
        if kind in {"/Indexed", "/I"}:
            base, _ = _colour_space(space[1])
            return 1, (base, _palette_bytes(space[3].get_object()))
        if kind in {"/CalRGB", "/Lab"}:
            return 3, None
        if kind == "/CalGray":
            return 1, None
        if kind in {"/DeviceN", "/Separation"}:
            return (len(space[1]) if kind == "/DeviceN" else 1), None
        return 3, None
    name = str(space)
    return {"/DeviceGray": 1, "/G": 1, "/DeviceRGB": 3, "/RGB": 3, "/DeviceCMYK": 4, "/CMYK": 4}.get(name, 3), None


def _palette_bytes(table: Any) -> bytes:
    if hasattr(table, "get_data"):
        return bytes(table.get_data())
    if hasattr(table, "original_bytes"):
        return bytes(table.original_bytes)
    return table.encode("latin-1") if isinstance(table, str) else bytes(table)


def _one_line(message: str, limit: int = 200) -> str:
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
