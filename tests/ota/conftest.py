"""Fixtures for the deployment & security tests: authenticated MQTT clients on a real Mosquitto."""
from __future__ import annotations

import os
import queue
import ssl
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from cloud_sync.mosquitto import MosquittoProcess
from edge_runtime.waiting import wait_until


class Listener:
    """A paho client that records every message it receives, for asserting what arrived."""

    def __init__(self, port: int, username: str | None = None, password: str | None = None,
                 tls: dict | None = None):
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.connack: "queue.Queue[int]" = queue.Queue()
        self.subacks: "queue.Queue[list]" = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(ca_certs=tls["ca"], certfile=tls.get("cert"), keyfile=tls.get("key"),
                                cert_reqs=ssl.CERT_REQUIRED)
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.put(rc.value)
        self.client.on_message = self._on_message
        # A broker that drops the link before CONNACK (TLS alert, garbage on a TLS port) = refused.
        self.client.on_disconnect = lambda c, u, f, rc, p: self.connack.put(-2)
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.subacks.put([x.value for x in codes])
        self.port = port

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload))

    def connect(self, timeout: float = 10.0) -> int:
        """Connect and return the CONNACK reason code (0 = accepted); raises if no answer."""
        try:
            self.client.connect("127.0.0.1", self.port)
        except (ssl.SSLError, ConnectionError, OSError):
            return -1    # refused during the TLS handshake
        self.client.loop_start()
        try:
            return self.connack.get(timeout=timeout)
        except queue.Empty:
            return -1

    def subscribe(self, topic: str, qos: int = 1) -> list:
        self.client.subscribe(topic, qos)
        return self.subacks.get(timeout=10)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(timeout=10)

    def topics(self) -> list[str]:
        with self.lock:
            return [t for t, _ in self.messages]

    def wait_for(self, topic: str, timeout: float = 10.0) -> bytes:
        def found():
            with self.lock:
                return next((p for t, p in self.messages if t == topic), None)
        return wait_until(lambda: found() is not None, timeout, what=f"a message on {topic}") and found()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def secured_mosquitto(tmp_path):
    """Factory: a Mosquitto with ``allow_anonymous false`` and ``conf`` lines (password/ACL/TLS files).

    Mosquitto started as root drops to user 'mosquitto', which cannot read our 0600 files in
    the private pytest tmp dir; a deployed broker gets them chowned instead (docs/security.md)."""
    started: list[MosquittoProcess] = []

    def start(conf: str) -> MosquittoProcess:
        workdir = tmp_path / f"broker-{len(started)}"
        workdir.mkdir()
        stay = "user root\n" if os.geteuid() == 0 else ""
        broker = MosquittoProcess(workdir=workdir, extra_conf=stay + conf, allow_anonymous=False)
        started.append(broker)
        return broker.start()

    yield start
    for broker in started:
        broker.stop()


@pytest.fixture
def mqtt_clients():
    """Factory of :class:`Listener` clients; all disconnected at the end of the test."""
    made: list[Listener] = []

    def make(port: int, username: str | None = None, password: str | None = None, tls: dict | None = None):
        client = Listener(port, username, password, tls)
        made.append(client)
        return client

    yield make
    for client in made:
        try:
            client.close()
        except Exception:
            pass


# -- models and a serving task for the OTA tests ------------------------------------------

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edge_runtime.agent.task import Task, TaskContext


def make_onnx(path: Path, seed: int, hidden: int = 16, fixed_batch: bool = False, nan: bool = False) -> Path:
    """y = relu(x @ W1) @ W2 over x[N, 4]; ``hidden`` sets the file size, ``nan`` makes every
    output NaN (a broken export), ``fixed_batch`` accepts only batch 1 (a shape regression)."""
    rng = np.random.default_rng(seed)
    w1 = numpy_helper.from_array(rng.normal(size=(4, hidden)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.normal(size=(hidden, 2)).astype(np.float32), "w2")
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["y0" if nan else "y"])]
    inits = [w1, w2]
    if nan:   # sqrt(-(y0² + 1)) is NaN for every input
        inits.append(numpy_helper.from_array(np.array(1.0, np.float32), "one"))
        nodes += [helper.make_node("Mul", ["y0", "y0"], ["sq"]), helper.make_node("Add", ["sq", "one"], ["p"]),
                  helper.make_node("Neg", ["p"], ["n"]), helper.make_node("Sqrt", ["n"], ["y"])]
    batch = 1 if fixed_batch else "N"
    graph = helper.make_graph(nodes, "ota_test",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def reference_output(path: Path, x: np.ndarray) -> np.ndarray:
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    return np.maximum(x @ weights["w1"], 0) @ weights["w2"]


class ServingTask(Task):
    """A task that serves one ONNX model on requests and can swap it (the ModelTask contract)."""

    kind = "model"

    def __init__(self, name, params, context):
        super().__init__(name, params, context)
        self.model_path = None
        self.swap_model(params["model"])

    def swap_model(self, path) -> None:
        from edge_runtime.models.load import load_model
        runner = load_model(path)
        self.runner, self.model_path = runner, str(path)

    def handle(self, request):
        try:
            return {"output": self.runner.run(np.asarray(request["input"], np.float32))[0].tolist()}
        except Exception as exc:
            return {"error": str(exc)}

    def status(self):
        return {"model_path": self.model_path}


@pytest.fixture
def serving_task(tmp_path):
    """A task serving model 'v1' (seed 1) from tmp_path/initial.onnx."""
    initial = make_onnx(tmp_path / "initial.onnx", seed=1)
    context = TaskContext(device_id="dev-a", profile=None, state_dir=tmp_path / "state" / "tasks" / "kws")
    return ServingTask("kws", {"model": str(initial)}, context)


@pytest.fixture
def onnx_models():
    """The model helpers above, as a fixture (test modules cannot import conftest)."""
    class Models:
        make = staticmethod(make_onnx)
        reference = staticmethod(reference_output)
    return Models
