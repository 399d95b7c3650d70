"""Machine translation for the keyword index (Apertium pairs, FreeDict dictionaries).

Keyword search matches words, so it finds nothing across languages; a rough translation of
every passage into one pivot language, and of the question into the same, gives it words to
match. Translations feed the keyword index only: they are never shown or cited. Without the
Debian packages (``PACKAGES``) nothing here runs and kb searches as before.
"""

from kb.translate.pivot import PACKAGES, PIVOT, Status, TranslationError, Translator, enabled, shared

__all__ = ["PACKAGES", "PIVOT", "Status", "TranslationError", "Translator", "enabled", "shared"]
