"""Bounded load test of ``POST /search`` on the loopback interface.

N concurrent clients (asyncio + httpx, one connection each) send realistic queries in
several languages for a fixed time, then the script prints requests/s, latency
percentiles and the error count. It is bounded on purpose: a time limit, a client
limit, and loopback targets only, so it can never be pointed at someone else's server.

    python bench/load.py --index indexes/default              # starts `kb serve` itself
    python bench/load.py --url http://127.0.0.1:8000         # a server already running
    python bench/load.py --seconds 10 --clients 8 --json
    python bench/load.py --workers 2 --novel --memory   # `kb serve --workers 2`, new questions, PSS

``--novel`` makes every request a question never asked before (the server's query-vector
cache never hits: each costs an encoding); without it the clients cycle through QUERIES,
which after the first round are all cached. ``--workers N`` starts ``kb serve --workers N``.
``--memory`` reports the proportional set size (PSS) of the server's processes after the
load, summed: shared pages (the memory-mapped vectors, the page cache of the database)
counted once across the processes that share them.

Exit status 1 if any request failed (non-200 or a transport error).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parents[1]
MAX_CLIENTS = 200
MAX_SECONDS = 600
#: passes over QUERIES on new connections before a repeated-question run (each worker sees each)
WARM_PASSES = 8

#: what facilitators and analysts actually ask, in the corpus's languages
QUERIES: tuple[str, ...] = (
    "recognition of skills and qualifications of migrant workers",
    "barriers to labour mobility for refugees",
    "regular pathways for migration and family reunification",
    "ethical recruitment and decent work",
    "social cohesion and inclusion of migrants in host communities",
    "return and reintegration case management",
    "Los Angeles Declaration on Migration and Protection",
    "skills partnerships between countries of origin and destination",
    "reconnaissance des compétences des personnes ayant besoin d'une protection internationale",
    "obstacles à l'information sur les programmes de migration de main-d'œuvre",
    "voies de migration régulière et souples",
    "reconocimiento mutuo de aptitudes, cualificaciones y competencias",
    "desarrollo de aptitudes para los trabajadores migrantes",
    "contratación equitativa y trabajo decente",
    "Declaração de Los Angeles sobre Migração e Proteção",
    "integração de migrantes e refugiados no mercado de trabalho",
    "Anerkennung ausländischer Berufsqualifikationen",
    "Integration von Geflüchteten in den Arbeitsmarkt",
    "EU Talent Pool",
    "GCM objective 18",
)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    samples: list[str] = field(default_factory=list)  # the first few failures, to diagnose

    def record(self, status: str, seconds: float, why: str = "") -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == "200":
            self.latencies.append(seconds)
        else:
            self.errors += 1
            if len(self.samples) < 5:
                self.samples.append(f"{status} after {seconds * 1000:.0f} ms: {why[:200]}")


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"refusing {url}: this load test targets loopback addresses only")


#: words that make a question new without making it nonsense (``--novel``)
NOVEL_WORDS = ("women", "youth", "rural", "digital", "urban", "health", "seasonal", "domestic", "informal",
               "returnees", "students", "farmers", "nurses", "engineers", "border", "coastal", "regional", "national")


def novel_question(number: int) -> str:
    """The ``number``-th question of a sequence in which no two are the same text."""
    base = QUERIES[number % len(QUERIES)]
    n = number // len(QUERIES)
    words = len(NOVEL_WORDS)
    return f"{base} {NOVEL_WORDS[n % words]} {NOVEL_WORDS[(n // words) % words]} {n // (words * words)}"


class Connection:
    """One keep-alive HTTP/1.1 connection, written and read by hand.

    On a 2-core machine the load generator competes with the server for the cores: httpx
    spent ~2.7 CPU ms a request, a third of a core at 130 requests/s, which a server with two
    worker processes needs. This costs a tenth of that. Loopback, JSON, our own server only.
    """

    def __init__(self, url: str, headers: dict[str, str], timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: dict) -> tuple[int, bytes]:
        payload = json.dumps(body).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n{self.extra}\r\n").encode()
        try:
            return await asyncio.wait_for(self._exchange(head + payload), self.timeout)
        except BaseException:
            self.close()  # a half-read answer must not be taken for the next one's
            raise

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length, chunked, close = 0, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            body = b""
            while size := int((await self.reader.readline()).strip() or b"0", 16):
                body += await self.reader.readexactly(size)
                await self.reader.readline()
            await self.reader.readline()
        else:
            body = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def client_loop(url: str, headers: dict[str, str], number: int, deadline: float, k: int, tally: Tally,
                      novel: bool = False, clients: int = 1) -> None:
    connection = Connection(url, headers)
    i = number
    while time.perf_counter() < deadline:
        body = {"query": novel_question(i) if novel else QUERIES[i % len(QUERIES)], "k": k}
        i += clients if novel else 1
        started = time.perf_counter()
        try:
            code, data = await connection.post("/search", body)
            status, why = str(code), data.decode(errors="replace") if code != 200 else ""
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as err:
            status, why = type(err).__name__, repr(err)
        tally.record(status, time.perf_counter() - started, why)
    connection.close()


async def run_load(url: str, clients: int, seconds: float, k: int, headers: dict[str, str],
                   novel: bool = False) -> tuple[Tally, float]:
    tally = Tally()
    if not novel:  # every worker encodes each repeated question once before the clock starts
        async with httpx.AsyncClient(base_url=url, timeout=60.0, headers={**headers, "Connection": "close"}) as warm:
            for _ in range(WARM_PASSES):
                await asyncio.gather(*(warm.post("/search", json={"query": q, "k": k}) for q in QUERIES))
    async with httpx.AsyncClient(base_url=url, timeout=60.0, headers=headers) as client:
        await client.post("/search", json={"query": QUERIES[0], "k": k})  # warm the connection path
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(client_loop(url, headers, n, deadline, k, tally, novel, clients) for n in range(clients)))
    elapsed = time.perf_counter() - started
    return tally, elapsed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(index: Path, log_path: Path, workers: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-c", "from kb.cli import main; main()", "serve", "--index", str(index),
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               *(["--workers", str(workers)] if workers else [])]
    env = {k: v for k, v in os.environ.items() if k != "KB_API_KEY"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"kb serve exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        ready = not workers or f"with {workers} worker" in log_path.read_text(errors="replace")
        try:
            if ready and httpx.get(url + "/health", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("kb serve did not start within 180 s")


def tree_pss_mb(pid: int) -> dict[str, float]:
    """PSS (MB) of a process and its descendants, from /proc/<pid>/smaps_rollup; and their count."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    total = 0.0
    for member in tree:
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return {"pss_mb": round(total, 1), "processes": len(tree)}


