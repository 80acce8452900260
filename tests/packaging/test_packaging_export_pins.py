"""requirements/export-nodeps.txt, the TFLite exporter installed with --no-deps beside dev.lock:
it may only add packages (a --no-deps install of a lock package at another version would move
a pin CI tests and no resolver would notice) and it must follow today's dev.lock. Where
scripts/bootstrap.sh installed it (extras [all]), the environment must still hold every lock pin
and miss nothing but the one package left out on purpose."""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from edge_runtime.bundle.lockfile import normalise, read_pins, without_pins

ROOT = Path(__file__).resolve().parents[2]
DEV_LOCK = ROOT / "requirements" / "dev.lock"
EXPORT = ROOT / "requirements" / "export-nodeps.txt"
EXPORTER = ("litert-torch", "ai-edge-quantizer", "litert-converter")
LEFT_OUT = "xdsl"   # pins typing-extensions<4.13 (the lock: 4.16.0); never imported on export


def _blocks(text: str) -> dict[str, list[str]]:
    """``{name: [its --hash lines]}`` for every requirement of a hashed requirements file."""
    blocks, name = {}, None
    for line in text.splitlines():
        if line[:1].isalnum():
            name = normalise(re.split(r"[=<>!~;\s\\[]", line, maxsplit=1)[0])
            blocks[name] = []
        elif name and line.strip().startswith("--hash=sha256:"):
            blocks[name].append(line)
    return blocks


def test_export_pins_only_add_packages_to_the_dev_lock():
    dev, export = read_pins(DEV_LOCK), read_pins(EXPORT)
    blocks = _blocks(EXPORT.read_text())
    assert set(blocks) == set(export), f"lines that are not name==version pins: {set(blocks) - set(export)}"
    both = {name: (export[name], dev[name]) for name in export if name in dev}
    assert not both, f"pinned in dev.lock too (export, dev.lock); --no-deps would move them: {both}"
    assert all(blocks.values()), "every export pin needs its --hash lines (pip's hash-checking mode)"
    assert set(EXPORTER) <= set(export) and LEFT_OUT not in export


def test_export_pins_were_resolved_against_todays_dev_lock():
    recorded = re.search(r"^# dev-lock-sha256: ([0-9a-f]{64})$", EXPORT.read_text(), re.M)
    assert recorded and recorded.group(1) == hashlib.sha256(DEV_LOCK.read_bytes()).hexdigest(), (
        "requirements/export-nodeps.txt was resolved against another dev.lock: "
        "run 'bash scripts/lock.sh --export' and commit it")


def test_without_pins_drops_a_pinned_block_with_its_hashes_and_keeps_the_rest():
    compiled = ("# header\njax==0.10.2 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
                "    # via litert-torch\nNumPy==2.4.6 \\\n    --hash=sha256:cc\n    # via jax\n"
                "tomli==2.5.0\n")
    assert without_pins(compiled, {"numpy": "2.4.6"}) == (
        "# header\njax==0.10.2 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        "    # via litert-torch\ntomli==2.5.0\n")



installed = pytest.mark.skipif(importlib.util.find_spec("litert_torch") is None,
                               reason="the exporter is not installed here (bootstrap with EDGE_RUNTIME_EXPORT=0?)")


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@installed
def test_installed_exporter_moved_no_lock_pin():
    """The --no-deps install beside the lock left every lock pin at its version and put each
    export pin in at its own (pip without --no-deps would have moved typing-extensions)."""
    moved = {}
    for pins in (read_pins(DEV_LOCK), read_pins(EXPORT)):
        for name, want in pins.items():
            have = _installed_version(name)
            if have is not None and Version(Version(have).public) != Version(want):   # 2.13.0+cpu is 2.13.0
                moved[name] = (want, have)
    assert not moved, f"installed versions differ from the pins (pin, installed): {moved}"
    assert all(_installed_version(name) for name in EXPORTER), "an exporter package is missing"


@installed
def test_pip_check_misses_only_the_package_left_out():
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    problems = [line for line in check.stdout.splitlines() if line.strip() and "No broken requirements" not in line]
    assert problems, "pip check found nothing: then xdsl is installed, and with it typing-extensions<4.13?"
    assert all(LEFT_OUT in line and "not installed" in line for line in problems), problems
