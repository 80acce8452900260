"""`cloud-sync simulate-fleet`: thousands of virtual devices against a real broker."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edge_runtime.clitools import CliError

EPILOG = """\
examples:
  cloud-sync simulate-fleet --broker mqtt://127.0.0.1:1883 --devices 1000 --duration 300
  cloud-sync simulate-fleet --broker mqtt://b:1883 --devices 10000 --heartbeat 1 --result-every 10 \\
      --connect-rate 400 --report sim.json --per-device
  cloud-sync simulate-fleet --broker mqtt://b:1883 --devices 500 --outage-fraction 0.3 \\
      --outage-at 60 --outage 30 --churn 6 --power-cuts 2

Each device is one MQTT connection with a last will, speaking the agent's protocol: TD birth,
retained state, QoS0 heartbeats, QoS1 results from a durable-style outbox (replayed in order
and flagged historical after a reconnect), commands answered. The report (--report) says what
was created and acknowledged; with --per-device it lists each device's result count, from
which every message id can be rebuilt (cloud_sync.simulate.fleet.FleetReport).
The process needs one file descriptor per device: raise 'ulimit -n' for large fleets.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate-fleet", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="simulate thousands of devices in one process (load, churn, outages)",
        description="Run N virtual devices in one asyncio process against a broker.", epilog=EPILOG)
    p.add_argument("--broker", required=True, help="broker URL (mqtt://host:port)")
    p.add_argument("--devices", type=int, default=100, help="number of devices (default 100)")
    p.add_argument("--duration", type=float, default=60.0,
                   help="seconds of traffic, then drain and disconnect (default 60; 0 = until Ctrl-C)")
    p.add_argument("--heartbeat", type=float, default=1.0, help="heartbeat interval in s (default 1)")
    p.add_argument("--result-every", type=float, default=10.0,
                   help="mean seconds between results per device (default 10)")
    p.add_argument("--connect-rate", type=float, default=500.0,
                   help="new connections per second during the ramp (default 500)")
    p.add_argument("--churn", type=float, default=0.0, help="clean reconnects per device-hour")
    p.add_argument("--power-cuts", type=float, default=0.0,
                   help="drops without DISCONNECT (the broker sends the will) per device-hour")
    p.add_argument("--outage-fraction", type=float, default=0.0,
                   help="fraction of devices that lose the link once (default 0)")
    p.add_argument("--outage-at", type=float, default=30.0, help="when the outage starts (s)")
    p.add_argument("--outage", type=float, default=10.0, help="how long it lasts (s)")
    p.add_argument("--no-wait-for-coordinator", action="store_true",
                   help="send results even when no coordinator has announced itself online")
    p.add_argument("--fleet", default="default", help="fleet name in the topic tree")
    p.add_argument("--root", default="edge", help="topic root")
    p.add_argument("--prefix", default="sim", help="device id prefix (ids PREFIX-00000 ...)")
    p.add_argument("--seed", type=int, default=0, help="seed of every per-device draw")
    p.add_argument("--report", type=Path, help="write the JSON report here")
    p.add_argument("--per-device", action="store_true", help="include per-device counts in the report")
    p.set_defaults(handler=simulate_fleet)


def simulate_fleet(args) -> int:
    from cloud_sync.simulate.fleet import FleetOptions, FleetSimulator, SimulatorThread, write_report

    try:
        options = FleetOptions(
            devices=args.devices, heartbeat_s=args.heartbeat, result_every_s=args.result_every,
            duration_s=args.duration or None, connect_rate=args.connect_rate,
            churn_per_hour=args.churn, power_cut_per_hour=args.power_cuts,
            outage_fraction=args.outage_fraction, outage_at_s=args.outage_at, outage_s=args.outage,
            wait_for_coordinator=not args.no_wait_for_coordinator, fleet=args.fleet, root=args.root,
            prefix=args.prefix, seed=args.seed)
        simulator = FleetSimulator(args.broker, options)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    runner = SimulatorThread(simulator).start()
    try:
        while runner.alive:
            runner.join(10)
            if runner.alive and simulator.devices:
                print(json.dumps({"t": round(time.monotonic() - (simulator.started_at or 0), 1),
                                  **simulator.snapshot()}), flush=True)
    except KeyboardInterrupt:
        print("stopping: draining outboxes, then disconnecting", flush=True)
    report = runner.stop_and_join(options.drain_s + 120)
    summary = report.to_dict()
    print(json.dumps({"elapsed_s": summary["elapsed_s"], **summary["totals"],
                      "online_at_end": summary["online_at_end"], **summary["process"]}), flush=True)
    if args.report:
        write_report(report, args.report, args.per_device)
        print(f"report: {args.report}", flush=True)
    return 0 if report.totals["unacked"] == 0 else 1
