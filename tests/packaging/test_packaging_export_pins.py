"""requirements/export-nodeps.txt, the TFLite exporter installed with --no-deps beside dev.lock:
it may only add packages (a --no-deps install of a lock package at another version would move
a pin CI tests and no resolver would notice) and it must follow today's dev.lock. Nothing
installs it yet (scripts/bootstrap.sh does not): see docs/federated-learning.md."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

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

