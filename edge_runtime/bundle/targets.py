"""Which Python wheels a device can install: per architecture and Python version, or a refusal.

A bundle is only useful if ``pip install`` succeeds on the device without compiling, so its
pins come from the lock files in ``pins/`` (see ``lockfile``): resolved by ``scripts/lock.sh``
from binary wheels only, per platform and CPython 3.10-3.13, constrained by what CI tests. 32-bit ARM (a Pi on a 32-bit OS) has no
onnxruntime or ai-edge-litert wheels at all, and microcontrollers run no Linux: for those
the bundle command refuses with the reason instead of writing a bundle that cannot work.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from edge_runtime.bundle.lockfile import device_pins, locked_targets

WHEEL_ARCHES = {"x86_64", "aarch64"}
# The Python a board's OS ships: JetPack 6 is Ubuntu 22.04 (3.10), Pi OS Bookworm Debian 12 (3.11).
DEFAULT_PYTHON = {"jetson": "3.10"}
THIRTY_TWO_BIT_ARM = {"armv7l", "armv6l", "armhf", "arm"}
# NVIDIA's Jetson wheel index for JetPack 6 (CUDA 12.6), from the jetson-containers project.
JETSON_GPU_INDEX = "https://pypi.jetson-ai-lab.dev/jp6/cu126"


class UnsupportedTarget(ValueError):
    """This device cannot run the Python agent; the message says why and what to do instead."""


@dataclass
class BundleTarget:
    profile_id: str
    device_class: str
    arch: str
    python: str
    pins: dict[str, str]
    providers: list[str]
    gpu_index: str | None = None          # Jetson: extra index with onnxruntime-gpu
    notes: list[str] = field(default_factory=list)

    @property
    def platform_tag(self) -> str:
        return f"manylinux_2_28_{self.arch}"


def resolve_target(profile, arch: str | None = None, python: str | None = None,
                   jetson_index: str = JETSON_GPU_INDEX) -> BundleTarget:
    """The wheel target for ``profile`` (``arch`` overrides the profile, e.g. armv7l for a Pi
    on a 32-bit OS), or UnsupportedTarget explaining why no working bundle exists."""
    arch = (arch or profile.arch).lower()
    python = python or DEFAULT_PYTHON.get(profile.device_class, "3.11")
    if profile.device_class == "mcu":
        raise UnsupportedTarget(
            f"{profile.id} is a microcontroller ({profile.cpu_model}): it runs no Linux or Python, so "
            f"there is no agent bundle. Build a TensorFlow Lite Micro firmware instead and check the "
            f"model fits with 'edge-runtime profile fit MODEL.tflite {profile.id}'.")
    if arch in THIRTY_TWO_BIT_ARM:
        raise UnsupportedTarget(
            f"{profile.id} with a 32-bit OS ({arch}): onnxruntime and ai-edge-litert publish no 32-bit "
            f"ARM wheels, so the agent could not run a model there. Install the 64-bit Raspberry Pi OS "
            f"(Bookworm, aarch64) and build the bundle again with --arch aarch64.")
    if arch not in WHEEL_ARCHES:
        raise UnsupportedTarget(f"{profile.id}: architecture {arch!r} has no onnxruntime/LiteRT wheels; "
                                f"supported: {', '.join(sorted(WHEEL_ARCHES))}")
    supported = sorted(p for a, p in locked_targets() if a == arch)
    if python not in supported:
        raise UnsupportedTarget(
            f"Python {python} on linux/{arch} is not supported: locked and tested are "
            f"{', '.join(supported)}. Install one of those on the device (or add the target to "
            f"scripts/lock.sh).")
    target = BundleTarget(profile.id, profile.device_class, arch, python, device_pins(arch, python),
                          list(profile.backends.onnxruntime_providers or ["CPUExecutionProvider"]))
    if profile.device_class == "sbc":
        target.notes.append("Raspberry Pi OS Bookworm refuses system-wide pip (PEP 668): the install "
                            "script makes a venv; --system-site-packages lets it reuse apt's numpy/scipy.")
    if profile.device_class == "jetson":
        if profile.id == "jetson-nano":
            target.notes.append("Jetson Nano stops at JetPack 4.6 (CUDA 10.2, Python 3.6): no CUDA "
                                "onnxruntime wheel exists for Python >= 3.11, so this bundle runs on the "
                                "CPU provider. The provider actually used is in the task status.")
            target.providers = ["CPUExecutionProvider"]
        else:
            target.gpu_index = jetson_index
            target.notes.append(f"GPU onnxruntime is not on PyPI: the install script tries onnxruntime-gpu "
                                f"from NVIDIA's Jetson index {jetson_index} (TensorRT/CUDA providers) and "
                                f"keeps the CPU wheel if that fails. Check the provider in use afterwards.")
    return target


def requirements_text(target: BundleTarget) -> str:
    lines = [f"# edge-runtime device requirements for {target.profile_id}: linux/{target.arch}, "
             f"CPython {target.python}",
             "# Binary wheels only: a missing wheel fails in seconds instead of compiling for an hour.",
             "--only-binary=:all:"]
    lines += [f"{name}=={version}" for name, version in sorted(target.pins.items())]
    return "\n".join(lines) + "\n"


def gpu_requirements_text(target: BundleTarget) -> str | None:
    if not target.gpu_index:
        return None
    return (f"# Jetson GPU build of ONNX Runtime (TensorRT + CUDA providers), JetPack 6.\n"
            f"--extra-index-url {target.gpu_index}\n--only-binary=:all:\nonnxruntime-gpu\n")
