"""Stacked seeds: S networks trained as one batched computation equal S separate fits."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nnctl.core.health import activation_counts, layer_health, health_figures
from nnctl.core.model import init_network
from nnctl.core.schedules import Schedule
from nnctl.core.stacked import fit_stacked
from nnctl.core.training import Settings, fit

RNG = np.random.default_rng(0)
X = RNG.normal(size=(203, 5)).astype(np.float32)
Y_CLASSES = (X[:, 0] * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
Y_VALUES = (X[:, :2].sum(1, keepdims=True) ** 2).astype(np.float64)
OUTPUTS = {"softmax_cross_entropy": 3, "hinge": 3, "binary_cross_entropy": 1, "mse": 1, "mae": 1}
SEEDS = [3, 4, 5]


def _targets(loss: str) -> np.ndarray:
    if loss in ("mse", "mae"):
        return Y_VALUES
    return (Y_CLASSES > 0).astype(np.int64) if loss == "binary_cross_entropy" else Y_CLASSES


def _nets(activation: str, loss: str, dtype=np.float32):
    return [init_network([5, 7, 4, OUTPUTS[loss]], [activation, activation], "identity", np.random.default_rng(seed),
                         dtype=dtype) for seed in SEEDS]


def _separate_and_stacked(activation, loss, settings, weights=None, dtype=np.float32):
    y = _targets(loss)
    validation = (X[:50], y[:50])
    separate = []
    for layers, seed in zip(_nets(activation, loss, dtype), SEEDS):
        history = fit(layers, X, y, settings, np.random.default_rng(seed + 100), validation, sample_weights=weights)
        separate.append((layers, history))
    nets = _nets(activation, loss, dtype)
    histories = fit_stacked(nets, X, y, settings, [np.random.default_rng(seed + 100) for seed in SEEDS], validation,
                            sample_weights=weights)
    return separate, list(zip(nets, histories))


def _figures(history):
    return [(r.epoch, r.train, r.validation, r.learning_rate, r.health) for r in history.records]


def _assert_same(separate, stacked):
    for (layers, history), (stacked_layers, stacked_history) in zip(separate, stacked):
        for a, b in zip(layers, stacked_layers):
            assert np.array_equal(a.W, b.W, equal_nan=True) and np.array_equal(a.b, b.b, equal_nan=True)
            assert a.W.dtype == b.W.dtype
        assert stacked_history.stop_reason == history.stop_reason
        assert stacked_history.best_epoch == history.best_epoch
        assert stacked_history.diverged == history.diverged
        assert _figures(stacked_history) == _figures(history)


CASES = list(itertools.product(
    ["sigmoid", "tanh", "relu", "leaky_relu", "identity"],
    ["softmax_cross_entropy", "binary_cross_entropy", "hinge", "mse", "mae"],
))


@pytest.mark.parametrize("activation, loss", CASES)
def test_stacked_seeds_equal_separate_fits_bit_for_bit(activation, loss):
    # one optimizer per case, in turn, with penalties, a plateau schedule and early stopping
    optimizer = ["sgd", "momentum", "nesterov", "adam"][CASES.index((activation, loss)) % 4]
    settings = Settings(loss=loss, learning_rate=0.05, epochs=8, batch_size=32, l1=1e-3, l2=1e-3, optimizer=optimizer,
                        schedule=Schedule(name="plateau", patience=1), patience=2)
    separate, stacked = _separate_and_stacked(activation, loss, settings)
    _assert_same(separate, stacked)
    assert all(len(h.records) >= 1 for _, h in stacked)


def test_row_weights_a_whole_batch_and_float64_too():
    weights = RNG.uniform(0.5, 2.0, size=len(X))
    settings = Settings(loss="softmax_cross_entropy", learning_rate=0.1, epochs=5, optimizer="adam")
    _assert_same(*_separate_and_stacked("tanh", "softmax_cross_entropy", settings, weights))
    settings = Settings(loss="mse", learning_rate=0.01, epochs=5, batch_size=16)
    separate, stacked = _separate_and_stacked("sigmoid", "mse", settings, dtype=np.float64)
    _assert_same(separate, stacked)
    assert stacked[0][0][0].W.dtype == np.float64


def test_seeds_that_stop_early_leave_the_stack_and_the_others_go_on():
    settings = Settings(loss="softmax_cross_entropy", learning_rate=0.3, epochs=40, batch_size=32, patience=3)
    separate, stacked = _separate_and_stacked("relu", "softmax_cross_entropy", settings)
    _assert_same(separate, stacked)
    lengths = [len(h.records) for _, h in stacked]
    assert len(set(lengths)) > 1, lengths  # they stopped at different epochs
    assert any(h.stop_reason.startswith("no improvement") for _, h in stacked)


def test_a_seed_that_diverges_leaves_the_stack_at_the_same_step_as_alone():
    settings = Settings(loss="mse", learning_rate=3.0, epochs=10, batch_size=32)
    separate, stacked = _separate_and_stacked("relu", "mse", settings)
    _assert_same(separate, stacked)
    assert all(h.diverged and "no longer finite at epoch" in h.stop_reason for _, h in stacked)
    assert sorted(len(h.records) for _, h in stacked) == [0, 0, 7]  # one went on alone for 7 epochs


def test_on_epoch_is_called_for_each_network_with_its_own_layers():
    seen = {0: [], 1: []}
    nets = [init_network([5, 4, 3], ["tanh"], "identity", np.random.default_rng(seed)) for seed in (0, 1)]
    settings = Settings(loss="softmax_cross_entropy", learning_rate=0.1, epochs=3, batch_size=50)
    callbacks = [lambda record, layers, better, state, k=k: seen[k].append((record.epoch, layers[0].W.copy(),
                                                                              state.epoch)) for k in (0, 1)]
    fit_stacked(nets, X, Y_CLASSES, settings, [np.random.default_rng(7), np.random.default_rng(8)],
                on_epochs=callbacks)
    assert [(epoch, state_epoch) for epoch, _, state_epoch in seen[0]] == [(1, 1), (2, 2), (3, 3)]
    assert np.array_equal(seen[0][-1][1], nets[0][0].W) and np.array_equal(seen[1][-1][1], nets[1][0].W)
    assert not np.array_equal(seen[0][-1][1], seen[1][-1][1])


def test_networks_of_different_shapes_are_refused():
    nets = [init_network([5, 4, 3], ["tanh"], "identity", np.random.default_rng(0)),
            init_network([5, 6, 3], ["tanh"], "identity", np.random.default_rng(0))]
    with pytest.raises(ValueError, match="one shape"):
        fit_stacked(nets, X, Y_CLASSES, Settings(loss="softmax_cross_entropy", learning_rate=0.1, epochs=1),
                    [np.random.default_rng(0)] * 2)


def test_evaluation_in_chunks_of_rows_gives_the_figures_of_one_pass(monkeypatch):
    from nnctl.core import training
    from nnctl.core.losses import LOSSES

    layers = init_network([5, 6, 4, 3], ["sigmoid", "relu"], "identity", np.random.default_rng(0))
    whole = training.evaluate(layers, LOSSES["softmax_cross_entropy"], X, Y_CLASSES)
    monkeypatch.setattr(training, "EVALUATION_VALUES", 6 * 7)  # chunks of 7 rows
    chunked = training.evaluate(layers, LOSSES["softmax_cross_entropy"], X, Y_CLASSES)
    assert chunked[0].metrics == whole[0].metrics
    assert chunked[0].data_loss == pytest.approx(whole[0].data_loss, rel=1e-6)
    for a, b in zip(chunked[1], whole[1]):
        assert np.array_equal(a, b)
    hidden = np.maximum(1 / (1 + np.exp(-(X @ layers[0].W + layers[0].b))) @ layers[1].W + layers[1].b, 0)
    assert np.array_equal(whole[1][1], (hidden > 0).any(axis=0))


def test_health_figures_equals_each_networks_health():
    nets = [init_network([5, 6, 3], ["relu"], "identity", np.random.default_rng(seed)) for seed in range(4)]
    W = [np.stack([layers[l].W for layers in nets]) for l in range(2)]
    hidden = np.stack([np.maximum(X @ layers[0].W + layers[0].b, 0) for layers in nets])
    grads = [w * 0.5 for w in W]
    stacked = health_figures(W, ["relu", "identity"], [activation_counts("relu", hidden)], len(X), grads)
    for row, layers in enumerate(nets):
        alone = layer_health(layers, [X, hidden[row]], [g[row] for g in grads])
        assert {name: float(values[row]) for name, values in stacked.items()} == alone
    assert set(stacked) == {"layer1_weight_norm", "layer1_grad_norm", "layer1_sparsity", "layer1_dead",
                            "layer2_weight_norm", "layer2_grad_norm", "layer2_sparsity"}


def test_train_seeds_gives_what_train_gives_for_each_seed_even_when_some_diverge(tmp_path):
    from dataclasses import replace
    from pathlib import Path

    from nnctl import run
    from nnctl.prep import prepare
    from nnctl.config import load_config
    from nnctl.errors import TrainingError

    root = Path(__file__).resolve().parent.parent
    base = load_config(root / "configs" / "regression.yaml", ["optimizer.epochs=30", "optimizer.learning_rate=0.4"])
    configs = [replace(base, seed=seed, output=tmp_path / f"s{seed}") for seed in range(8)]
    data = prepare.prepare_data(configs[0], run.generators(configs[0])[0])
    stacked = run.train_seeds(configs, data, write_files=False)
    kinds = []
    for config, together in zip(configs, stacked):
        try:
            alone = run.train(config, data=data, write_files=False)
        except TrainingError as error:
            alone = error
        assert type(together) is type(alone)
        kinds.append(type(alone).__name__)
        if isinstance(alone, TrainingError):
            assert str(together) == str(alone)
            continue
        assert together.rows and [{k: v for k, v in r.items() if k != "seconds"} for r in together.rows] == \
            [{k: v for k, v in r.items() if k != "seconds"} for r in alone.rows]
        for a, b in zip(alone.layers, together.layers):
            assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
    assert "RunResult" in kinds and len(set(kinds)) > 1, kinds  # some trained, some diverged


def test_what_cannot_be_stacked_is_refused():
    from dataclasses import replace
    from pathlib import Path

    from nnctl import run
    from nnctl.prep import prepare
    from nnctl.config import load_config

    settings = Settings(loss="softmax_cross_entropy", learning_rate=0.1, epochs=1)
    tanh = init_network([5, 4, 3], ["tanh"], "identity", np.random.default_rng(0))
    relu = init_network([5, 4, 3], ["relu"], "identity", np.random.default_rng(1))
    wide = init_network([5, 4, 3], ["tanh"], "identity", np.random.default_rng(1), dtype=np.float64)
    for other in (relu, wide):
        with pytest.raises(ValueError, match="one shape, dtype and activation"):
            fit_stacked([tanh, other], X, Y_CLASSES, settings, [np.random.default_rng(0)] * 2)
    with pytest.raises(ValueError, match="one generator"):
        fit_stacked([tanh, tanh], X, Y_CLASSES, settings, [np.random.default_rng(0)])
    config = load_config(Path(__file__).resolve().parent.parent / "configs" / "circles.yaml")
    data = prepare.prepare_data(config, run.generators(config)[0])
    with pytest.raises(ValueError, match="differ only in seed and output"):
        run.train_seeds([config, replace(config, seed=1, loss="hinge")], data, write_files=False)


def test_fit_and_fit_stacked_leave_the_final_weights_in_the_layers_own_arrays():
    settings = Settings(loss="softmax_cross_entropy", learning_rate=0.1, epochs=2, batch_size=50)
    alone = init_network([5, 4, 3], ["tanh"], "identity", np.random.default_rng(0))
    W_before = alone[0].W
    fit(alone, X, Y_CLASSES, settings, np.random.default_rng(1))
    assert alone[0].W is W_before and alone[0].W.base is None  # trained in place, its own array
    nets = [init_network([5, 4, 3], ["tanh"], "identity", np.random.default_rng(0)) for _ in range(2)]
    arrays = [layers[1].b for layers in nets]
    fit_stacked(nets, X, Y_CLASSES, settings, [np.random.default_rng(1), np.random.default_rng(2)])
    assert all(layers[1].b is b for layers, b in zip(nets, arrays))
    assert np.array_equal(nets[0][0].W, alone[0].W)  # same seeds as the run alone
