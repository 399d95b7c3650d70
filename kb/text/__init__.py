"""Text rules every stage shares: languages, keyword folding and stems, URLs."""
