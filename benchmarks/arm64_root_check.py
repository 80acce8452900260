"""Prove the Raspberry Pi bundle on arm64 without a Pi: a Debian bookworm arm64 root (what Pi OS
Bookworm is: Debian 12, glibc 2.36, CPython 3.11) run under qemu-user emulation on this x86 host.

Steps, each timed and written to one JSON record (benchmarks/results/arm64_root_check.json):

1. emulation: binfmt_misc mounted and ``qemu-aarch64`` registered (update-binfmts, else our own
   registration line); every refusal is kept verbatim. Without binfmt only single programs run
   (``qemu-aarch64-static -L ROOT``), which cannot run install.sh (bash starts python, pip
   starts more), so the record says so and the install is not attempted.
2. root: ``debootstrap --arch=arm64 --variant=minbase`` once into a cached folder (--root,
   ``EDGE_ARM64_ROOT``, default /tmp/arm64root); later runs reuse it (pip's cache in it too).
3. bundle: ``raspberry-pi-4b-4gb`` built on the host from a wheel of this checkout, with the
   tiny LiteRT fixture as a model task, copied into the root and installed by its own
   ``install.sh --no-systemd`` (aarch64 wheels from PyPI, as on a Pi).
4. probe: imports and one LiteRT/ONNX inference in the root's venv, compared with the host.
5. agent: the bundle's service entry point in the root against a secured Mosquitto on the
   host's loopback (the chroot shares the network namespace): retained online state, a model
   result computed under emulation, a clean offline state on SIGTERM.

    sudo .venv/bin/python benchmarks/arm64_root_check.py [--root DIR] [--out JSON]
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from arm64_agent_watch import run_agent_in_root  # noqa: E402

PROFILE = "raspberry-pi-4b-4gb"
DEVICE_ID = "pi-arm64-emulated"
PREFIX = "/opt/edge-runtime"
BUNDLE_IN_ROOT = "/srv/edge-bundle"
FIXTURES = REPO / "edge_runtime" / "models" / "fixtures"
MODELS = (FIXTURES / "tiny_mlp.tflite", FIXTURES / "tiny_mlp.onnx")
DEFAULT_ROOT = Path(os.environ.get("EDGE_ARM64_ROOT", "/tmp/arm64root"))
DEFAULT_OUT = REPO / "benchmarks" / "results" / "arm64_root_check.json"
READY_MARK = ".edge-arm64-root-ready"
BINFMT = Path("/proc/sys/fs/binfmt_misc")
QEMU = "qemu-aarch64-static"
# Debian's qemu-user-static registration for aarch64 ELF (flag F: the interpreter is opened at
# registration, so it works inside a chroot that has no copy of qemu).
AARCH64_MAGIC = r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
AARCH64_MASK = r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
CHROOT_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
              "LANG": "C.UTF-8", "PIP_NO_INPUT": "1", "PYTHONUNBUFFERED": "1", "PIP_DEFAULT_TIMEOUT": "180",
              "PIP_CERT": "/etc/ssl/certs/host-ca-certificates.crt"}
# pip in the root trusts what the host trusts: a network that re-signs TLS at its egress (this
# sandbox does) has its CA in the host's bundle only, and a Pi on such a network needs it too.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def say(message: str) -> None:
    print(f"[arm64-check {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _attempt(steps: list, name: str, argv: list[str]) -> bool:
    """Run ``argv``, note ok/exact error text under ``name``; False when it failed."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        error = (done.stderr or done.stdout).strip() if done.returncode else None
    except (OSError, subprocess.TimeoutExpired) as exc:
        error = f"{type(exc).__name__}: {exc}"
    steps.append({"step": name, "command": " ".join(argv), "ok": error is None, "error": error})
    return error is None


def missing_tools() -> list[str]:
    return [tool for tool in (QEMU, "debootstrap", "chroot") if not shutil.which(tool)]


