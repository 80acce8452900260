"""Run a real Mosquitto broker as a child process (tests, demo with ``--broker mosquitto``).

Mosquitto is the production broker; tests start one on a free loopback port with a
config written to a temp dir, and can kill and restart it on the same port to
simulate outages.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(proc: subprocess.Popen | None, grace_s: float = 5.0, kill: bool = False) -> None:
    """SIGTERM (or SIGKILL), then SIGKILL if it is still there after ``grace_s``; reaped."""
    if proc is None or proc.poll() is not None:
        return
    (proc.kill if kill else proc.terminate)()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def mosquitto_binary() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and Path(candidate).exists():
            return candidate
    raise FileNotFoundError("mosquitto not found: install the Debian package 'mosquitto'")


class MosquittoProcess:
    """One Mosquitto broker on loopback. ``extra_conf`` lines are appended to the listener config."""

    def __init__(self, port: int | None = None, extra_conf: str = "",
                 workdir: Path | None = None, allow_anonymous: bool = True):
        self.port = port or free_port()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="mosquitto-"))
        self.extra_conf = extra_conf
        self.allow_anonymous = allow_anonymous
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _write_conf(self) -> Path:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"allow_anonymous {'true' if self.allow_anonymous else 'false'}\n"
            "persistence false\n"
            "max_queued_messages 100000\n"
            # the coordinator acks QoS1 only after its commit: the window must cover a batch
            "max_inflight_messages 1000\n"
            "set_tcp_nodelay true\n"
            f"{self.extra_conf}\n")
        return conf

    def start(self, timeout: float = 10.0) -> "MosquittoProcess":
        conf = self._write_conf()
        log = open(self.workdir / "mosquitto.log", "ab")
        self.proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)],
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: "
                                   f"{(self.workdir / 'mosquitto.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"mosquitto did not listen on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self, kill: bool = False) -> None:
        stop_process(self.proc, kill=kill)
        self.proc = None

    def __enter__(self) -> "MosquittoProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