def report(tally: Tally, elapsed: float, clients: int, health: dict[str, object]) -> dict[str, object]:
    ordered = sorted(tally.latencies)
    total = len(ordered) + tally.errors
    return {
        "clients": clients, "seconds": round(elapsed, 2), "requests": total,
        "requests_per_s": round(total / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(ordered, 50) * 1000, 1), "p95_ms": round(percentile(ordered, 95) * 1000, 1),
        "p99_ms": round(percentile(ordered, 99) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
        "errors": tally.errors, "statuses": tally.statuses, "error_samples": tally.samples,
        "index": {k: health.get(k) for k in ("documents", "passages", "model")},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (loopback only); default: start `kb serve`")
    parser.add_argument("--index", type=Path, default=Path(os.environ.get("KB_INDEX", "indexes/default")),
                        help="index to serve when starting a server (default: $KB_INDEX or indexes/default)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to send requests (default 30)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--k", type=int, default=10, help="passages per query (default 10)")
    parser.add_argument("--api-key", default=os.environ.get("KB_API_KEY"), help="sent as X-API-Key if given")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--workers", type=int, default=None, help="start `kb serve --workers N`")
    parser.add_argument("--novel", action="store_true", help="every question new (no cached query vector)")
    parser.add_argument("--memory", action="store_true", help="report the server processes' summed PSS after the load")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS or not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--clients must be 1..{MAX_CLIENTS} and --seconds 0..{MAX_SECONDS}")

    process = None
    url = args.url
    if url:
        require_loopback(url)
    else:
        log_path = Path(tempfile.gettempdir()) / f"kb-load-{os.getpid()}.log"
        process, url = start_server(args.index, log_path, args.workers)
    memory = None
    try:
        headers = {"X-API-Key": args.api_key} if args.api_key else {}
        health = httpx.get(url + "/health", timeout=10).json()
        tally, elapsed = asyncio.run(run_load(url, args.clients, args.seconds, args.k, headers, args.novel))
        if args.memory and process is not None:
            memory = tree_pss_mb(process.pid)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    figures = report(tally, elapsed, args.clients, health)
    figures.update(workers=args.workers, novel=args.novel, memory=memory)
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{figures['requests']} requests in {figures['seconds']} s from {args.clients} clients "
              f"against {url} ({figures['index']})")
        print(f"  throughput  {figures['requests_per_s']} requests/s")
        print(f"  latency     p50 {figures['p50_ms']} ms   p95 {figures['p95_ms']} ms   "
              f"p99 {figures['p99_ms']} ms   max {figures['max_ms']} ms")
        print(f"  errors      {figures['errors']}   statuses {figures['statuses']}")
        if memory:
            print(f"  memory      {memory['pss_mb']} MB PSS over {memory['processes']} processes")
        for sample in tally.samples:
            print(f"    {sample}")
    return 1 if tally.errors else 0


if __name__ == "__main__":
    sys.exit(main())
