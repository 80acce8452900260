"""`cloud-sync coordinator | devices | results | rejected | cmd`: run the coordinator, look at the fleet."""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from edge_runtime.clitools import CliError

DATA_ENV = "CLOUD_SYNC_DATA"


def _data_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=Path(os.environ.get(DATA_ENV, "var")),
                   help=f"coordinator data directory (default ${DATA_ENV} or ./var)")


def _fleet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fleet", default="default", help="fleet name in the topic tree (default: default)")
    p.add_argument("--root", default="edge", help="topic root (default: edge)")


def register(subparsers) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser(
        "coordinator", formatter_class=fmt, help="run the coordinator (ingest, registry, commands)",
        description="Subscribe to the fleet, store results idempotently (by message id), track "
                    "devices online/offline and answer the Python API. Without --broker an embedded "
                    "amqtt broker is started on loopback.",
        epilog="examples:\n  cloud-sync coordinator --data ./var\n"
               "  cloud-sync coordinator --broker mqtts://coord:secret@cloud:8883?ca=ca.pem --data /srv/fleet\n"
               "  cloud-sync coordinator --broker mqtt://b:1883 --replica-id r2 --share-group ingest\n")
    p.add_argument("--broker", help="broker URL (mqtt://, mqtts://user:pw@host:port?ca=..&cert=..&key=..)")
    p.add_argument("--replica-id", default="main", help="unique name of this replica (default: main)")
    p.add_argument("--share-group", help="split ingest with other replicas via $share/GROUP/...")
    p.add_argument("--offline-after", type=float, help="seconds without traffic before a device is "
                                                       "offline (default: 3 heartbeats)")
    p.add_argument("--http-port", type=int, default=8080,
                   help="dashboard, JSON API and /sparql endpoint port (default 8080, 0 = any free)")
    p.add_argument("--http-host", default="127.0.0.1",
                   help="address the dashboard listens on (default 127.0.0.1; 0.0.0.0 for all)")
    _data_arg(p)
    _fleet_args(p)
    p.set_defaults(handler=run_coordinator)

    p = subparsers.add_parser(
        "devices", formatter_class=fmt, help="list devices: online/offline, last seen, backlog",
        description="Read the coordinator store and list every known device.",
        epilog="examples:\n  cloud-sync devices\n  cloud-sync devices --data /srv/fleet --json\n")
    _data_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=list_devices)

    p = subparsers.add_parser(
        "results", formatter_class=fmt, help="stored results of a device/task",
        description="Print stored results (oldest first), one JSON object per line.",
        epilog="examples:\n  cloud-sync results --device pi-01 --task traffic --limit 20\n"
               "  cloud-sync results --task traffic --since 1700000000\n")
    _data_arg(p)
    p.add_argument("--device", help="only this device")
    p.add_argument("--task", help="only this task")
    p.add_argument("--since", type=float, help="only results with ts >= this unix time")
    p.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    p.add_argument("--count", action="store_true", help="print only the number of results")
    p.set_defaults(handler=show_results)

    p = subparsers.add_parser(
        "rejected", formatter_class=fmt, help="messages the coordinator refused, with reasons",
        description="List dead letters: messages refused by validation (bad envelope, out-of-range "
                    "number, oversize ...) or by the store (stage 'store': the rest of their batch "
                    "was stored). One row per topic and payload digest; a repeat (a retained "
                    "message redelivered at reconnect) bumps its count. Totals per reason first.",
        epilog="examples:\n  cloud-sync rejected\n  cloud-sync rejected --reason out_of_range --limit 5\n"
               "  cloud-sync rejected --counts --json\n")
    _data_arg(p)
    p.add_argument("--reason", help="only this reason (e.g. out_of_range, undecodable, store_error)")
    p.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50)")
    p.add_argument("--counts", action="store_true", help="only the totals per reason")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=show_rejected)

    p = subparsers.add_parser(
        "cmd", formatter_class=fmt, help="send a command to a device and print its reply",
        description="Send DEVICE the command NAME with ARGS (key=value pairs, values parsed as JSON "
                    "when possible, or one JSON object) and print the reply. Built-in commands: "
                    "ping, get_config, set_config, run_task, status.",
        epilog="examples:\n  cloud-sync cmd pi-01 ping\n  cloud-sync cmd pi-01 set_config heartbeat_s=5\n"
               "  cloud-sync cmd pi-01 run_task task=traffic\n"
               "  cloud-sync cmd pi-01 run_task '{\"task\": \"echo\", \"request\": {\"x\": 1}}'\n")
    p.add_argument("device")
    p.add_argument("name")
    p.add_argument("args", nargs="*", help="key=value ... or one JSON object")
    p.add_argument("--broker", help="broker URL (default: the running coordinator's, from --data)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the reply")
    _data_arg(p)
    _fleet_args(p)
    p.set_defaults(handler=send_command)


