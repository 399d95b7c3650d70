"""The translation layer (kb/translate/): real Apertium and FreeDict where installed.

Each test that needs a Debian package skips with the package's name when it is missing;
`.ci/run` installs them, so CI runs them all.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import zlib
from pathlib import Path

import pytest

from kb.translate import PACKAGES, Translator
from kb.translate.apertium import MODES_DIR, ApertiumError, ApertiumPipe, clean_input, pieces
from kb.translate.dictionary import DICTD_DIR, FreeDict, headword_key, parse_entry
from kb.translate.dictzip import DictFile
from kb.translate.routes import Step, route


def _need_pair(mode: str) -> None:
    package = {"fr-es": "apertium-fr-es", "es-fr": "apertium-fr-es", "eng-spa": "apertium-eng-spa",
               "spa-eng": "apertium-eng-spa", "pt-es": "apertium-es-pt"}[mode]
    if shutil.which("apertium-wblank-mode") is None:
        pytest.skip("Apertium is not installed (Debian: apt-get install apertium)")
    if not (MODES_DIR / f"{mode}.mode").is_file():
        pytest.skip(f"Apertium pair {mode} is not installed (Debian: apt-get install {package})")


def _need_dict(name: str) -> FreeDict:
    found = FreeDict(name)
    if not found.available():
        pytest.skip(f"FreeDict {name} is not installed (Debian: apt-get install dict-freedict-{name})")
    return found


@pytest.fixture(scope="module")
def fr_es():
    _need_pair("fr-es")
    pipe = ApertiumPipe("fr-es")
    yield pipe
    pipe.close()


# -- Apertium ---------------------------------------------------------------------------
def test_a_pair_translates_with_one_process_for_many_texts(fr_es):
    first = fr_es.translate("Quels sont les obstacles à la reconnaissance des compétences des réfugiés ?")
    assert "obstáculos" in first and "refugiados" in first
    starts = fr_es.starts
    for _ in range(5):
        assert "refugiados" in fr_es.translate("Les réfugiés")
    assert fr_es.starts == starts  # no pipeline start per text


def test_stream_characters_and_nul_do_not_desynchronise_the_pair(fr_es):
    hostile = ["a [b] ^c$ <d> \\ e/f @g *h {i} #j ~k |l", "nul\x00inside", "", "   ", "\n\n", "x" * 9000,
               "😀 ☃ مرحبا", "tab\tcr\rvt\x0bff\x0c", "l'homme d'État"]
    for text in hostile:
        fr_es.translate(text)
    # each answer still belongs to its own question
    assert "refugiados" in fr_es.translate("les réfugiés")
    assert "trabajo" in fr_es.translate("le travail")


def test_input_is_cleaned_of_stream_syntax():
    assert clean_input("a^b$c[d]\x00") == "a b c d  \n"
    assert all(len(p) <= 100 for p in pieces("mot " * 200, 100))
    assert "".join(pieces("mot " * 200, 100)) == "mot " * 200


def test_a_dead_pair_is_restarted(fr_es):
    fr_es.translate("bonjour")
    starts = fr_es.starts
    os.kill(fr_es.pids()[4], signal.SIGKILL)  # a stage in the middle dies
    assert "refugiados" in fr_es.translate("les réfugiés")
    assert fr_es.starts == starts + 1


def test_a_pair_that_overruns_its_timeout_is_killed_and_started_again():
    _need_pair("fr-es")
    pipe = ApertiumPipe("fr-es", timeout=0.001, per_char=0.0)  # less than a pipeline start
    try:
        with pytest.raises(ApertiumError):
            pipe.translate("les réfugiés")
        assert not pipe.running
        pipe.timeout = 10.0
        assert "refugiados" in pipe.translate("les réfugiés")
    finally:
        pipe.close()


def test_many_texts_are_translated_in_order_and_a_failure_is_none(fr_es):
    texts = [f"Le réfugié numéro {i} cherche du travail." for i in range(40)] + ["", "les compétences"]
    out = fr_es.translate_many(texts)
    assert len(out) == len(texts)
    assert all(o is not None and f"{i}" in o and "trabajo" in o for i, o in enumerate(out[:40]))
    assert out[40] == "" and out[41] == fr_es.translate("les compétences")


# -- FreeDict ---------------------------------------------------------------------------
def test_dictzip_chunks_read_as_the_whole_file_inflated():
    path = DICTD_DIR / "freedict-fra-eng.dict.dz"
    if not path.is_file():
        pytest.skip("FreeDict fra-eng is not installed (Debian: apt-get install dict-freedict-fra-eng)")
    whole = gzip.open(path).read()
    reader = DictFile(path)
    step = reader._chunk_len
    for offset, length in [(0, 50), (step - 10, 30), (3 * step + 5, 2 * step), (len(whole) - 20, 20)]:
        assert reader.read(offset, length) == whole[offset:offset + length]


def test_dictzip_reader_handles_a_file_name_in_the_header(tmp_path):
    text = ("headword\nits translation\n" * 3000).encode()
    chunk = 4096
    parts = []
    for i in range(0, len(text), chunk):
        comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        parts.append(comp.compress(text[i:i + chunk]) + comp.flush(zlib.Z_FULL_FLUSH))
    table = b"\x01\x00" + chunk.to_bytes(2, "little") + len(parts).to_bytes(2, "little")
    table += b"".join(len(p).to_bytes(2, "little") for p in parts)
    extra = b"RA" + len(table).to_bytes(2, "little") + table
    header = b"\x1f\x8b\x08" + bytes([0x04 | 0x08]) + b"\0" * 6 + len(extra).to_bytes(2, "little") + extra
    path = tmp_path / "x.dict.dz"
    path.write_bytes(header + b"x.dict\0" + b"".join(parts))
    assert DictFile(path).read(5000, 300) == text[5000:5300]


def test_headwords_are_keyed_as_dictd_sorts_them():
    assert headword_key("Asie du Sud-Est") == "asie du sudest"
    assert headword_key("Flüchtling") == "flüchtling"
    assert headword_key("المحنّك") == "المحنك"


def test_an_entry_gives_its_translations_without_labels_notes_or_examples():
    entry = ('barrier /bˈaɹiə/\n [fig.] Barriere <fem>, Schranke <fem>, Hindernis <neut> [geh.]\n'
             '      "barrier of language"  - Sprachbarriere\n   Synonym: {entanglement}\n\n see: {barriers}\n')
    assert parse_entry(entry) == ["Barriere", "Schranke", "Hindernis"]
    assert parse_entry("المحو /ʔalmˈaħw/\n1. Erasures\n2. Erasure\n") == ["Erasures", "Erasure"]


def test_german_words_inflections_and_compounds_are_found():
    de = _need_dict("deu-eng")
    assert "refugees" in de.word("Flüchtlinge")
    assert any("skill" in t for t in de.word("Kompetenzen"))  # inflected: not a headword
    assert any("recognition" in t for t in de.word("Berufsanerkennung"))  # a compound
    assert de.word("Xyzzyqq") == ()
    assert de.translate("Anerkennung UNHCR 2019") .split()[-2:] == ["UNHCR", "2019"]  # names kept


def test_arabic_words_with_clitics_are_found():
    ar = _need_dict("ara-eng")
    assert any("refugee" in t.lower() for t in ar.word("اللاجئين"))


# -- routes and the translator ----------------------------------------------------------
def test_routes_prefer_apertium_hops_to_a_dictionary():
    steps = [Step("apertium", "fr-es", "fr", "es", "p"), Step("apertium", "spa-eng", "es", "en", "p"),
             Step("apertium", "eng-spa", "en", "es", "p"), Step("freedict", "fra-eng", "fr", "en", "d"),
             Step("freedict", "deu-eng", "de", "en", "d")]
    assert [s.name for s in route(steps, "fr", "en")] == ["fr-es", "spa-eng"]
    assert [s.name for s in route(steps, "de", "es")] == ["deu-eng", "eng-spa"]
    assert route(steps, "es", "es") == []
    assert route(steps, "es", "de") is None


def test_without_the_packages_translation_is_off_and_names_them(tmp_path):
    t = Translator(modes_dir=tmp_path / "modes", dictd_dir=tmp_path / "dictd")
    status = t.status()
    assert not status.enabled and not t.can("fr")
    assert set(status.missing) == set(PACKAGES) - ({"apertium"} if shutil.which("apertium-wblank-mode") else set())
    assert "apertium-fr-es" in status.describe() and "dict-freedict-deu-eng" in status.describe()


def test_the_translator_reaches_the_pivot_from_each_installed_language():
    _need_pair("fr-es")
    _need_pair("eng-spa")
    _need_dict("deu-eng")
    t = Translator()
    try:
        assert "obstáculos" in t.translate("les obstacles", "fr")
        assert "refugiados" in t.translate("refugees", "en").lower()
        assert "refugiados" in t.translate("Flüchtlinge", "de").lower()  # de -> en -> es
        assert t.translate("los refugiados", "es") == "los refugiados"
        assert "refugees" in t.translate("les réfugiés", "fr", "en")
        status = t.status()
        assert {"de", "en", "es", "fr"} <= set(status.languages)
        assert "apertium-fr-es" in status.version
    finally:
        t.close()
