"""Run dasly's deployed pipeline on one raw scene file; print one JSON line (vehicles, CPU time).

    /tmp/das-peer/venv/bin/python benchmarks/das_peer_dasly.py --dasly /tmp/das-peer/dasly \\
        --file /tmp/scene.f32            (geometry in /tmp/scene.f32.json)

Runs under dasly's own interpreter and imports nothing from this project. The steps are
those of ``dasly_core`` in ``dasly/deploy_aastfjordbrua.py`` (60-s batches every 20 s,
low-pass 0.5 Hz, decimate to ~6 Hz, directional Gaussian smoothing 80-85 km/h once per
direction, Sobel, binary threshold, Hough at 0.5 km/h resolution, DBSCAN eps 1 s), called
as dasly's own methods on a ``Dasly`` object whose signal is set from the file instead of
its folder loader. Three adaptations, all in dasly's favour or needed to run at all:

* the binary threshold is the 0.8 quantile (the deployed absolute 2.5e-8 strain/s is
  specific to that site's units and gain);
* the Hough reference length is ``min(600 m, half the array)`` (600 m never fits a
  shorter array);
* the causal low-pass's group delay (~0.9 s) is subtracted from the line times.

A vehicle is reported by the batch whose core (the middle 20 s) holds the time its line
crosses the array's middle, like the deployment's overlapping batches with ids.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

BATCH_S, GAP_S = 60.0, 20.0
CONFIG = {"lowpass_filter_freq": 0.5, "decimate_t_rate": 6, "s1": 80.0, "s2": 85.0, "std_s": 10.0,
          "quantile": 0.8, "speed_res": 0.5, "length_meters": 600.0, "dbscan_eps_seconds": 1.0}


def batch_starts(duration_s: float) -> list[float]:
    starts = list(np.arange(0.0, max(duration_s - BATCH_S, 0.0) + 1e-9, GAP_S))
    if starts[-1] + BATCH_S < duration_s - 1e-6:
        starts.append(duration_s - BATCH_S)
    return [float(s) for s in starts]


def run_batch(Dasly, pd, data: np.ndarray, fs: float, dx: float, t_start: float, length_m: float):
    """dasly_core on one batch: signed speeds (km/h) and middle-crossing times (s)."""
    epoch = pd.Timestamp("2024-01-01")
    index = epoch + pd.to_timedelta(t_start + np.arange(data.shape[0]) / fs, unit="s")
    das = Dasly()
    das.signal_raw = pd.DataFrame(data.astype(np.float64), index=index, columns=np.arange(data.shape[1]) * dx)
    das.reset()
    lines = np.empty((0, 4))
    c = CONFIG
    for sign in (+1, -1):
        das.reset()
        das.lowpass_filter(cutoff=c["lowpass_filter_freq"])
        das.decimate(t_rate=c["decimate_t_rate"])
        s1, s2 = (c["s1"], c["s2"]) if sign > 0 else (-c["s2"], -c["s1"])
        das.gaussian_smooth(s1=s1, s2=s2, std_s=c["std_s"])
        das.sobel_filter()
        das.binary_transform(quantile=c["quantile"])
        das.hough_transform(target_speed=(c["s1"] + c["s2"]) / 2, speed_res=c["speed_res"],
                            length_meters=min(c["length_meters"], 0.5 * length_m))
        if len(das.lines) > 0:
            keep = das.lines_df["speed_kmh"].to_numpy() >= 0 if sign > 0 else das.lines_df["speed_kmh"].to_numpy() < 0
            lines = np.concatenate((lines, das.lines[keep]), axis=0)
    if len(lines) == 0:
        return []
    das.lines = lines
    das.dbscan(eps_seconds=c["dbscan_eps_seconds"])
    df = das.lines_df
    x_mid = 0.5 * (data.shape[1] - 1) * dx
    out = []
    for row in df.itertuples():
        t1 = (row.t1 - epoch).total_seconds()
        t2 = (row.t2 - epoch).total_seconds()
        if row.s2 == row.s1 or not np.isfinite(row.speed_kmh):
            continue
        t_mid = t1 + (x_mid - row.s1) / (row.s2 - row.s1) * (t2 - t1)
        out.append({"t_center_s": float(t_mid), "speed_kmh": float(row.speed_kmh)})
    return out


def lowpass_delay_s(fs: float) -> float:
    from scipy import signal
    sos = signal.butter(4, CONFIG["lowpass_filter_freq"] / (0.5 * fs), btype="low", output="sos")
    b, a = signal.sos2tf(sos)
    _, gd = signal.group_delay((b, a), w=[0.2], fs=fs)
    return float(gd[0]) / fs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dasly", required=True, help="dasly checkout (folder holding the dasly package)")
    parser.add_argument("--file", required=True, help="raw float32 time x channel file (+ .json geometry)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(args.dasly).resolve()))
    logging.disable(logging.INFO)
    import cv2
    import pandas as pd
    from dasly.master import Dasly
    cv2.setNumThreads(1)
    meta = json.loads(Path(args.file + ".json").read_text())
    fs, dx, n_ch, duration = meta["fs"], meta["dx"], meta["n_channels"], meta["duration_s"]
    raw = np.fromfile(args.file, dtype=np.float32).reshape(-1, n_ch)
    delay = lowpass_delay_s(fs)
    starts = batch_starts(duration)
    centres = [s + 0.5 * BATCH_S for s in starts]
    bounds = [-np.inf] + [0.5 * (a + b) for a, b in zip(centres[:-1], centres[1:])] + [np.inf]
    vehicles, cpu0 = [], time.process_time()
    for k, start in enumerate(starts):
        i0 = int(round(start * fs))
        batch = raw[i0:i0 + int(round(BATCH_S * fs))]
        for v in run_batch(Dasly, pd, batch, fs, dx, start, n_ch * dx):
            v["t_center_s"] -= delay
            if bounds[k] <= v["t_center_s"] < bounds[k + 1]:
                vehicles.append(v)
    cpu = time.process_time() - cpu0
    print(json.dumps({"vehicles": vehicles, "cpu_s": cpu, "batches": len(starts), "delay_s": delay,
                      "data_s": raw.shape[0] / fs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
