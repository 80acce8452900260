"""How much RAM does running a model take? Measured in a fresh process, not guessed.

In-process figures are polluted by whatever the caller already allocated and by the
allocator keeping freed pages, so a child Python imports the backend first (the
baseline), then loads the model and runs it once; the growth of its peak resident
set size is the model's runtime memory on this backend.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edge_runtime.models.specs import ModelError

_PROBE = r"""
import json, resource, sys
path, backend = sys.argv[1], sys.argv[2]
from edge_runtime.models import load_model
import edge_runtime.models.litert_backend, edge_runtime.models.onnx_backend
if backend == "onnxruntime":
    import onnxruntime
elif backend == "litert":
    edge_runtime.models.litert_backend.import_interpreter()
else:
    import tflite_micro.runtime
def peak():
    # VmHWM belongs to this program's address space; ru_maxrss also counts the parent's pages
    # the forked child held before exec (a 1.5 GB test runner made a 13 KB model "not fit").
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # elsewhere: KiB
base = peak()
runner = load_model(path, backend=backend)
runner.run(runner.random_inputs())
print(json.dumps({"baseline_bytes": base, "peak_bytes": peak(), "provider": runner.provider}))
"""


def measure_runtime_memory(path: str | Path, backend: str, timeout_s: float = 120) -> dict:
    """{'model_bytes': peak growth for load + one run, 'baseline_bytes', 'peak_bytes', 'provider'}."""
    done = subprocess.run([sys.executable, "-c", _PROBE, str(path), backend],
                          capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelError(f"{path}: measuring memory on {backend} failed: {last}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["model_bytes"] = max(0, figures["peak_bytes"] - figures["baseline_bytes"])
    return figures
