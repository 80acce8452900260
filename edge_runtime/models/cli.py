"""`edge-runtime models inspect|run`: look inside a model and run it on this machine."""
from __future__ import annotations

import argparse
import json

from edge_runtime.clitools import CliError

EPILOG = """\
examples:
  edge-runtime models inspect model.tflite              inputs, outputs, backend, provider, latency
  edge-runtime models inspect model.tflite --backend tflm   + the TFLite Micro arena an MCU needs
  edge-runtime models run model.onnx --input x.npy      outputs for your data (float in, float out)
  edge-runtime models run model.tflite --profile auto --output y.npy
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "models", help="inspect and run .tflite/.onnx models (LiteRT, ONNX Runtime, TFLite Micro)",
        description="One runner for LiteRT, ONNX Runtime and TFLite Micro: input/output specs, "
                    "int8 scale/zero point, provider actually used, latency, MCU arena size.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    for name, helptext in (("inspect", "describe a model and time it"), ("run", "run a model on an input")):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("model", help=".tflite or .onnx file")
        q.add_argument("--backend", default="auto", choices=["auto", "litert", "onnxruntime", "tflm"])
        q.add_argument("--profile", help="device profile id (or 'auto') choosing backend and providers")
        q.add_argument("--json", action="store_true", help="print JSON instead of text")
        if name == "inspect":
            q.add_argument("--runs", type=int, default=20, help="timed runs after warm-up (default 20)")
            q.set_defaults(handler=_inspect)
        else:
            q.add_argument("--input", help=".npy file (default: seeded random data of the right shape)")
            q.add_argument("--output", help="save the first output to this .npy file")
            q.add_argument("--raw", action="store_true", help="no (de)quantisation: integers in and out")
            q.set_defaults(handler=_run)


def _open(args):
    try:
        from edge_runtime.models import ModelError, load_model
    except ModuleNotFoundError as exc:
        raise CliError(str(exc)) from None          # the lean install: which extra to add

    profile = None
    if args.profile:
        from device_profiles.cli import profile_or_error
        profile = profile_or_error(args.profile)
    try:
        return load_model(args.model, backend=args.backend, profile=profile)
    except ModelError as exc:
        raise CliError(str(exc)) from None


def _inspect(args) -> int:
    runner = _open(args)
    info = runner.describe()
    info["latency"] = runner.timeit(args.runs)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"model     {info['path']} ({info['size_bytes']} bytes)")
    print(f"backend   {info['backend']} via {info['provider']}")
    if info.get("arena_bytes"):
        print(f"arena     {info['arena_bytes']} bytes (TFLite Micro, measured)")
    for kind in ("inputs", "outputs"):
        for s in info[kind]:
            quant = f" scale={s['scale']:.6g} zero_point={s['zero_point']}" if s["scale"] else ""
            print(f"{kind[:-1]:9s} {s['name']} {s['shape']} {s['dtype']}{quant}")
    lat = info["latency"]
    print(f"latency   p50 {lat['p50_ms']:.3f} ms, p95 {lat['p95_ms']:.3f} ms over {lat['n']} runs")
    return 0


def _run(args) -> int:
    import numpy as np

    from edge_runtime.models import ModelError
    from edge_runtime.models.task import summarize

    runner = _open(args)
    if args.input:
        try:
            x = np.load(args.input)
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read --input {args.input!r} as a .npy array: {exc}") from None
    else:
        x = runner.random_inputs(seed=0)
    try:
        outputs = runner.run(x, raw=args.raw)
    except ModelError as exc:
        raise CliError(f"{exc} (input from {args.input or 'random data'})") from None
    if args.output:
        np.save(args.output, outputs[0])
    summaries = [{"name": spec.name, **summarize(y)} for spec, y in zip(runner.outputs, outputs)]
    if args.json:
        print(json.dumps({"backend": runner.backend, "provider": runner.provider, "outputs": summaries}, indent=2))
    else:
        print(f"# {runner.path.name} on {runner.backend} via {runner.provider}")
        for s in summaries:
            print(f"{s['name']}: shape {s['shape']} {s['dtype']} min {s['min']:.4g} max {s['max']:.4g} "
                  f"mean {s['mean']:.4g} argmax {s['argmax']}")
        if len(outputs[0].ravel()) <= 16:
            print(np.array2string(outputs[0], precision=4))
    return 0
