"""Optimizers, schedules, early stopping, divergence, weights, exact resume and health."""

from pathlib import Path

import numpy as np
import pytest

from nnctl import run
from nnctl.prep import prepare
from nnctl.checkpoint import load_checkpoint
from nnctl.config import config_from_dict, load_config
from nnctl.core.health import layer_health
from nnctl.core.losses import LOSSES
from nnctl.core.model import Layer, forward, init_network, logits
from nnctl.core.optimizers import OPTIMIZERS, Hyper
from nnctl.core.regularizers import penalty
from nnctl.core.schedules import Schedule, initial_state, next_learning_rate
from nnctl.core.training import gradients, parameters
from nnctl.errors import ConfigError
from nnctl.resume import load_resumable

ROOT = Path(__file__).resolve().parent.parent


# --- 1. optimizers: two steps each, worked out by hand --------------------------------

def _two_steps(name: str, second_gradient=(0.5, -1.0)) -> list[np.ndarray]:
    theta = np.array([1.0, -2.0])
    optimizer = OPTIMIZERS[name]
    state = optimizer.init([theta])
    seen = []
    for g in (np.array([0.5, -1.0]), np.array(second_gradient)):
        optimizer.update([theta], [g], state, 0.1, Hyper())
        seen.append(theta.copy())
    return seen


def test_sgd_step_by_hand():
    # theta - eta g = [1 - 0.05, -2 + 0.1]
    first, second = _two_steps("sgd")
    np.testing.assert_allclose(first, [0.95, -1.9])
    np.testing.assert_allclose(second, [0.90, -1.8])


def test_momentum_steps_by_hand():
    # v1 = -eta g = [-0.05, 0.1]; theta1 = [0.95, -1.9]
    # v2 = 0.9 v1 - eta g = [-0.095, 0.19]; theta2 = [0.855, -1.71]
    first, second = _two_steps("momentum")
    np.testing.assert_allclose(first, [0.95, -1.9])
    np.testing.assert_allclose(second, [0.855, -1.71])


def test_nesterov_steps_by_hand():
    # v1 = [-0.05, 0.1]; theta1 = theta0 - 0.9 * 0 + 1.9 v1 = [0.905, -1.81]
    # v2 = [-0.095, 0.19]; theta2 = theta1 - 0.9 v1 + 1.9 v2 = [0.905 + 0.045 - 0.1805, -1.81 - 0.09 + 0.361]
    first, second = _two_steps("nesterov")
    np.testing.assert_allclose(first, [0.905, -1.81])
    np.testing.assert_allclose(second, [0.7695, -1.539])


def test_adam_steps_by_hand():
    # t=1, g1 = [0.5, -1]: m = 0.1 g1 = [0.05, -0.1], v = 0.001 g1^2 = [0.00025, 0.001]
    #   m_hat = m / 0.1 = g1, v_hat = v / 0.001 = g1^2: theta -= 0.1 g1 / (|g1| + 1e-8) -> [0.9, -1.9]
    # t=2, g2 = [-0.25, 2]: m = 0.9 m + 0.1 g2 = [0.02, 0.11]
    #   v = 0.999 v + 0.001 g2^2 = [0.00031225, 0.004999]
    #   m_hat = m / (1 - 0.9^2) = [0.1052632, 0.5789474]; v_hat = v / (1 - 0.999^2) = [0.1562031, 2.5007504]
    #   theta -= 0.1 m_hat / (sqrt(v_hat) + 1e-8) = 0.1 * [0.1052632 / 0.3952254, 0.5789474 / 1.5813761]
    #         = [0.0266337, 0.0366104] -> [0.8733663, -1.9366104]
    first, second = _two_steps("adam", second_gradient=(-0.25, 2.0))
    np.testing.assert_allclose(first, [0.9, -1.9], rtol=0, atol=1e-8)
    np.testing.assert_allclose(second, [0.8733663, -1.9366104], rtol=0, atol=1e-7)
    assert Hyper() == Hyper(momentum=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_trains_circles(name, tmp_path):
    rate = 0.01 if name == "adam" else 0.3
    config = load_config(ROOT / "configs" / "circles.yaml",
                         [f"optimizer.name={name}", f"optimizer.learning_rate={rate}", "optimizer.epochs=60",
                          "model.activation=tanh", f"output={tmp_path}"])
    assert run.train(config).best_row["val_accuracy"] >= 0.95


# --- 2. schedules ------------------------------------------------------------------------

def _rates(schedule: Schedule, monitored: list[float]) -> list[float]:
    rates, eta, state = [1.0], 1.0, initial_state()
    for done, value in enumerate(monitored, start=1):
        eta = next_learning_rate(schedule, 1.0, eta, done, value, True, state)
        rates.append(eta)
    return rates


def test_schedules_by_hand():
    assert _rates(Schedule("constant"), [1] * 4) == [1.0] * 5
    assert _rates(Schedule("step", factor=0.5, every=2), [1] * 5) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert _rates(Schedule("exponential", factor=0.9), [1] * 3) == pytest.approx([1.0, 0.9, 0.81, 0.729])
    # plateau, patience 2: improves at 1-2, then two epochs without -> halve, two more -> halve again
    rates = _rates(Schedule("plateau", factor=0.5, patience=2, min_learning_rate=0.3), [5, 4, 4, 4, 4, 4, 3])
    assert rates == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.3, 0.3]