def ensure_binfmt() -> dict:
    """Make aarch64 ELF files run through qemu; returns what was tried and the exact refusals."""
    steps: list[dict] = []
    entry = BINFMT / "qemu-aarch64"
    if not (BINFMT / "register").exists():
        _attempt(steps, "mount binfmt_misc", ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)])
    if (BINFMT / "register").exists() and not entry.exists() and shutil.which("update-binfmts"):
        _attempt(steps, "update-binfmts", ["update-binfmts", "--enable", "qemu-aarch64"])
    if (BINFMT / "register").exists() and not entry.exists():
        line = f":qemu-aarch64:M::{AARCH64_MAGIC}:{AARCH64_MASK}:{shutil.which(QEMU)}:F"
        try:
            (BINFMT / "register").write_text(line)
            steps.append({"step": "write registration", "command": line, "ok": True, "error": None})
        except OSError as exc:
            steps.append({"step": "write registration", "command": line, "ok": False, "error": str(exc)})
    enabled = entry.exists() and entry.read_text().startswith("enabled")
    refusal = None if enabled else "; ".join(f"{s['step']}: {s['error']}" for s in steps if s["error"]) \
        or "binfmt_misc has no enabled qemu-aarch64 entry"
    return {"mode": "binfmt" if enabled else "explicit", "steps": steps, "refusal": refusal,
            "registration": entry.read_text().split("\n") if entry.exists() else None}


def ensure_root(root: Path, binfmt: bool) -> dict:
    """The cached arm64 root: debootstrap once (second stage under qemu), reuse afterwards."""
    if (root / READY_MARK).exists():
        return {"cached": True, "seconds": 0.0, "built": json.loads((root / READY_MARK).read_text())}
    if not binfmt:
        raise RuntimeError("cannot build the arm64 root: debootstrap's second stage runs arm64 "
                           "programs, which needs binfmt_misc (see the emulation refusal)")
    if root.exists():                                # a half-built root from an interrupted run
        unmount_all(root)
        shutil.rmtree(root)
    say(f"debootstrap bookworm arm64 into {root} (minutes under emulation)")
    start = time.monotonic()
    done = subprocess.run(["debootstrap", "--arch=arm64", "--variant=minbase",
                           "--include=python3,python3-venv,ca-certificates", "bookworm", str(root),
                           "http://deb.debian.org/debian"], capture_output=True, text=True, timeout=3600)
    if done.returncode:
        raise RuntimeError(f"debootstrap failed ({done.returncode}): {done.stdout[-1500:]}{done.stderr[-1500:]}")
    built = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "debootstrap_s": round(time.monotonic() - start, 1)}
    (root / READY_MARK).write_text(json.dumps(built))
    return {"cached": False, "seconds": built["debootstrap_s"], "built": built}


# No /sys: it would be the x86 host's, and onnxruntime's CPU probe crashes on it under qemu
# (measured each run by host_sys_artifact); on a Pi /sys describes the Pi and all is well.
MOUNTS = (("proc", ["mount", "-t", "proc", "proc"]), ("dev", ["mount", "--bind", "/dev"]))


def is_mounted(path: Path) -> bool:
    return subprocess.run(["mountpoint", "-q", str(path)]).returncode == 0


def unmount_all(root: Path) -> None:
    """Undo MOUNTS, also those a killed run left behind (the lock file rules out a live one);
    refuses to go on while one stays, since deleting the root would then delete the host's /dev."""
    for target, _ in reversed(MOUNTS):
        if is_mounted(root / target):
            subprocess.run(["umount", "-l", str(root / target)], capture_output=True)
        if is_mounted(root / target):
            raise RuntimeError(f"{root / target} is still mounted; unmount it by hand")


@contextlib.contextmanager
def root_mounts(root: Path):
    """/proc, /dev and /sys inside the root for the length of a run, plus the host's DNS."""
    for name in ("resolv.conf", "hosts"):
        shutil.copy2(f"/etc/{name}", root / "etc" / name)
    trusted = HOST_CA_BUNDLE if HOST_CA_BUNDLE.exists() else root / HOST_CA_BUNDLE.relative_to("/")
    shutil.copy2(trusted, root / CHROOT_ENV["PIP_CERT"].lstrip("/"))
    try:
        for target, argv in MOUNTS:
            if not is_mounted(root / target):
                subprocess.run(argv + [str(root / target)], check=True, capture_output=True)
        yield
    finally:
        unmount_all(root)


