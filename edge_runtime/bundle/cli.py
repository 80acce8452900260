"""`edge-runtime bundle`: everything one device needs, in one folder."""
from __future__ import annotations

import argparse
from pathlib import Path

from edge_runtime.clitools import CliError

EPILOG = """\
examples:
  edge-runtime bundle --profile raspberry-pi-4b-4gb --device-id pi-01 --out bundles/pi-01 \\
      --broker mqtts://broker.example.org:8883 --cloud-data var
  edge-runtime bundle --profile jetson-orin-nano --device-id orin-01 --out bundles/orin-01
  edge-runtime bundle --profile raspberry-pi-3b-plus --arch armv7l ...   refused: no 32-bit wheels

Then copy the folder to the device and run 'sudo ./install.sh' there: it makes a venv
(Pi OS Bookworm forbids system pip), installs the pinned wheels and edge-runtime, writes
/opt/edge-runtime/etc and enables the systemd service (watchdog, unprivileged user).
"""


def cmd_bundle(args) -> int:
    from edge_runtime.bundle.builder import BundleRequest, build_bundle
    from edge_runtime.bundle.targets import UnsupportedTarget
    request = BundleRequest(profile=args.profile, device_id=args.device_id, out=args.out,
                            cloud_data=args.cloud_data, broker=args.broker, arch=args.arch,
                            python=args.python, model=args.model, client_cert=args.client_cert,
                            wheel=args.wheel, force=args.force)
    try:
        manifest = build_bundle(request)
    except (UnsupportedTarget, ValueError, KeyError, FileExistsError, FileNotFoundError, RuntimeError) as exc:
        raise CliError(str(exc).strip("'\"")) from None
    print(f"bundle for {manifest['device_id']} ({manifest['profile']}, linux/{manifest['arch']}, "
          f"Python {manifest['python']}) in {args.out}: {len(manifest['files'])} files")
    for note in manifest["notes"]:
        print(f"  note: {note}")
    print(f"next: copy {args.out} to the device and run 'sudo ./install.sh' there")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("bundle", help="build the install folder for one device",
                              description="Write config, credentials, fleet key, pinned requirements, "
                                          "systemd unit and install script for one device.",
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", required=True, help="device profile id ('edge-runtime profile list')")
    p.add_argument("--device-id", required=True, help="the device's id (also its broker user)")
    p.add_argument("--out", type=Path, required=True, help="folder to write (must be empty)")
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="broker URL as the device reaches it")
    p.add_argument("--cloud-data", type=Path, default=Path("var"),
                   help="coordinator data folder with credentials and the fleet key (default ./var)")
    p.add_argument("--arch", help="override the profile's architecture (e.g. armv7l for a 32-bit OS)")
    p.add_argument("--python", default=None,
                   help="device Python version (default: what the board's OS ships: 3.11 on Pi OS "
                        "Bookworm and x86, 3.10 on Jetson JetPack 6)")
    p.add_argument("--model", type=Path, help="a model file to serve as task 'model'")
    p.add_argument("--client-cert", action="store_true", help="also a TLS client certificate (mqtts)")
    p.add_argument("--wheel", type=Path, help="prebuilt edge-runtime wheel (default: build from this checkout)")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    p.set_defaults(handler=cmd_bundle)
