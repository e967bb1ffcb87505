"""The epoch's training figures from its own batches (training.evaluate_train: batches), against
a replay of the steps by hand; the whole-set evaluation (full); the exact figures of the run's
end; and a mid-epoch resume."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from nnctl import run
from nnctl.checkpoint import load_checkpoint
from nnctl.config import load_config
from nnctl.core.health import SATURATED_BELOW
from nnctl.core.losses import LOSSES
from nnctl.core.model import Layer, forward, init_network
from nnctl.core.training import Settings, evaluate, fit, gradients, new_state
from nnctl.prep import prepare

ROOT = Path(__file__).resolve().parent.parent


def _problem(loss_name="softmax_cross_entropy", n=70, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    if LOSSES[loss_name].task == "classification":
        y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
        outputs = LOSSES[loss_name].n_outputs(2)
    else:
        y = (2 * X[:, 0] - X[:, 2]).astype(np.float32)
        outputs = 1
    layers = init_network([3, 5, outputs], ["tanh"], LOSSES[loss_name].output_activation, rng)
    return X, y, layers


def _replay(layers, X, y, weights, settings, order):
    """The epoch's steps done by hand: each batch's mean loss and decisions before its step,
    and the hidden layer's saturated outputs, then plain SGD on the gradients."""
    loss = LOSSES[settings.loss]
    layers = [Layer(layer.W.copy(), layer.b.copy(), layer.activation) for layer in layers]
    T = loss.encode(y, layers[-1].W.shape[1], np.float32)
    sums, right, saturated, m = 0.0, 0, 0, settings.batch_size
    for start in range(0, len(X), m):
        rows = order[start:start + m]
        w = None if weights is None else weights[rows]
        inputs, zs = forward(layers, X[rows])
        sums += len(rows) * loss.value(zs[-1], T[rows], w)  # m_b L_b
        right += int(np.sum(loss.decide(zs[-1]) == y[rows]))
        saturated += int(np.count_nonzero(1 - inputs[1] ** 2 < SATURATED_BELOW["tanh"]))  # tanh' = 1 - A^2
        flat = gradients(layers, loss, X[rows], T[rows], settings.l1, settings.l2, w)
        for array, g in zip([a for layer in layers for a in (layer.W, layer.b)], flat):
            array -= np.float32(settings.learning_rate) * g
    return sums / len(X), right / len(X), saturated / (len(X) * 5), layers


@pytest.mark.parametrize("weighted", [False, True])
def test_batch_figures_are_the_row_weighted_mean_of_the_batch_losses(weighted):
    X, y, layers = _problem()
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(X)) if weighted else None
    settings = Settings(loss="softmax_cross_entropy", learning_rate=0.5, epochs=1, batch_size=16, shuffle=False,
                        evaluate_train="batches")
    data_loss, accuracy, saturated, after = _replay(layers, X, y, weights, settings, np.arange(len(X)))
    history = fit(layers, X, y, settings, np.random.default_rng(0), sample_weights=weights)
    train = history.records[0].train
    # 70 rows in batches of 16: 16, 16, 16, 16, 6; the last batch weighs 6/70, not 1/5
    assert train.data_loss == pytest.approx(data_loss, rel=1e-6)
    assert train.metrics["accuracy"] == pytest.approx(accuracy)
    assert history.records[0].health["layer1_saturated"] == pytest.approx(saturated)
    for mine, theirs in zip(layers, after):
        np.testing.assert_allclose(mine.W, theirs.W, rtol=1e-5, atol=1e-6)
    # and not what a pass of the final weights gives
    assert train.data_loss != pytest.approx(evaluate(layers, LOSSES[settings.loss], X, y, weights=weights)[0].data_loss)


@pytest.mark.parametrize("loss_name", ["mse", "binary_cross_entropy", "hinge"])
def test_batch_figures_with_shuffling_and_other_losses(loss_name):
    X, y, layers = _problem(loss_name)
    settings = Settings(loss=loss_name, learning_rate=0.05, epochs=1, batch_size=8, shuffle=True,
                        evaluate_train="batches")
    order = np.random.default_rng(4).permutation(len(X))  # what fit draws from the same generator
    data_loss, accuracy, _, _ = _replay(layers, X, y, None, settings, order)
    train = fit(layers, X, y, settings, np.random.default_rng(4)).records[0].train
    assert train.data_loss == pytest.approx(data_loss, rel=1e-5)
    if loss_name != "mse":
        assert train.metrics["accuracy"] == pytest.approx(accuracy)


def test_full_evaluation_is_a_pass_over_every_row_after_the_epoch():
    X, y, layers = _problem()
    settings = Settings(loss="softmax_cross_entropy", learning_rate=0.5, epochs=2, batch_size=16,
                        evaluate_train="full")
    history = fit(layers, X, y, settings, np.random.default_rng(0))
    exact, _ = evaluate(layers, LOSSES[settings.loss], X, y)
    assert history.records[-1].train == exact


def test_the_weights_do_not_depend_on_how_the_figures_are_had():
    X, y, first = _problem()
    _, _, second = _problem()
    settings = Settings(loss="softmax_cross_entropy", learning_rate=0.5, epochs=3, batch_size=16,
                        evaluate_train="batches")
    fit(first, X, y, settings, np.random.default_rng(0))
    fit(second, X, y, replace(settings, evaluate_train="full"), np.random.default_rng(0))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.W, b.W)
        np.testing.assert_array_equal(a.b, b.b)


