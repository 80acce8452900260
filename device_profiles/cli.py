"""`edge-runtime profile list|show|detect|fit`: the board catalogue from the command line."""
from __future__ import annotations

import argparse
import json

from edge_runtime.clitools import CliError

EPILOG = """\
examples:
  edge-runtime profile list                       the catalogue, one board a line
  edge-runtime profile show raspberry-pi-4b-4gb   every figure of one board (--json for machines)
  edge-runtime profile detect                     which board is this? (real RAM, cores, arch)
  edge-runtime profile fit model.tflite arduino-nano-33-ble-sense
                                                  does the model fit in flash and RAM? (exit 1: no)
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "profile", help="device profiles: list, show, detect this board, check a model fits",
        description="Device profiles: the boards the runtime knows (CPU, RAM, storage, "
                    "accelerators, sensors, usable backends, power) and detection of this one.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="profile_command", metavar="ACTION", required=True)

    sub.add_parser("list", help="list the built-in boards").set_defaults(handler=_list)

    show = sub.add_parser("show", help="print one profile")
    show.add_argument("profile", help="profile id (see 'profile list') or path of a .yaml board file")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(handler=_show)

    det = sub.add_parser("detect", help="identify the board this runs on and print its profile")
    det.add_argument("--root", default="/", help="read /proc, /etc below this folder (default /)")
    det.add_argument("--json", action="store_true", help="print JSON instead of text")
    det.set_defaults(handler=_detect)

    fit = sub.add_parser("fit", help="does a model fit a board? flash and RAM, with the numbers")
    fit.add_argument("model", help=".tflite or .onnx file")
    fit.add_argument("profile", help="profile id, a .yaml board file, or 'auto' (detect this board)")
    fit.add_argument("--json", action="store_true", help="print JSON instead of text")
    fit.set_defaults(handler=_fit)


def profile_or_error(name: str):
    from device_profiles import ProfileError, load_profile
    from device_profiles.detect import detect_profile

    if name == "auto":
        return detect_profile().profile
    try:
        return load_profile(name)
    except KeyError as exc:
        raise CliError(exc.args[0]) from None
    except ProfileError as exc:
        raise CliError(str(exc)) from None


def _list(args) -> int:
    from device_profiles import all_profiles
    from device_profiles.schema import format_bytes

    for p in all_profiles():
        print(f"{p.id:28s} {p.device_class:6s} {p.cores} x {p.cpu_freq_hz / 1e9:.2f} GHz  "
              f"RAM {format_bytes(p.ram_bytes):>9s}  storage {format_bytes(p.storage_bytes):>9s}  {p.name}")
    return 0


def print_profile(profile, as_json: bool) -> None:
    """Human text (or JSON) for one profile; shared by show and detect."""
    from device_profiles.schema import format_bytes

    if as_json:
        print(json.dumps(profile.to_dict(), indent=2))
        return
    b = profile.backends
    accel = "; ".join(f"{a.kind}: {a.name}" + (f" ({a.tops:g} TOPS)" if a.tops else "")
                      for a in profile.accelerators) or "none"
    rows = [
        ("id", profile.id), ("name", profile.name), ("class", profile.device_class),
        ("cpu", f"{profile.cpu_model} ({profile.arch}), {profile.cores} cores at "
                f"{profile.cpu_freq_hz / 1e9:.3g} GHz"),
        ("ram", format_bytes(profile.ram_bytes) + (f" + {format_bytes(profile.external_ram_bytes)} external"
                                                   if profile.external_ram_bytes else "")),
        ("storage", f"{format_bytes(profile.storage_bytes)} {profile.storage_kind}"),
        ("accelerators", accel), ("sensors", ", ".join(profile.sensors) or "none"),
        ("backends", f"litert={'yes' if b.litert else 'no'} tflm={'yes' if b.tflm else 'no'} "
                     f"onnxruntime={','.join(b.onnxruntime_providers) or 'no'}"),
        ("power", f"{profile.power_class}, typical {profile.power_typical_w:g} W"),
        ("peak", f"{profile.peak_gflops:g} GFLOPS (CPU FP32, theoretical)"),
        ("source", profile.source_file),
    ]
    if profile.notes:
        rows.append(("notes", profile.notes))
    for key, value in rows:
        print(f"{key:13s} {value}")


def _show(args) -> int:
    print_profile(profile_or_error(args.profile), args.json)
    return 0


def _detect(args) -> int:
    from device_profiles.detect import detect_profile

    detection = detect_profile(args.root)
    if args.json:
        print(json.dumps({"reason": detection.reason, "matched": detection.matched_id,
                          "profile": detection.profile.to_dict()}, indent=2))
    else:
        print(f"# {detection.reason}")
        print_profile(detection.profile, False)
    return 0


def _fit(args) -> int:
    from device_profiles.fit import check_fit

    profile = profile_or_error(args.profile)
    try:
        report = check_fit(args.model, profile)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.describe())
    return 0 if report.fits else 1
