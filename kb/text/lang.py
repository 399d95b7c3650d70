"""Language identification, deterministic.

langdetect is probabilistic; seeding its factory makes the same text give the same
answer on every run, which keeps ingestion idempotent and tests stable.

Loading langdetect's 55 JSON profiles costs about 0.3 s of CPU (0.7 s wall on a busy
machine): too slow for a one-shot ``kb search``. The loaded tables are therefore cached
once in a compact binary file (``langdetect-<key>.bin`` under the kb cache folder, see
:func:`cache_dir`) and read back in a few milliseconds. The cache holds *exactly* the
probabilities ``DetectorFactory.load_profile`` computes, in its language order, so the
answers are identical to plain langdetect. Its key covers the langdetect version, the
profile files (names, sizes, mtimes) and the cache layout, so upgrading langdetect or
editing a profile invalidates it; a missing or unwritable cache only means the slow load.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import re
from bisect import bisect_left
from functools import lru_cache
from pathlib import Path

_LETTERS = re.compile(r"[^\W\d_]+", re.UNICODE)

#: bump when the cache layout below changes
_CACHE_LAYOUT = 1


def cache_dir() -> Path | None:
    """kb's cache folder: $KB_CACHE_DIR, else $XDG_CACHE_HOME/kb, else ~/.cache/kb.

    ``KB_CACHE_DIR=off`` (or ``0``, ``none``) disables every kb cache.
    """
    raw = os.environ.get("KB_CACHE_DIR")
    if raw is not None and raw.strip().lower() in ("", "0", "off", "none", "false"):
        return None
    if raw:
        return Path(raw).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "kb"


def _profiles_key(directory: str) -> str:
    """Invalidation key: the cache layout, langdetect's code file and every profile file.

    Names, sizes and mtimes only (no hashing of contents, no importlib.metadata: both cost
    more than the cache saves); reinstalling or upgrading langdetect rewrites the files
    and so changes their mtimes.
    """
    from langdetect import detector_factory

    digest = hashlib.sha256(f"{_CACHE_LAYOUT}|{directory}".encode())
    code = os.stat(detector_factory.__file__)
    digest.update(f"|code:{code.st_size}:{code.st_mtime_ns}".encode())
    with os.scandir(directory) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            st = entry.stat()
            digest.update(f"|{entry.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


class _ProbTable:
    """Read-only stand-in for ``DetectorFactory.word_lang_prob_map`` over the cached arrays.

    n-grams are sorted (bisect lookup, no 88k-entry dict to build at start-up); each row
    is stored sparsely (about 4 % of the 55 probabilities are non-zero) and expanded to
    the same list of floats langdetect would hold, memoised per n-gram.
    """

    def __init__(self, keys: list[str], indptr, langs, values, nlangs: int) -> None:
        self._keys = keys
        self._indptr = indptr
        self._langs = langs
        self._values = values
        self._nlangs = nlangs
        self._memo: dict[str, list[float] | None] = {}
        self._arrays: dict = {}

    def _row(self, word: str) -> list[float] | None:
        try:
            return self._memo[word]
        except KeyError:
            pass
        keys = self._keys
        i = bisect_left(keys, word)
        row = None
        if i < len(keys) and keys[i] == word:
            row = [0.0] * self._nlangs
            for j in range(self._indptr[i], self._indptr[i + 1]):
                row[self._langs[j]] = self._values[j]
        self._memo[word] = row
        return row

    def array(self, word: str):
        """The row as a float64 numpy array (for :func:`_detector_class`), memoised."""
        row = self._arrays.get(word)
        if row is None:
            import numpy as np

            row = self._arrays[word] = np.array(self[word], dtype=np.float64)
        return row

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._row(word) is not None

    def __getitem__(self, word: str) -> list[float]:
        row = self._row(word)
        if row is None:
            raise KeyError(word)
        return row

    def __len__(self) -> int:
        return len(self._keys)


def _dump_factory(factory, path: Path) -> None:
    from array import array

    from kb.store.atomic import atomic_write

    table = factory.word_lang_prob_map
    keys = sorted(table)
    indptr, langs, values = array("q", [0]), array("H"), array("d")
    for key in keys:
        for j, p in enumerate(table[key]):
            if p != 0.0:
                langs.append(j)
                values.append(p)
        indptr.append(len(values))
    blob = marshal.dumps(
        (_CACHE_LAYOUT, list(factory.langlist), keys, indptr.tobytes(), langs.tobytes(), values.tobytes())
    )

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            handle.write(blob)

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)


def _load_cached(path: Path):
    from array import array

    from langdetect import DetectorFactory

    layout, langlist, keys, indptr_b, langs_b, values_b = marshal.loads(path.read_bytes())
    if layout != _CACHE_LAYOUT:
        raise ValueError("stale layout")
    indptr, langs, values = array("q"), array("H"), array("d")
    indptr.frombytes(indptr_b)
    langs.frombytes(langs_b)
    values.frombytes(values_b)
    if len(indptr) != len(keys) + 1 or indptr[-1] != len(values) or len(langs) != len(values):
        raise ValueError("truncated cache")
    factory = DetectorFactory()
    factory.langlist = list(langlist)
    factory.word_lang_prob_map = _ProbTable(keys, indptr, langs, values, len(langlist))
    return factory


def profile_cache_path() -> Path | None:
    """Where the profile cache for the installed langdetect lives (None: caching off)."""
    from langdetect.detector_factory import PROFILES_DIRECTORY

    root = cache_dir()
    if root is None:
        return None
    return root / f"langdetect-{_profiles_key(PROFILES_DIRECTORY)}.bin"


@lru_cache(maxsize=1)
def _factory():
    """langdetect's factory, once per process: from the cache, else from the profiles."""
    from langdetect import DetectorFactory
    from langdetect.detector_factory import PROFILES_DIRECTORY

    DetectorFactory.seed = 0
    path = None
    try:
        path = profile_cache_path()
    except OSError:
        path = None
    if path is not None and path.is_file():
        try:
            return _load_cached(path)
        except Exception:  # corrupt or foreign file: rebuild it below
            pass
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    if path is not None:
        try:
            _dump_factory(factory, path)
        except OSError:
            pass  # read-only home: still correct, just slower next time
    return factory


