"""FSDD personalised keywords: the held-out speaker and the held-out words never reach a
training device, and the supervised baseline's labels are the words (shared by speakers)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("scipy")


def _exp(**kw):
    from edge_runtime.online.experiments.fsdd_keywords import FsddKeywordCnn

    try:
        return FsddKeywordCnn(max_take=12, eval_episodes=2, **kw)
    except FileNotFoundError as err:  # data set not on this machine
        pytest.skip(str(err))


def test_held_out_speaker_and_words_never_in_training_devices():
    exp = _exp(split=1)
    assert exp.held_out not in exp.device_ids() and len(exp.device_ids()) == 5
    for classes in exp.device_classes.values():
        assert sorted(c % 10 for c in classes) == [0, 1, 2, 3, 4]
    assert sorted(c % 10 for c in exp.test_classes) == [5, 6, 7, 8, 9] == exp.held_out_words
    held = {c // 10 for c in exp.test_classes}
    assert len(held) == 1 and not held & {c // 10 for cs in exp.device_classes.values() for c in cs}
    task = exp.device_task(exp.device_ids()[0], np.random.default_rng(0))
    assert task.x.shape == (25, 32 * 20) and sorted(set(task.y.tolist())) == list(range(5))
    result = exp.evaluate(exp.make_network(0).get_flat(), 0, k_shot=1)
    assert 0.0 <= result["accuracy"] <= 1.0 and result["k_shot"] == 1


def test_supervised_labels_are_the_words_and_its_convolutions_transfer():
    sup = _exp(split=0, objective="supervised")
    pooled = sup.pooled_data()
    assert sup.make_network().n_outputs == 5 and sorted(set(pooled.y.tolist())) == list(range(5))
    first = sup.device_classes[sup.device_ids()[0]][0]
    assert sup.global_label[first] == sup.global_label[sup.device_classes[sup.device_ids()[1]][0]]
    theta = sup.make_network(3).get_flat()
    net, start = sup.adaptation_start(theta)
    np.testing.assert_array_equal(start[net.mask_for(["conv0"])], theta[net.mask_for(["conv0"])])
    assert not np.any(start[net.mask_for(["out"])])


def test_too_few_words_is_an_error():
    from edge_runtime.online.experiments.fsdd_keywords import FsddKeywordCnn

    with pytest.raises(ValueError, match="words"):
        FsddKeywordCnn(train_words=(0, 1, 2, 3, 4, 5, 6))


def test_label_skewed_fsdd_devices_hold_only_their_digits():
    from edge_runtime.online.experiments.cnn import FsddCnn

    try:
        plain, skewed = FsddCnn(split=2, max_take=8), FsddCnn(split=2, max_take=8, words_per_device=2)
    except FileNotFoundError as err:
        pytest.skip(str(err))
    assert len(skewed.device_ids()) == 25 and skewed.held_out == plain.held_out
    for device in skewed.device_ids():
        speaker, j = device.split("#")
        assert speaker != skewed.held_out and set(skewed.data[device][1].tolist()) == {2 * int(j), 2 * int(j) + 1}
    assert sum(len(y) for _, y in skewed.data.values()) == sum(len(y) for _, y in plain.data.values())
    np.testing.assert_array_equal(skewed.adapt_set.y, plain.adapt_set.y)  # same held-out adaptation set
    with pytest.raises(ValueError, match="divide"):
        FsddCnn(words_per_device=3)


def test_augmented_words_are_new_classes_on_the_same_device_and_never_held_out():
    plain = _exp(split=3, train_words=(0, 1, 2, 3, 4, 5, 6), n_way=3)
    aug = _exp(split=3, train_words=(0, 1, 2, 3, 4, 5, 6), n_way=3, augment=("reverse", "flip"))
    assert aug.n_variants == 4 and aug.test_classes == plain.test_classes
    for device, classes in plain.device_classes.items():
        assert sorted(c for c in aug.device_classes[device] if c < 1000) == classes
        assert len(aug.device_classes[device]) == 4 * len(classes)
    word = plain.device_classes[plain.device_ids()[0]][0]
    image = aug.x[aug.by_class[word][0]].reshape(32, 20)
    reversed_ = aug.x[aug.by_class[word + 1000][0]].reshape(32, 20)
    flipped = aug.x[aug.by_class[word + 2000][0]].reshape(32, 20)
    both = aug.x[aug.by_class[word + 3000][0]].reshape(32, 20)
    np.testing.assert_array_equal(reversed_, image[::-1])
    np.testing.assert_array_equal(flipped, image[:, ::-1])
    np.testing.assert_array_equal(both, image[::-1, ::-1])
    sup = _exp(split=3, train_words=(0, 1, 2, 3, 4, 5, 6), n_way=3, augment=("reverse",), objective="supervised")
    assert sup.n_global == 14 and sup.global_label[word] != sup.global_label[word + 1000]
    other = sup.device_classes[sup.device_ids()[1]][0]  # same word, another speaker: same label
    assert other % 10 == word % 10 and sup.global_label[other] == sup.global_label[word]
    wide = _exp(split=3, train_words=(0, 1, 2, 3, 4, 5, 6), n_way=3, train_way=10, augment=("reverse",))
    assert sorted(set(wide.device_task(wide.device_ids()[0], np.random.default_rng(1)).y.tolist())) == list(range(10))


def test_unknown_or_repeated_augment_is_an_error():
    from edge_runtime.online.experiments.fsdd_keywords import augmented_variants

    images = np.zeros((2, 4, 3), np.float32)
    assert len(augmented_variants(images, ())) == 1
    for bad in (("speed",), ("reverse", "reverse")):
        with pytest.raises(ValueError, match="augment"):
            augmented_variants(images, bad)
