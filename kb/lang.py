"""Language identification, deterministic.

langdetect is probabilistic; seeding its factory makes the same text give the same
answer on every run, which keeps ingestion idempotent and tests stable.
"""

from __future__ import annotations

import re
from functools import lru_cache

_LETTERS = re.compile(r"[^\W\d_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _factory():
    """Load langdetect's profiles once per process (about 0.3 s)."""
    from langdetect import DetectorFactory
    from langdetect.detector_factory import PROFILES_DIRECTORY

    DetectorFactory.seed = 0
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    return factory


def detect_language(text: str, default: str | None = None, max_chars: int = 4000) -> str | None:
    """ISO 639-1 code of ``text``, or ``default`` when there is too little text to tell."""
    sample = text[:max_chars]
    if len("".join(_LETTERS.findall(sample))) < 12:
        return default
    from langdetect.lang_detect_exception import LangDetectException

    try:
        detector = _factory().create()
        detector.append(sample)
        code = detector.detect()
    except LangDetectException:
        return default
    return code.split("-")[0] if code else default