@lru_cache(maxsize=1)
def _detector_class():
    """langdetect's ``Detector`` with its sampling loop on numpy rows: the same answer.

    ``_detect_block`` draws the same random n-grams in the same order and does the same
    IEEE operations, element by element (``prob[i] *= weight + p[i]``, division by the
    left-to-right ``sum``), so probabilities are bit-identical; only the 55-language inner
    loops run in numpy instead of Python: a question takes ~1.3 ms of CPU instead of ~2.3.
    """
    import numpy as np
    from langdetect.detector import Detector
    from langdetect.lang_detect_exception import ErrorCode, LangDetectException

    class FastDetector(Detector):
        def _detect_block(self):
            self.cleaning_text()
            ngrams = self._extract_ngrams()
            if not ngrams:
                raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
            table = self.word_lang_prob_map
            rows: dict = {}
            if hasattr(table, "array"):
                row_of = table.array
            else:
                def row_of(word):
                    row = rows.get(word)
                    if row is None:
                        row = rows[word] = np.array(table[word], dtype=np.float64)
                    return row
            n = len(self.langlist)
            langprob = np.zeros(n, dtype=np.float64)
            self.random.seed(self.seed)
            for _ in range(self.n_trial):
                prob = np.array(self._init_probability(), dtype=np.float64)
                alpha = self.alpha + self.random.gauss(0.0, 1.0) * self.ALPHA_WIDTH
                weight = alpha / self.BASE_FREQ
                i = 0
                while True:
                    word = self.random.choice(ngrams)
                    if word is not None and word in table:
                        prob *= weight + row_of(word)
                    if i % 5 == 0:
                        total = sum(prob.tolist())  # Python's left-to-right sum, as langdetect
                        if total == 0.0:
                            raise ZeroDivisionError("float division by zero")
                        prob /= total
                        if float(prob.max()) > self.CONV_THRESHOLD or i >= self.ITERATION_LIMIT:
                            break
                    i += 1
                langprob += prob / self.n_trial
            self.langprob = langprob.tolist()

    return FastDetector


def detect_language(text: str, default: str | None = None, max_chars: int = 4000) -> str | None:
    """ISO 639-1 code of ``text``, or ``default`` when there is too little text to tell."""
    sample = text[:max_chars]
    letters = "".join(_LETTERS.findall(sample))
    # 12 Latin letters tell little ("TBB", "EU-Passworld"); a few of another script tell a lot
    # (Arabic "رسوم التوظيف" has 11 letters and was left without a language)
    latin = sum(1 for c in letters if c < "\u0250")
    if len(letters) < (12 if latin * 2 >= len(letters) else 4):
        return default
    found = _ranked(sample)
    return found[0].lang.split("-")[0] if found else default


def _ranked(text: str, prior: dict[str, float] | None = None) -> list:
    """langdetect's languages above its 0.1 threshold, most likely first (empty when it cannot
    tell), starting from ``prior`` (language -> weight; the others start at 0 and stay there)."""
    from langdetect.lang_detect_exception import LangDetectException

    detector = _detector_class()(_factory())
    if prior:
        detector.set_prior_map({code: prior.get(code.split("-")[0], 0.0) for code in detector.langlist})
    detector.append(text)
    try:
        return detector.get_probabilities()
    except LangDetectException:
        return []


def language_probabilities(text: str, prior: dict[str, float] | None = None,
                           max_chars: int = 4000) -> dict[str, float]:
    """langdetect's probability of each likely language for ``text`` (zh-cn and zh-tw as zh),
    starting from ``prior`` when one is given: kb/search/language.py passes the index's languages."""
    out: dict[str, float] = {}
    for item in _ranked(text[:max_chars], prior):
        code = item.lang.split("-")[0]
        out[code] = out.get(code, 0.0) + item.prob
    return out


_ISO_CODE = re.compile(r"[a-z]{2,3}")
#: language names a spreadsheet's "language" column may hold instead of a code
_NAMES = {
    "english": "en", "anglais": "en", "inglés": "en", "ingles": "en",
    "french": "fr", "français": "fr", "francais": "fr", "francés": "fr", "frances": "fr",
    "spanish": "es", "español": "es", "espanol": "es", "espagnol": "es",
    "german": "de", "deutsch": "de", "allemand": "de", "alemán": "de", "aleman": "de",
    "portuguese": "pt", "português": "pt", "portugues": "pt", "portugais": "pt",
    "arabic": "ar", "arabe": "ar", "árabe": "ar", "italian": "it", "italiano": "it", "italien": "it",
    "russian": "ru", "chinese": "zh", "turkish": "tr", "ukrainian": "uk", "persian": "fa", "farsi": "fa",
}


def iso_code(value: object, names: bool = False) -> str | None:
    """``value`` as an ISO 639 code ("FR " -> "fr"; with ``names`` also "French" -> "fr"), or
    None when it is neither: passages tagged "French" would never match ``--lang fr``."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if _ISO_CODE.fullmatch(text):
        return text
    return _NAMES.get(text) if names else None
