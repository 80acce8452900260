"""Run a throw-away PostgreSQL server from the Debian package (tests, benchmarks, the demo).

``initdb`` into a temp dir, ``pg_ctl start`` on a free loopback port with a Unix socket in
the same dir, ``trust`` authentication for local connections only, fsync off (a test
server, never production data). PostgreSQL refuses to run as root, so when this process
is root the server runs as the ``postgres`` system user (created by the Debian package)
via ``runuser``; the data dir is handed to that user.

    with PostgresServer() as pg:
        url = pg.url              # postgresql://postgres@127.0.0.1:PORT/postgres
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from cloud_sync.mosquitto import free_port, port_open


def postgres_bin_dir() -> Path:
    """The directory with initdb/pg_ctl: $PG_BIN, the PATH, or /usr/lib/postgresql/<v>/bin."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if versions:
        return Path(versions[-1]).parent
    raise FileNotFoundError("PostgreSQL server binaries not found: 'apt-get install -y postgresql' "
                            "(or set PG_BIN to the directory holding initdb and pg_ctl)")


class PostgresServer:
    def __init__(self, workdir: Path | None = None, port: int | None = None, user: str = "postgres"):
        self.bin = postgres_bin_dir()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="pg-"))
        self.port = port or free_port()
        self.user = user
        self.data = self.workdir / "data"
        self._as_other = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if self._as_other:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)

    def start(self, timeout: float = 60.0) -> "PostgresServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._as_other:
            owner = pwd.getpwnam("postgres")
            os.chmod(self.workdir, 0o755)
            for parent in self.workdir.parents:        # the postgres user must reach the dir
                if parent == Path("/"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o111)
            os.chown(self.workdir, owner.pw_uid, owner.pw_gid)
        if not self.data.exists():
            done = self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust",
                             "--no-sync", "-E", "UTF8")
            if done.returncode:
                raise RuntimeError(f"initdb failed: {done.stderr[-2000:]}")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c fsync=off "
                   f"-c synchronous_commit=off -c full_page_writes=off "
                   f"-c unix_socket_directories={self.workdir} -c max_connections=100")
        done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.workdir / "server.log"),
                         "-o", options, "-w", "-t", str(int(timeout)), "start", timeout=timeout + 10)
        if done.returncode:
            log = self.workdir / "server.log"
            raise RuntimeError(f"pg_ctl start failed: {done.stderr[-1000:]} "
                               f"{log.read_text()[-2000:] if log.exists() else ''}")
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL did not listen on port {self.port}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()
