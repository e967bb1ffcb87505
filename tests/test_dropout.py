"""Dropout: inverted masks on the hidden units, training only, drawn from the run's generator."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from nnctl import run
from nnctl.checkpoint import load_checkpoint
from nnctl.config import config_from_dict, load_config
from nnctl.core.dropout import epoch_key, fixed_masks, new_masks, step_masks
from nnctl.core.losses import LOSSES
from nnctl.core.model import Layer, backward, forward, init_network, logits
from nnctl.core.regularizers import penalty
from nnctl.core.stacked import fit_stacked
from nnctl.core.training import Settings, TrainingState, fit, gradients, new_state, parameters
from nnctl.errors import ConfigError
from nnctl.resume import load_resumable

from numerical import numerical_gradients, worst_relative_error

ROOT = Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(0)
X = RNG.normal(size=(150, 4)).astype(np.float32)
Y = ((X[:, 0] * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)).astype(np.int64)


# --- the masks ------------------------------------------------------------------------------

def test_a_mask_holds_0_or_1_over_1_minus_p_and_drops_about_p():
    out = new_masks([0.3, 0.0], [400, 5], (500,), np.float32)
    masks = step_masks([0.3, 0.0], key=12345, step=0, out=out)
    assert masks[1] is None and masks[0].shape == (500, 400) and masks[0].dtype == np.float32
    values = set(np.unique(masks[0]).tolist())
    assert values == {0.0, np.float32(1 / 0.7)}
    dropped = np.mean(masks[0] == 0)
    assert abs(dropped - 0.3) < 0.005  # 200,000 draws: the standard error is 0.001
    assert abs(float(np.mean(masks[0], dtype=np.float64)) - 1.0) < 0.01  # E[M] = 1: inverted dropout


def test_the_same_key_and_step_give_the_same_mask_and_another_step_another():
    draw = lambda key, step: step_masks([0.5], key, step, new_masks([0.5], [64], (32,), np.float64))[0]  # noqa
    assert np.array_equal(draw(7, 3), draw(7, 3))
    assert not np.array_equal(draw(7, 3), draw(7, 4))
    assert not np.array_equal(draw(7, 3), draw(8, 3))


def test_the_epoch_key_comes_from_the_runs_generator():
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert epoch_key(a) == epoch_key(b) and epoch_key(a) != epoch_key(np.random.default_rng(6))


# --- forward and backward, by hand ----------------------------------------------------------

def test_a_worked_example_by_hand():
    # 2 inputs -> 2 identity hidden units -> 1 output; hidden unit 2 dropped in row 1, p = 0.5
    W1 = np.array([[1.0, 2.0], [3.0, -1.0]])
    b1 = np.array([0.5, 0.0])
    W2 = np.array([[2.0], [1.0]])
    b2 = np.array([0.25])
    layers = [Layer(W1, b1, "identity"), Layer(W2, b2, "identity")]
    X = np.array([[1.0, 1.0]])
    M = np.array([[2.0, 0.0]])  # unit 1 kept: 1 / (1 - 0.5) = 2; unit 2 dropped
    inputs, sums = forward(layers, X, masks=[M])
    # Z1 = [1*1 + 1*3 + 0.5, 1*2 + 1*(-1) + 0] = [4.5, 1]; A1 = Z1 * M = [9, 0]
    assert np.array_equal(sums[0], [[4.5, 1.0]]) and np.array_equal(inputs[1], [[9.0, 0.0]])
    # Z2 = 9 * 2 + 0 * 1 + 0.25 = 18.25
    assert np.array_equal(sums[1], [[18.25]])
    # backward from dL/dZ2 = 1: dW2 = A1^T = [9, 0]; dA1 = W2^T = [2, 1]; dZ1 = dA1 * M = [4, 0]
    (dW1, db1), (dW2, db2) = backward(layers, inputs, sums, np.array([[1.0]]), masks=[M])
    assert np.array_equal(dW2, [[9.0], [0.0]]) and np.array_equal(db2, [1.0])
    assert np.array_equal(db1, [4.0, 0.0])
    assert np.array_equal(dW1, [[4.0, 0.0], [4.0, 0.0]])  # X^T dZ1: nothing reaches the dropped unit
    assert sums[0][0, 1] == 1.0  # Z1 itself is left as it was (identity's A is Z)


@pytest.mark.parametrize("activation, loss_name", list(itertools.product(
    ["sigmoid", "tanh", "relu", "leaky_relu", "identity"], ["softmax_cross_entropy", "mse"])))
def test_backprop_with_a_fixed_mask_matches_finite_differences(activation, loss_name):
    rng = np.random.default_rng(1)
    loss = LOSSES[loss_name]
    X = rng.normal(size=(6, 3))
    T = loss.encode(np.arange(6) % 3, 3, np.float64) if loss.task == "classification" else rng.normal(size=(6, 3))
    layers = init_network([3, 5, 4, 3], [activation, activation], loss.output_activation, rng, dtype=np.float64)
    masks = fixed_masks([0.4, 0.25], [5, 4], 6, seed=3, dtype=np.float64)
    assert all(np.any(mask == 0) for mask in masks)

    def objective() -> float:
        return loss.value(forward(layers, X, masks=masks)[1][-1], T) + penalty([l.W for l in layers], 0.0, 0.01)

    analytic = gradients(layers, loss, X, T, 0.0, 0.01, masks=masks)
    numerical = numerical_gradients(objective, parameters(layers), 1e-6)
    assert worst_relative_error(analytic, numerical, 1e-4) < 1e-5
    # and the check can fail: the gradient of the network without its masks is another one
    unmasked = gradients(layers, loss, X, T, 0.0, 0.01)
    assert max(np.max(np.abs(a - b)) for a, b in zip(analytic, unmasked)) > 1e-3


def test_gradcheck_holds_a_mask_fixed_and_passes(tmp_path):
    from nnctl.gradcheck import gradcheck

    for activation in ("sigmoid", "tanh"):  # smooth: no kink can fail an entry
        config = load_config(ROOT / "configs" / "circles.yaml",
                             ["model.hidden=[6,5]", f"model.activation={activation}", "model.dropout=[0.5,0.2]"])
        result = gradcheck(config, rows=8)
        assert result.passed and result.dropout == (0.5, 0.2) and result.near_kinks == 0
        assert 0 < result.dropped < 8 * 11  # some of the 8 x (6 + 5) hidden outputs, not all
    # relu: a row whose kept units all output 0 would leave the next layer's sums at its biases, 0 at
    # the start, on relu's kink; the check keeps one more unit there
    config = load_config(ROOT / "configs" / "circles.yaml",
                         ["model.hidden=[7,5]", "model.activation=relu", "model.dropout=[0.5,0.3]"])
    result = gradcheck(config, rows=8)
    assert result.passed, [(c.name, c.max_rel_error) for c in result.arrays]
    assert result.kept_back >= 1  # the check did keep a unit back here


# --- training ----------------------------------------------------------------------------------

SETTINGS = Settings(loss="softmax_cross_entropy", learning_rate=0.05, epochs=6, batch_size=16, optimizer="adam",
                    dropout=(0.3, 0.1))


def _net(seed: int, dtype=np.float32):
    return init_network([4, 12, 6, 3], ["relu", "tanh"], "identity", np.random.default_rng(seed), dtype=dtype)


def test_training_with_dropout_is_reproducible_and_differs_from_training_without():
    runs = []
    for dropout in [(0.3, 0.1), (0.3, 0.1), ()]:
        layers = _net(2)
        fit(layers, X, Y, Settings(**{**SETTINGS.__dict__, "dropout": dropout}), np.random.default_rng(9))
        runs.append(layers)
    assert all(np.array_equal(a.W, b.W) for a, b in zip(runs[0], runs[1]))
    assert not np.array_equal(runs[0][0].W, runs[2][0].W)


def test_dropout_zero_trains_bit_for_bit_as_before():
    # p = 0 everywhere draws nothing from the generator: the run of a config without the key
    a, b = _net(2), _net(2)
    fit(a, X, Y, Settings(**{**SETTINGS.__dict__, "dropout": (0.0, 0.0)}), np.random.default_rng(9))
    fit(b, X, Y, Settings(**{**SETTINGS.__dict__, "dropout": ()}), np.random.default_rng(9))
    assert all(np.array_equal(p.W, q.W) and np.array_equal(p.b, q.b) for p, q in zip(a, b))


def test_a_fit_stopped_mid_epoch_goes_on_with_the_masks_it_would_have_drawn():
    whole = _net(4)
    fit(whole, X, Y, SETTINGS, np.random.default_rng(9))
    part, rng = _net(4), np.random.default_rng(9)
    state = new_state(part, SETTINGS, rng)
    calls = itertools.count()
    history = fit(part, X, Y, SETTINGS, rng, state=state, should_stop=lambda: next(calls) == 15)
    assert history.interrupted and (state.epoch, state.step) == (1, 5)  # 10 steps an epoch
    resumed = TrainingState(**state.__dict__)
    fit(part, X, Y, SETTINGS, np.random.default_rng(12345), state=resumed)  # the state carries the generator
    for a, b in zip(whole, part):
        assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)


def test_stacked_seeds_with_dropout_equal_separate_fits_bit_for_bit():
    seeds = [3, 4, 5]
    validation = (X[:40], Y[:40])
    separate = []
    for seed in seeds:
        layers = _net(seed)
        separate.append((layers, fit(layers, X, Y, SETTINGS, np.random.default_rng(seed + 100), validation)))
    nets = [_net(seed) for seed in seeds]
    histories = fit_stacked(nets, X, Y, SETTINGS, [np.random.default_rng(seed + 100) for seed in seeds], validation)
    for (layers, history), stacked, stacked_history in zip(separate, nets, histories):
        for a, b in zip(layers, stacked):
            assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
        assert [(r.train, r.validation) for r in history.records] == \
            [(r.train, r.validation) for r in stacked_history.records]


def test_nothing_but_a_training_step_drops_units(tmp_path, monkeypatch):
    import nnctl.core.workspace
    from typer.testing import CliRunner

    from nnctl.cli import app

    out = tmp_path / "run"
    config = load_config(ROOT / "configs" / "circles.yaml", ["model.dropout=0.5", "optimizer.epochs=5",
                                                             f"output={out}"])
    result = run.train(config)

    def refuse(*args, **kwargs):
        raise AssertionError("a mask was drawn")

    monkeypatch.setattr(nnctl.core.workspace, "step_masks", refuse)  # what a training step draws with
    with pytest.raises(AssertionError, match="a mask was drawn"):
        run.train(config, write_files=False)  # (the patch holds)
    runner, data = CliRunner(), str(ROOT / "datasets" / "circles.csv")
    predicted = runner.invoke(app, ["predict", str(out), data, "--proba", "-o", str(tmp_path / "p.csv")])
    assert predicted.exit_code == 0, predicted.output
    ckpt = load_checkpoint(out / "best.npz")
    rows = np.loadtxt(data, delimiter=",", skiprows=1)
    expected = LOSSES[config.loss].decide(logits(ckpt.layers, ckpt.scaler.transform(rows[:, :2]).astype(np.float32)))
    written = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1, usecols=0)  # predicted_label, p0, p1
    assert np.array_equal(written.astype(int), np.array(ckpt.meta["classes"])[expected])
    for command in (["evaluate", str(out), data], ["importance", str(out), data, "--repeats", "1"],
                    ["boundary", str(out), data]):
        done = runner.invoke(app, command)
        assert done.exit_code == 0, (command, done.output)
    # the validation figures are those of the whole network: recomputed here without masks
    X_val = result.data.X_val.astype(np.float32)
    accuracy = float(np.mean(LOSSES[config.loss].decide(logits(result.layers, X_val)) == result.data.y_val))
    assert accuracy == pytest.approx(result.best_row["val_accuracy"])


def test_dropout_keeps_a_wide_network_from_learning_the_noise(tmp_path):
    # configs/dropout.yaml: 150 noisy training rows, two hidden layers of 128; the same run without dropout
    runs = {}
    for dropout in ("0.5", "0"):
        config = load_config(ROOT / "configs" / "dropout.yaml", [f"model.dropout={dropout}", "training.baselines=false"])
        runs[dropout] = run.train(config, write_files=False)
    with_, without = runs["0.5"], runs["0"]
    # without: the best validation loss comes within a few epochs, then the network learns the noise
    assert without.best_row["epoch"] < 20 <= with_.best_row["epoch"]
    assert with_.best_row["val_loss"] < without.best_row["val_loss"]
    assert with_.best_row["val_accuracy"] > without.best_row["val_accuracy"]
    last_with, last_without = with_.rows[-1], without.rows[-1]
    assert last_without["val_loss"] > 1.5 * last_with["val_loss"]
    # the training figures of each epoch are the batches' (dropout on), the summary's those of every unit
    assert with_.best_row["train_data_loss"] < with_.rows[with_.best_row["epoch"] - 1]["train_data_loss"]


# --- config ------------------------------------------------------------------------------------

def _config(tmp_path: Path, model: dict) -> dict:
    return {"data": {"train": str(ROOT / "datasets" / "circles.csv"), "target": "label"}, "model": model,
            "output": str(tmp_path / "run")}


@pytest.mark.parametrize("model, message", [
    ({"hidden": [8, 4], "dropout": [0.2]},
     "model.dropout: must be one number or a list of 2 rates (one per layer of model.hidden [8, 4]), got [0.2]"),
    ({"hidden": [], "dropout": [0.3]},
     "model.dropout: must be one number: model.hidden [] has no layer to give a rate, got [0.3]"),
    ({"dropout": 1.0}, "model.dropout: must be a number from 0 to 0.99 (the share of hidden units dropped)"),
    ({"dropout": 0.99999999999}, "model.dropout: must be a number from 0 to 0.99"),
    ({"dropout": -0.1}, "model.dropout: must be a number from 0 to 0.99"),
    ({"dropout": "half"}, "model.dropout: must be a number from 0 to 0.99"),
    ({"dropout": [0.1, True]}, "model.dropout: must be a number from 0 to 0.99"),
])
def test_bad_dropout_is_one_clear_line(tmp_path, model, message):
    with pytest.raises(ConfigError) as error:
        config_from_dict(_config(tmp_path, model))
    assert message in str(error.value)


def test_one_rate_is_every_hidden_layers_and_a_list_is_one_per_layer(tmp_path):
    assert config_from_dict(_config(tmp_path, {"hidden": [8, 4], "dropout": 0.2})).model.hidden_dropout == (0.2, 0.2)
    assert config_from_dict(_config(tmp_path, {"hidden": [8, 4], "dropout": [0.5, 0]})).model.hidden_dropout == \
        (0.5, 0.0)
    assert config_from_dict(_config(tmp_path, {"hidden": []})).model.hidden_dropout == ()


def test_one_rate_without_hidden_layers_drops_nothing_and_says_so(tmp_path):
    from typer.testing import CliRunner

    from nnctl.cli import app

    config = config_from_dict(_config(tmp_path, {"hidden": [], "dropout": 0.3}))
    assert config.model.hidden_dropout == () and run.settings_of(config).dropout == ()
    done = CliRunner().invoke(app, ["train", str(ROOT / "configs" / "circles-perceptron.yaml"), "--set",
                                    "model.dropout=0.3", "--set", f"output={tmp_path / 'p'}", "--json"])
    assert done.exit_code == 0, done.output
    assert "model.dropout 0.3 drops nothing: dropout switches off hidden units, and model.hidden is []" in \
        json.loads(done.stdout)["notes"]


def test_a_sweep_says_which_candidate_drops_nothing(tmp_path):
    from typer.testing import CliRunner

    from nnctl.cli import app

    done = CliRunner().invoke(app, ["sweep-hidden", str(ROOT / "configs" / "dropout.yaml"), "--sizes", "0,4",
                                    "--jobs", "1", "--set", "optimizer.epochs=2", "-o", str(tmp_path / "s"), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["notes"] == [
        "hidden 0: model.dropout 0.5 drops nothing: dropout switches off hidden units, and model.hidden is []"]


def test_sweep_hidden_keeps_one_rate_and_refuses_differing_ones(tmp_path):
    from nnctl.sweep import with_hidden

    config = config_from_dict(_config(tmp_path, {"hidden": [8, 4], "dropout": [0.3, 0.3]}))
    assert with_hidden(config, (16,)).model.hidden_dropout == (0.3,)
    assert with_hidden(config, ()).model.hidden_dropout == ()
    differing = config_from_dict(_config(tmp_path, {"hidden": [8, 4], "dropout": [0.3, 0.1]}))
    with pytest.raises(ConfigError, match=r"model.dropout: sweep-hidden changes the number of hidden layers, so it "
                                          r"needs one rate for all of them, got \[0.3, 0.1\]"):
        with_hidden(differing, (16,))


def test_a_resumed_run_with_dropout_equals_one_go(tmp_path):
    base = ["model.dropout=0.3", "optimizer.batch_size=16"]
    whole = load_config(ROOT / "configs" / "moons.yaml", [*base, "optimizer.epochs=8", f"output={tmp_path / 'a'}"])
    run.train(whole)
    part = load_config(ROOT / "configs" / "moons.yaml", [*base, "optimizer.epochs=8", f"output={tmp_path / 'b'}"])
    asked = itertools.count()
    result = run.train(part, should_stop=lambda: next(asked) == 37)  # epoch 2, step 16 of 20
    assert result.history.interrupted
    run.train(part, resume_from=load_resumable(tmp_path / "b", part, force=False))
    a, b = load_checkpoint(tmp_path / "a" / "last.npz"), load_checkpoint(tmp_path / "b" / "last.npz")
    for p, q in zip(a.layers, b.layers):
        assert np.array_equal(p.W, q.W) and np.array_equal(p.b, q.b)



# --- shown where the network is shown ------------------------------------------------------------

def test_train_inspect_and_explain_show_the_rates(tmp_path):
    import json

    from typer.testing import CliRunner

    from nnctl.cli import app

    runner = CliRunner()
    out = tmp_path / "run"
    config = str(ROOT / "configs" / "circles.yaml")
    sets = ["--set", "model.hidden=[6,4]", "--set", "model.dropout=[0.5,0]", "--set", "optimizer.epochs=3",
            "--set", f"output={out}"]
    trained = runner.invoke(app, ["train", config, *sets, "--no-baselines"])
    assert trained.exit_code == 0, trained.output
    assert "2 inputs + bias -> 6 sigmoid (dropout 0.5) + bias -> 4 sigmoid + bias -> 2 outputs (softmax)" in trained.stdout
    assert "note: with dropout, each epoch's train figures are those of the thinned networks" in trained.stdout

    document = json.loads(runner.invoke(app, ["inspect", str(out), "--json"]).stdout)
    assert [layer["dropout"] for layer in document["layers"]] == [0.5, 0.0, 0.0]
    shown = runner.invoke(app, ["inspect", str(out)], env={"COLUMNS": "200"}).stdout
    assert "6 sigmoid + bias, dropout 0.5" in shown and "dropout (training)" in shown
    assert "predictions use every unit" in shown

    explained = json.loads(runner.invoke(app, ["explain", config, *sets[:-2], "--json"]).stdout)
    first, second = explained["forward"][0], explained["forward"][1]
    mask, f_Z, A = (np.array(first[key]) for key in ("mask", "f_Z", "A"))
    assert set(np.unique(mask).tolist()) <= {0.0, 2.0} and first["dropout"] == 0.5
    np.testing.assert_allclose(A, f_Z * mask)  # A1 = f(Z1) * M1
    assert second["mask"] is None  # p = 0: nothing dropped there
    dZ1 = np.array(explained["backward"][0]["dZ"])
    assert np.all(dZ1[mask == 0] == 0)  # a dropped unit passes no gradient
    text = runner.invoke(app, ["explain", config, *sets[:-2]], env={"COLUMNS": "250"}).stdout
    assert "A1 = sigmoid(Z1) * M1;  M1 = 0 for a dropped unit (a share 0.5), 1 / (1 - 0.5) = 2 for a kept one" in text
    assert "dZ1 = (dZ2 W2^T) * M1 * sigmoid'(Z1)" in text


def test_a_sweeps_stacked_seeds_with_dropout_are_the_runs_train_gives(tmp_path):
    from dataclasses import replace

    from nnctl.prep import prepare

    base = load_config(ROOT / "configs" / "dropout.yaml", ["optimizer.epochs=15", "model.hidden=[32,16]",
                                                           "model.dropout=[0.5,0.2]", "training.baselines=false"])
    configs = [replace(base, seed=seed, output=tmp_path / f"s{seed}") for seed in range(3)]
    data = prepare.prepare_data(configs[0], run.generators(configs[0])[0])
    stacked = run.train_seeds(configs, data, write_files=False)
    for config, together in zip(configs, stacked):
        alone = run.train(config, data=data, write_files=False)
        for a, b in zip(alone.layers, together.layers):
            assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
        assert [r["val_loss"] for r in alone.rows] == [r["val_loss"] for r in together.rows]
    assert not np.array_equal(stacked[0].layers[0].W, stacked[1].layers[0].W)


def test_a_run_from_before_dropout_resumes_and_is_inspected(tmp_path):
    from typer.testing import CliRunner

    from nnctl.cli import app
    from test_checkpoint import _rewrite

    runner = CliRunner()
    config, out = str(ROOT / "configs" / "moons.yaml"), tmp_path / "run"
    assert runner.invoke(app, ["train", config, "--set", f"output={out}", "--set", "optimizer.epochs=2",
                               "--no-baselines"]).exit_code == 0

    def earlier(arrays, meta):
        del meta["config"]["model"]["dropout"]

    old = _rewrite(out / "best.npz", tmp_path / "old.npz", earlier)
    _rewrite(out / "last.npz", tmp_path / "old-last.npz", earlier).replace(out / "last.npz")
    resumed = runner.invoke(app, ["train", config, "--set", f"output={out}", "--set", "optimizer.epochs=3",
                                  "--resume", str(out), "--no-baselines"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((out / "summary.json").read_text())["epochs_run"] == 3
    inspected = json.loads(runner.invoke(app, ["inspect", str(old), "--json"]).stdout)
    assert [layer["dropout"] for layer in inspected["layers"]] == [0.0, 0.0, 0.0]
    assert "dropout" not in inspected["config"]["model"]
