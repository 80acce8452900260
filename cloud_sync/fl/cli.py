"""`cloud-sync fl run`: federated (meta-)learning rounds, simulated in-process or over MQTT."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from edge_runtime.clitools import CliError

EPILOG = """\
examples:
  cloud-sync fl run --strategy tinyreptile --task sine --devices 20 --rounds 300
  cloud-sync fl run --strategy fedavg --task occupancy --devices 7 --rounds 50 --set clients_per_round=3
  cloud-sync fl run --strategy tinymetafed --task digits --devices 5 --rounds 200 --out runs/digits
  cloud-sync fl run --strategy tinyreptile --task sine --devices 3 --rounds 3 \\
      --broker mqtt://localhost:1883 --data ./var        # agents run the 'fl_client' task

Without --broker the devices are simulated in this process (same strategy code, same
CBOR bodies). With --broker the coordinator asks the online agents' 'fl_client' task
(--task-name) each round; a round waits --deadline seconds and goes on with who answered.
Round state is kept under DATA/fl/RUN so an interrupted run resumes (--fresh restarts).
Per-round JSON lines, a summary and a learning-curve PNG are written to --out.
"""


def register(subparsers) -> None:
    fl = subparsers.add_parser("fl", help="federated learning: run strategies over the fleet",
                               formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
                               description="Federated meta-learning (FedAvg, Reptile, TinyReptile, TinyMetaFed).")
    fl.set_defaults(handler=lambda _args: fl.print_help() or 0)
    sub = fl.add_subparsers(dest="fl_command", metavar="FL_COMMAND")
    p = sub.add_parser("run", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
                       help="run R rounds of a strategy on an experiment",
                       description="Run federated rounds of one strategy on one experiment and report "
                                   "the metric after adaptation, bytes and device updates per round.")
    p.add_argument("--strategy", required=True, help="fedavg | reptile | tinyreptile | tinymetafed")
    p.add_argument("--task", required=True, help="experiment: sine | digits | omniglot | fsdd | occupancy")
    p.add_argument("--devices", type=int, required=True, help="number of devices taking part")
    p.add_argument("--rounds", type=int, required=True, help="number of rounds")
    p.add_argument("--broker", help="MQTT broker URL; without it the fleet is simulated in-process")
    p.add_argument("--data", type=Path, default=Path(os.environ.get("CLOUD_SYNC_DATA", "var")),
                   help="coordinator data directory; round state goes to DATA/fl/RUN (default ./var)")
    p.add_argument("--run-id", help="name of the run's state folder (default TASK-STRATEGY)")
    p.add_argument("--fresh", action="store_true", help="ignore saved round state and start at round 0")
    p.add_argument("--out", type=Path, help="folder for rounds.jsonl, summary.json, learning_curve.png "
                                            "(default DATA/fl/RUN)")
    p.add_argument("--task-name", default="fl", help="agent task name of the fl_client task (default fl)")
    p.add_argument("--deadline", type=float, default=60.0, help="seconds a round waits for replies (default 60)")
    p.add_argument("--wait-online", type=float, default=60.0,
                   help="with --broker: seconds to wait for DEVICES agents to be online (default 60)")
    p.add_argument("--eval-every", type=int, default=0, help="evaluate every N rounds (default: ~10 points)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="strategy option, e.g. lr=0.01 local_steps=32 top_p=5 (repeatable)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="experiment parameter, e.g. backbone=omniglot.onnx (repeatable)")
    p.add_argument("--min-ram", type=int, default=0, metavar="BYTES",
                   help="with --broker: only devices whose profile has this much RAM (fleet-graph query)")
    p.add_argument("--backend", help="with --broker: only devices with this runtime backend (e.g. tflm)")
    p.add_argument("--max-message", type=int, default=256 * 1024, metavar="BYTES",
                   help="with --broker: largest MQTT payload of a round; bigger θ/updates go in parts "
                        "(default 262144, what MCU-class clients buffer)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_command)


def _pairs(items: list[str], where: str) -> dict:
    """KEY=VALUE options (values parsed as JSON when they parse), as ``cloud-sync cmd`` reads them."""
    from cloud_sync.coordinator.cli import parse_command_args

    try:
        return parse_command_args(items)
    except CliError as exc:
        raise CliError(f"{where}: {exc}") from None


def _requirements(args: argparse.Namespace) -> dict | None:
    """``ontology.queries.capable_devices`` arguments from --min-ram / --backend (None: any online device)."""
    wanted = {k: v for k, v in (("min_ram_bytes", args.min_ram), ("backend", args.backend)) if v}
    if wanted and not args.broker:
        raise CliError("--min-ram/--backend select real devices: they need --broker")
    return wanted or None


def run_command(args: argparse.Namespace) -> int:
    from cloud_sync.fl import STRATEGIES, make_strategy
    from cloud_sync.fl.session import FederatedSession
    from edge_runtime.online.experiments import EXPERIMENTS

    if args.strategy not in STRATEGIES:
        raise CliError(f"unknown --strategy {args.strategy!r}; choose from {', '.join(STRATEGIES)}")
    if args.task not in EXPERIMENTS:
        raise CliError(f"unknown --task {args.task!r}; choose from {', '.join(EXPERIMENTS)}")
    if args.devices < 1 or args.rounds < 1:
        raise CliError("--devices and --rounds must be at least 1")
    params = _pairs(args.param, "--param")
    if args.task == "sine" and not args.broker:
        params.setdefault("n_devices", args.devices)
    try:
        strategy = make_strategy(args.strategy, rounds=args.rounds, **_pairs(args.set, "--set"))
    except (TypeError, ValueError) as exc:
        raise CliError(f"--set: {exc}") from None
    run_id = args.run_id or f"{args.task}-{args.strategy}"
    state_dir = args.data / "fl" / run_id
    session = FederatedSession(args.task, params, strategy, seed=args.seed)
    try:
        summary = session.run(rounds=args.rounds, n_devices=args.devices, broker=args.broker,
                              data_dir=args.data, state_dir=state_dir, out_dir=args.out or state_dir,
                              task_name=args.task_name, deadline_s=args.deadline, fresh=args.fresh,
                              wait_online_s=args.wait_online, eval_every=args.eval_every,
                              progress=not args.no_progress, requirements=_requirements(args),
                              max_message=args.max_message)
    except TimeoutError as exc:
        if not args.broker:
            raise CliError(str(exc)) from None
        raise CliError(f"{exc}. Each device's agent needs an 'fl_client' task named {args.task_name!r} in its "
                       f"config, e.g. tasks: [{{kind: fl_client, name: {args.task_name}, interval_s: 0, params: "
                       f"{{experiment: {args.task}}}}}]; 'cloud-sync devices --data {args.data}' lists who is "
                       f"online") from None
    except (FileNotFoundError, ValueError, ConnectionError) as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(summary["final"]))
    return 0
