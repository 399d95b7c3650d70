"""Words a PDF ran together in a title set in capitals ("FACILITAR LACONTRATACIÓN").

Some text layers lose the space between a short function word and the next word of an
all-caps title. The title, the section names and the quoted text then carry a word that
exists in no language. A capitals token that is no word but splits into a function word and
a common word is written apart again. Only all-caps lines are touched: in running text
the same test would split names and acronyms.
"""

from __future__ import annotations

import re
from functools import lru_cache

from kb.ingest import structure as st

#: function words a title may run into the next word, in the corpus's languages
_LEADS = frozenset(
    """la el los las de del des les le du et en y o para por con pour sur dans aux au the of and
    to for in on a da do das dos e em und der die das zu von""".split()
)
MIN_TOKEN = 7       # shorter capitals tokens are acronyms more often than glued words
MIN_ZIPF = 3.0      # the word after the function word must be this common (wordfreq)
_CAPS_TOKEN = re.compile(r"\b[^\W\d_a-zß-ÿ]{%d,}\b" % MIN_TOKEN)


@lru_cache(maxsize=4096)
def _zipf(word: str, lang: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word.lower(), lang)


def _split(token: str, lang: str) -> str:
    """"LACONTRATACIÓN" -> "LA CONTRATACIÓN"; the token itself when it is a word or no split fits."""
    if _zipf(token, lang) > 0:
        return token
    best, score = token, 0.0
    for i in range(1, min(5, len(token) - 3)):
        lead, rest = token[:i], token[i:]
        if lead.lower() in _LEADS and _zipf(rest, lang) >= MIN_ZIPF and _zipf(rest, lang) > score:
            best, score = f"{lead} {rest}", _zipf(rest, lang)
    return best


def unglue_caps(text: str, lang: str | None) -> str:
    """``text`` with glued words of its all-caps lines written apart (other lines as they are)."""
    if not lang or not _CAPS_TOKEN.search(text):
        return text
    try:
        _zipf("a", lang)
    except Exception:  # a language wordfreq does not know: leave the text alone
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if st.is_all_caps(line) or st.is_upper_word_run(line):
            lines[i] = _CAPS_TOKEN.sub(lambda m: _split(m.group(), lang), line)
    return "\n".join(lines)
