"""One Apertium language pair as a long-lived process (null-flush mode).

Starting an Apertium pipeline costs ~0.2-0.5 s (eleven programs load their transducers), far
more than translating a question (~1 ms warm), so each pair runs once per kb process and is fed
texts separated by NUL characters. The ``apertium`` shell script cannot be used for this: its
text deformatter (apertium-destxt) never flushes on NUL. The pair's pipeline is therefore taken
from ``apertium-wblank-mode -z`` (the pipeline Apertium itself runs, every stage told to flush on
NUL) and the text is given to it unformatted, with the stream format's special characters
replaced by spaces (they never matter to keyword search, and an unescaped ``^`` or ``[`` would
desynchronise the stream). ``lt-proc -b`` waits for one character after a word's closing ``$``
before it flushes, so every text is sent with a trailing newline.
"""

from __future__ import annotations

import os
import re
import select
import shlex
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Sequence

MODES_DIR = Path("/usr/share/apertium/modes")
#: characters with a meaning in Apertium's stream format (and NUL, our separator)
_SPECIAL = re.compile(r"[\[\]^$/\\<>@{}*#~|\x00]")
#: marks an untranslated or half-generated word may keep in the output (@unknown, #lemma, \<tag\>)
_LEFTOVER = re.compile(r"\\|[#@*~]|<[a-z_0-9]+>")
#: longest text sent in one piece; longer ones are cut at sentence or word boundaries
MAX_PIECE = 4000


class ApertiumError(RuntimeError):
    """The pair could not translate a text: it died, hung or is not installed."""


def mode_pipeline(mode: str, modes_dir: Path = MODES_DIR) -> str:
    """The shell pipeline of ``mode`` with every stage in null-flush mode."""
    path = modes_dir / f"{mode}.mode"
    tool = shutil.which("apertium-wblank-mode")
    if tool is None or not path.is_file():
        raise ApertiumError(f"Apertium pair {mode} is not installed ({path})")
    out = subprocess.run([tool, "-z", str(path)], capture_output=True, text=True, timeout=30)
    if out.returncode != 0 or not out.stdout.strip():
        raise ApertiumError(f"apertium-wblank-mode failed for {mode}: {out.stderr.strip()[:200]}")
    return out.stdout.strip()


def stage_commands(pipeline: str) -> list[list[str]]:
    """The pipeline's stages as argument lists: $1 is the generator's option (-n: no marks on
    unknown words, as `apertium -u` passes), $2 the tagger's extra options (none)."""
    stages = []
    for stage in pipeline.split("|"):
        argv = [{"$1": "-n"}.get(a, a) for a in shlex.split(stage) if a != "$2"]
        if argv:
            stages.append(argv)
    return stages


def clean_input(text: str) -> str:
    """``text`` safe for the stream: special characters become spaces, one trailing newline."""
    return _SPECIAL.sub(" ", text).rstrip("\n") + "\n"


def clean_output(text: str) -> str:
    """The translation without stream leftovers (escapes, unknown-word marks, stray tags)."""
    return _LEFTOVER.sub("", text).strip()


