"""Run an Oxigraph SPARQL server (the ``oxigraph`` package's ``oxigraph serve``) for replicas.

One coordinator keeps its fleet graph in its own process (pyoxigraph on disk plus a memory
copy). Replicas cannot: each hears only its share of the traffic, so the graph lives in a
server they all write to and any of them (or any SPARQL client) reads. Production can use
any SPARQL 1.1 endpoint by URL (Oxigraph, Fuseki, GraphDB); this helper starts Oxigraph's
on a free loopback port for tests, benchmarks and a one-host cluster.

    with OxigraphServer(data_dir) as server:
        server.query_url          # http://127.0.0.1:PORT/query (updates at /update)
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from cloud_sync.mosquitto import free_port, port_open, stop_process


def oxigraph_binary() -> str:
    """The ``oxigraph`` CLI beside this Python (installed by the cloud extra), or on the PATH."""
    beside = Path(sys.executable).parent / "oxigraph"
    if beside.exists():
        return str(beside)
    found = shutil.which("oxigraph")
    if found:
        return found
    raise FileNotFoundError("the oxigraph server is not installed: pip install 'edge-runtime[cloud]' "
                            "(or 'pip install oxigraph'), or point --graph at any SPARQL 1.1 endpoint")


class OxigraphServer:
    def __init__(self, location: Path | str | None = None, port: int | None = None):
        self.location = Path(location) if location is not None else None
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def query_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/query"

    def start(self, timeout: float = 30.0) -> "OxigraphServer":
        cmd = [oxigraph_binary(), "serve", "--bind", f"127.0.0.1:{self.port}"]
        if self.location is not None:
            self.location.mkdir(parents=True, exist_ok=True)
            cmd += ["--location", str(self.location)]
            self._log = open(self.location / "oxigraph.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log or subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.proc.poll() is not None:
                raise RuntimeError(f"oxigraph serve exited with {self.proc.returncode} "
                                   f"(see {self.location / 'oxigraph.log' if self.location else 'its output'})")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"oxigraph serve did not answer on port {self.port} within {timeout} s")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        if not port_open(self.port):
            return False
        request = urllib.request.Request(self.query_url, data=b"ASK {}", method="POST",
                                         headers={"Content-Type": "application/sparql-query"})
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        stop_process(self.proc, grace_s=10.0)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "OxigraphServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
