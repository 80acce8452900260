"""DAS traffic benchmark: our pipeline vs a plain reference, one core, 1000 ch x 500 Hz x 10 min.

    python benchmarks/das_bench.py [--minutes 10] [--ref-minutes 2] [--out benchmarks/results/das_bench.json]

1. A synthetic scene (with truth) is rendered chunk by chunk to a raw float32 file, so
   neither pipeline pays for the simulation and the data never sits in memory at once.
2. Each pipeline runs in its own subprocess, pinned to one thread (OMP/MKL/OpenBLAS env,
   threadpoolctl, cv2.setNumThreads(1)), reading 10-s chunks with plain reads (no mmap,
   so peak RSS is the pipeline's own). Reported: CPU seconds per minute of data, x real
   time (data seconds / CPU seconds), wall time, peak RSS.
3. The reference is what one would write first: scipy band-pass at the full rate on all
   channels, |x| threshold, scikit-image probabilistic Hough on the full-rate 60-s image,
   scikit-learn DBSCAN on the line endpoints. It is slow, so it runs on the first
   ``--ref-minutes`` minutes and its per-minute figures are reported as measured there.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHUNK_S = 10.0


def _pin_one_thread() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = "1"


def _chunks(path: Path, n_channels: int, fs: float, limit_s: float | None):
    import numpy as np
    per_chunk = int(CHUNK_S * fs) * n_channels
    done = 0.0
    with open(path, "rb", buffering=0) as f:
        while limit_s is None or done < limit_s:
            buf = np.empty(per_chunk, dtype=np.float32)
            n = f.readinto(memoryview(buf).cast("B")) // 4
            if n == 0:
                return
            done += n / n_channels / fs
            yield buf[:n].reshape(-1, n_channels)


def _peak_rss_mb() -> float:
    """VmHWM of this process (reset at exec, unlike ru_maxrss, which keeps the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(args: argparse.Namespace) -> None:
    """Runs in the subprocess: one pipeline over the raw file, prints one JSON line."""
    import cv2
    from threadpoolctl import threadpool_limits
    cv2.setNumThreads(1)
    meta = json.loads(Path(args.file + ".json").read_text())
    fs, dx, n_ch = meta["fs"], meta["dx"], meta["n_channels"]
    limit = args.limit_minutes * 60.0 if args.limit_minutes else None
    if args.worker == "ours":      # imports (sklearn, cv2, scipy) are not the pipeline's cost
        import edge_runtime.das.pipeline  # noqa: F401
        import edge_runtime.das.streaming  # noqa: F401
    base_rss = _peak_rss_mb()
    with threadpool_limits(1):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if args.worker == "ours":
            from edge_runtime.das.streaming import StreamingDetector
            det = StreamingDetector(fs, dx, n_ch)
            events, seconds = [], 0.0
            for chunk in _chunks(Path(args.file), n_ch, fs, limit):
                events += det.push(chunk)
                seconds += chunk.shape[0] / fs
            events += det.flush()
            result = {"events": events}
        else:
            events, seconds = reference_pipeline(Path(args.file), fs, dx, n_ch, limit)
            result = {"lines": events}
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    peak = _peak_rss_mb()
    result.update({"data_s": seconds, "cpu_s": cpu, "wall_s": wall, "peak_rss_mb": peak,
                   "rss_before_mb": base_rss})
    print(json.dumps(result, default=float))


def reference_pipeline(path: Path, fs: float, dx: float, n_ch: int, limit: float | None):
    """The plain pipeline at full rate: scipy filter, skimage Hough, sklearn DBSCAN."""
    import numpy as np
    from scipy import signal
    from skimage.transform import probabilistic_hough_line
    from sklearn.cluster import DBSCAN
    sos = signal.butter(2, [0.4, 6.0], btype="bandpass", fs=fs, output="sos")
    zi = np.zeros((sos.shape[0], 2, n_ch))
    window, lines, seconds = [], 0, 0.0
    for chunk in _chunks(path, n_ch, fs, limit):
        filtered, zi = signal.sosfilt(sos, chunk, axis=0, zi=zi)
        window.append(np.abs(filtered).astype(np.float32))
        seconds += chunk.shape[0] / fs
        if len(window) * CHUNK_S >= 60.0:
            image = np.concatenate(window)
            window = []
            binary = image > 3.0 * np.median(image, axis=0)
            segs = probabilistic_hough_line(binary, threshold=50, line_length=int(150 / dx),
                                            line_gap=int(2 * fs), rng=0)
            if segs:
                ends = np.array([[a[1] / fs, b[1] / fs] for a, b in segs])
                lines += len(set(DBSCAN(eps=1.0, min_samples=1).fit_predict(ends)))
    return lines, seconds


def render(path: Path, minutes: float, n_channels: int, fs: float, dx: float, seed: int) -> list[dict]:
    """The scene to a raw float32 file (+ .json with geometry and truth)."""
    from edge_runtime.das.simulate import SceneConfig, make_scene
    scene = make_scene(SceneConfig(n_channels=n_channels, dx=dx, fs=fs, duration_s=60.0 * minutes,
                                   seed=seed, rate_per_min=6.0))
    truth = [v.to_dict() for v in scene.vehicles]
    meta = {"fs": fs, "dx": dx, "n_channels": n_channels, "minutes": minutes, "seed": seed, "truth": truth}
    meta_path = Path(str(path) + ".json")
    if path.exists() and meta_path.exists() and json.loads(meta_path.read_text()).get("seed") == seed \
            and json.loads(meta_path.read_text()).get("minutes") == minutes:
        return truth
    t0 = time.time()
    with open(path, "wb") as f:
        for i, chunk in enumerate(scene.chunks(CHUNK_S)):
            f.write(chunk.tobytes())
            print(f"\rrendering scene {100 * (i + 1) * CHUNK_S / scene.config.duration_s:5.1f}%", end="",
                  file=sys.stderr, flush=True)
    print(f"  ({time.time() - t0:.0f} s)", file=sys.stderr)
    meta_path.write_text(json.dumps(meta))
    return truth


def run_worker(kind: str, file: Path, limit_minutes: float | None) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--file", str(file)]
    if limit_minutes:
        cmd += ["--limit-minutes", str(limit_minutes)]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    print(f"running {kind} ...", file=sys.stderr, flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarise(run: dict) -> dict:
    per_min = run["cpu_s"] / (run["data_s"] / 60.0)
    return {"data_s": round(run["data_s"], 1), "cpu_s": round(run["cpu_s"], 2), "wall_s": round(run["wall_s"], 2),
            "cpu_s_per_data_minute": round(per_min, 3), "x_real_time": round(60.0 / per_min, 1),
            "peak_rss_mb": round(run["peak_rss_mb"], 1),
            "peak_rss_above_imports_mb": round(run["peak_rss_mb"] - run["rss_before_mb"], 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--ref-minutes", type=float, default=2.0)
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--fs", type=float, default=500.0)
    parser.add_argument("--dx", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scratch", default="/tmp/das_bench.f32")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "das_bench.json"))
    parser.add_argument("--worker", choices=["ours", "reference"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--limit-minutes", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    _pin_one_thread()
    if args.worker:
        worker(args)
        return 0
    scratch = Path(args.scratch)
    truth = render(scratch, args.minutes, args.channels, args.fs, args.dx, args.seed)
    ours = run_worker("ours", scratch, None)
    ref = run_worker("reference", scratch, args.ref_minutes) if args.ref_minutes > 0 else None
    from edge_runtime.das.evaluate import match
    score = match(truth, ours["events"], duration_s=60.0 * args.minutes, edge_s=1.0)
    result = {"benchmark": "das_traffic", "machine": {"cpu_count": os.cpu_count(),
                                                       "load_avg_1min": os.getloadavg()[0]},
              "data": {"channels": args.channels, "fs_hz": args.fs, "dx_m": args.dx, "minutes": args.minutes,
                       "raw_samples_per_s": args.channels * args.fs, "vehicles": len(truth)},
              "ours": {**summarise(ours), "vehicles_detected": len(ours["events"]), **score.summary()},
              "reference": ({**summarise(ref), "merged_lines": ref["lines"]} if ref else None)}
    if ref:
        result["speedup_vs_reference"] = round(result["reference"]["cpu_s_per_data_minute"]
                                               / result["ours"]["cpu_s_per_data_minute"], 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
