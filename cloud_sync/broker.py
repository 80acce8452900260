"""The embedded broker: amqtt on loopback in a background thread, so the demo needs nothing else.

Production fleets use Mosquitto (or any MQTT 3.1.1/5 broker) by URL; this one exists so
``cloud-sync coordinator`` works out of the box. amqtt speaks MQTT 3.1.1 only, has no
shared subscriptions and is ~4x slower than Mosquitto (docs/protocol.md), which is
fine for a demo fleet. Its URL carries ``?protocol=3.1.1`` so clients skip the MQTT 5
attempt.
"""
from __future__ import annotations

import asyncio
import logging
import threading

from cloud_sync.mosquitto import free_port

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """amqtt broker on ``host:port`` (a free port when None), run in its own event loop thread."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None):
        self.host = host
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}?protocol=3.1.1"

    def _config(self) -> dict:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

    def _run(self) -> None:
        from amqtt.broker import Broker

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            self._broker = Broker(self._config(), loop=loop)
            await self._broker.start()

        try:
            loop.run_until_complete(boot())
        except BaseException as exc:  # reported to start() in the caller's thread
            self._error = exc
            self._started.set()
            return
        self._started.set()
        loop.run_forever()
        loop.close()

    def start(self, timeout: float = 15.0) -> "EmbeddedBroker":
        # amqtt logs every packet at INFO; keep it quiet unless debugging the broker itself.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger(name).level))
        self._thread = threading.Thread(target=self._run, name="amqtt-broker", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout) or self._error is not None:
            raise RuntimeError(f"embedded amqtt broker did not start on {self.host}:{self.port}: "
                               f"{self._error!r}")
        log.info("embedded MQTT broker (amqtt) listening on %s", self.url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        loop, broker = self._loop, self._broker
        if loop is None or broker is None or not loop.is_running():
            return
        future = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
        try:
            future.result(timeout)
        except Exception as exc:  # shutting down: log, never raise
            log.warning("embedded broker shutdown: %r", exc)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(timeout)
        self._loop = None

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
