"""The bundled ONNX person embedding: small, unit vectors, and it tells bodies apart."""
import numpy as np

from edge_runtime.lidar.embedding import DEFAULT_MODEL, PersonEmbedder


def test_model_is_small_and_outputs_unit_vectors():
    assert DEFAULT_MODEL.stat().st_size < 200_000
    embedder = PersonEmbedder()
    samples = np.random.default_rng(0).normal(0, 0.1, (5, 64, 3)).astype(np.float32)
    samples[:, :, 2] = np.abs(samples[:, :, 2]) * 10
    out = embedder.embed(samples)
    assert out.shape == (5, 16)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out, embedder.embed(samples))


def test_same_person_closer_than_other_people_on_unseen_bodies():
    """People from a scene seed never used in training: mean embedding of half of each
    person's views is nearest to the mean of the other half of the same person."""
    from cloud_sync.lidar.embedding_data import person_samples

    samples, identity = person_samples(seed=77, people=10, duration_s=12.0, frame_step=2)
    embedder = PersonEmbedder()
    vectors = embedder.embed(samples)
    ids = [i for i in np.unique(identity) if (identity == i).sum() >= 8]
    assert len(ids) >= 4
    first, second = [], []
    for i in ids:
        rows = np.flatnonzero(identity == i)
        for half, out in ((rows[::2], first), (rows[1::2], second)):
            mean = vectors[half].mean(axis=0)
            out.append(mean / np.linalg.norm(mean))
    similarity = np.asarray(first) @ np.asarray(second).T
    rank1 = float(np.mean(similarity.argmax(axis=1) == np.arange(len(ids))))
    assert rank1 >= 0.75, f"rank-1 re-identification {rank1:.2f} over {len(ids)} people"


def test_model_runner_and_direct_onnxruntime_agree():
    """The device uses the project's model runner; the direct onnxruntime path (installs
    without it) must give the same vectors."""
    from edge_runtime.lidar.embedding import _OnnxRuntimeRunner

    samples = np.random.default_rng(2).uniform(0, 1.7, (3, 64, 3)).astype(np.float32)
    via_runner = PersonEmbedder().embed(samples)
    direct = _OnnxRuntimeRunner(DEFAULT_MODEL).run(samples)[0]
    direct /= np.linalg.norm(direct, axis=1, keepdims=True)
    np.testing.assert_allclose(via_runner, direct, atol=1e-5)
