"""`edge-runtime agent`: run the device agent until interrupted."""
from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from edge_runtime.clitools import CliError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "agent", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="run the device agent (tasks, durable outbox, heartbeats, commands)",
        description="Connect to the fleet broker (retrying with back-off, working offline meanwhile), "
                    "run the configured tasks, store every result in a durable outbox before "
                    "publishing it, send heartbeats and answer commands. CLI flags override the "
                    "config file.",
        epilog="examples:\n"
               "  edge-runtime agent --broker mqtt://cloud:1883 --device-id pi-01 --profile auto\n"
               "  edge-runtime agent --config /etc/edge/agent.yaml\n"
               "  edge-runtime agent --device-id sim-1 --config sim.yaml --state-dir /tmp/sim-1 --heartbeat 2\n")
    p.add_argument("--broker", help="broker URL: mqtt://host:1883, mqtts://user:pw@host:8883?ca=ca.pem")
    p.add_argument("--device-id", help="this device's id (letters, digits, . _ -)")
    p.add_argument("--profile", help="device profile id, or 'auto' to detect the board (the default)")
    p.add_argument("--config", type=Path, help="YAML/JSON agent config (tasks, outbox, ...)")
    p.add_argument("--state-dir", type=Path, help="where the outbox and task state live "
                                                  "(default ./agent-state)")
    p.add_argument("--heartbeat", type=float, help="seconds between heartbeats (default 10)")
    p.add_argument("--fleet", help="fleet name (default: default)")
    p.add_argument("--no-wait-for-coordinator", action="store_true",
                   help="publish results even when no coordinator has announced itself")
    p.set_defaults(handler=run_agent)


def run_agent(args) -> int:
    from edge_runtime.agent.config import load_config
    from edge_runtime.agent.runtime import Agent

    try:
        config = load_config(args.config, device_id=args.device_id, broker=args.broker,
                             profile=args.profile, state_dir=args.state_dir,
                             heartbeat_s=args.heartbeat, fleet=args.fleet,
                             wait_for_coordinator=False if args.no_wait_for_coordinator else None)
    except (ValueError, FileNotFoundError) as exc:
        raise CliError(f"{exc} (see 'edge-runtime agent --help')") from None
    try:
        agent = Agent(config).start()
    except ModuleNotFoundError as exc:            # a task whose extra is not installed
        raise CliError(str(exc)) from None
    print(f"agent {config.device_id}: broker {agent.link.url}, state {config.state_dir}, "
          f"tasks {[t.name for t in config.tasks]}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        agent.stop()
    return 0
