"""`cloud-sync edvit train|split|place|infer`: ED-ViT split inference from a laptop.

Heavy imports (torch, onnxruntime) happen inside the handlers so ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edge_runtime.clitools import CliError

EPILOG = """\
examples:
  cloud-sync edvit train --dataset digits --out plan/      (15 epochs; prints the time left)
  cloud-sync edvit split plan/ --n 3
  cloud-sync edvit export-tflite plan/      (needs the 'convert' extra: litert-torch)
  cloud-sync edvit place plan/ --device pi-01=raspberry-pi-4b-2gb --device pi-02=raspberry-pi-3b-plus \\
                               --device nano=jetson-nano
  cloud-sync edvit infer digit.png --plan plan/ --broker mqtt://127.0.0.1:1883
  cloud-sync edvit infer digit.npy --plan plan/ --local      (no broker: sub-models in-process)

The plan folder (manifest.json, sub-model ONNX files, fusion.npz) is what devices run:
copy it to each device and give its agent a task {kind: edvit, name: edvit, interval_s: 0,
params: {plan: /path/to/plan}}; 'place' prints these task entries. Add format: tflite to
the params to run the .tflite exports with LiteRT instead of ONNX Runtime.
"""


DEFAULT_EPOCHS = {"digits": 15, "mnist": 15}   # digits: 15 -> test accuracy 0.944, 10 -> 0.836 (seed 0)


def register(subparsers) -> None:
    top = subparsers.add_parser(
        "edvit", help="ED-ViT: split a ViT by classes, place sub-models, distributed inference",
        description="Train a small Vision Transformer, split it by classes into pruned sub-models "
                    "with an 'other' class, place them on devices by their profiles and classify "
                    "over MQTT by fusing the devices' features (arXiv 2410.11650).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="edvit_command", metavar="STEP")
    top.set_defaults(handler=lambda args: top.print_help() or 0)

    p = _step(sub, "train", "train the full ViT and start a plan folder",
              "Train the full ViT on digits (8x8, scikit-learn) or MNIST (shared/data/mnist: its 10k "
              "images split 8k/2k) and export it.",
              "cloud-sync edvit train --dataset mnist --out mnist-plan --epochs 15")
    p.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    p.add_argument("--out", type=Path, required=True, help="plan folder to create")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"training epochs (default: {DEFAULT_EPOCHS['digits']} on digits, "
                        f"{DEFAULT_EPOCHS['mnist']} on mnist; the progress bar shows the ETA)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=cmd_train)

    p = _step(sub, "split", "prune class-wise sub-models and train the fusion MLP",
              "Split the classes into N even subsets, prune a sub-model per subset (heads, MLP and "
              "embedding channels ranked on that subset), fine-tune each with an 'other' class, train "
              "the fusion MLP; print sizes.",
              "cloud-sync edvit split plan/ --n 5 --keep 0.4 --plot sizes.png")
    p.add_argument("plan", type=Path)
    p.add_argument("--n", type=int, required=True, help="number of sub-models (devices)")
    p.add_argument("--keep", type=float, help="fraction of units kept (default: (|C|/K)^0.6 per subset)")
    p.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs per sub-model")
    p.add_argument("--min-steps", type=int, default=200,
                   help="at least this many optimiser steps per sub-model (small subsets have short epochs)")
    p.add_argument("--fusion-epochs", type=int, default=40)
    p.add_argument("--plot", type=Path, help="bar chart of sub-model sizes vs the full ViT (PNG)")
    p.add_argument("--tflite", action="store_true",
                   help="also export every model to TFLite (litert-torch, the 'convert' extra)")
    p.set_defaults(handler=cmd_split)

    p = _step(sub, "export-tflite", "export the plan's full ViT and sub-models to TFLite",
              "Convert full.pt and every submodel_N.pt of the plan to .tflite with litert-torch "
              "(float32, batch 1: the device runner feeds larger batches in chunks) and record the "
              "files and their sizes in the manifest. Devices then run them with the task param "
              "format: tflite. Needs the 'convert' extra; takes a few seconds per model.",
              "cloud-sync edvit export-tflite plan/")
    p.add_argument("plan", type=Path)
    p.set_defaults(handler=cmd_export_tflite)

    p = _step(sub, "place", "assign sub-models to devices (greedy, re-prunes what fits nowhere)",
              "Greedy placement by device profiles (RAM budget, GFLOPS). A sub-model that fits no device "
              "is pruned harder and re-trained; an impossible fleet is reported with its smallest device "
              "and sub-model.",
              "cloud-sync edvit place plan/ --device pi-01=raspberry-pi-4b-2gb "
              "--device pi-02=raspberry-pi-5-8gb --graph ./var/graph")
    p.add_argument("plan", type=Path)
    p.add_argument("--device", action="append", default=[], metavar="ID=PROFILE",
                   help="a device and its profile id (see 'edge-runtime profiles'); repeat")
    p.add_argument("--ram-fraction", type=float, default=0.5, help="share of each device's RAM ED-ViT may use")
    p.add_argument("--graph", help="fleet graph location (folder or SPARQL URL): only devices it lists "
                                   "as online and ONNX-capable are used")
    p.set_defaults(handler=cmd_place)

    p = _step(sub, "infer", "classify an image with the placed sub-models",
              "Send IMAGE (.png/.jpg or a 2-D .npy) to every device of the plan, fuse their features; "
              "devices that miss the deadline are filled in and the answer is flagged partial.",
              "cloud-sync edvit infer seven.png --plan plan/ --broker mqtt://cloud:1883 --deadline 1.5")
    p.add_argument("image", type=Path)
    p.add_argument("--plan", type=Path, required=True)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--broker", help="broker URL of the fleet")
    group.add_argument("--local", action="store_true", help="run the sub-models in this process")
    p.add_argument("--fleet", default="default")
    p.add_argument("--task", default="edvit", help="task name on the agents")
    p.add_argument("--deadline", type=float, default=2.0, help="seconds to wait for the devices")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.set_defaults(handler=cmd_infer)


def _step(sub, name: str, summary: str, description: str, example: str):
    return sub.add_parser(name, help=summary, description=description, epilog=f"example:\n  {example}\n",
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _plan(path: Path):
    from edge_runtime.edvit.plan import load_plan
    try:
        return load_plan(path.expanduser().resolve())   # tasks resolve paths from their own folder
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None


def cmd_train(args) -> int:
    from cloud_sync.edvit.build import train_full
    from cloud_sync.edvit.data import load_dataset

    try:
        data = load_dataset(args.dataset)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    epochs = args.epochs or DEFAULT_EPOCHS[args.dataset]
    if epochs < 1:
        raise CliError(f"--epochs {epochs}: give at least 1")
    print(f"training the full ViT on {args.dataset} for {epochs} epochs (--epochs sets it); "
          f"the ETA is measured after the first epoch", flush=True)
    started = time.monotonic()
    plan = train_full(data, args.out, epochs=epochs, seed=args.seed,
                      on_epoch=_eta_printer(epochs, started))
    full = plan.manifest["full"]
    print(f"full ViT: {full['params']:,} params, {full['bytes']:,} bytes ONNX, "
          f"{full['flops'] / 1e6:.2f} MFLOPs/image, test accuracy {full['accuracy']:.4f} -> {args.out}")
    return 0


def _eta_printer(epochs: int, started: float):
    """One short line per epoch with the time left (tqdm's bar is hidden when output is not a terminal)."""
    def on_epoch(done: int, loss: float) -> None:
        spent = time.monotonic() - started
        left = spent / done * (epochs - done)
        print(f"  epoch {done}/{epochs}  loss {loss:.3f}  {spent:.0f} s spent, about {left:.0f} s left", flush=True)
    return on_epoch


def cmd_split(args) -> int:
    from cloud_sync.edvit.build import split_plan
    from cloud_sync.edvit.data import load_dataset
    from cloud_sync.edvit.split import SplitSettings

    plan = _plan(args.plan)
    if args.keep is not None and not 0 < args.keep <= 1:
        raise CliError(f"--keep must be in (0, 1], got {args.keep}")
    data = load_dataset(plan.manifest["dataset"])
    try:
        split_plan(plan, data, args.n, SplitSettings(epochs=args.epochs, min_steps=args.min_steps,
                                                               keep_ratio=args.keep),
                   fusion_epochs=args.fusion_epochs)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.tflite and not all("tflite" in e for e in [plan.manifest["full"], *plan.submodels]):
        _export_tflite(plan)   # (a plan exported before re-exports its new sub-models in split)
    print(size_table(plan.manifest))
    if args.plot:
        from cloud_sync.edvit.report import plot_sizes
        plot_sizes(plan.manifest, args.plot)
        print(f"plot -> {args.plot}")
    return 0


def cmd_export_tflite(args) -> int:
    plan = _plan(args.plan)
    _export_tflite(plan)
    print(size_table(plan.manifest))
    return 0


def _export_tflite(plan) -> None:
    from cloud_sync.edvit.build import export_plan_tflite
    from cloud_sync.edvit.export import litert_torch_module

    try:
        litert_torch_module()   # fail fast, before any model is loaded
        export_plan_tflite(plan)
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        raise CliError(str(exc)) from None


def size_table(manifest: dict) -> str:
    full = manifest["full"]
    tflite = lambda entry: f"{entry['tflite_bytes']:>12,}" if "tflite_bytes" in entry else f"{'-':>12}"  # noqa: E731
    rows = [f"{'model':<12}{'classes':<16}{'params':>9}{'ONNX bytes':>12}{'TFLite bytes':>13}{'MFLOPs':>9}"
            f"{'smaller':>9}{'acc':>8}",
            f"{'full':<12}{'all':<16}{full['params']:>9,}{full['bytes']:>12,} {tflite(full)}"
            f"{full['flops'] / 1e6:>9.2f}{1:>8.1f}x{full['accuracy']:>8.4f}"]
    for s in manifest["submodels"]:
        rows.append(f"{'sub ' + str(s['index']):<12}{str(s['classes']):<16}{s['params']:>9,}{s['bytes']:>12,} "
                    f"{tflite(s)}{s['flops'] / 1e6:>9.2f}{s['size_reduction']:>8.1f}x{s['test_accuracy']:>8.4f}")
    rows.append(f"fused accuracy {manifest['fusion']['accuracy']:.4f} (full {full['accuracy']:.4f})")
    return "\n".join(rows)


def cmd_place(args) -> int:
    from cloud_sync.edvit.build import place_plan
    from cloud_sync.edvit.placement import InfeasibleFleet, devices_from_profiles

    plan = _plan(args.plan)
    assignments = {}
    for item in args.device:
        device_id, sep, profile = item.partition("=")
        if not sep or not device_id or not profile:
            raise CliError(f"--device {item!r}: write ID=PROFILE, e.g. pi-01=raspberry-pi-4b-2gb")
        assignments[device_id] = profile
    if not assignments:
        raise CliError("no devices: give at least one --device ID=PROFILE")
    try:
        devices = devices_from_profiles(assignments)
    except (KeyError, ValueError, FileNotFoundError) as exc:
        raise CliError(f"{exc} (list profiles with 'edge-runtime profiles')") from None
    store = None
    if args.graph:
        from ontology.store import GraphStore
        store = GraphStore.open(args.graph, read_only=True)
    try:
        placement = place_plan(plan, devices, ram_fraction=args.ram_fraction, store=store)
    except InfeasibleFleet as exc:
        raise CliError(str(exc)) from None
    for index, device in sorted(placement.items()):
        print(f"sub-model {index} -> {device} ({assignments[device]})")
    print("agent task entries:")
    for device, indices in plan.devices().items():
        task = {"kind": "edvit", "name": "edvit", "interval_s": 0,
                "params": {"plan": str(plan.root.resolve()), "submodels": indices}}
        print(f"  {device}: {json.dumps(task)}")
    return 0


def cmd_infer(args) -> int:
    from cloud_sync.edvit.client import DistributedClassifier
    from cloud_sync.edvit.data import load_image_file

    plan = _plan(args.plan)
    try:
        image = load_image_file(args.image, plan.image_size)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if not plan.placement:
        raise CliError(f"plan {args.plan} has no placement; run 'cloud-sync edvit place' first")
    transport, closer = _transport(args, plan)
    try:
        result = DistributedClassifier(plan, transport, args.task, args.deadline).classify(image)
    finally:
        closer()
    answer = {"class": int(result.classes[0]), "confidence": float(result.probabilities[0].max()),
              "partial": result.partial, "missing_devices": result.missing_devices,
              "latency_ms": round(result.latency_s * 1000, 2), "compute_ms": round(result.compute_s * 1000, 2)}
    if args.json:
        print(json.dumps(answer))
    else:
        flag = f" PARTIAL (missing: {', '.join(result.missing_devices)})" if result.partial else ""
        print(f"class {answer['class']} (p={answer['confidence']:.3f}) in {answer['latency_ms']} ms{flag}")
    return 0


def _transport(args, plan):
    """(transport, close function): the MQTT coordinator, or the tasks in this process."""
    if args.local:
        from cloud_sync.edvit.client import LocalFleet
        from edge_runtime.agent.task import TaskContext
        from edge_runtime.edvit.task import EdvitSubmodelTask

        fleet = LocalFleet({d: EdvitSubmodelTask(args.task, {"plan": str(plan.root), "submodels": idx},
                                                 TaskContext(d, None, plan.root))
                            for d, idx in plan.devices().items()})
        return fleet, fleet.close
    import os
    import tempfile

    from cloud_sync.coordinator import Coordinator

    data_dir = tempfile.mkdtemp(prefix="edvit-infer-")
    coordinator = Coordinator(args.broker, data_dir, fleet=args.fleet,
                              replica_id=f"edvit-infer-{os.getpid()}", persistent_session=False)
    coordinator.start(wait_s=10)
    if not coordinator.wait_ready(0):
        error = coordinator.link.last_error
        coordinator.stop()
        raise CliError(f"cannot reach the broker {args.broker} within 10 s ({error}); "
                       "check the URL and that the broker runs")
    return coordinator, coordinator.stop