def test_the_learning_rate_is_in_the_history_and_the_table(tmp_path):
    from typer.testing import CliRunner
    from nnctl.cli import app

    result = CliRunner().invoke(app, ["train", str(ROOT / "configs" / "circles.yaml"), "--every", "1",
                                      "--set", "optimizer.epochs=4", "--set", "schedule.name=step",
                                      "--set", "schedule.every=2", "--set", f"output={tmp_path}"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split("lr: ")[1].split()[0] for line in lines] == ["0.5", "0.5", "0.25", "0.25"]
    history = (tmp_path / "history.csv").read_text().splitlines()
    assert [row.split(",")[1] for row in history[1:]] == ["0.5", "0.5", "0.25", "0.25"]


# --- 3. early stopping and the best weights ---------------------------------------------

def _moons(tmp_path, *overrides):
    return load_config(ROOT / "configs" / "moons.yaml", [f"output={tmp_path}", *overrides])


def test_early_stopping_ends_with_the_best_weights(tmp_path):
    config = _moons(tmp_path, "optimizer.name=adam", "optimizer.learning_rate=0.02", "early_stopping.patience=5")
    result = run.train(config)
    best_epoch = result.best_row["epoch"]
    assert result.history.stop_reason == f"no improvement in val_loss for 5 epochs (best at epoch {best_epoch})"
    assert len(result.rows) == best_epoch + 5 < 150
    best = load_checkpoint(tmp_path / "best.npz")
    assert best.meta["epoch"] == best_epoch
    assert all(np.array_equal(a.W, b.W) for a, b in zip(result.layers, best.layers))
    assert load_checkpoint(tmp_path / "last.npz").meta["epoch"] == best_epoch + 5
    assert min(row["val_loss"] for row in result.rows) == result.best_row["val_loss"]


def test_without_early_stopping_the_run_still_ends_with_the_best_weights(tmp_path):
    result = run.train(_moons(tmp_path, "optimizer.epochs=40", "early_stopping.monitor=val_accuracy"))
    assert result.history.stop_reason == "all 40 epochs done"
    best_epoch = result.best_row["epoch"]
    assert result.best_row["val_accuracy"] == max(row["val_accuracy"] for row in result.rows)
    best = load_checkpoint(tmp_path / "best.npz")
    assert best.meta["epoch"] == best_epoch
    assert all(np.array_equal(a.W, b.W) for a, b in zip(result.layers, best.layers))


def test_target_reached_stops_the_run(tmp_path):
    result = run.train(_moons(tmp_path, "early_stopping.monitor=val_accuracy", "early_stopping.target=0.95"))
    last = result.rows[-1]
    assert last["val_accuracy"] >= 0.95 and all(row["val_accuracy"] < 0.95 for row in result.rows[:-1])
    assert result.history.stop_reason == (f"target reached: val_accuracy {last['val_accuracy']:.4g} at epoch "
                                          f"{last['epoch']} (target 0.95)")


# --- 4. divergence at a step --------------------------------------------------------------

def test_divergence_names_epoch_and_step_and_writes_nothing_non_finite(tmp_path):
    from nnctl.errors import TrainingError

    config = load_config(ROOT / "configs" / "regression.yaml",
                         ["optimizer.learning_rate=3.0", "model.hidden=[]", "optimizer.batch_size=8",
                          f"output={tmp_path}"])
    with pytest.raises(TrainingError) as caught:
        run.train(config)
    message = str(caught.value)
    assert message.startswith("the loss is no longer finite at epoch ") and ", step " in message
    assert "lower optimizer.learning_rate (now 3)" in message
    for name in ("best.npz", "last.npz"):
        if (tmp_path / name).exists():  # only when an epoch finished
            ckpt = load_checkpoint(tmp_path / name)  # refuses non-finite weights
            assert all(np.isfinite(layer.W).all() for layer in ckpt.layers)


# --- 5. class and sample weights -----------------------------------------------------------

@pytest.mark.parametrize("loss_name,count", [("softmax_cross_entropy", 3), ("mse", 2), ("hinge", 2)])
def test_weighted_loss_gradient_matches_finite_differences(loss_name, count):
    rng = np.random.default_rng(4)
    loss = LOSSES[loss_name]
    X = rng.normal(size=(6, 3))
    y = rng.normal(size=(6, count)) if loss.task == "regression" else np.arange(6) % count
    n_out = loss.n_outputs(count)
    layers = init_network([3, 4, n_out], ["tanh"], loss.output_activation, rng, "glorot_normal", np.float64)
    T = loss.encode(y, n_out, np.float64)
    w = rng.uniform(0.2, 3.0, size=6)
    analytic = gradients(layers, loss, X, T, 0.0, 0.01, w)

    def objective():
        return loss.value(logits(layers, X), T, w) + penalty([layer.W for layer in layers], 0.0, 0.01)

    for param, grad in zip(parameters(layers), analytic):
        for index in np.ndindex(param.shape):
            saved = param[index]
            param[index] = saved + 1e-6
            up = objective()
            param[index] = saved - 1e-6
            down = objective()
            param[index] = saved
            assert (up - down) / 2e-6 == pytest.approx(grad[index], rel=1e-5, abs=1e-9)
    # weights scale each row's share: all-ones weights are the plain mean
    Z = logits(layers, X)
    assert loss.value(Z, T, np.ones(6)) == pytest.approx(loss.value(Z, T))


def _imbalanced(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    rows = ["x1,x2,w,label"]
    for i in range(200):
        label = "rare" if i % 10 == 0 else "common"
        centre = 0.6 if label == "rare" else -0.2
        x = rng.normal(centre, 0.5, size=2)
        rows.append(f"{x[0]:.4f},{x[1]:.4f},{1 + i % 3},{label}")
    path = tmp_path / "imbalanced.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_balanced_class_weights_and_a_sample_weight_column(tmp_path):
    data = _imbalanced(tmp_path)
    config = config_from_dict({"data": {"train": str(data), "target": "label", "class_weight": "balanced",
                                        "sample_weight": "w"},
                               "optimizer": {"epochs": 2}, "output": str(tmp_path / "run")})
    prepared = prepare.prepare_data(config, run.generators(config)[0])
    assert prepared.dataset.feature_names == ("x1", "x2")  # the weight column is not a feature
    y, w = prepared.y_train, prepared.w_train
    counts = np.bincount(y)
    assert set(np.unique(prepared.dataset.weights)) == {1.0, 2.0, 3.0}
    split_rng = run.generators(config)[0]
    from nnctl.prep.transforms import split_indices
    train_rows, _ = split_indices(prepared.dataset.y, 0.2, split_rng, True)
    sample_train = prepared.dataset.weights[train_rows]
    # balanced: class c weighs n / (K n_c) = 160 / (2 * 144) for "common", 160 / (2 * 16) for "rare"
    assert dict(zip(prepared.dataset.classes, counts)) == {"common": 144, "rare": 16}
    np.testing.assert_allclose(w, np.array([160 / 288, 160 / 32])[y] * sample_train)


def test_class_weights_raise_the_recall_of_a_rare_class(tmp_path):
    data = _imbalanced(tmp_path)
    recall = {}
    for weights in (None, {"rare": 9.0}):
        config = config_from_dict({"data": {"train": str(data), "target": "label", "class_weight": weights,
                                            "validation": 0},
                                   "model": {"hidden": []}, "optimizer": {"learning_rate": 0.5, "epochs": 60},
                                   "output": str(tmp_path / "run")})
        result = run.train(config)
        X, y = result.data.X_train, result.data.y_train
        predicted = LOSSES["softmax_cross_entropy"].decide(logits(result.layers, X.astype(np.float32)))
        rare = result.data.dataset.classes.index("rare")
        recall[weights is None] = np.mean(predicted[y == rare] == rare)
    assert recall[False] > recall[True] + 0.2


def test_an_unknown_class_in_class_weight_is_one_clear_error(tmp_path):
    config = config_from_dict({"data": {"train": str(_imbalanced(tmp_path)), "target": "label",
                                        "class_weight": {"rear": 2}}, "output": str(tmp_path / "run")})
    with pytest.raises(ConfigError, match="data.class_weight: class 'rear' is not in column 'label'"):
        run.train(config)


# --- 6. exact resume ------------------------------------------------------------------------

def _weights_and_state(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        # state_history holds wall times (its seconds column): the history is compared as history.csv below
        return {name: archive[name] for name in archive.files if name not in ("meta", "state_history")}


@pytest.mark.parametrize("extra", [
    ["optimizer.name=adam", "optimizer.learning_rate=0.01", "schedule.name=plateau", "schedule.patience=2"],
    ["optimizer.name=nesterov", "schedule.name=step", "schedule.every=3", "data.class_weight=balanced"],
])
def test_k_epochs_then_resume_equals_one_go(tmp_path, extra):
    base = [*extra, "optimizer.batch_size=16"]
    whole = load_config(ROOT / "configs" / "moons.yaml", [*base, "optimizer.epochs=12", f"output={tmp_path / 'a'}"])
    run.train(whole)
    part = load_config(ROOT / "configs" / "moons.yaml", [*base, "optimizer.epochs=5", f"output={tmp_path / 'b'}"])
    run.train(part)
    more = load_config(ROOT / "configs" / "moons.yaml", [*base, "optimizer.epochs=12", f"output={tmp_path / 'b'}"])
    run.train(more, resume_from=load_resumable(tmp_path / "b", more, force=False))
    a, b = _weights_and_state(tmp_path / "a" / "last.npz"), _weights_and_state(tmp_path / "b" / "last.npz")
    assert sorted(a) == sorted(b) and any(name.startswith("state_") for name in a) == (
        "optimizer.name=adam" in extra or "optimizer.name=nesterov" in extra)
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    rows_a = (tmp_path / "a" / "history.csv").read_text().splitlines()
    rows_b = (tmp_path / "b" / "history.csv").read_text().splitlines()
    assert len(rows_a) == len(rows_b) == 13
    strip = lambda row: [v for i, v in enumerate(row.split(",")) if i != 2]  # noqa: E731 - drop the seconds
    assert [strip(r) for r in rows_a] == [strip(r) for r in rows_b]


def test_a_run_stopped_mid_epoch_goes_on_exactly(tmp_path):
    overrides = ["optimizer.name=momentum", "optimizer.batch_size=16", "optimizer.epochs=6"]
    run.train(load_config(ROOT / "configs" / "moons.yaml", [*overrides, f"output={tmp_path / 'a'}"]))
    config = load_config(ROOT / "configs" / "moons.yaml", [*overrides, f"output={tmp_path / 'b'}"])
    asked = iter(range(10**6))
    result = run.train(config, should_stop=lambda: next(asked) == 37)  # asked after each of 20 steps and each epoch: epoch 2, step 17
    assert result.history.interrupted and result.history.stop_reason == "interrupted at epoch 2, step 17 of 20"
    state = load_checkpoint(tmp_path / "b" / "last.npz").meta["training_state"]
    assert (state["epoch"], state["step"]) == (1, 17)
    run.train(config, resume_from=load_resumable(tmp_path / "b", config, force=False))
    a, b = _weights_and_state(tmp_path / "a" / "last.npz"), _weights_and_state(tmp_path / "b" / "last.npz")
    assert all(np.array_equal(a[name], b[name]) for name in a)


def test_resume_carries_the_schedule_and_early_stopping_bookkeeping(tmp_path):
    base = ["optimizer.name=adam", "optimizer.learning_rate=0.05", "schedule.name=plateau", "schedule.patience=1",
            "early_stopping.patience=4", "early_stopping.min_delta=0.001", "schedule.min_delta=0.001"]
    one_go = run.train(_moons(tmp_path / "a", *base, "optimizer.epochs=60"))
    assert one_go.history.stop_reason.startswith("no improvement in val_loss for 4 epochs")
    stop = len(one_go.rows)
    decays = [row["epoch"] for prev, row in zip(one_go.rows, one_go.rows[1:]) if row["learning_rate"] < prev["learning_rate"]]
    k = stop - 3  # the part run ends inside the stretch that early stopping counts
    assert decays and decays[0] <= k
    run.train(_moons(tmp_path / "b", *base, f"optimizer.epochs={k}"))
    more = _moons(tmp_path / "b", *base, "optimizer.epochs=60")
    resumed = run.train(more, resume_from=load_resumable(tmp_path / "b", more, force=False))
    assert resumed.history.stop_reason == one_go.history.stop_reason
    assert [r["learning_rate"] for r in resumed.rows] == [r["learning_rate"] for r in one_go.rows]
    assert len(resumed.rows) == stop and resumed.best_row["epoch"] == one_go.best_row["epoch"]
    a, b = _weights_and_state(tmp_path / "a" / "last.npz"), _weights_and_state(tmp_path / "b" / "last.npz")
    assert all(np.array_equal(a[name], b[name]) for name in a)
    assert all(np.array_equal(x.W, y.W) for x, y in zip(one_go.layers, resumed.layers))


def test_resume_refuses_another_optimizer_seed_or_mid_epoch_batch_size(tmp_path):
    config = _moons(tmp_path, "optimizer.name=adam", "optimizer.epochs=2")
    asked = iter(range(10**6))
    run.train(config, should_stop=lambda: next(asked) == 15)  # 11 asks in epoch 1: stops at epoch 2, step 4
    for change, text in [("optimizer.name=sgd", "optimizer.name: 'adam' -> 'sgd'"),
                         ("seed=5", "split seed (seed / data.split_seed): 0 -> 5"),
                         ("optimizer.batch_size=16", "optimizer.batch_size in the middle of epoch 2: 32 -> 16")]:
        changed = _moons(tmp_path, "optimizer.name=adam", "optimizer.epochs=3", change)
        with pytest.raises(ConfigError, match="the config changed since that run") as caught:
            load_resumable(tmp_path, changed, force=False)
        assert text in str(caught.value)
    forced = _moons(tmp_path, "optimizer.name=sgd", "optimizer.epochs=3")
    result = run.train(forced, resume_from=load_resumable(tmp_path, forced, force=True))
    assert [row["epoch"] for row in result.rows] == [1, 2, 3]
    state = load_checkpoint(tmp_path / "last.npz").meta["training_state"]
    assert state["optimizer"] == "sgd" and state["optimizer_arrays"] == []
    with pytest.raises(ConfigError, match="already did 3 epochs and optimizer.epochs is 3"):
        load_resumable(tmp_path, forced, force=False)


def test_a_weight_that_overflows_is_caught_at_its_own_step(tmp_path):
    from nnctl.errors import TrainingError

    config = load_config(ROOT / "configs" / "regression.yaml",
                         ["optimizer.learning_rate=1e200", "optimizer.batch_size=null", f"output={tmp_path}"])
    with pytest.raises(TrainingError, match="no longer finite at epoch 1, step 1: "):
        run.train(config, should_stop=lambda: True)
    assert not (tmp_path / "last.npz").exists() and not (tmp_path / "best.npz").exists()


def test_resume_refuses_a_changed_model_or_data_unless_forced(tmp_path):
    config = _moons(tmp_path, "optimizer.epochs=2")
    run.train(config)
    changed = _moons(tmp_path, "optimizer.epochs=4", "model.hidden=[8, 8]", "data.standardize=false")
    with pytest.raises(ConfigError) as caught:
        load_resumable(tmp_path, changed, force=False)
    assert "data.standardize: True -> False" in str(caught.value)
    assert "model.hidden: [16, 16] -> [8, 8]" in str(caught.value) and "--force" in str(caught.value)
    moved = tmp_path / "moons-copy.csv"
    moved.write_bytes((ROOT / "datasets" / "moons.csv").read_bytes())
    forced = _moons(tmp_path, "optimizer.epochs=4", f"data.train={moved}")
    result = run.train(forced, resume_from=load_resumable(tmp_path, forced, force=True))
    assert [row["epoch"] for row in result.rows] == [1, 2, 3, 4]
    reshaped = _moons(tmp_path, "optimizer.epochs=6", "model.hidden=[8]")
    with pytest.raises(ConfigError, match="even --force cannot resume this"):
        run.train(reshaped, resume_from=load_resumable(tmp_path, reshaped, force=True))


# --- 8. health -----------------------------------------------------------------------------

def test_health_in_the_live_table():
    import io
    from rich.console import Console
    from nnctl.core.training import EpochRecord, Evaluation
    from nnctl.views.train import TrainingDisplay

    stream = io.StringIO()
    evaluation = Evaluation(0.5, 0.0, {"accuracy": 0.75, "zero_one_loss": 0.25})
    with TrainingDisplay(Console(file=stream, force_terminal=True, width=200), 1, "classification", True,
                         health=True) as display:
        display.on_epoch(EpochRecord(1, evaluation, evaluation, 0.1, 0.01,
                                     {"layer1_weight_norm": 2.5, "layer1_grad_norm": 0.125, "layer1_dead": 0.25}))
    assert "L1 |W| 2.5 |dW| 0.125 dead 0.25" in stream.getvalue()


def test_health_figures_by_construction():
    W = np.array([[3.0, 0.0, -1e-4], [4.0, 0.0, 2.0]])
    layers = [Layer(W, np.array([0.0, -5.0, 0.0]), "relu"), Layer(np.ones((3, 1)), np.zeros(1), "identity")]
    X = np.array([[1.0, 1.0], [2.0, -1.0]])
    activations, _ = forward(layers, X)
    health = layer_health(layers, activations, [np.full((2, 3), 2.0), np.zeros((3, 1))])
    assert health["layer1_weight_norm"] == pytest.approx(np.sqrt(9 + 16 + 1e-8 + 4))
    assert health["layer1_grad_norm"] == pytest.approx(np.sqrt(6 * 4.0))
    assert health["layer1_sparsity"] == pytest.approx(3 / 6)  # 0, 0 and -1e-4
    assert health["layer1_dead"] == pytest.approx(1 / 3)  # unit 2: 0 x + (-5) is never > 0
    sig = [Layer(np.array([[100.0, 0.0]]), np.zeros(2), "sigmoid"), Layer(np.ones((2, 1)), np.zeros(1), "identity")]
    activations, _ = forward(sig, np.array([[1.0], [-1.0]]))
    assert layer_health(sig, activations, None)["layer1_saturated"] == pytest.approx(0.5)


def test_l1_shows_as_sparsity_in_the_history(tmp_path):
    sparsity = {}
    for l1 in (0.0, 0.01):
        config = load_config(ROOT / "configs" / "moons.yaml", [f"regularization.l1={l1}", "optimizer.epochs=60",
                                                               f"output={tmp_path / str(l1)}"])
        sparsity[l1] = run.train(config).rows[-1]["layer2_sparsity"]
    assert sparsity[0.01] > sparsity[0.0] + 0.3
    header = (tmp_path / "0.01" / "history.csv").read_text().splitlines()[0].split(",")
    for name in ("layer1_grad_norm", "layer1_weight_norm", "layer1_dead", "layer2_sparsity", "learning_rate"):
        assert name in header


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
def test_optimizer_scratch_arrays_change_nothing(name):
    from nnctl.core.optimizers import OPTIMIZERS, Hyper

    rng = np.random.default_rng(3)
    start = [rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)]
    results = []
    for work in (None, ([np.empty_like(p) for p in start], [np.empty_like(p) for p in start])):
        params = [p.copy() for p in start]
        state = OPTIMIZERS[name].init(params)
        for step in range(3):
            grads = [np.sin(p * (step + 1)) for p in params]
            OPTIMIZERS[name].update(params, grads, state, 0.1, Hyper(), work)
        results.append(params)
    for plain, scratch in zip(*results):
        assert np.array_equal(plain, scratch)
    assert not np.array_equal(results[0][0], start[0])
