"""`edge-runtime lidar detect|track|simulate`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge_runtime.clitools import CliError

DETECT_EPILOG = """\
examples:
  edge-runtime lidar detect ../shared/data/kitti/velodyne/000000.bin
  edge-runtime lidar detect frame.pcd --json

Runs the single-frame path (seeded RANSAC ground removal, ground-plane clustering, person
filter; no background model) and prints person candidates {x, y, z, height, points} in
sensor coordinates; (x, y, z) is the bottom centre. Formats: .bin (KITTI), .npy, .pcd, .ply.
"""

TRACK_EPILOG = """\
examples:
  edge-runtime lidar simulate scene/ --people 10 --duration 20
  edge-runtime lidar track scene/ --plot tracks.png
  edge-runtime lidar track scene/ --json > tracks.jsonl

Runs each sensor's static path (background model, ground, clustering, person filter,
Kalman + Hungarian tracking, features, ONNX embedding), links the finished tracks across
sensors into global ids, and prints one JSON line per frame with --json:
  {"frame": 12, "t": 1.2, "tracks": [{"id": 3, "x": 10.2, "y": -1.4, "sensor": "s0"}]}
When the scene has ground truth (simulated scenes), MOTA/IDF1 and link F1 are printed too.
"""

SIMULATE_EPILOG = """\
examples:
  edge-runtime lidar simulate scene/                         3 sensors, 20 people, 60 s, 10 Hz
  edge-runtime lidar simulate small/ --people 6 --duration 10 --sensors 2 --beams 16
  edge-runtime lidar simulate vlp/ --model VLP-16 --height 2.2 --tilt 10 --varied

