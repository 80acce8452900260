"""`edge-runtime das detect|simulate`: vehicles from a DAS file, or a synthetic scene."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge_runtime.clitools import CliError

DETECT_EPILOG = """\
examples:
  edge-runtime das simulate scene.npz --seed 3 --duration 120 --truth truth.json
  edge-runtime das detect scene.npz --plot waterfall.png
  edge-runtime das detect recording.h5 --json > vehicles.json
  edge-runtime das detect data.npy --fs 500 --dx 1.0
  edge-runtime das detect scene.npz --params '{"window_s": 90, "threshold_snr": 3}'

Each vehicle: t_center_s (passes the array's middle), speed_kmh (signed, + = toward
higher channel numbers), class car|truck, confidence, t_entry_s, t_exit_s.
Formats: ASN OptoDAS HDF5, PRODML HDF5, .npz (data, fs, dx[, t0]), .npy (+ --fs/--dx).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    das = subparsers.add_parser(
        "das", help="DAS traffic monitoring: detect vehicles, simulate scenes",
        description="Vehicle detection, speed and car/truck class from DAS recordings.",
        epilog=DETECT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = das.add_subparsers(dest="das_command", metavar="SUBCOMMAND")

    detect = sub.add_parser("detect", help="detect vehicles in a DAS file",
                            description="Detect vehicles (Hough + DBSCAN lines, close-follower "
                                        "splitting, speed fit, car/truck classifier).",
                            epilog=DETECT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    detect.add_argument("file", help="OptoDAS/PRODML .h5, .npz or .npy")
    detect.add_argument("--json", action="store_true", help="print one JSON document")
    detect.add_argument("--plot", metavar="OUT.png", help="draw the waterfall with detected lines")
    detect.add_argument("--fs", type=float, help="sampling rate (Hz) for .npy")
    detect.add_argument("--dx", type=float, help="channel spacing (m) for .npy")
    detect.add_argument("--params", help="JSON object of DetectionParams overrides")
    detect.add_argument("--chunk-s", type=float, default=10.0, help="stream the file in chunks of this length")
    detect.set_defaults(handler=_detect)

    simulate = sub.add_parser("simulate", help="write a synthetic traffic scene (.npz) with truth",
                              description="Synthetic DAS traffic with ground truth.",
                              epilog=DETECT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    simulate.add_argument("out", help="output .npz")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--duration", type=float, default=120.0, help="seconds")
    simulate.add_argument("--channels", type=int, default=500)
    simulate.add_argument("--dx", type=float, default=2.0, help="channel spacing (m)")
    simulate.add_argument("--fs", type=float, default=250.0, help="sampling rate (Hz)")
    simulate.add_argument("--rate", type=float, default=5.0, help="vehicles per minute per direction")
    simulate.add_argument("--truth", help="write the ground truth JSON here")
    simulate.set_defaults(handler=_simulate)
    das.set_defaults(handler=lambda args: das.print_help() or 0)


def _detect(args: argparse.Namespace) -> int:
    from edge_runtime.das.params import DetectionParams
    from edge_runtime.das.readers import DasFormatError, read_das
    from edge_runtime.das.streaming import StreamingDetector

    try:
        params = DetectionParams.from_dict(json.loads(args.params) if args.params else None)
    except (ValueError, TypeError) as exc:
        raise CliError(f"--params: {exc}") from None
    try:
        record = read_das(args.file, fs=args.fs, dx=args.dx)
    except DasFormatError as exc:
        raise CliError(str(exc)) from None
    detector = StreamingDetector.for_record(record, params=params)
    step = max(1, int(args.chunk_s * record.fs))
    events = []
    starts = range(0, record.n_samples, step)
    show = record.duration_s > 120 and sys.stderr.isatty()
    if show:
        from tqdm import tqdm
        starts = tqdm(starts, desc="detect", unit="chunk", file=sys.stderr)
    for start in starts:
        events += detector.push(record.data[start:start + step])
    events += detector.flush()
    if not events:
        print(f"note: no vehicles found; {_why_none(record, params)}", file=sys.stderr)
    if args.plot:
        from edge_runtime.das.plot import plot_detections
        plot_detections(record, events, args.plot, params)
    if args.json:
        print(json.dumps({"record": record.describe(), "params": params.to_dict(), "vehicles": events},
                         indent=1, default=float))
        return 0
    print(f"{record.source}: {record.n_channels} ch x {record.duration_s:.1f} s at {record.fs:g} Hz, "
          f"dx {record.dx:g} m -> {len(events)} vehicles")
    if events:
        print(f"{'id':>4} {'t_center_s':>10} {'speed_kmh':>9} {'class':>6} {'conf':>5} {'entry_s':>8} {'exit_s':>8}")
    for e in events:
        print(f"{e['id']:>4} {e['t_center_s']:>10.2f} {e['speed_kmh']:>9.1f} {e['class']:>6} "
              f"{e['confidence']:>5.2f} {e['t_entry_s']:>8.2f} {e['t_exit_s']:>8.2f}")
    if args.plot:
        print(f"plot: {args.plot}")
    return 0


def _why_none(record, params) -> str:
    """A zero must not be silent: say whether the recording could have shown a vehicle at all."""
    fastest_s = record.length_m / (params.speed_range_kmh[1] / 3.6)
    reasons = []
    if record.duration_s < max(4.0, fastest_s):
        reasons.append(f"the record lasts {record.duration_s:.2f} s, shorter than a vehicle at "
                       f"{params.speed_range_kmh[1]:g} km/h takes to cross its {record.length_m:.0f} m")
    if record.length_m < 2 * params.min_run_m:
        reasons.append(f"the array is {record.length_m:.0f} m long; lines need {params.min_run_m:g} m of "
                       f"continuous cable")
    if record.n_channels < 8:
        reasons.append(f"{record.n_channels} channels are too few to draw a line")
    return "; ".join(reasons) if reasons else "the recording looks long and wide enough: no vehicle passed, or none stood out of the noise"


def _simulate(args: argparse.Namespace) -> int:
    from edge_runtime.das.readers import write_npz
    from edge_runtime.das.simulate import SceneConfig, make_scene

    if args.channels < 20 or args.duration <= 0 or args.fs < 20 or args.dx <= 0:
        raise CliError("simulate needs --channels >= 20, --duration > 0, --fs >= 20 Hz, --dx > 0")
    scene = make_scene(SceneConfig(n_channels=args.channels, dx=args.dx, fs=args.fs,
                                   duration_s=args.duration, seed=args.seed, rate_per_min=args.rate))
    path = write_npz(scene.record(), args.out)
    if args.truth:
        Path(args.truth).write_text(json.dumps([v.to_dict() for v in scene.vehicles], indent=1))
    print(f"wrote {path} ({args.channels} ch x {args.duration:g} s at {args.fs:g} Hz, "
          f"{len(scene.vehicles)} vehicles){' and ' + args.truth if args.truth else ''}")
    return 0