@contextlib.contextmanager
def stop_cleanly_on_sigterm():
    """SIGTERM as SystemExit while a run holds mounts and children, so they are undone."""
    def stop(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")
    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:                               # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def in_root(root: Path, argv: list[str], timeout: float, log: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``argv`` in the root; output to ``log`` (long steps) or captured."""
    command = ["chroot", str(root), *argv]
    if log is None:
        return subprocess.run(command, env=CHROOT_ENV, capture_output=True, text=True, timeout=timeout)
    with open(log, "w") as sink:
        proc = subprocess.Popen(command, env=CHROOT_ENV, stdout=sink, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)       # pip's children go with it when stopped
        deadline = time.monotonic() + timeout
        next_note = time.monotonic() + 30.0
        try:
            while proc.poll() is None:                 # short polls: the step's timing stays exact
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{' '.join(argv)} ran past {timeout:.0f} s under emulation; log {log}")
                time.sleep(0.5)
                if time.monotonic() > next_note:
                    next_note += 30.0
                    say(f"still running {argv[0]} {argv[1] if len(argv) > 1 else ''} (log {log})")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return subprocess.CompletedProcess(command, proc.returncode, log.read_text(), "")


def host_sys_artifact(root: Path) -> dict:
    """Import onnxruntime in the root once with the host's /sys bound in: the emulation artifact
    that MOUNTS avoids, kept measured so a fixed qemu/onnxruntime shows up in the record."""
    sys_dir = root / "sys"
    subprocess.run(["mount", "--bind", "/sys", str(sys_dir)], check=True, capture_output=True)
    try:
        done = in_root(root, [f"{PREFIX}/venv/bin/python", "-c", "import onnxruntime"], timeout=300)
    finally:
        subprocess.run(["umount", "-l", str(sys_dir)], capture_output=True)
    return {"onnxruntime_import_with_host_sys": {"returncode": done.returncode,
                                                 "output_tail": (done.stdout + done.stderr).strip()[-300:]}}


def explicit_probe(root: Path) -> dict:
    """Without binfmt: what one program run by qemu explicitly shows about the root's Python."""
    python = root / "usr" / "bin" / "python3"
    if not python.exists():
        return {"ran": False, "reason": f"{python} absent (the root could not be built without binfmt)"}
    done = subprocess.run([QEMU, "-L", str(root), str(python), "-c",
                           "import platform,sys; print(platform.machine(), sys.version.split()[0])"],
                          capture_output=True, text=True, timeout=300)
    return {"ran": done.returncode == 0, "output": (done.stdout + done.stderr).strip()}


def build_bundle_into(root: Path, work: Path, port: int):
    """The Pi bundle, built on the host, copied to BUNDLE_IN_ROOT; returns (store, manifest)."""
    from cloud_sync.security.credentials import CredentialStore
    from edge_runtime.bundle.builder import BundleRequest, build_bundle, build_project_wheel
    wheel = build_project_wheel(work / "wheel")
    request = BundleRequest(profile=PROFILE, device_id=DEVICE_ID, out=work / "bundle", cloud_data=work / "cloud",
                            broker=f"mqtt://127.0.0.1:{port}", wheel=wheel, model=MODELS[0])
    manifest = build_bundle(request)
    target = root / BUNDLE_IN_ROOT.lstrip("/")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(request.out, target)
    return CredentialStore(request.cloud_data), manifest


def installed_versions(root: Path) -> dict[str, str]:
    from edge_runtime.bundle.lockfile import normalise
    done = in_root(root, [f"{PREFIX}/venv/bin/python", "-m", "pip", "list", "--format=json",
                          "--disable-pip-version-check"], timeout=600)
    if done.returncode:
        raise RuntimeError(f"pip list in the root failed: {done.stderr[-1500:]}")
    return {normalise(p["name"]): p["version"] for p in json.loads(done.stdout)}


def host_probe() -> dict:
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "arm64_probe.py"), *map(str, MODELS)],
                          capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir())
    if done.returncode:
        raise RuntimeError(f"host probe failed: {done.stderr[-1500:]}")
    return json.loads(done.stdout)


def compare_outputs(arm: dict, host: dict) -> list[dict]:
    """Largest |arm64 - x86| per model output on the same (hash-checked) input."""
    rows = []
    for a, h in zip(arm["models"], host["models"]):
        diffs = [max((abs(x - y) for x, y in zip(ao, ho)), default=None) if len(ao) == len(ho) else None
                 for ao, ho in zip(a["outputs"], h["outputs"])]
        rows.append({"model": a["model"], "same_input": a["input_sha256"] == h["input_sha256"],
                     "max_abs_diff": diffs, "arm64_median_ms": a["median_run_ms"],
                     "x86_median_ms": h["median_run_ms"],
                     "emulation_slowdown": round(a["median_run_ms"] / h["median_run_ms"], 1)
                     if a["median_run_ms"] and h["median_run_ms"] else None})
    return rows


