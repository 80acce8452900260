"""Pruning, FLOP counting and ONNX export on small random ViTs (no training needed)."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cloud_sync.edvit.export import export_onnx
from cloud_sync.edvit.prune import (Importance, balanced_weights, partition_classes, prune_vit,
                                    subset_targets, top_units, unit_importance, with_other_head)
from cloud_sync.edvit.vit import TinyVit, VitConfig, count_parameters, vit_flops


@pytest.fixture
def vit():
    torch.manual_seed(0)
    return TinyVit(VitConfig(image_size=8, patch_size=2, embed_dim=16, head_dim=4,
                             heads=[4, 3], mlp=[32, 24])).eval()


def images(n=6, size=8, seed=0):
    return np.random.default_rng(seed).random((n, 1, size, size), dtype=np.float32)


@pytest.mark.parametrize("classes,parts", [(10, 3), (10, 4), (10, 10), (7, 2), (5, 1)])
def test_class_partition_is_even_and_complete(classes, parts):
    subsets = partition_classes(classes, parts)
    sizes = [len(s) for s in subsets]
    assert len(subsets) == parts and max(sizes) - min(sizes) <= 1
    assert sorted(c for s in subsets for c in s) == list(range(classes))


def test_class_partition_refuses_more_parts_than_classes():
    with pytest.raises(ValueError, match="between 1 and 10"):
        partition_classes(10, 11)


def test_pruning_heads_and_mlp_channels_equals_gating_them_off(vit):
    """Physically removing units must compute exactly what zeroing their gates computes."""
    rng = np.random.default_rng(3)
    importance = Importance(embed=np.ones(16), heads=[rng.random(4), rng.random(3)],
                            mlp=[rng.random(32), rng.random(24)])
    pruned = prune_vit(vit, importance, keep_ratio=0.5, embed_keep_ratio=1.0)
    assert pruned.config.heads == [2, 2] and pruned.config.mlp == [16, 12]
    vit.enable_gates()
    with torch.no_grad():
        for block, heads, mlp in zip(vit.blocks, importance.heads, importance.mlp):
            block.attn.gate.zero_()[torch.as_tensor(top_units(heads, 0.5))] = 1
            block.mlp.gate.zero_()[torch.as_tensor(top_units(mlp, 0.5))] = 1
        x = torch.as_tensor(images())
        expected = vit(x)
        got = pruned(x)
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)
    assert count_parameters(pruned) < count_parameters(vit)


def test_keeping_everything_reproduces_the_model(vit):
    importance = unit_importance(vit, images(), np.array([0, 1, 2, 3, 4, 5]))
    same = prune_vit(vit, importance, 1.0)
    with torch.no_grad():
        x = torch.as_tensor(images(seed=1))
        torch.testing.assert_close(same(x)[1], vit(x)[1], rtol=1e-5, atol=1e-5)


def test_taylor_importance_ranks_a_silenced_head_last(vit):
    with torch.no_grad():
        vit.blocks[0].attn.proj.weight[:, 4:8] = 0       # head 1 of block 0 writes nothing
    importance = unit_importance(vit, images(32), np.arange(32) % 10)
    assert importance.heads[0][1] == 0 and importance.heads[0].argmin() == 1
    assert all(s.min() >= 0 for s in importance.mlp) and importance.embed.shape == (16,)
    assert 1 not in top_units(importance.heads[0], 0.75)


def test_other_head_and_targets(vit):
    model = with_other_head(prune_vit(vit, unit_importance(vit, images(), np.zeros(6, int)), 0.5), [3, 7])
    assert model.head.out_features == 3 and model.config.num_classes == 3
    targets = subset_targets(np.array([3, 7, 0, 9, 3]), [3, 7])
    np.testing.assert_array_equal(targets, [0, 1, 2, 2, 0])
    weights = balanced_weights(np.array([0, 2, 2, 2, 2, 2, 1, 2]), 3)
    assert weights[2] < weights[0] == weights[1]


def test_flop_formula_matches_torch_counter(vit):
    pruned = prune_vit(vit, unit_importance(vit, images(), np.arange(6)), 0.6)
    for model in (vit, pruned):
        with FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, 1, 8, 8))
        assert vit_flops(model.config) == counter.get_total_flops()


def test_onnx_export_matches_torch_with_any_batch(vit, tmp_path):
    pruned = prune_vit(vit, unit_importance(vit, images(), np.arange(6)), 0.5)
    full_bytes = export_onnx(vit, tmp_path / "full.onnx")
    pruned_bytes = export_onnx(pruned, tmp_path / "pruned.onnx")
    assert pruned_bytes < full_bytes
    session = ort.InferenceSession(str(tmp_path / "pruned.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 7):
        x = images(batch, seed=batch)
        features, logits = session.run(None, {"images": x})
        with torch.no_grad():
            ref_features, ref_logits = pruned(torch.as_tensor(x))
        np.testing.assert_allclose(features, ref_features.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(logits, ref_logits.numpy(), rtol=1e-4, atol=1e-5)


def test_bad_configs_and_ratios_are_refused(vit):
    with pytest.raises(ValueError, match="multiple of patch_size"):
        VitConfig(image_size=9, patch_size=2)
    with pytest.raises(ValueError, match=r"keep ratio must be in \(0, 1\]"):
        prune_vit(vit, unit_importance(vit, images(), np.arange(6)), 0.0)
