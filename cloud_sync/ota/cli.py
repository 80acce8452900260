"""`cloud-sync models add|list`, `cloud-sync deploy`, `cloud-sync deployments`."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge_runtime.clitools import CliError

MODELS_EPILOG = """\
examples:
  cloud-sync models add kws.onnx                   -> kws:v1, signed with the fleet key
  cloud-sync models add kws.tflite --name kws --version 2026-11-25 --task kws
  cloud-sync models list

The fleet signing key is created on first use in <data>/keys/ (fleet_ed25519.pem stays
there; fleet_public.pem goes onto every device, 'edge-runtime bundle' copies it).
"""

DEPLOY_EPILOG = """\
examples:
  cloud-sync deploy kws --to pi-01,pi-02 --wait 120
  cloud-sync deploy kws:v3 --to pi-01 --task kws --window 60 --max-error-rate 0.05
  cloud-sync deploy kws --to 'PREFIX er: <https://w3id.org/edge-runtime/ns#>
      SELECT ?device WHERE { ?d er:deviceId ?device ; er:online true }'
  cloud-sync deploy kws --to targets.rq

Each device: queued -> downloading (resumable) -> verifying (sha256 + Ed25519) ->
activating (smoke run while the old model still serves) -> health gate (error rate /
p95 latency over --window s) -> healthy, or rolled back to the previous model.
"""


def _data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=Path("var"), help="coordinator data folder (default ./var)")


def cmd_models_add(args) -> int:
    from cloud_sync.ota.model_check import NotAModel, check_model_file
    from cloud_sync.ota.registry import ModelRegistry, RegistryError
    try:
        if Path(args.file).is_file():
            check_model_file(args.file)
        manifest = ModelRegistry(args.data).add(args.file, args.name, args.version, args.task or "")
    except (RegistryError, NotAModel) as exc:
        raise CliError(str(exc)) from None
    print(f"{manifest.ref}  {manifest.format}  {manifest.size} bytes  sha256 {manifest.sha256[:16]}…  "
          f"signed by key {manifest.key_id}")
    return 0


def cmd_models_list(args) -> int:
    from cloud_sync.ota.registry import ModelRegistry
    registry = ModelRegistry(args.data)
    for name in registry.names():
        for version in registry.versions(name):
            m = registry.get(name, version)
            print(f"{m.ref:32s} {m.format:7s} {m.size:>10d} B  task {m.task:12s} sha256 {m.sha256[:12]}…")
    return 0


def _broker_url(args) -> str:
    """The broker of a running coordinator (its runtime file), with the coordinator's credentials."""
    from urllib.parse import quote, urlsplit, urlunsplit
    url = args.broker
    if url is None:
        runtime = sorted(args.data.glob("coordinator-*.json"))
        if not runtime:
            raise CliError(f"no running coordinator found in {args.data} (coordinator-*.json); "
                           "start 'cloud-sync coordinator --data DIR' or pass --broker URL")
        url = json.loads(runtime[0].read_text())["broker"]
    creds = args.data / "security" / "coordinators" / "coordinator.json"
    parts = urlsplit(url)
    if parts.username is None and creds.exists():
        secret = json.loads(creds.read_text())
        netloc = f"{quote(secret['username'])}:{quote(secret['password'])}@{parts.netloc}"
        url = urlunsplit(parts._replace(netloc=netloc))
    return url


class _BrokerPublisher:
    """Publishes retained orders with the coordinator's envelope, one connection per command."""

    def __init__(self, url: str, root: str, fleet: str):
        from cloud_sync.connection import as_url, make_client
        from cloud_sync.protocol import TopicTree
        self.topics = TopicTree(root, fleet)
        parsed = as_url(url)
        self.client = make_client(parsed, "cloud-sync-deploy", protocol="3.1.1")
        try:
            self.client.connect(parsed.host, parsed.port)
        except OSError as exc:
            raise CliError(f"cannot reach the broker {parsed}: {exc}") from None
        self.client.loop_start()

    def __call__(self, device: str, suffix: str, body: dict) -> bool:
        from cloud_sync.protocol import encode, envelope
        info = self.client.publish(self.topics.device(device, suffix), encode(envelope(device, 0, body)),
                                   qos=1, retain=True)
        info.wait_for_publish(timeout=10)
        return info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _reports_from_store(data: Path):
    def reports(job_id: str) -> dict[str, dict]:
        from cloud_sync.coordinator.store import Store
        if not (data / "coordinator.sqlite").exists():
            return {}
        store = Store(data, readonly=True)
        try:
            return {row["device_id"]: row["body"] for row in store.deployments() if row["job"] == job_id}
        finally:
            store.close()
    return reports


def _artifact_base(args) -> str | None:
    if args.artifact_url:
        return args.artifact_url
    runtime = args.data / "ota-artifacts.json"
    return json.loads(runtime.read_text())["base_url"] if runtime.exists() else None