def test_an_epoch_resumed_mid_way_is_evaluated_on_every_row():
    X, y, layers = _problem()
    _, _, twin = _problem()
    settings = Settings(loss="softmax_cross_entropy", learning_rate=0.5, epochs=1, batch_size=16,
                        evaluate_train="batches")
    rng = np.random.default_rng(0)
    state = new_state(layers, settings, rng)
    calls = iter(range(100))
    stopped = fit(layers, X, y, settings, rng, state=state, should_stop=lambda: next(calls) == 1)
    assert stopped.interrupted and state.step == 2
    resumed = fit(layers, X, y, settings, rng, state=state)
    # its last three steps alone saw 38 of the 70 rows: the epoch's figures are a pass of its weights
    fit(twin, X, y, settings, np.random.default_rng(0))
    for a, b in zip(layers, twin):
        np.testing.assert_array_equal(a.W, b.W)
    assert resumed.records[0].train == evaluate(twin, LOSSES[settings.loss], X, y)[0]


def test_a_run_ends_with_exact_training_figures_in_its_summary_and_checkpoints(tmp_path):
    config = load_config(ROOT / "configs" / "moons.yaml", [f"output={tmp_path / 'run'}", "optimizer.epochs=12"])
    result = run.train(config)
    data = prepare.prepare_data(config, run.generators(config)[0])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    best = load_checkpoint(tmp_path / "run" / "best.npz")
    exact, _ = evaluate(best.layers, LOSSES[config.loss], data.X_train.astype(np.float32), data.y_train,
                        config.regularization.l1, config.regularization.l2)
    assert summary["best"]["train_data_loss"] == exact.data_loss
    assert summary["best"]["train_loss"] == exact.loss
    assert summary["best"]["train_accuracy"] == exact.metrics["accuracy"]
    assert best.meta["metrics"]["train_data_loss"] == exact.data_loss
    assert result.best_row["train_data_loss"] == exact.data_loss
    # the history keeps what each epoch reported: the mean over its batches
    row = next(row for row in result.rows if row["epoch"] == summary["best_epoch"])
    assert row["train_data_loss"] != exact.data_loss
    assert row["val_loss"] == summary["best"]["val_loss"]


def test_the_config_key_and_the_table_say_how_the_figures_were_had(tmp_path):
    from nnctl.errors import ConfigError
    from nnctl.views.train import epoch_columns

    moons = ROOT / "configs" / "moons.yaml"
    assert load_config(moons).training.evaluate_train == "auto"
    assert run.uses_batch_figures(load_config(moons))  # validation rows pick the best epoch
    assert not run.uses_batch_figures(load_config(moons, ["data.validation=0"]))  # the training loss does
    assert not run.uses_batch_figures(load_config(moons, ["early_stopping.monitor=train_accuracy"]))
    assert run.uses_batch_figures(load_config(moons, ["data.validation=0", "training.evaluate_train=batches"]))
    assert not run.uses_batch_figures(load_config(moons, ["training.evaluate_train=full"]))
    with pytest.raises(ConfigError) as caught:
        load_config(moons, ["training.evaluate_train=sometimes"])
    assert "training.evaluate_train: must be one of 'auto', 'batches', 'full'" in str(caught.value)
    assert epoch_columns("classification", False, batches=True)[1:4] == [
        "train loss (mean of batches, data + penalty)", "val loss", "train accuracy (mean of batches)"]
    assert epoch_columns("classification", True, batches=False)[1:4] == [
        "train loss (data + penalty)", "val loss", "val accuracy"]


def test_a_sweeps_run_directories_hold_the_exact_training_figures(tmp_path):
    from typer.testing import CliRunner

    from nnctl.cli import app

    done = CliRunner().invoke(app, ["sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--sizes", "3",
                                    "--jobs", "1", "--set", "optimizer.epochs=8", "-o", str(tmp_path / "s")])
    assert done.exit_code == 0, done.output
    [summary_file] = (tmp_path / "s").rglob("summary.json")
    summary = json.loads(summary_file.read_text())
    best = load_checkpoint(summary_file.parent / "best.npz")
    config = load_config(ROOT / "configs" / "circles.yaml", ["optimizer.epochs=8", f"output={tmp_path / 'x'}",
                                                             "model.hidden=[3]"])
    data = prepare.prepare_data(config, run.generators(config)[0])
    exact, _ = evaluate(best.layers, LOSSES[config.loss], data.X_train.astype(np.float32), data.y_train)
    assert summary["best"]["train_data_loss"] == exact.data_loss
    assert best.meta["metrics"]["train_data_loss"] == exact.data_loss


def test_when_the_training_loss_picks_the_best_epoch_it_is_exact():
    """auto: without validation rows the monitored figure is the training loss; every epoch then has
    a pass over all the rows, so the epoch kept is the one whose weights score best."""
    X, y, layers = _problem()
    settings = Settings(loss="softmax_cross_entropy", learning_rate=0.5, epochs=3, batch_size=16)
    history = fit(layers, X, y, settings, np.random.default_rng(0))
    assert history.records[-1].train == evaluate(layers, LOSSES[settings.loss], X, y)[0]
    X_val, y_val, _ = _problem(seed=5)
    _, _, again = _problem()
    batches = fit(again, X, y, settings, np.random.default_rng(0), validation=(X_val, y_val))
    assert batches.records[-1].train != evaluate(again, LOSSES[settings.loss], X, y)[0]  # means over batches
