"""A real two-node Ray cluster on this machine, for the `kb ingest --ray` tests.

Both nodes are started with ``ray start --block`` in sessions of their own and pinned to
loopback (``--node-ip-address=127.0.0.1``), with their own ports, temp folder and a small
object store. Ray listens on every interface, so the cluster requires a token of its own
(:attr:`Cluster.auth`: give it to every process that joins it), never the one in ~/.ray. Stopping kills exactly the processes of those two sessions: never
``ray stop``, which would stop every Ray cluster on the machine, other people's too.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAY = Path(sys.executable).with_name("ray")
OBJECT_STORE = str(100 * 1024 * 1024)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def session_members(sids: set[int]) -> list[int]:
    """Pids of the live processes in these sessions."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) in sids:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass
class Cluster:
    """``address`` to give ``kb ingest --ray``; ``stop()`` always, in a finally."""

    address: str
    folder: Path
    #: environment variables a process needs to join the cluster (its token)
    auth: dict[str, str] = field(default_factory=dict)
    nodes: list[subprocess.Popen] = field(default_factory=list)

    def pids(self) -> list[int]:
        return session_members({p.pid for p in self.nodes})

    def worker_pids(self, name: str = "IngestWorker") -> list[int]:
        """The processes of Ray actors of class ``name`` (Ray titles them ``ray::<class>...``)."""
        return [p for p in self.pids() if cmdline(p).startswith(f"ray::{name}")]

    def stop(self) -> None:
        sids = {p.pid for p in self.nodes}
        for node in self.nodes:  # `ray start --block` stops its node's processes on SIGTERM
            if node.poll() is None:
                node.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while session_members(sids) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in session_members(sids):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for node in self.nodes:
            try:
                node.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


def _env(cluster: Cluster) -> dict[str, str]:
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **cluster.auth)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def start_cluster(cpus_per_node: int = 1, timeout: float = 120) -> Cluster:
    """A head and a second node, each with ``cpus_per_node`` CPUs; raises if they do not come up."""
    folder = Path(tempfile.mkdtemp(prefix="kbray-", dir="/tmp"))  # short: Ray's socket paths must fit
    port = free_port()
    address = f"127.0.0.1:{port}"

    def common() -> list[str]:  # each node's own ports: two nodes share this machine
        return ["--block", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus_per_node}",
                f"--object-store-memory={OBJECT_STORE}", f"--temp-dir={folder}", "--disable-usage-stats",
                f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}",
                f"--runtime-env-agent-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}"]

    token = folder / "auth_token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    cluster = Cluster(address, folder, {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)})
    try:
        head = [str(RAY), "start", "--head", f"--port={port}", "--include-dashboard=false", f"--dashboard-port={free_port()}",
                f"--ray-client-server-port={free_port()}", *common()]
        cluster.nodes.append(_launch(cluster, head, folder / "head.log"))
        _wait(cluster, 1, timeout)
        node = [str(RAY), "start", f"--address={address}", *common()]
        cluster.nodes.append(_launch(cluster, node, folder / "node.log"))
        _wait(cluster, 2, timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _launch(cluster: Cluster, command: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(command, env=_env(cluster), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(cluster: Cluster, nodes: int, timeout: float) -> None:
    """Until the cluster counts ``nodes`` live nodes (asked through Ray's own client)."""
    probe = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
             "print(sum(1 for n in ray.nodes() if n['Alive']))")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node in cluster.nodes:
            if node.poll() is not None:
                logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in cluster.folder.glob("*.log"))
                raise RuntimeError(f"a Ray node exited with {node.returncode}:\n{logs}")
        done = subprocess.run([sys.executable, "-c", probe, cluster.address], env=_env(cluster), capture_output=True,
                              text=True, timeout=60)
        if done.returncode == 0 and done.stdout.strip().isdigit() and int(done.stdout.strip()) >= nodes:
            return
        time.sleep(1)
    raise RuntimeError(f"the Ray cluster did not reach {nodes} nodes within {timeout:.0f} s")
