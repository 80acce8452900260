"""Which board is this? Read the system's own descriptions and match a built-in profile.

Evidence, strongest first: the device-tree model string (Raspberry Pi, Jetson), the
Jetson L4T release file, /proc/cpuinfo, and the memory size (which tells the 2/4/8 GB
variants of one board apart). With no match, a profile of the host is generated from
its real figures, so `profile fit` and placement never work from made-up numbers.

Everything is read below ``root`` so tests can build a fake Pi or Jetson in a tmp dir;
psutil (which only sees the real host) is asked only when ``root`` is "/".
"""
from __future__ import annotations

import dataclasses
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path

from device_profiles.loader import all_profiles, load_profile
from device_profiles.schema import Profile

# FP32 FLOP per cycle per core, used to estimate peak_gflops of a generated profile.
FLOPS_PER_CYCLE = {"x86_64_avx2_fma": 32, "x86_64": 16, "aarch64": 8, "armv7l": 4}


@dataclass
class HostFacts:
    """What the system says about itself (None where it says nothing)."""

    device_tree_model: str | None = None
    tegra_release: str | None = None       # "R32", "R36", ...
    cpu_model: str | None = None
    arch: str | None = None
    cores: int | None = None
    cpu_freq_hz: float | None = None
    ram_bytes: int | None = None
    storage_bytes: int | None = None
    cpu_flags: set[str] = field(default_factory=set)


@dataclass
class Detection:
    profile: Profile
    matched_id: str | None                 # the catalogue board, or None when generated
    reason: str
    facts: HostFacts


def _read(root: Path, relative: str) -> str | None:
    try:
        return (root / relative).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _cpuinfo_fields(text: str) -> tuple[dict[str, str], int]:
    """First value of every key, and the number of 'processor' entries."""
    fields: dict[str, str] = {}
    processors = 0
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        processors += key == "processor"
        fields.setdefault(key, value.strip())
    return fields, processors


def _arch_from_cpuinfo(fields: dict[str, str]) -> str | None:
    if "vendor_id" in fields:
        return "x86_64" if " lm " in f" {fields.get('flags', '')} " else "i686"
    arch = fields.get("CPU architecture")
    if arch == "8":
        return "aarch64"
    if arch == "7":
        return "armv7l"
    return None


