"""Ingest progress: a bar on a terminal, one plain line per file otherwise (logs, CI)."""

from __future__ import annotations

import sys
from typing import Any

from kb.ingest import FileOutcome, IngestReport
from kb.render import count


class IngestProgress:
    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty() and not quiet
        self._bar: Any = None
        self._task: Any = None
        self._total = 0
        self._said = 0.0

    def event(self, kind: str, outcome: FileOutcome | None) -> None:
        if kind == "companion" and outcome is not None:
            self._companion(outcome.path)
            return
        if kind == "start" and outcome is not None:
            self._total = int(outcome.path)
            if self.tty:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

                self._bar = Progress(TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), TextColumn("{task.description}"),
                                     console=_stderr_console(), transient=True)
                self._bar.start()
                self._task = self._bar.add_task("", total=self._total)
            return
        if kind != "file" or outcome is None:
            return
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=_short(outcome.path))
            if outcome.status == "failed":
                self._bar.console.print(f"[red]failed[/red] {outcome.path}: {outcome.reason}", markup=True, highlight=False)
            for warning in outcome.warnings:
                self._bar.console.print(f"[yellow]warning[/yellow] {outcome.path}: {warning}", markup=True, highlight=False)
        elif not self.quiet:
            detail = (outcome.reason if outcome.status == "failed"
                      else f"{count(outcome.pages, 'page')}, {count(outcome.passages, 'passage')}")
            print(f"{outcome.status:<9} {outcome.path} ({detail})", file=sys.stderr, flush=True)
            for warning in outcome.warnings:
                print(f"warning   {outcome.path}: {warning}", file=sys.stderr, flush=True)

    def _companion(self, progress: str) -> None:
        """An existing index getting its companion model's vectors (kb/derived/companion.py): a line every 10 s."""
        import time

        done, total = progress.split("/")
        now = time.monotonic()
        if self.quiet or total == "0" or (done != total and now - self._said < 10):
            return
        self._said = now
        print(f"companion vectors for stored passages: {done}/{total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def summary(self, report: IngestReport) -> None:
        d = report.to_dict()
        secs = d["seconds"]
        print(
            f"{d['added']} added, {d['replaced']} replaced, {d['unchanged']} unchanged, {d['failed']} failed; "
            f"{count(d['pages'], 'page')}, {count(d['passages'], 'passage')} ({d['embedded']} embedded) "
            f"in {secs['total']:.1f} s",
            file=sys.stderr,
        )
        for failure in report.failed:
            print(f"  failed: {failure.path}: {failure.reason}", file=sys.stderr)
        if report.interrupted:
            print("interrupted: documents finished before the stop are kept; run again to continue", file=sys.stderr)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def _short(path: str, width: int = 40) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1):]
