"""Invariants of repair -> clean -> chunk under fuzzing (hypothesis), on arbitrary Unicode and on
real corpus text with synthetic damage.

tests/test_repair.py, test_clean.py and test_chunk.py check each stage on hand-made pieces;
these feed the whole pipeline random pages (every Unicode category, several pages with
running headers and page numbers, random passage sizes) and check:

* repair: the output is the input with each ``Repair`` span replaced, the spans are whole
  words, and on real text with random ligature damage no undamaged word is ever changed;
* clean: no character is invented, and every character that disappears is counted in
  ``CleanText.dropped`` (exactly zero when there is nothing to drop);
* chunk: passage offsets slice the cleaned text exactly, passages never overlap, and every
  non-space cleaned character is in exactly one passage or in a heading (a section name).
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as hs

import kb.ingest.repair
from kb.ingest.chunk import chunk, segments
from kb.ingest.clean import PAGE_JOINER, clean_pages
from kb.models import Page
from kb.ingest.repair import repair_text

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
WORD = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f\ufffd\ue000-\uf8ff])+")  # kb.ingest.repair's notion of a word
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def nonspace(text: str) -> str:
    return "".join(text.split())


# -- repair --------------------------------------------------------------------------------------
_GLYPHS = hs.sampled_from(["\ufffd", "\ue000", "\uf0b7", "\ufb01", "\ufb03", "tt", "ti", "e\u0301", "ﬀ"])
_ANY_TEXT = hs.lists(hs.one_of(hs.text(alphabet=hs.characters(blacklist_categories=("Cs",)), max_size=12), _GLYPHS,
                               hs.sampled_from(["migra", "tion", "ateint", "cete", "o", "ce", " ", "\n", "-", "https://x.org/"])),
                     max_size=40).map("".join)


def check_repair(text: str, result: kb.ingest.repair.RepairResult) -> None:
    out, pos = [], 0
    for r in result.repairs:
        assert r.start >= pos, "repairs in order, not overlapping"
        assert text[r.start:r.end] == r.before and r.before != r.after
        assert WORD.fullmatch(r.before), r.before
        assert not (r.start > 0 and WORD.match(text[r.start - 1])), "a repair starts at a word start"
        assert not (r.end < len(text) and WORD.match(text[r.end])), "a repair ends at a word end"
        out.append(text[pos:r.start] + r.after)
        pos = r.end
    out.append(text[pos:])
    assert result.text == "".join(out), "nothing changes outside the repaired words"


@FUZZ
@given(_ANY_TEXT, hs.sampled_from(["fr", "en", "es", "de", "pt", "ar", None]))
@example("o\ufb03ce de l\u2019int\ufffdgra\ufffdon", "fr")
def test_repair_changes_only_whole_words(text: str, lang: str | None) -> None:
    check_repair(text, repair_text(text, lang))


def _real_texts() -> list[tuple[str, str]]:
    """Clean, digital-born text of the corpus (Markdown): ground truth for damage tests."""
    out = []
    for lang, name in [("fr", "fr/2022-06-10-declaration-de-los-angeles-sur-les-migrations-et-la-protection.md"),
                       ("en", "en/2022-06-10-los-angeles-declaration-on-migration-and-protection.md"),
                       ("es", "es/2022-06-10-declaracion-sobre-migracion-y-proteccion-de-los-angeles.md")]:
        path = CORPUS / name
        if path.is_file():
            text = unicodedata.normalize("NFC", path.read_text(encoding="utf-8"))
            out.append((lang, text))
    return out


REAL = _real_texts()
_DAMAGE = [("ti", "\ufffd"), ("fi", "\ufffd"), ("ff", "\ufffd"), ("fl", "\ufffd"), ("tt", "t"), ("ffi", "\ue001")]


@pytest.mark.skipif(not REAL, reason="shared corpus not available")
@FUZZ
@given(hs.integers(0, 2), hs.integers(0, 10**9), hs.integers(200, 3000), hs.floats(0.0, 0.6))
def test_repair_of_real_text_never_touches_undamaged_words(which: int, seed: int, size: int, rate: float) -> None:
    lang, full = REAL[which % len(REAL)]
    rng = random.Random(seed)
    start = rng.randrange(max(1, len(full) - size))
    original = full[start:start + size]
    pieces: list[tuple[str, str]] = []  # (damaged, original) per token
    pos = 0
    for m in WORD.finditer(original):
        pieces.append((original[pos:m.start()], original[pos:m.start()]))
        word = m.group()
        damaged = word
        if rng.random() < rate:
            for a, b in rng.sample(_DAMAGE, len(_DAMAGE)):
                if a in word:
                    damaged = word.replace(a, b, 1)
                    break
        pieces.append((damaged, word))
        pos = m.end()
    pieces.append((original[pos:], original[pos:]))
    text = "".join(d for d, _ in pieces)
    result = repair_text(text, lang)
    check_repair(text, result)
    spans, pos = {}, 0
    for damaged, word in pieces:
        spans[(pos, pos + len(damaged))] = (damaged, word)
        pos += len(damaged)
    wrong = []
    for r in result.repairs:
        damaged, word = spans.get((r.start, r.end), (None, None))
        assert damaged is not None, f"repair {r} is not one whole word"
        if damaged == word:
            wrong.append((word, r.after))
    assert not wrong, f"undamaged words changed: {wrong}"


# -- clean + chunk -------------------------------------------------------------------------------
_HEADERS = ["Annual Report 2023", "GLOBAL COMPACT FOR MIGRATION", "Rapport d'évaluation – juin 2025", "IOM | OIM"]
_LINE = hs.one_of(
    hs.sampled_from(["", " ", "   ", "12", "Page 3 of 9", "8. Numbered paragraph text here.", "a) sub-item of it",
                     "• bullet point", "1  A footnote text.", "https://example.org/x", "____", "==========",
                     "MAJOR HEADING", "# Markdown heading", "It ends a sentence.", "and it goes on in lower case",
                     "Les travailleurs migrants ont droit à l'égalité de traitement.", "§ 4 Anerkennung",
                     "Artículo 12. Derechos", "(iv) roman item", "\u0627\u0644\u0644\u0627\u062c\u0626\u0648\u0646 \u0641\u064a \u0627\u0644\u0628\u0644\u062f",
                     "\u2028", "\x0c", "\t\ttabbed", "x\u00a0y", "e\u0301t\u00e9", "of\ufb01ce", "migra\ufffdon", "re-", "entry"]),
    hs.text(alphabet=hs.characters(blacklist_categories=("Cs",)), max_size=60),
)
_PAGE = hs.lists(_LINE, max_size=14).map("\n".join)


@contextmanager
def recorded_repairs():
    """Capture what kb.ingest.repair.repair_text changed during clean_pages."""
    seen: list[kb.ingest.repair.RepairResult] = []
    real = kb.ingest.repair.repair_text

    def spy(text, lang):
        result = real(text, lang)
        seen.append(result)
        return result

    with mock.patch.object(kb.ingest.repair, "repair_text", spy):
        yield seen


_WORD = re.compile(r"[^\W\d_]{3,}")


def check_chunks(clean, passages, doc_id: str, max_chars: int) -> None:
    """Offsets slice exactly; no overlap; text in exactly one passage or a heading, except
    stretches without a word of three letters ("a. b. c.", "30%"), which make no passage."""
    text = clean.text
    owner = [0] * len(text)
    for i, p in enumerate(passages):
        assert p.text == text[p.char_start:p.char_end], "a passage's offsets slice the cleaned text exactly"
        assert p.text.strip() and len(p.text) <= max_chars and _WORD.search(p.text)
        assert (p.passage_id, p.doc_id, p.ordinal) == (f"{doc_id}:{i}", doc_id, i)
        numbers = [s.number for s in clean.pages]
        assert p.page_start in numbers and p.page_end in numbers
        for k in range(p.char_start, p.char_end):
            owner[k] += 1
    assert max(owner, default=0) <= 1, "passages overlap"
    segs = segments(clean)
    only_headings = all(s.kind == "heading" for s in segs)
    for s in segs:
        if s.kind == "heading" and not only_headings:
            for k in range(s.start, s.end):
                assert owner[k] == 0, "a heading inside a passage"
                owner[k] = 1
    unowned = "".join(c if owner[k] == 0 else "\n" for k, c in enumerate(text))
    lost = _WORD.search(unowned)
    assert not lost, f"cleaned words in no passage: {unowned[max(0, lost.start() - 40):lost.end() + 40]!r}"


@FUZZ
@given(hs.lists(_PAGE, min_size=1, max_size=6), hs.sampled_from(["en", "fr", "es", "ar", None]),
       hs.integers(20, 400), hs.integers(120, 1600), hs.booleans())
# page numbers and a literal "#" at the page edge: IndexError in structure.running_keys
@example(["IOM | OIM\n\n1", "IOM | OIM\n\n2", "IOM | OIM\n#\n3"], "en", 300, 1500, False)
def test_pipeline_offsets_and_coverage(pages: list[str], lang: str | None, min_chars: int, max_chars: int,
                                       headers: bool) -> None:
    assume(max_chars >= min_chars)
    if headers:  # the same header and a page number on every page: dropped, and counted
        pages = [f"{_HEADERS[len(pages) % 4]}\n{t}\n{i + 1}" for i, t in enumerate(pages)]
    raw = [Page(i + 1, t) for i, t in enumerate(pages)]
    clean = clean_pages(raw, lang)
    assert unicodedata.is_normalized("NFC", clean.text)
    pos = 0
    for i, span in enumerate(clean.pages):  # page spans partition the text with the joiner
        if i:
            assert clean.text[pos:span.start] == PAGE_JOINER
            pos += len(PAGE_JOINER)
        assert span.start == pos <= span.end
        pos = span.end
    assert pos == len(clean.text)
    passages = chunk(clean, "doc", min_chars=min_chars, max_chars=max_chars)
    check_chunks(clean, passages, "doc", max_chars)


# Characters whose handling is a deliberate rewrite rather than a move: ligatures expand,
# soft hyphens and line-end hyphens may vanish, combining marks compose.
_PLAIN = hs.characters(blacklist_categories=("Cs", "Mn", "Mc", "Me"),
                       blacklist_characters="\u00ad-\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06")
_PLAIN_LINE = hs.one_of(
    hs.sampled_from(["", "12", "Page 3 of 9", "8. Numbered paragraph text here.", "a) sub-item", "• bullet",
                     "1  A footnote text.", "https://example.org/x", "MAJOR HEADING", "It ends a sentence.",
                     "and it goes on", "ateint cete", "migra\ufffdon", "\ue001ers", "____", "x\u00a0y\ttab"]),
    hs.text(alphabet=_PLAIN, max_size=50),
)


@FUZZ
@given(hs.lists(hs.lists(_PLAIN_LINE, max_size=12).map("\n".join), min_size=1, max_size=5),
       hs.sampled_from(["en", "fr", None]), hs.booleans())
def test_clean_invents_nothing_and_counts_what_it_drops(pages: list[str], lang: str | None, headers: bool) -> None:
    if headers:
        pages = [f"{_HEADERS[0]}\n{t}\n- {i + 1} -" for i, t in enumerate(pages)]
    raw = [Page(i + 1, t) for i, t in enumerate(pages)]
    with recorded_repairs() as repairs:
        clean = clean_pages(raw, lang)
    before = Counter(nonspace(unicodedata.normalize("NFC", "".join(pages))))
    for result in repairs:  # what repair changed, on purpose, word by word
        for r in result.repairs:
            before -= Counter(nonspace(r.before))
            before += Counter(nonspace(unicodedata.normalize("NFC", r.after)))
    after = Counter(nonspace(clean.text))
    invented = after - before
    assert not invented, f"characters that were not in the input: {dict(invented)}"
    lost = sum((before - after).values())
    assert lost <= clean.dropped, f"{lost} characters vanished but only {clean.dropped} are counted as dropped"
    separators = sum(len(line.strip()) for p in pages for line in p.split("\n") if re.fullmatch(r"\s*(?:_{4,}|-{4,}|\*{3,}|={4,}|\.{6,})\s*", line))
    if len(pages) < 3 and not separators:
        assert lost == 0 and clean.dropped == 0, "nothing to drop: every character kept"
