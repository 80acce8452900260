"""The lock files, read: which exact versions a device bundle installs, per platform and Python.

Pins are never typed by hand (a hand-typed ``cryptography==50.0.2`` broke every fresh machine
once PyPI served 51.0.1): ``scripts/lock.sh`` resolves them from ``pyproject.toml`` with uv,
from binary wheels only, constrained by the CI lock ``requirements/dev.lock``. Each file records
a digest of the dependency tables it was resolved from, so a stale lock is caught by a test
instead of by a device that cannot install.
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

PINS_DIR = Path(__file__).with_name("pins")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")
_HASH = re.compile(r"^# pyproject-deps-sha256: ([0-9a-f]{64})$", re.M)
# What to tell someone who lacks the TFLite exporter. Not the ``convert`` extra: beside the lock
# pip cannot resolve it (litert-torch's xdsl needs typing-extensions < 4.13; the lock has 4.16).
EXPORTER_INSTALL_HINT = ("pip install --no-deps -r requirements/export-nodeps.txt (the exporter pinned beside "
                         "requirements/dev.lock; scripts/bootstrap.sh installs it for extras [all])")


def normalise(name: str) -> str:
    """PEP 503 name: ``PyYAML`` and ``pyyaml``, ``paho_mqtt`` and ``paho-mqtt`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    """``{normalised name: version}`` of every ``name==version`` line of a lock file."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[normalise(match.group(1))] = match.group(2)
    return pins


def without_pins(compiled: str, pinned: dict[str, str]) -> str:
    """``compiled`` (uv's output: a ``name==version`` line, then its indented ``--hash`` and
    ``# via`` lines) without the blocks of packages ``pinned`` already has. Used for the export
    tools' ``--no-deps`` file, which may only add packages to dev.lock, never move one of its pins."""
    kept, keep = [], True
    for line in compiled.splitlines():
        match = _PIN.match(line)
        if match:
            keep = normalise(match.group(1)) not in pinned
        if keep or not line[:1].isspace() and not match:
            kept.append(line)
    return "\n".join(kept) + "\n"


def recorded_hash(path: Path) -> str | None:
    match = _HASH.search(Path(path).read_text())
    return match.group(1) if match else None


def pyproject_deps_hash(pyproject: Path) -> str:
    """Digest of ``[project] dependencies``, ``optional-dependencies`` and ``requires-python``:
    what a lock depends on (the rest of pyproject.toml may change freely)."""
    import tomllib                              # cloud/dev side only (Python 3.11+)
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    wanted = {key: project.get(key) for key in ("dependencies", "optional-dependencies", "requires-python")}
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def device_lock(arch: str, python: str) -> Path:
    return PINS_DIR / f"linux-{arch}-py{python}.txt"


def locked_targets() -> list[tuple[str, str]]:
    """``(arch, python)`` for every device lock shipped with this package."""
    found = []
    for path in sorted(PINS_DIR.glob("linux-*-py*.txt")):
        arch, python = path.stem[len("linux-"):].rsplit("-py", 1)
        found.append((arch, python))
    return found


def device_pins(arch: str, python: str) -> dict[str, str]:
    """The pins a bundle for ``linux/arch`` + CPython ``python`` installs; FileNotFoundError
    (naming the targets that exist) when nothing is locked for it."""
    path = device_lock(arch, python)
    if not path.exists():
        have = ", ".join(f"{a}/py{p}" for a, p in locked_targets()) or "none"
        raise FileNotFoundError(f"no lock for linux/{arch} CPython {python} in {PINS_DIR} (locked: {have}); "
                                f"add the target to scripts/lock.sh and run it")
    return read_pins(path)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--pyproject-hash":
        print(pyproject_deps_hash(Path(sys.argv[2])))
    elif len(sys.argv) == 4 and sys.argv[1] == "--without-pins":     # compiled lock
        sys.stdout.write(without_pins(Path(sys.argv[2]).read_text(), read_pins(Path(sys.argv[3]))))
    else:
        sys.exit("usage: python -m edge_runtime.bundle.lockfile --pyproject-hash pyproject.toml\n"
                 "       python -m edge_runtime.bundle.lockfile --without-pins compiled.txt dev.lock")