def cmd_deploy(args) -> int:
    from cloud_sync.ota.registry import RegistryError
    from cloud_sync.ota.service import Deployments, looks_like_sparql, resolve_targets
    graph = None
    if looks_like_sparql(args.to):
        from ontology.store import GraphStore
        graph = GraphStore.open(args.graph or args.data / "graph", read_only=True)
    try:
        targets, selector = resolve_targets(args.to, graph)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    health = {"window_s": args.window, "max_error_rate": args.max_error_rate,
              "max_latency_ms": args.max_latency_ms, "min_requests": args.min_requests}
    publisher = _BrokerPublisher(_broker_url(args), args.root, args.fleet)
    try:
        deployments = Deployments(args.data, publisher, _reports_from_store(args.data), _artifact_base(args))
        job = deployments.deploy(args.model, targets, selector=selector, task=args.task, health=health)
    except (RegistryError, ValueError, ConnectionError) as exc:
        raise CliError(str(exc)) from None
    finally:
        publisher.close()
    print(f"job {job['job']}: {job['model']} -> {', '.join(targets)} ({selector})")
    if args.wait:
        try:
            final = deployments.wait(job["job"], args.wait)
        except TimeoutError:
            _print_job(deployments.status(job["job"]))
            raise CliError(f"job {job['job']} still running after {args.wait:g} s; follow it with "
                           f"'cloud-sync deployments {job['job']}'") from None
        _print_job(final)
        if final["state"] != "healthy":      # failed or partial: say so in the exit status too
            bad = {d: i for d, i in final["devices"].items() if i["phase"] != "healthy"}
            raise CliError(f"job {job['job']} {final['state']}: " + "; ".join(
                f"{d} {i['phase']}" + (f" ({i['detail']})" if i["detail"] else "") for d, i in sorted(bad.items())))
    else:
        print(f"queued; follow it with 'cloud-sync deployments {job['job']}' (or pass --wait S to "
              f"wait here and exit non-zero if it fails)")
    return 0


def _print_job(job: dict) -> None:
    print(f"{job['job']}  {job['model']:20s} {job['state']:8s} "
          + " ".join(f"{k}={v}" for k, v in sorted(job["counts"].items())))
    for device, info in job["devices"].items():
        progress = f" {info['progress']:.0%}" if info.get("progress") is not None else ""
        print(f"    {device:20s} {info['phase']:12s}{progress} {info['detail']}")


def cmd_deployments(args) -> int:
    from cloud_sync.ota.service import Deployments
    deployments = Deployments(args.data, lambda *a: False, _reports_from_store(args.data))
    jobs = [deployments.status(args.job)] if args.job else deployments.list()
    if args.json:
        print(json.dumps(jobs, indent=1))
    for job in ([] if args.json else jobs):
        _print_job(job)
    return 0


def register(subparsers) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    models = subparsers.add_parser("models", help="versioned, signed model registry",
                                   description="Add models to the coordinator's registry; each version is "
                                               "signed with the fleet's Ed25519 key.",
                                   epilog=MODELS_EPILOG, formatter_class=fmt)
    sub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    p = sub.add_parser("add", help="add a .onnx/.tflite file as a new signed version", epilog=MODELS_EPILOG,
                       formatter_class=fmt)
    p.add_argument("file", type=Path)
    p.add_argument("--name", help="model name (default: file name without suffix)")
    p.add_argument("--version", help="version label (default: v<N+1>)")
    p.add_argument("--task", help="what the model does (default: its name)")
    _data(p)
    p.set_defaults(handler=cmd_models_add)
    p = sub.add_parser("list", help="every model version with hash and format")
    _data(p)
    p.set_defaults(handler=cmd_models_list)

    p = subparsers.add_parser("deploy", help="roll a model out to devices (signed, health-gated, auto rollback)",
                              description="Order devices to install a registry model version.",
                              epilog=DEPLOY_EPILOG, formatter_class=fmt)
    p.add_argument("model", help="name (latest version) or name:version")
    p.add_argument("--to", required=True, help="device ids (a,b,c), a SPARQL SELECT, or a .rq file")
    p.add_argument("--task", help="agent task that serves the model (default: the device's only model task)")
    p.add_argument("--window", type=float, default=30.0, help="health gate window in s (default 30)")
    p.add_argument("--max-error-rate", type=float, default=0.1, help="default 0.1")
    p.add_argument("--max-latency-ms", type=float, help="p95 latency limit (default: not gated)")
    p.add_argument("--min-requests", type=int, default=5, help="requests + probes needed to judge (default 5)")
    p.add_argument("--wait", type=float, default=0, metavar="S", help="follow the job for up to S seconds")
    p.add_argument("--broker", help="broker URL (default: the running coordinator's)")
    p.add_argument("--artifact-url", help="base URL devices download from (default: the coordinator's "
                                          "artifact server, else file:// for same-host tests)")
    p.add_argument("--graph", help="fleet graph location for SPARQL targets (default <data>/graph)")
    p.add_argument("--root", default="edge")
    p.add_argument("--fleet", default="default")
    _data(p)
    p.set_defaults(handler=cmd_deploy)

    p = subparsers.add_parser("deployments", help="deploy jobs and where each device stands",
                              description="List deploy jobs with per-device phase.", epilog=DEPLOY_EPILOG,
                              formatter_class=fmt)
    p.add_argument("job", nargs="?", help="one job id (default: all)")
    p.add_argument("--json", action="store_true")
    _data(p)
    p.set_defaults(handler=cmd_deployments)
