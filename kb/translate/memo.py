"""Recent questions' translations, remembered: a tool or a dashboard asks the same questions
again, and a translation depends only on the text and the two languages."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from kb.translate.pivot import TranslationError

if TYPE_CHECKING:
    from kb.translate.pivot import Translator


class TranslationMemo:
    """An LRU of (source, target, text) -> translation; None remembers a text that failed."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._texts: OrderedDict[tuple[str, str, str], str | None] = OrderedDict()

    def translate(self, translator: "Translator", text: str, src: str, dst: str) -> str | None:
        """``text`` in ``dst``, or None when the translator chokes on it (not an error: the
        question is searched without that translation)."""
        key = (src, dst, text)
        if key in self._texts:
            self._texts.move_to_end(key)
            return self._texts[key]
        try:
            out: str | None = translator.translate(text, src, dst)
        except TranslationError:
            out = None
        self._texts[key] = out
        while len(self._texts) > self.size:
            self._texts.popitem(last=False)
        return out
