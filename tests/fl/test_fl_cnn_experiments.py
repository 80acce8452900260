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


def test_rotated_training_classes_are_new_classes_and_never_reach_the_held_out_alphabets():
    from edge_runtime.online.experiments.cnn import OmniglotCnn

    plain = OmniglotCnn(split=1, samples_per_class=5)
    rotated = OmniglotCnn(split=1, samples_per_class=5, rotations=4, objective="supervised")
    assert len(rotated.train_classes) == 4 * len(plain.train_classes)
    assert rotated.test_classes == plain.test_classes  # held-out characters: upright only
    assert sum(len(rotated.by_class[c]) for c in rotated.test_classes) == sum(
        len(plain.by_class[c]) for c in plain.test_classes)
    assert set(rotated.device_ids()) == set(plain.device_ids())
    base = plain.device_classes[plain.device_ids()[0]][0]
    quarter = base + len(plain.train_classes) + len(plain.test_classes)  # id of its 90° copy
    upright, turned = rotated.x[rotated.by_class[base]], rotated.x[rotated.by_class[quarter]]
    side = rotated.size
    np.testing.assert_allclose(np.rot90(upright.reshape(-1, side, side), 1, axes=(1, 2)).reshape(len(upright), -1),
                               turned, atol=1e-6)
    with pytest.raises(ValueError, match="rotations"):
        OmniglotCnn(rotations=3)


def test_wider_training_tasks_transfer_into_the_five_way_model():
    from edge_runtime.online.experiments.cnn import OmniglotCnn

    exp = OmniglotCnn(split=2, samples_per_class=5, rotations=4, train_way=20, eval_episodes=2,
                      head_init="prototypes")
    task = exp.device_task(exp.device_ids()[0], np.random.default_rng(3))
    assert task.x.shape[0] == 100 and sorted(set(task.y.tolist())) == list(range(20))
    wide = exp.make_network(4)
    assert wide.n_outputs == 20
    net, start = exp.adaptation_start(wide.get_flat())
    assert net.n_outputs == 5
    np.testing.assert_array_equal(start[net.mask_for(["conv0"])], wide.get_flat()[wide.mask_for(["conv0"])])
    assert not np.any(start[net.mask_for(["out"])])
    exp.init_task_head(wide, task)  # prototypes for all 20 labels of the device's task
    assert np.mean(wide.predict(task.x) == task.y) > 0.5
