"""Ingest progress: a bar on a terminal, one plain line per file otherwise (logs, CI).

Both count passages, not files: embedding is most of the time, and one 331-passage PDF takes
as long as dozens of small files, so a bar that counts files stands still through it. Both
show the passages done, the rate and the time left (from the rate so far and the passages
still expected: those of the documents being embedded, and, for files not yet read, the
mean of the documents read so far).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from kb.ingest.report import FileOutcome, IngestReport, ProgressEvent
from kb.render import count

#: a plain-output line about a long document every this many seconds
PLAIN_EVERY = 30.0


class Throughput:
    """Passages done, the rate and the time left of one ingest."""

    def __init__(self, files: int) -> None:
        self.files = files
        self.files_done = 0
        self.read_files = 0     # files read and embedded in this run (not skipped as unchanged)
        self.read_passages = 0  # their passages, for the mean
        self.done = 0           # passages of finished documents
        self.current_total = 0  # passages of the document being embedded ...
        self.current_done = 0   # ... and how many of them are done
        self.started: float | None = None

    def document(self, passages: int) -> None:
        if self.started is None:
            self.started = time.monotonic()
        self.current_total, self.current_done = passages, 0

    def embedded(self, passages: int) -> None:
        self.current_done = min(passages, self.current_total)

    def file(self, outcome: FileOutcome) -> None:
        self.files_done += 1
        if outcome.status in ("added", "replaced"):
            self.read_files += 1
            self.read_passages += outcome.passages
            self.done += outcome.passages
        self.current_total = self.current_done = 0

    @property
    def passages(self) -> int:
        return self.done + self.current_done

    def rate(self) -> float | None:
        """Passages per second since the first document reached the model."""
        if self.started is None or not self.passages:
            return None
        return self.passages / max(1e-6, time.monotonic() - self.started)

    def expected(self) -> int:
        """Passages this run will have embedded when it ends (an estimate until the last file)."""
        left = max(0, self.files - self.files_done - (1 if self.current_total else 0))
        mean = (self.read_passages + self.current_total) / max(1, self.read_files + (1 if self.current_total else 0))
        return self.done + self.current_total + round(left * mean)

    def seconds_left(self) -> float | None:
        rate = self.rate()
        return None if not rate else max(0.0, self.expected() - self.passages) / rate

    def short(self) -> str:
        """"1,204/~3,100 passages · 1.7/s · ~19 min left · 14/41 files": for a terminal line."""
        rate = self.rate()
        files = f"{self.files_done}/{self.files} files"
        if rate is None:
            return f"reading the first files… · {files}"
        left = duration(self.seconds_left()).replace("about ", "~").replace("under a minute", "<1 min")
        speed = f"{rate:.0f}" if rate >= 10 else f"{rate:.1f}"
        return f"{self.passages:,}/~{self.expected():,} passages · {speed}/s · {left} left · {files}"

    def summary(self) -> str:
        """"1,204 of about 3,100 passages, 1.7 passages/s, about 19 min left"."""
        rate = self.rate()
        if rate is None:
            return f"{self.files_done}/{self.files} files"
        files_rate = self.files_done / max(1e-6, time.monotonic() - self.started)  # type: ignore[operator]
        return (f"{self.passages:,} of about {self.expected():,} passages, {rate:.1f} passages/s, "
                f"{self.files_done}/{self.files} files ({files_rate:.2f} files/s), {duration(self.seconds_left())} left")


def duration(seconds: float | None) -> str:
    """"about 19 min", "under a minute", "about 1 h 05 min"."""
    if seconds is None:
        return "unknown time"
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    return f"about {minutes} min" if minutes < 60 else f"about {minutes // 60} h {minutes % 60:02d} min"


class IngestProgress:
    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty() and not quiet
        self._bar: Any = None
        self._task: Any = None
        self._said = 0.0
        self._long_said = 0.0
        self.throughput = Throughput(0)

    def event(self, event: ProgressEvent) -> None:
        kind = event.kind
        if kind in ("companion", "sparse"):
            self._backfill(kind, event.done, event.total)
        elif kind == "start":
            self.throughput = Throughput(event.files)
            if self.tty:
                self._start_bar()
        elif kind == "document":
            self.throughput.document(event.passages)
            self._long_said = time.monotonic()
            self._update(event.path)
        elif kind == "embedded":
            self.throughput.embedded(event.passages)
            self._update(event.path)
            self._plain_long(event.path)
        elif kind == "file" and event.outcome is not None:
            self.throughput.file(event.outcome)
            self._file(event.outcome)

    def _start_bar(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn

        self._bar = Progress(BarColumn(bar_width=16), TextColumn("{task.fields[summary]}"),
                             TextColumn("{task.description}"), console=_stderr_console(), transient=True)
        self._bar.start()
        self._task = self._bar.add_task("", total=None, summary=self.throughput.short())

    def _update(self, path: str) -> None:
        if self._bar is None:
            return
        t = self.throughput
        self._bar.update(self._task, completed=t.passages, total=max(t.expected(), t.passages) or None,
                         description=_short("/".join(Path(path).parts[-2:]), 32), summary=t.short())

    def _file(self, outcome: FileOutcome) -> None:
        if self._bar is not None:
            self._update(outcome.path)
            if outcome.status == "failed":
                self._bar.console.print(f"[red]failed[/red] {outcome.path}: {outcome.reason}", markup=True, highlight=False)
            for warning in outcome.warnings:
                self._bar.console.print(f"[yellow]warning[/yellow] {outcome.path}: {warning}", markup=True, highlight=False)
        elif not self.quiet:
            detail = (outcome.reason if outcome.status == "failed"
                      else f"{count(outcome.pages, 'page')}, {count(outcome.passages, 'passage')}")
            progress = f" · {self.throughput.summary()}" if outcome.status in ("added", "replaced") else ""
            print(f"{outcome.status:<9} {outcome.path} ({detail}){progress}", file=sys.stderr, flush=True)
            for warning in outcome.warnings:
                print(f"warning   {outcome.path}: {warning}", file=sys.stderr, flush=True)

    def _plain_long(self, path: str) -> None:
        """Without a bar, a line every PLAIN_EVERY seconds while one long document is embedded."""
        now = time.monotonic()
        if self._bar is not None or self.quiet or now - self._long_said < PLAIN_EVERY:
            return
        self._long_said = now
        t = self.throughput
        print(f"embedding {path}: {t.current_done}/{t.current_total} passages · {t.summary()}",
              file=sys.stderr, flush=True)

    def _backfill(self, kind: str, done: int, total: int) -> None:
        """Stored passages getting their companion vectors or sparse codes (kb/derived/): a line every 10 s."""
        now = time.monotonic()
        if self.quiet or total == 0 or (done != total and now - self._said < 10):
            return
        self._said = now
        what = "companion vectors" if kind == "companion" else "sparse codes"
        print(f"{what} for stored passages: {done}/{total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def summary(self, report: IngestReport) -> None:
        d = report.to_dict()
        secs = d["seconds"]
        rate = f", {d['embedded'] / secs['total']:.1f} passages/s" if d["embedded"] and secs["total"] else ""
        coded = f"; {count(d['sparse_coded'], 'passage')} given sparse codes" if d["sparse_coded"] else ""
        print(
            f"{d['added']} added, {d['replaced']} replaced, {d['unchanged']} unchanged, {d['failed']} failed; "
            f"{count(d['pages'], 'page')}, {count(d['passages'], 'passage')} ({d['embedded']} embedded) "
            f"in {secs['total']:.1f} s{rate}{coded}",
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
