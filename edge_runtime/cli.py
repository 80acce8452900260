"""`edge-runtime`: the device side (agent, models, workloads, profiles, bundles)."""
from __future__ import annotations

from typing import Sequence

from edge_runtime.clitools import build_parser, run

# command -> the module that registers it (only that one is imported to run the command).
COMMAND_MODULES = {
    "profile": "device_profiles.cli",      # profile list|show|detect|fit
    "models": "edge_runtime.models.cli",   # models inspect|run
    "agent": "edge_runtime.agent.cli",     # agent
    "das": "edge_runtime.das.cli",         # das detect|simulate
    "lidar": "edge_runtime.lidar.cli",     # lidar detect|track|simulate
    "online": "edge_runtime.online.cli",   # online ...
    "edvit": "edge_runtime.edvit.cli",     # edvit serve
    "bundle": "edge_runtime.bundle.cli",   # bundle
}

EPILOG = """\
examples:
  edge-runtime profile detect               which board is this? prints its profile
  edge-runtime profile fit model.tflite arduino-nano-33-ble-sense
  edge-runtime models inspect model.tflite  inputs, outputs, backend, latency
  edge-runtime agent --broker mqtt://cloud:1883 --device-id pi-01 --profile auto
  edge-runtime das detect recording.h5 --plot waterfall.png
  edge-runtime lidar track scene/ --plot tracks.png

Run 'edge-runtime COMMAND --help' for the options of each command.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(
        "edge-runtime",
        "On-device agent and ML workloads of the edge runtime.",
        EPILOG, COMMAND_MODULES, argv)
    return run(parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
