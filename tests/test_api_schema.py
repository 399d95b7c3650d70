"""Property-based tests of the live API against its own ``/openapi.json`` (schemathesis).

Schemathesis generates requests from the published schema, valid and invalid ones, and
checks every answer: no 5xx, status codes and bodies that conform to the schema, invalid
input rejected, valid input accepted, undocumented methods refused, and (on the keyed
server) no access without the key. It is driven through its CLI in a subprocess, against
the same real `kb serve` processes as ``test_api.py``; the command is, in effect::

    python -m schemathesis.cli run http://127.0.0.1:PORT/openapi.json --checks all \\
        --max-examples 120 --seed 20251125 --workers 2 \\
        --report json --report-json-path OUT.json

(plus ``-H "X-API-Key: KEY"`` for the keyed server). Over the four phases (examples,
coverage, fuzzing, stateful) that is 1,300 to 1,500 requests in under a minute on two cores.
Set ``KB_SCHEMATHESIS_SEED`` to explore other inputs, ``KB_SCHEMATHESIS_EXAMPLES`` for more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytest.register_assert_rewrite("conftest_api_helpers")

from conftest_api_helpers import API_KEY, CORS_ORIGIN, Server, build_index, start_server

pytest_plugins = ["conftest_api_helpers"]
#: minutes of generated requests, and two servers of their own
pytestmark = pytest.mark.slow

SEED = os.environ.get("KB_SCHEMATHESIS_SEED", "20251125")
EXAMPLES = int(os.environ.get("KB_SCHEMATHESIS_EXAMPLES", "120"))
MIN_REQUESTS = 1000


@pytest.fixture(scope="module")
def schema_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Conformance does not depend on the model: the hashing embedder answers a 2,000-character
    query or a 12-question brief at once, so 1,000+ requests fit in CI's budget."""
    # imported here, not at collection, which the fast tier would pay for
    pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency: pip install schemathesis")
    index_dir = tmp_path_factory.mktemp("schema") / "index"
    build_index(index_dir)
    return index_dir


def _serve(index: Path, factory: pytest.TempPathFactory, name: str, env: dict[str, str]):
    server = start_server(index, factory.mktemp("logs") / f"{name}.log", env)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_server(schema_index: Path, tmp_path_factory: pytest.TempPathFactory):
    yield from _serve(schema_index, tmp_path_factory, "schema_server", {"KB_CORS_ORIGINS": CORS_ORIGIN})


@pytest.fixture(scope="module")
def keyed_server(schema_index: Path, tmp_path_factory: pytest.TempPathFactory):
    yield from _serve(schema_index, tmp_path_factory, "schema_keyed", {"KB_API_KEY": API_KEY})


def run_schemathesis(server: Server, report: Path, examples: int, *extra: str) -> tuple[dict, str]:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/openapi.json",
        "--checks", "all", "--max-examples", str(examples), "--seed", SEED, "--workers", "2",
        # response time belongs to bench/load.py, not to a conformance test: a 2,000-character
        # query or a 12-question brief takes seconds of e5 CPU on a loaded 2-core machine
        "--request-timeout", "120", "--max-response-time", "120", "--no-color",
        "--report", "json", "--report-json-path", str(report), *extra,
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_COLOR": "1"})
    output = proc.stdout + proc.stderr
    assert report.exists(), f"schemathesis wrote no report (exit {proc.returncode}):\n{output[-5000:]}"
    data = json.loads(report.read_text())
    assert proc.returncode == 0, f"schemathesis failed (exit {proc.returncode}):\n{output[-8000:]}"
    return data, output


def summary(data: dict) -> str:
    cases = data["test_cases"]
    return (f"{cases['generated']} requests generated, {cases['with_failures']} with failures, "
            f"{len(data['errors'])} errors, {data['running_time']:.1f}s, seed {data['seed']}")


def test_schemathesis_open_server(api_server: Server, tmp_path: Path) -> None:
    data, _ = run_schemathesis(api_server, tmp_path / "report.json", EXAMPLES)
    print("schemathesis (no key):", summary(data))
    spec = httpx.get(f"{api_server.url}/openapi.json").json()
    operations = sum(len(methods) for methods in spec["paths"].values())
    assert operations >= 7  # search, health, documents, document, passage, briefs, types
    assert data["operations"]["tested"] == data["operations"]["total"] == operations
    assert data["failures"] == [] and data["errors"] == []
    assert data["test_cases"]["generated"] >= MIN_REQUESTS


def test_schemathesis_keyed_server(keyed_server: Server, tmp_path: Path) -> None:
    """With a key: the same checks, and ``ignored_auth`` proves requests without it are refused."""
    data, _ = run_schemathesis(keyed_server, tmp_path / "report.json", max(10, EXAMPLES // 6),
                               "--header", f"X-API-Key: {API_KEY}")
    print("schemathesis (with key):", summary(data))
    assert data["failures"] == [] and data["errors"] == []