Writes a scene folder (see docs/lidar.md): scene.json, per-sensor .npy frames in the
sensor frame, per-point person labels and ground_truth.csv in world coordinates.
--model places catalogue sensors (VLP-16, HDL-32E, HDL-64E, OS0-/OS1-32/64/128) at --height
metres, tilted --tilt degrees, with --range metres of processing range, on the evaluation
matrix's randomised walkway; --varied draws bodies and walking patterns from the matrix
generator (children, backpacks, diagonal, meandering and stopping walkers).
"""


def register(subparsers) -> None:
    lidar = subparsers.add_parser(
        "lidar", help="LiDAR pedestrian detection and tracking",
        description="LiDAR pedestrian detection, tracking and simulation (docs/lidar.md).",
        epilog="examples:\n  edge-runtime lidar detect frame.bin\n  edge-runtime lidar simulate scene/\n"
               "  edge-runtime lidar track scene/ --plot tracks.png\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = lidar.add_subparsers(dest="lidar_command", metavar="SUBCOMMAND")
    lidar.set_defaults(handler=lambda args: lidar.print_help() or 0)

    p = sub.add_parser("detect", help="person candidates in one frame", epilog=DETECT_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("frame", type=Path, help="point-cloud file (.bin, .npy, .pcd, .ply)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=_detect)

    p = sub.add_parser("track", help="track people across a scene folder", epilog=TRACK_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scene", type=Path, help="scene folder with scene.json")
    p.add_argument("--json", action="store_true", help="one JSON line per frame on stdout")
    p.add_argument("--plot", type=Path, metavar="OUT.png", help="top view with trajectories and footprints")
    p.add_argument("--model", type=Path, help="embedding .onnx (default: the bundled model)")
    p.add_argument("--no-embedding", action="store_true",
                   help="link on the transit model alone (the time-only ablation: no embedding, no height)")
    p.set_defaults(handler=_track)

    p = sub.add_parser("simulate", help="generate a synthetic multi-LiDAR walkway scene",
                       epilog=SIMULATE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="scene folder to create")
    p.add_argument("--people", type=int, default=20)
    p.add_argument("--duration", type=float, default=60.0, help="seconds")
    p.add_argument("--sensors", type=int, default=3)
    p.add_argument("--beams", type=int, default=32, choices=[16, 32, 64])
    p.add_argument("--azimuth-steps", type=int, default=1024)
    p.add_argument("--rate", type=float, default=10.0, help="frames per second")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", help="catalogue sensor model (overrides --beams/--azimuth-steps)")
    p.add_argument("--height", type=float, default=2.2, help="mount height with --model, m")
    p.add_argument("--tilt", type=float, default=0.0, help="tilt towards the floor with --model, degrees")
    p.add_argument("--range", type=float, default=8.0, help="processing range with --model, m")
    p.add_argument("--varied", action="store_true", help="matrix bodies and walking patterns")
    p.set_defaults(handler=_simulate)


def _detect(args) -> int:
    from edge_runtime.lidar.detect import detect_people
    from edge_runtime.lidar.readers import read_points

    try:
        points = read_points(args.frame)
        detections = detect_people(points)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(f"{exc}") from None
    rows = [d.to_dict() for d in detections]
    if args.json:
        print(json.dumps({"frame": str(args.frame), "points": len(points), "people": rows}))
        return 0
    print(f"{args.frame}: {len(points)} points, {len(rows)} person candidates (sensor frame, m)")
    print(f"{'x':>8} {'y':>8} {'z':>7} {'height':>7} {'points':>7}")
    for row in sorted(rows, key=lambda r: r["x"] ** 2 + r["y"] ** 2):
        print(f"{row['x']:8.2f} {row['y']:8.2f} {row['z']:7.2f} {row['height']:7.2f} {row['points']:7d}")
    return 0


def _track(args) -> int:
    from tqdm import tqdm

    from cloud_sync.lidar.global_tracks import evaluate_run, global_frames, link_online
    from edge_runtime.lidar.embedding import DEFAULT_MODEL, PersonEmbedder
    from edge_runtime.lidar.scene_format import read_scene
    from edge_runtime.lidar.scene_run import folder_frames, run_scene

    try:
        scene = read_scene(args.scene)
        embedder = None if args.no_embedding else PersonEmbedder(args.model or DEFAULT_MODEL)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    with tqdm(total=scene.n_frames, desc="tracking", unit="frame", file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar:
        try:
            run = run_scene(folder_frames(scene, bar.update), scene.sensors, embedder=embedder)
        except (FileNotFoundError, ValueError) as exc:
            raise CliError(str(exc)) from None
    from cloud_sync.lidar.linking import LinkerConfig

    linker = link_online(run.segments, LinkerConfig(use_appearance=not args.no_embedding))
    frames = global_frames(linker, run.times)
    if args.json:
        for frame in frames:
            print(json.dumps(frame))
    else:
        status = linker.status()
        print(f"{args.scene}: {scene.n_frames} frames, {len(scene.sensors)} sensors, "
              f"{status['segments']} track segments, {status['links']} links, {status['global_ids']} global ids")
    if run.world_truth:
        try:
            report = evaluate_run(run, linker)
        except ImportError:
            report = "ground truth present; install motmetrics to score it"
        print(json.dumps({"evaluation": report}), file=sys.stderr if args.json else sys.stdout)
    if args.plot:
        from edge_runtime.lidar.plotting import plot_top_view

        print(f"plot: {plot_top_view(frames, scene.sensors, args.plot)}", file=sys.stderr)
    return 0


def _simulate(args) -> int:
    from tqdm import tqdm

    from edge_runtime.lidar.scene_format import SceneWriter
    from edge_runtime.lidar.synth_scene import WalkwaySimulator, walkway_spec

    if args.people < 1 or args.duration <= 0 or args.sensors < 1:
        raise CliError("--people and --sensors must be ≥ 1 and --duration > 0")
    if args.model:
        from edge_runtime.lidar.synth_variety import matrix_scene

        try:
            spec = matrix_scene(args.model, args.height, args.tilt, args.people, args.seed, args.duration,
                                sensors=args.sensors, range_m=args.range)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        spec.crowd = "varied" if args.varied else "uniform"
        spec.frame_rate_hz = args.rate
    else:
        spec = walkway_spec(args.people, args.duration, args.sensors, args.seed, args.beams,
                            args.azimuth_steps, args.rate)
        spec.crowd = "varied" if args.varied else "uniform"
    simulator = WalkwaySimulator(spec)
    people = [{"person_id": w.person_id, "speed": round(w.speed, 3), **w.shape.to_dict()}
              for w in simulator.walkers]
    writer = SceneWriter(args.out, spec.sensors, spec.frame_rate_hz, people)
    for frame in tqdm(simulator.frames(), total=spec.n_frames, desc="simulating", unit="frame",
                      file=sys.stderr, disable=not sys.stderr.isatty()):
        writer.write(frame.index, frame.t, frame.sensors, frame.truth)
    writer.close()
    print(f"{args.out}: {spec.n_frames} frames × {len(spec.sensors)} sensors, {args.people} people")
    return 0
