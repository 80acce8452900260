"""`cloud-sync demo`: the README's main command."""
from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
what it starts:
  an MQTT broker (embedded amqtt on loopback unless --broker), the coordinator with its
  fleet graph (Oxigraph) and dashboard, and one agent process per simulated device, each
  with the profile of a real board (Raspberry Pi 4/5, Jetson Orin Nano, a Cortex-M4 node
  under TFLite Micro, x86). Every workload that is installed runs on real data from
  ../shared/data when present, generated data otherwise.

examples:
  cloud-sync demo                         run 2 minutes, dashboard on http://127.0.0.1:8080/
  cloud-sync demo --duration 0            run until Ctrl-C
  cloud-sync demo --devices 12 --http-port 9000
  cloud-sync demo --broker mqtt://127.0.0.1:1883   use a running Mosquitto instead
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="run the end-to-end fleet demo with a live dashboard",
        description="Start a broker, the coordinator, the dashboard and a simulated fleet of "
                    "agent processes running every workload; print progress and a summary.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=120.0,
                   help="seconds to run once the fleet is up (0 = until Ctrl-C; default 120)")
    p.add_argument("--devices", type=int, default=6, help="number of simulated devices (default 6)")
    p.add_argument("--broker", help="use this broker URL instead of the embedded one")
    p.add_argument("--data", type=Path, help="keep the coordinator store and device state here "
                                             "(default: a new temp dir)")
    p.add_argument("--http-port", type=int, default=8080, help="dashboard port (default 8080, 0 = any free)")
    p.add_argument("--http-host", default="127.0.0.1", help="dashboard address (default 127.0.0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    p.set_defaults(handler=_run)


def _run(args) -> int:
    from cloud_sync.demo.run import BrokerUnreachable, DemoOptions, run_demo
    from edge_runtime.clitools import CliError

    if args.devices < 1:
        raise CliError("--devices must be at least 1")
    options = DemoOptions(duration_s=args.duration, devices=args.devices, broker=args.broker,
                          data_dir=args.data, http_port=args.http_port, http_host=args.http_host,
                          seed=args.seed)
    try:
        summary = run_demo(options, say=lambda line: print(line, flush=True))
    except BrokerUnreachable as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{exc} (is port {args.http_port} in use? try --http-port 0)") from exc
    return 0 if summary.get("results") else 1
