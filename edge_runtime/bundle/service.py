"""The systemd entry point: run the agent, tell systemd when it is ready, feed the watchdog.

``python -m edge_runtime.bundle.service --config /opt/edge-runtime/etc/agent.yaml``

sd_notify is one datagram to ``$NOTIFY_SOCKET`` (no libsystemd needed). ``WATCHDOG=1`` is
sent every half ``$WATCHDOG_USEC`` only after the agent answered its own health check
(outbox, tasks, link), so an agent that hangs — not just one that crashes — is restarted.
Without systemd (no ``NOTIFY_SOCKET``) it simply runs the agent.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
from pathlib import Path

log = logging.getLogger(__name__)
DEFAULT_WATCHDOG_PERIOD_S = 30.0


def sd_notify(state: str) -> bool:
    """Send ``state`` (``READY=1``, ``WATCHDOG=1``, ``STOPPING=1``...) to systemd; False without it."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]                   # abstract socket namespace
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(state.encode())
    return True


def watchdog_period_s() -> float:
    usec = os.environ.get("WATCHDOG_USEC")
    return int(usec) / 2e6 if usec and usec.isdigit() else DEFAULT_WATCHDOG_PERIOD_S


def use_bundled_keys(config_path: Path) -> None:
    """Point OTA at ``<config dir>/trusted_keys/*.pem`` unless the environment says otherwise."""
    from edge_runtime.ota.component import KEYS_ENV
    keys = sorted((config_path.parent / "trusted_keys").glob("*.pem"))
    if keys and not os.environ.get(KEYS_ENV):
        os.environ[KEYS_ENV] = os.pathsep.join(str(k) for k in keys)


def run(config_path: Path, stop: threading.Event) -> int:
    from edge_runtime.agent.config import load_config
    from edge_runtime.agent.runtime import Agent

    use_bundled_keys(config_path)
    agent = Agent(load_config(config_path)).start()
    sd_notify(f"READY=1\nSTATUS=agent {agent.device_id} running")
    period = watchdog_period_s()
    try:
        while not stop.wait(period):
            try:
                agent.health()
            except Exception:
                log.exception("agent health check failed; not feeding the watchdog")
                continue
            sd_notify("WATCHDOG=1")
    finally:
        sd_notify("STOPPING=1")
        agent.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="edge-runtime agent under systemd (sd_notify + watchdog)")
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return run(args.config, stop)


if __name__ == "__main__":
    raise SystemExit(main())