def pieces(text: str, limit: int = MAX_PIECE) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` characters, at a sentence end or a space
    where there is one: a stage's buffers and its time grow with the input."""
    out: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind(". ", 0, limit), text.rfind("\n", 0, limit))
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        out.append(text[: cut + 1])
        text = text[cut + 1:]
    out.append(text)
    return out


def _checked(text: str, out: str) -> str:
    """``out``, unless it is empty for a text with words: Apertium passes unknown words
    through, so nothing back means a stage died mid-text (its successors flush and exit)."""
    if not out and any(c.isalnum() for c in text):
        raise ApertiumError("an empty translation: a stage of the pipeline died")
    return out


class ApertiumPipe:
    """A running pipeline for one pair; thread-safe (one text at a time), restarted on death.

    ``timeout``: seconds allowed per text, plus ``per_char`` per character; a pipeline that
    overruns is killed (every stage) and started again on the next call.
    """

    def __init__(self, mode: str, modes_dir: Path = MODES_DIR, timeout: float = 10.0,
                 per_char: float | None = None) -> None:
        self.mode = mode
        self.modes_dir = modes_dir
        self.timeout = timeout
        #: a 1,500-character passage gets 1.3 times the base allowance by default
        self.per_char = timeout / 5000 if per_char is None else per_char
        #: the pipeline's running stages: we write to the first and read the last
        self._procs: list[subprocess.Popen[bytes]] = []
        self._stages: list[list[str]] | None = None
        self._lock = threading.Lock()
        self._pending = b""
        #: times the pipeline was (re)started, for tests and stats
        self.starts = 0

    # -- process ---------------------------------------------------------------------
    def _ends(self) -> tuple[IO[bytes], IO[bytes]]:
        """(stdin of the first stage, stdout of the last), started when not running."""
        if not (self._procs and all(p.poll() is None for p in self._procs)):
            self._start()
        first, last = self._procs[0].stdin, self._procs[-1].stdout
        assert first is not None and last is not None
        return first, last

    def _start(self) -> None:
        """Start the stages chained by pipes (no shell: each one is ours to kill and reap)."""
        self._kill()
        if self._stages is None:
            self._stages = stage_commands(mode_pipeline(self.mode, self.modes_dir))
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for argv in self._stages:
                procs.append(subprocess.Popen(
                    argv, stdin=procs[-1].stdout if procs else subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, bufsize=0, start_new_session=True))
                if len(procs) > 1 and procs[-2].stdout:
                    procs[-2].stdout.close()  # the next stage holds it now
        except OSError as err:
            self._procs = procs
            self._kill()
            raise ApertiumError(f"cannot start Apertium {self.mode}: {err}") from None
        self._procs = procs
        self._pending = b""
        self.starts += 1

    def _kill(self) -> None:
        procs, self._procs = self._procs, []
        for proc in procs:
            try:
                proc.kill()
            except OSError:
                pass
        for proc in procs:
            for stream in (proc.stdin, proc.stdout):
                try:
                    if stream:
                        stream.close()
                except OSError:
                    pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    @property
    def running(self) -> bool:
        return bool(self._procs) and all(p.poll() is None for p in self._procs)

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def close(self) -> None:
        with self._lock:
            self._kill()

    def __del__(self) -> None:  # a forgotten pipe must not leave eleven processes behind
        try:
            self._kill()
        except Exception:
            pass

    # -- translating -----------------------------------------------------------------
    def translate(self, text: str) -> str:
        """``text`` translated; ApertiumError (and a restart next time) when the pair fails."""
        if not text.strip():
            return ""
        return " ".join(self._one(piece) for piece in pieces(text))

    def translate_many(self, texts: Sequence[str]) -> list[str | None]:
        """Each text translated, None for one the pair chokes on (it is restarted after it).

        The texts are written by a second thread while this one reads, so the pipeline's
        eleven stages work on different texts at once instead of waiting for each other.
        """
        results: list[str | None] = [None] * len(texts)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        for i, t in enumerate(texts):
            if not t.strip():
                results[i] = ""
        long = [i for i in todo if len(texts[i]) > MAX_PIECE]
        todo = [i for i in todo if len(texts[i]) <= MAX_PIECE]
        done = self._stream([texts[i] for i in todo]) if todo else []
        for i, out in zip(todo, done):
            results[i] = out
        for i in [*[i for i, out in zip(todo, done) if out is None], *long]:
            try:  # one at a time: the text that choked the stream gets its own failure
                results[i] = self.translate(texts[i])
            except ApertiumError:
                results[i] = None
        return results

    def _one(self, text: str, retry: bool = True) -> str:
        with self._lock:
            try:
                stdin, stdout = self._ends()
                stdin.write(clean_input(text).encode("utf-8") + b"\0")
                out = _checked(text, clean_output(self._read(stdout, self.timeout + self.per_char * len(text))))
            except (OSError, ApertiumError) as err:
                self._kill()
                if not retry:
                    raise ApertiumError(f"Apertium {self.mode} failed: {err}") from None
            else:
                return out
        return self._one(text, retry=False)  # once more on a fresh pipeline: the last one died

    def _stream(self, texts: Sequence[str]) -> list[str | None]:
        """Pipelined translation of short texts; from the first failure on, None."""
        out: list[str | None] = [None] * len(texts)
        with self._lock:
            try:
                stdin, stdout = self._ends()
            except ApertiumError:
                return out
            payload = [clean_input(t).encode("utf-8") + b"\0" for t in texts]
            failed = threading.Event()

            def write() -> None:
                try:
                    for chunk in payload:
                        if failed.is_set():
                            return
                        stdin.write(chunk)
                except (OSError, ValueError):  # the pipeline died, or was killed and closed
                    failed.set()

            writer = threading.Thread(target=write, name=f"kb-apertium-{self.mode}", daemon=True)
            writer.start()
            try:
                for i, text in enumerate(texts):
                    out[i] = _checked(text, clean_output(self._read(stdout, self.timeout + self.per_char * len(text))))
            except (OSError, ApertiumError):
                failed.set()
                self._kill()
            writer.join(timeout=5)
        return out

    def _read(self, stdout: IO[bytes], timeout: float) -> str:
        """Output up to the next NUL, within ``timeout`` seconds."""
        fd = stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\0" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ApertiumError(f"no answer within {timeout:.1f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise ApertiumError("the pipeline exited")
            self._pending += chunk
        head, _, self._pending = self._pending.partition(b"\0")
        return head.decode("utf-8", "replace")
