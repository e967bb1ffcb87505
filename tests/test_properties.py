"""Properties that hold for any input hypothesis can think of."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nnctl.checkpoint import load_checkpoint, save_checkpoint
from nnctl.core.activations import ACTIVATIONS, softmax
from nnctl.core.losses import LOSSES
from nnctl.core.model import init_network, parameter_count, predict_output
from nnctl.core.training import Settings, evaluate, fit
from nnctl.prep.transforms import Scaler

sizes = st.lists(st.integers(1, 12), min_size=2, max_size=5)
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)


@given(sizes=sizes, rows=st.integers(1, 20), activation=st.sampled_from(sorted(ACTIVATIONS)),
       loss=st.sampled_from(sorted(LOSSES)), seed=st.integers(0, 2**32 - 1))
def test_output_shape_for_any_layer_sizes(sizes, rows, activation, loss, seed):
    rng = np.random.default_rng(seed)
    output = LOSSES[loss].output_activation
    layers = init_network(sizes, [activation] * (len(sizes) - 2), output, rng)
    Y = predict_output(layers, rng.normal(size=(rows, sizes[0])).astype(np.float32))
    assert Y.shape == (rows, sizes[-1]) and Y.dtype == np.float32
    assert parameter_count(layers) == sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


@given(arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=finite))
def test_softmax_rows_sum_to_one(Z):
    P = softmax(Z)
    assert np.isfinite(P).all() and (P >= 0).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-9)


@given(sizes=sizes, dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1))
def test_checkpoint_save_and_load_are_bit_exact(tmp_path_factory, sizes, dtype, seed):
    rng = np.random.default_rng(seed)
    layers = init_network(sizes, ["tanh"] * (len(sizes) - 2), "identity", rng, dtype=dtype)
    for layer in layers:
        layer.b[:] = rng.normal(size=layer.b.shape)
    scaler = Scaler(mean=rng.normal(size=sizes[0]), scale=rng.uniform(0.1, 3, size=sizes[0]))
    meta = {"loss": "mse", "task": "regression", "feature_names": [f"f{i}" for i in range(sizes[0])],
            "target_names": [f"t{i}" for i in range(sizes[-1])], "classes": None, "epoch": 1}
    path = tmp_path_factory.mktemp("ckpt") / "x.npz"
    save_checkpoint(path, layers, scaler, meta)
    back = load_checkpoint(path)
    for a, b in zip(layers, back.layers):
        assert a.W.tobytes() == b.W.tobytes() and a.b.tobytes() == b.b.tobytes() and b.W.dtype == dtype
    assert back.scaler.mean.tobytes() == scaler.mean.tobytes()


@given(seed=st.integers(0, 2**32 - 1), n_features=st.integers(1, 5))
def test_loss_falls_on_a_small_separable_set(seed, n_features):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=n_features)
    w /= np.linalg.norm(w)
    X = rng.normal(size=(40, n_features))
    X += np.sign(X @ w)[:, None] * 0.5 * w  # push every point away from the separating plane
    y = (X @ w > 0).astype(np.int64)
    layers = init_network([n_features, 2], [], "softmax", rng)
    before = evaluate(layers, LOSSES["softmax_cross_entropy"], X.astype(np.float32), y)[0].loss
    fit(layers, X, y, Settings("softmax_cross_entropy", 0.5, 20, 8), rng)
    after = evaluate(layers, LOSSES["softmax_cross_entropy"], X.astype(np.float32), y)[0]
    assert after.loss < before
    if len(set(y)) == 2:
        assert after.metrics["accuracy"] >= 0.9