def run_coordinator(args) -> int:
    from cloud_sync.cloud import CloudStack

    try:
        stack = CloudStack(args.broker, args.data, http_host=args.http_host, http_port=args.http_port,
                           fleet=args.fleet, root=args.root, replica_id=args.replica_id,
                           share_group=args.share_group, offline_after_s=args.offline_after)
        stack.start(wait_s=0)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{exc}: is port {args.http_port} in use? pick another with --http-port") from None
    from cloud_sync.coordinator.gc_tuning import tune_gc_for_ingest
    tune_gc_for_ingest()
    coord = stack.coordinator
    print(f"coordinator {args.replica_id}: broker {coord.link.url}, store {coord.store.path}", flush=True)
    print(f"dashboard {stack.dashboard_url} · SPARQL {stack.dashboard_url}sparql", flush=True)
    print(f"HTTP write token for this run (deploy, SPARQL update) is in {stack.write_token_path} "
          f"(mode 0600)\n  lasting tokens: 'cloud-sync credentials token NAME --data {args.data}'",
          flush=True)
    try:
        while True:
            time.sleep(10)
            s = coord.stats()
            print(f"received {s['received']} stored {s['stored']} duplicates {s['duplicates']} "
                  f"rejected {sum(s['rejected'].values())}{_by_reason(s['rejected'])}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


def _by_reason(counts: dict[str, int]) -> str:
    return f" ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})" if counts else ""


def _store(args):
    from cloud_sync.coordinator.store import Store
    try:
        return Store(args.data, readonly=True)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None


def list_devices(args) -> int:
    devices = _store(args).devices()
    if args.json:
        print(json.dumps(devices, indent=2, default=str))
        return 0
    if not devices:
        print("no devices yet")
        return 0
    print(f"{'device':<24} {'state':<8} {'last seen':<20} {'backlog':>8} {'dropped':>8}")
    for d in devices:
        outbox = (d["health"] or {}).get("outbox") or {}
        seen = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(d["last_seen"])) if d["last_seen"] else "-"
        print(f"{d['device_id']:<24} {'online' if d['online'] else 'offline':<8} {seen:<20} "
              f"{outbox.get('backlog', '-'):>8} {outbox.get('dropped', '-'):>8}")
    return 0


def show_results(args) -> int:
    store = _store(args)
    if args.count:
        print(store.count_results(args.device, args.task))
        return 0
    for row in store.results(args.device, args.task, args.since, args.limit):
        print(json.dumps(row, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    return 0


def show_rejected(args) -> int:
    store = _store(args)
    counts = store.rejection_counts()
    rows = [] if args.counts else store.rejected(args.reason, args.limit)
    if args.json:
        print(json.dumps({"counts": counts, **({} if args.counts else {"rejected": rows})}, indent=2))
        return 0
    if not counts:
        print("no rejected messages")
        return 0
    print("per reason: " + ", ".join(f"{reason} {n}" for reason, n in counts.items()))
    for row in rows:
        seen = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["last_seen"]))
        print(f"{seen}  {row['reason']:<14} x{row['count']:<5} {row['stage']:<10} {row['topic']}\n"
              f"    {row['detail']}  (sha256 {row['digest'][:16]}…, {row['size']} bytes)")
    return 0


def parse_command_args(items: list[str]) -> dict:
    """``['{"a": 1}']`` or ``['a=1', 'b=x']`` → dict (values as JSON when they parse)."""
    if len(items) == 1 and items[0].lstrip().startswith("{"):
        try:
            return json.loads(items[0])
        except json.JSONDecodeError as exc:
            raise CliError(f"ARGS is not valid JSON: {exc}") from None
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"argument {item!r}: use key=value (or one JSON object)")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _find_broker(args) -> str:
    if args.broker:
        return args.broker
    for info_file in sorted(Path(args.data).glob("coordinator-*.json")):
        return json.loads(info_file.read_text())["broker"]
    raise CliError(f"no --broker given and no running coordinator found in {args.data}; "
                   "pass --broker mqtt://HOST:PORT or --data DIR of the coordinator")


def send_command(args) -> int:
    from cloud_sync.coordinator.requests import RequestClient
    from cloud_sync.protocol import TopicTree

    body = parse_command_args(args.args)
    try:
        with RequestClient(_find_broker(args), TopicTree(args.root, args.fleet)) as client:
            reply = client.requester.call(args.device, f"cmd/{args.name}", body, args.timeout)
    except (ConnectionError, ValueError) as exc:
        raise CliError(str(exc)) from None
    except TimeoutError as exc:
        raise CliError(f"{exc} (is the device online? 'cloud-sync devices')") from None
    print(json.dumps({"ok": reply.ok, "result": reply.body, "error": reply.error,
                      "latency_ms": round(reply.latency_s * 1000, 2)}, indent=2, default=str))
    return 0 if reply.ok else 1
