"""The whole-CNN experiments: held-out alphabets/speakers never reach a round, the supervised
(FedAvg/centralised) model transfers into the N-way one, the prototype head starts informed."""
from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.data_paths import shared_data_dir

pytestmark = pytest.mark.skipif(shared_data_dir() is None, reason="shared/data (Omniglot, FSDD) not on this machine")


def test_omniglot_held_out_alphabets_never_in_training_devices():
    from edge_runtime.online.experiments.cnn import OmniglotCnn

    exp = OmniglotCnn(split=3, eval_episodes=2, samples_per_class=5)
    assert len(exp.held_out_alphabets) == 2
    assert all(d.split("#")[0] not in exp.held_out_alphabets for d in exp.device_ids())
    train_chars = {c for cs in exp.device_classes.values() for c in cs}
    assert not train_chars & set(exp.test_classes)
    assert exp.make_network().n_params <= 100_000
    rng = np.random.default_rng(0)
    task = exp.device_task(exp.device_ids()[0], rng)
    assert task.x.shape == (25, 28 * 28) and sorted(set(task.y.tolist())) == [0, 1, 2, 3, 4]
    assert OmniglotCnn(split=4).held_out_alphabets != exp.held_out_alphabets


def test_supervised_model_transfers_its_convolutions_and_drops_its_head():
    from edge_runtime.online.experiments.cnn import OmniglotCnn

    sup = OmniglotCnn(split=0, objective="supervised", eval_episodes=2)
    theta = sup.make_network(5).get_flat()
    assert theta.size > sup.make_network(n_out=5).n_params  # the 178-way head
    net, start = sup.adaptation_start(theta)
    src = sup.make_network(5)
    for name, view in net.named_params.items():
        expected = 0.0 if name.startswith("out") else src.named_params[name]
        np.testing.assert_array_equal(start[net.param_slices[name]].reshape(view.shape), expected)
    y = sup.device_task(sup.device_ids()[0], np.random.default_rng(1)).y
    assert y.max() < len(sup.train_classes) and len(set(y.tolist())) > 5  # global labels


def test_prototype_head_classifies_the_support_set_before_any_step():
    from edge_runtime.online.experiments.cnn import OmniglotCnn

    exp = OmniglotCnn(split=0, head_init="prototypes", samples_per_class=5)
    task = exp.device_task(exp.device_ids()[1], np.random.default_rng(2))
    net, start = exp.adaptation_start(exp.make_network(0).get_flat())
    net.set_flat(start)
    exp.init_task_head(net, task)
    assert np.any(net.named_params["out.W"] != 0)
    assert np.mean(net.predict(task.x) == task.y) > 0.6  # nearest class mean of the support set itself
    with pytest.raises(ValueError, match="head_init"):
        OmniglotCnn(head_init="random")


def test_fsdd_held_out_speaker_is_not_a_device():
    from edge_runtime.online.experiments.cnn import FsddCnn

    exp = FsddCnn(split=2, max_take=8)
    assert exp.held_out not in exp.device_ids() and len(exp.device_ids()) == 5
    assert exp.adapt_set.x.shape == (20, 32 * 20) and len(exp.test_y) == 60
    result = exp.evaluate(exp.make_network(0).get_flat(), 0)
    assert 0.0 <= result["accuracy"] <= 1.0 and result["held_out"] == exp.held_out