def run_check(root: Path, install_timeout: float = 3600, emulation: dict | None = None) -> dict:
    """Everything above; a dict for the JSON record. Raises only on a broken host setup.
    ``emulation``: what a caller's ensure_binfmt() found (so its steps are not lost on a rerun)."""
    from cloud_sync.mosquitto import free_port
    from edge_runtime.bundle.lockfile import device_pins
    record: dict = {"what": "Pi bundle (raspberry-pi-4b-4gb) installed and run in a Debian bookworm arm64 "
                            "root under qemu-user emulation on an x86 host", "root": str(root),
                    "host": os.uname().machine, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "timings_s": {}, "network": "host loopback and DNS shared with the root; pip trusts the "
                                                "host's CA bundle (PIP_CERT), PyPI reached directly"}
    record["missing_tools"] = missing_tools()
    if record["missing_tools"] or os.geteuid() != 0:
        record["refusal"] = (f"missing: {', '.join(record['missing_tools'])}" if record["missing_tools"]
                             else "needs root (debootstrap, chroot, mount)")
        return record
    record["emulation"] = emulation or ensure_binfmt()
    record["qemu"] = subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    binfmt = record["emulation"]["mode"] == "binfmt"
    if not binfmt:
        record["refusal"] = record["emulation"]["refusal"]
        record["explicit_probe"] = explicit_probe(root)
        return record
    with open(f"{root}.lock", "w") as lock, stop_cleanly_on_sigterm():
        fcntl.flock(lock, fcntl.LOCK_EX)             # one run per cached root
        record["root_build"] = ensure_root(root, binfmt)
        record["timings_s"]["debootstrap"] = record["root_build"]["seconds"]
        with tempfile.TemporaryDirectory(prefix="arm64-check-") as tmp, root_mounts(root):
            work = Path(tmp)
            port = free_port()
            start = time.monotonic()
            store, manifest = build_bundle_into(root, work, port)
            record["timings_s"]["bundle_build_host"] = round(time.monotonic() - start, 2)
            record["bundle"] = {k: manifest[k] for k in ("profile", "arch", "python", "providers")}
            in_root(root, ["rm", "-rf", PREFIX], timeout=600)          # a fresh install each run
            say("install.sh --no-systemd in the arm64 root (pip under emulation: many minutes)")
            start = time.monotonic()
            done = in_root(root, ["bash", f"{BUNDLE_IN_ROOT}/install.sh", "--no-systemd", "--prefix", PREFIX],
                           timeout=install_timeout, log=work / "install.log")
            record["timings_s"]["install_sh"] = round(time.monotonic() - start, 1)
            record["install"] = {"returncode": done.returncode, "log_tail": done.stdout[-2500:]}
            if done.returncode:
                return record
            versions = installed_versions(root)
            pins = device_pins("aarch64", "3.11")
            record["installed_versions"] = versions
            record["pins_not_installed_as_locked"] = {n: (v, versions.get(n)) for n, v in pins.items()
                                                      if versions.get(n) != v}
            record["emulation_artifacts"] = host_sys_artifact(root)
            shutil.copy2(REPO / "benchmarks" / "arm64_probe.py", root / "srv" / "arm64_probe.py")
            for model in MODELS:
                shutil.copy2(model, root / "srv" / model.name)
            start = time.monotonic()
            probe = in_root(root, [f"{PREFIX}/venv/bin/python", "/srv/arm64_probe.py",
                                   *(f"/srv/{m.name}" for m in MODELS)], timeout=900)
            record["timings_s"]["probe_total"] = round(time.monotonic() - start, 1)
            if probe.returncode:
                record["probe_error"] = probe.stderr[-2500:]
                return record
            record["probe_arm64"] = json.loads(probe.stdout)
            record["probe_host"] = host_probe()
            record["arm64_vs_x86"] = compare_outputs(record["probe_arm64"], record["probe_host"])
            agent = run_agent_in_root(["chroot", str(root), f"{PREFIX}/venv/bin/python", "-m",
                                       "edge_runtime.bundle.service", "--config", f"{PREFIX}/etc/agent.yaml"],
                                      CHROOT_ENV, store, port, DEVICE_ID, work)
            record["agent"] = agent
            record["timings_s"].update(agent.pop("timings_s"))
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="cached arm64 root (outside the project)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON record to write")
    parser.add_argument("--install-timeout", type=float, default=3600, help="seconds for install.sh")
    args = parser.parse_args(argv)
    if REPO in args.root.resolve().parents:
        parser.error(f"--root {args.root} is inside the project; use a folder under /tmp")
    record = run_check(args.root.resolve(), args.install_timeout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    say(f"record written to {args.out}")
    return 0 if record.get("agent", {}).get("online") else 1


if __name__ == "__main__":
    sys.exit(main())
