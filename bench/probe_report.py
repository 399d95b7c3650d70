"""One probe setting scored the same way by every probe: a question set (strict, then counting
linked versions) and the mixed-language XQuAD index (bench/language_bias.py)."""

from __future__ import annotations

from pathlib import Path


def report(kb, tag: str, qrels: Path | None, xquad: int) -> None:
    """Print ``tag``'s R@1 / R@5 / R@10 / MRR@10 on ``qrels``, and XQuAD mixed R@1 on ``xquad``
    questions a language (0: not run)."""
    from kb.evaluate import evaluate

    if qrels:
        for versions in (False, True):
            r = evaluate(kb, qrels, versions=versions).overall
            print(f"{tag} {'versions' if versions else 'strict  '} "
                  + "  ".join(f"{m} {r[m]:.3f}" for m in ("recall@1", "recall@5", "recall@10", "mrr@10")), flush=True)
    if xquad:
        import language_bias
        from xquad import DEFAULT_DATA

        got = language_bias.xquad_mixed(kb, language_bias.LANGS, DEFAULT_DATA, xquad, "hybrid")
        print(f"{tag} XQuAD mixed R@1 " + "  ".join(
            f"{lang} same {d['same']['recall@1']:.3f} cross {d['cross']['recall@1']:.3f}" if d["same"]
            else f"{lang} cross {d['cross']['recall@1']:.3f}" for lang, d in got.items()), flush=True)
