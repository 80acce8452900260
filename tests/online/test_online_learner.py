"""Online learner: occupancy drift (real data), new classes, ONNX backbone, autoencoder anomalies."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edge_runtime.online.backbone import load_backbone
from edge_runtime.online.datasets.occupancy import LATER_WEEK, load_occupancy
from edge_runtime.online.learner import OnlineAutoencoder, OnlineLearner
from edge_runtime.online.network import Network
from edge_runtime.online.standardize import RunningStandardizer


def test_online_beats_static_on_later_week(shared_data):
    first = load_occupancy(root=shared_data / "occupancy")
    later = load_occupancy(LATER_WEEK, root=shared_data / "occupancy")
    assert first.timestamps.max() < later.timestamps.min()  # the later week really is later
    learner = OnlineLearner(Network.mlp([5, 16, 2], loss="ce", seed=0), 5, lr=0.01)
    learner.fit(first.x, first.y, epochs=2)
    static_acc = float(np.mean(learner.predict(later.x) == later.y))
    online_acc = float(np.mean(learner.learn_stream(later.x, later.y) == later.y))
    assert online_acc > static_acc + 0.01, (online_acc, static_acc)
    assert online_acc > 0.97
    assert learner.trainable_state_bytes < 2048


def test_welford_matches_numpy_in_batches_and_single_samples():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(500, 4))
    s = RunningStandardizer(4)
    s.update(x[:1])
    s.update(x[1:200])
    for row in x[200:260]:
        s.update(row)
    s.update(x[260:])
    np.testing.assert_allclose(s.mean, x.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(s.std, x.std(axis=0, ddof=1), rtol=1e-5)


def test_new_class_is_learnt_online_without_forgetting():
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [4, 0], [0, 4]], np.float32)
    learner = OnlineLearner(Network.mlp([2, 2], loss="ce", seed=0), 2, lr=0.05)
    x_old = np.concatenate([rng.normal(c, 0.5, (200, 2)) for c in centres[:2]]).astype(np.float32)
    y_old = np.repeat([0, 1], 200)
    learner.fit(x_old, y_old, epochs=2)
    label = learner.add_class()
    assert label == 2
    order = rng.permutation(600)
    x_all = np.concatenate([x_old, rng.normal(centres[2], 0.5, (200, 2)).astype(np.float32)])[order]
    y_all = np.concatenate([y_old, np.full(200, 2)])[order]
    learner.learn_stream(x_all, y_all)
    test = np.concatenate([rng.normal(c, 0.5, (100, 2)) for c in centres]).astype(np.float32)
    acc = np.mean(learner.predict(test) == np.repeat([0, 1, 2], 100))
    assert acc > 0.95


def _onnx_projection(path, weight: np.ndarray) -> None:
    """A real ONNX model: features = relu(x @ W)."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["features"])],
        "backbone",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", weight.shape[0]])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", weight.shape[1]])],
        [numpy_helper.from_array(weight, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def test_frozen_onnx_backbone_feeds_the_head(tmp_path):
    rng = np.random.default_rng(2)
    weight = rng.normal(size=(6, 32)).astype(np.float32)
    _onnx_projection(tmp_path / "bb.onnx", weight)
    backbone = load_backbone(tmp_path / "bb.onnx")
    x = rng.normal(size=(2000, 6)).astype(np.float32)
    np.testing.assert_allclose(backbone(x[:5]), np.maximum(x[:5] @ weight, 0), rtol=1e-5, atol=1e-5)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    learner = OnlineLearner(Network.mlp([32, 16, 2], loss="ce", seed=0), 32, lr=0.02, backbone=backbone)
    predictions = learner.learn_stream(x, y)
    fresh = rng.normal(size=(1000, 6)).astype(np.float32)
    accuracy = np.mean(learner.predict(fresh) == (fresh[:, 0] + fresh[:, 1] > 0))
    assert accuracy > np.mean(predictions[:100] == y[:100]) + 0.1
    assert accuracy > 0.9


def test_autoencoder_flags_anomalies():
    rng = np.random.default_rng(3)
    basis = rng.normal(size=(2, 6))
    normal = (rng.normal(size=(1500, 2)) @ basis + 0.05 * rng.normal(size=(1500, 6))).astype(np.float32)
    ae = OnlineAutoencoder(6, hidden=(3,), lr=0.02, threshold=3.0, seed=0)
    for row in normal[:1200]:
        ae.learn_one(row)
    odd = rng.normal(0, 2.0, size=(200, 6)).astype(np.float32)  # off the 2-D manifold
    s_normal, s_odd = ae.score(normal[1200:]), ae.score(odd)
    auc = np.mean(s_odd[:, None] > s_normal[None, :])
    assert auc > 0.95
    false_alarms = np.mean([ae.learn_one(row)[1] for row in normal[1200:1300]])
    detections = np.mean([ae.learn_one(row)[1] for row in odd[:50]])
    assert false_alarms < 0.1 and detections > 0.6, (false_alarms, detections)
    assert ae.trainable_state_bytes < 1024
