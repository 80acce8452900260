"""`cloud-sync`: the cloud side (coordinator, fleet queries, FL, models, dashboard, demo)."""
from __future__ import annotations

from typing import Sequence

from edge_runtime.clitools import build_parser, run

COMMAND_MODULES = [
    "cloud_sync.demo_cli",          # demo
    "cloud_sync.coordinator.cli",   # coordinator, devices, results, cmd
    "ontology.cli",                 # query
    "cloud_sync.fl.cli",            # fl run
    "cloud_sync.edvit.cli",         # edvit train|split|place|infer
    "cloud_sync.ota.cli",           # models add, deploy, deployments
    "cloud_sync.security.cli",      # credentials, certs
    "cloud_sync.simulate.cli",      # simulate-fleet
]

EPILOG = """\
examples:
  cloud-sync demo                           broker + coordinator + simulated fleet + dashboard
  cloud-sync coordinator --data ./var       embedded broker on loopback, store under ./var
  cloud-sync devices                        the fleet, online/offline, last seen
  cloud-sync query --list                   canned SPARQL fleet queries
  cloud-sync fl run --strategy tinyreptile --task sine --devices 3 --rounds 20
  cloud-sync deploy kws-v2 --to pi-01,pi-02
  cloud-sync simulate-fleet --broker mqtt://127.0.0.1:1883 --devices 1000 --duration 300

Run 'cloud-sync COMMAND --help' for the options of each command.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(
        "cloud-sync",
        "Cloud coordinator, fleet graph and tools of the edge runtime.",
        EPILOG, COMMAND_MODULES)
    return run(parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