def read_host_facts(root: str | Path = "/") -> HostFacts:
    """Collect the evidence under ``root`` (psutil fills the gaps only for the real root)."""
    root = Path(root)
    real_host = root.resolve() == Path("/")
    facts = HostFacts()
    model = _read(root, "proc/device-tree/model") or _read(root, "sys/firmware/devicetree/base/model")
    if model:
        facts.device_tree_model = model.strip("\x00\n ")
    tegra = _read(root, "etc/nv_tegra_release")
    if tegra:
        match = re.search(r"\bR(\d+)\b", tegra)
        facts.tegra_release = f"R{match.group(1)}" if match else None
    cpuinfo = _read(root, "proc/cpuinfo") or ""
    fields, processors = _cpuinfo_fields(cpuinfo)
    facts.cpu_model = fields.get("model name") or fields.get("Hardware") or None
    facts.cpu_flags = set(fields.get("flags", "").split())
    facts.device_tree_model = facts.device_tree_model or fields.get("Model")  # Pi kernels put it here too
    facts.cores = processors or None
    facts.arch = _arch_from_cpuinfo(fields)
    if "cpu MHz" in fields:
        facts.cpu_freq_hz = float(fields["cpu MHz"]) * 1e6
    max_khz = _read(root, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if max_khz and max_khz.strip().isdigit():
        facts.cpu_freq_hz = int(max_khz) * 1e3
    meminfo = _read(root, "proc/meminfo") or ""
    match = re.search(r"^MemTotal:\s+(\d+)\s*kB", meminfo, re.MULTILINE)
    if match:
        facts.ram_bytes = int(match.group(1)) * 1024
    if real_host:
        _fill_from_psutil(facts)
    return facts


def _fill_from_psutil(facts: HostFacts) -> None:
    import psutil

    facts.arch = facts.arch or platform.machine()
    facts.cores = facts.cores or psutil.cpu_count(logical=True)
    facts.ram_bytes = facts.ram_bytes or psutil.virtual_memory().total
    freq = psutil.cpu_freq()
    if freq and not facts.cpu_freq_hz:
        facts.cpu_freq_hz = (freq.max or freq.current) * 1e6
    facts.storage_bytes = psutil.disk_usage("/").total
    facts.cpu_model = facts.cpu_model or platform.processor() or None


def _rules_match(profile: Profile, facts: HostFacts) -> bool:
    rules = profile.detect
    if not rules:
        return False
    if "device_tree_model" in rules:
        if not facts.device_tree_model or not any(
                key in facts.device_tree_model for key in rules["device_tree_model"]):
            return False
    if "tegra_release" in rules and facts.tegra_release:
        # a Jetson release file must agree; its absence (a container) is not evidence against
        if facts.tegra_release not in rules["tegra_release"]:
            return False
    if "device_tree_model" not in rules and "tegra_release" in rules:
        return facts.tegra_release in rules["tegra_release"]
    return True


def _closest_by_ram(candidates: list[Profile], ram: int | None) -> Profile:
    """The variant whose nominal RAM is the smallest that is >= the measured total.

    MemTotal is always below the nominal size (firmware, GPU carve-out), so the
    smallest nominal size at or above it is the board's variant.
    """
    if ram is None:
        return candidates[0]
    at_least = [p for p in candidates if p.ram_bytes >= ram]
    if at_least:
        return min(at_least, key=lambda p: p.ram_bytes)
    return max(candidates, key=lambda p: p.ram_bytes)


def _generated(facts: HostFacts) -> Profile:
    arch = facts.arch or "unknown"
    if arch == "x86_64":
        base = load_profile("generic-x86-64")
        per_cycle = FLOPS_PER_CYCLE["x86_64_avx2_fma" if {"avx2", "fma"} <= facts.cpu_flags else "x86_64"]
    else:
        base = dataclasses.replace(
            load_profile("raspberry-pi-4b-4gb"), id=f"generic-{arch}", device_class="sbc",
            accelerators=[], detect={}, sources=[])
        per_cycle = FLOPS_PER_CYCLE.get(arch, 4)
    cores = facts.cores or base.cores
    freq = facts.cpu_freq_hz or base.cpu_freq_hz
    return dataclasses.replace(
        base,
        name=f"This host ({facts.cpu_model or arch}, generated)",
        cpu_model=facts.cpu_model or base.cpu_model,
        arch=arch if arch in ("x86_64", "aarch64", "armv7l") else base.arch,
        cores=cores,
        cpu_freq_hz=freq,
        ram_bytes=facts.ram_bytes or base.ram_bytes,
        storage_bytes=facts.storage_bytes or base.storage_bytes,
        peak_gflops=round(cores * freq * per_cycle / 1e9, 1),
        notes=f"Generated from the host's real figures; template {base.id}.",
        source_file="generated")


def detect_profile(root: str | Path = "/") -> Detection:
    """Match the host under ``root`` to a catalogue board, or generate its profile."""
    facts = read_host_facts(root)
    candidates = [p for p in all_profiles() if _rules_match(p, facts)]
    if candidates:
        chosen = _closest_by_ram(candidates, facts.ram_bytes)
        evidence = facts.device_tree_model or f"L4T {facts.tegra_release}"
        reason = f"matched {chosen.id} by {evidence!r}"
        if facts.ram_bytes and not 0.5 * chosen.ram_bytes < facts.ram_bytes <= chosen.ram_bytes:
            # a RAM variant the catalogue lacks (e.g. a 16 GB Pi 5): keep the board, trust the meter
            chosen = dataclasses.replace(chosen, ram_bytes=facts.ram_bytes,
                                         notes=f"{chosen.notes} RAM measured on this unit.".strip())
            reason += " (RAM variant not in the catalogue: measured RAM used)"
        return Detection(chosen, chosen.id, reason, facts)
    profile = _generated(facts)
    return Detection(profile, None, f"no catalogue board matched; generated from this {profile.arch} host", facts)

