"""Ingest progress: a bar on a terminal, one plain line per file otherwise (logs, CI).

Both show the files done and the rate: the bar in a column, plain output in a ``progress:``
line every :data:`EVERY_SECONDS` and at each tenth of a run of :data:`TENTHS_FROM` files or more.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from kb.ingest import FileOutcome, IngestReport
from kb.render import count

EVERY_SECONDS = 10.0
TENTHS_FROM = 10


class IngestProgress:
    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty() and not quiet
        self._bar: Any = None
        self._task: Any = None
        self._total = 0
        self._said = 0.0
        self._started = time.monotonic()
        self._done = 0
        self._passages = 0
        self._line_at = time.monotonic()

    def event(self, kind: str, outcome: FileOutcome | None) -> None:
        if kind == "companion" and outcome is not None:
            self._companion(outcome.path)
            return
        if kind == "start" and outcome is not None:
            self._total = int(outcome.path)
            self._started = self._line_at = time.monotonic()
            if self.tty:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

                self._bar = Progress(TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                                     TextColumn("{task.description}"),
                                     console=_stderr_console(), transient=True)
                self._bar.start()
                self._task = self._bar.add_task("", total=self._total, rate="")
            return
        if kind != "file" or outcome is None:
            return
        self._done += 1
        self._passages += outcome.passages if outcome.status in ("added", "replaced") else 0
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=_short(outcome.path), rate=self.rate())
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
            self._progress_line()

    def rate(self) -> str:
        """Files and passages a second since the run started."""
        seconds = max(time.monotonic() - self._started, 1e-9)
        return f"{self._done / seconds:.2f} files/s, {self._passages / seconds:.1f} passages/s"

    def _progress_line(self) -> None:
        now = time.monotonic()
        tenth = self._total >= TENTHS_FROM and self._done * 10 // self._total != (self._done - 1) * 10 // self._total
        if self._done < self._total and (tenth or now - self._line_at >= EVERY_SECONDS):
            self._line_at = now
            print(f"progress: {self._done}/{self._total} files, {self.rate()}", file=sys.stderr, flush=True)

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
