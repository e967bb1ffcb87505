"""nnctl.explain: the worked step holds the trainer's own numbers, and the rendering shows them."""

import io
import json
import re
from dataclasses import replace
import os
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from nnctl import run
from nnctl.config import load_config
from nnctl.core.model import forward
from nnctl.core.training import evaluate, fit, gradients
from nnctl.errors import ConfigError
from nnctl.explain import compare_weights, explain, lecture_example, spread_runs
from nnctl.batch import first_rows
from nnctl.views.explain import (comparison_table, comparison_verdict, explanation_to_dict, explanation_view, fmt,
                                 spread_table, spread_to_dict)

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
# float32 + sgd + l2, tanh + binary CE, relu + adam, tanh + mse, the perceptron of the lecture; with row weights
CASES = {"circles": (), "xor": (), "moons-adam": (), "regression": (), "regularization": (),
         "gaussians-weighted": ("data.class_weight=balanced", "regularization.l1=0.001", "optimizer.name=momentum")}


def _config(case: str):
    name = case.removesuffix("-weighted")
    return load_config(ROOT / "configs" / f"{name}.yaml", list(CASES.get(case, ())))


def _text(renderable) -> str:
    console = Console(file=io.StringIO(), width=200)
    console.print(renderable)
    return console.file.getvalue()


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?", text))


@pytest.mark.parametrize("case", CASES)
def test_every_number_is_the_trainers_own(case):
    config = _config(case)
    rows = 3
    e = explain(config, rows)
    batch = first_rows(config, rows)  # a fresh copy of the same network and rows
    settings = run.settings_of(config)
    assert e.rows == rows and e.dtype == config.model.dtype
    np.testing.assert_array_equal(e.X, batch.X)
    np.testing.assert_array_equal(e.inputs_with_bias[:, 0], 1)
    np.testing.assert_array_equal(e.inputs_with_bias[:, 1:], batch.X)
    assert (e.row_weights is None) == (case != "gaussians-weighted")

    # forward: the trainer's Z and A, layer by layer
    inputs, sums = forward(batch.layers, batch.X)
    for step, layer, Z in zip(e.forward, batch.layers, sums):
        np.testing.assert_array_equal(step.Z, Z)
        np.testing.assert_array_equal(step.W, layer.W)
    for step, A in zip(e.forward[:-1], inputs[1:]):
        np.testing.assert_array_equal(step.A, A)
    assert e.forward[-1].activation == batch.loss.output_activation

    # the loss as training reports it
    before, _ = evaluate(batch.layers, batch.loss, batch.X, batch.y, settings.l1, settings.l2, batch.weights)
    assert (e.loss.data, e.loss.penalty) == (before.data_loss, before.penalty)
    assert e.loss.penalty == pytest.approx(settings.l1 * e.loss.sum_abs + settings.l2 * e.loss.sum_squares)

    # the gradients training steps with, and deltas that give them by dW = A^T dZ
    trainer = gradients(batch.layers, batch.loss, batch.X, batch.T, settings.l1, settings.l2, batch.weights)
    for step, dW, db, A_in in zip(e.backward, trainer[0::2], trainer[1::2], inputs):
        np.testing.assert_array_equal(step.dW, dW)
        np.testing.assert_array_equal(step.db, db)
        np.testing.assert_array_equal(A_in.T @ step.dZ, step.dW_data)
        np.testing.assert_array_equal(step.dZ.sum(axis=0), step.db)
        if settings.l1 or settings.l2:
            np.testing.assert_array_equal(step.dW_data + step.dW_penalty, step.dW)
        else:
            assert step.dW_penalty is None
    np.testing.assert_array_equal(e.output_delta, batch.loss.delta(sums[-1], batch.T, batch.weights))

    # one fit step on the same rows gives the same weights and the same loss after
    one_step = replace(settings, epochs=1, batch_size=rows, shuffle=False, monitor="train_loss",
                       evaluate_train="full")  # the loss after the step, not during it
    history = fit(batch.layers, batch.X, batch.y, one_step, np.random.default_rng(0), sample_weights=batch.weights)
    for update, layer in zip(e.update, batch.layers):
        np.testing.assert_array_equal(update.W_after, layer.W)
        np.testing.assert_array_equal(update.b_after, layer.b)
        np.testing.assert_array_equal(update.W_before + update.W_step, update.W_after)
    after = history.records[0].train
    assert (e.loss_after.data, e.loss_after.penalty) == (after.data_loss, after.penalty)
    assert e.loss_after.total == after.loss


def test_sgd_moves_each_weight_by_minus_eta_times_its_gradient():
    e = explain(_config("circles"))
    for update, grads in zip(e.update, e.backward):
        np.testing.assert_allclose(update.W_step, -e.learning_rate * grads.dW, rtol=1e-5, atol=1e-8)
    assert e.loss_after.total < e.loss.total


@pytest.mark.parametrize("case", ["circles", "xor", "regularization", "gaussians-weighted"])
def test_the_rendering_shows_the_numbers_of_the_explanation(case):
    e = explain(_config(case))
    text = _text(explanation_view(e))
    shown = _numbers(text)

    def assert_shown(values):
        arrays = values if isinstance(values, list) else [values]
        missing = [fmt(v) for a in arrays for v in np.ravel(a) if fmt(v) not in shown]
        assert not missing, missing

    assert_shown(e.inputs_with_bias)
    for step in e.forward:
        assert_shown([step.Z, step.A, step.W, step.b])
    assert_shown([e.loss.data, e.loss.penalty, e.loss.total, e.loss_after.data, e.loss_after.total])
    assert_shown(e.output_delta)
    for step in e.backward:
        assert_shown([step.dZ, step.dW, step.db])
        if step.dW_penalty is not None:
            assert_shown(step.dW_penalty)
    for step in e.update:
        assert_shown([step.W_step, step.W_after, step.b_after])
    # the sections come in the order of the math, each with its equation
    titles = ["inputs, with the bias unit", r"layer 1( \(output\))?: weighted sums", "loss ", "output delta",
              "gradients", "update", "loss after the step"]
    numbers = [int(re.search(rf"^(\d+)\. {title}", text, flags=re.MULTILINE).group(1)) for title in titles]
    assert numbers == sorted(numbers)
    assert "Z1 = A0 W1 + b1" in text and f"L = {fmt(e.loss.data)} + {fmt(e.loss.penalty)} = {fmt(e.loss.total)}" in text


def test_large_matrices_are_cut_and_marked():
    e = explain(_config("spirals"))  # 32 hidden units
    text = _text(explanation_view(e))
    assert "…" in text and fmt(e.forward[1].Z[0, 0]) in _numbers(text)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_explain_renders_and_converts_every_shipped_config(path):
    e = explain(load_config(path))
    assert e.loss_after.total < e.loss.total  # one step downhill on its own rows
    document = json.loads(json.dumps(explanation_to_dict(e)))
    assert document["loss"]["total"] == e.loss.total
    assert document["update"][0]["W_after"] == e.update[0].W_after.tolist()
    assert document["forward"][-1]["A"] == e.forward[-1].A.tolist()
    text = _text(explanation_view(e))
    sections = 1 + 2 * len(e.forward) + 1 + 1 + (len(e.forward) > 1) + 2 + 1  # the last: loss after the step
    assert f"{sections}. loss after the step" in text


# --------------------------------------------------------------------------- the lecture's example


def test_the_lecture_example_scores_both_weight_vectors():
    comparison = lecture_example()
    w1, w2 = comparison.scores
    np.testing.assert_array_equal(comparison.x, [1, 1, 1, 1])
    np.testing.assert_array_equal(w1.w, [1, 0, 0, 0])
    np.testing.assert_array_equal(w2.w, [0.25, 0.25, 0.25, 0.25])
    assert (w1.output, w2.output) == (1.0, 1.0)  # the same score x . w
    assert (w1.l2, w2.l2) == (1.0, 0.25)  # L2 prefers the spread-out w2
    assert (w1.l1, w2.l1) == (1.0, 1.0)  # L1 rates both the same
    text = _text(comparison_table(comparison)) + _text(comparison_verdict(comparison))
    assert "w2 = [0.25, 0.25, 0.25, 0.25]" in text and "L2 prefers w2 (1, 0.25)" in text
    assert "L1 rates them alike (1, 1)" in text


def test_compare_weights_takes_any_vectors():
    comparison = compare_weights([[2, -1], [0.5, 0.5]], [1, 3], names=["a", "b"])
    assert [s.output for s in comparison.scores] == [-1.0, 2.0]
    assert [(s.l1, s.l2) for s in comparison.scores] == [(3.0, 5.0), (1.0, 0.5)]
    with pytest.raises(ValueError, match="3 entries, x has 2"):
        compare_weights([[1, 2, 3]], [1, 1])


def test_explain_shows_the_lecture_example_for_the_regularization_config():
    e = explain(_config("regularization"))
    assert e.penalty_example is not None and [s.l2 for s in e.penalty_example.scores] == [1.0, 0.25]
    text = _text(explanation_view(e))
    assert "why L2 spreads the weights" in text and "w1 = [1, 0, 0, 0]" in text
    assert explain(_config("circles")).penalty_example is None  # not a single neuron


def test_l2_spreads_the_weights_out_and_l1_leaves_them_uneven():
    runs = {r.name: r for r in spread_runs(_config("regularization"))}
    none, l1, l2 = runs["no penalty"], runs["L1"], runs["L2"]
    for r in runs.values():
        np.testing.assert_array_equal(r.start, [1, 0, 0, 0])
        assert r.trained.sum() == pytest.approx(1.0, abs=0.05)  # every run fits: the weights still sum to ~1
        assert r.val_loss < 0.005
    assert l2.spread < 0.05 and np.all(np.abs(l2.trained - 0.25) < 0.03)  # near [.25, .25, .25, .25]
    assert l1.spread > 0.8 and none.spread > 0.8  # still near [1, 0, 0, 0]
    assert l2.val_loss < none.val_loss  # and spreading them out generalises better here
    text = _text(spread_table(list(runs.values())))
    assert fmt(l2.spread) in text and fmt(l2.trained[0]) in text
    assert json.loads(json.dumps(spread_to_dict(list(runs.values()))))[2]["trained"] == l2.trained.tolist()


def test_spread_runs_need_a_single_neuron():
    with pytest.raises(ConfigError, match="model.hidden"):
        spread_runs(_config("circles"))


def _view_text(explanation) -> str:
    stream = io.StringIO()
    Console(file=stream, width=200, color_system=None).print(explanation_view(explanation))
    return stream.getvalue()


def test_explain_says_where_the_weights_come_from_and_labels_the_loss():
    e = explain(load_config(ROOT / "configs" / "xor.yaml", ["seed=7"]))
    text = _view_text(e)
    assert "the weights start random: glorot_uniform (model.init: auto), drawn with seed 7; the biases start at 0" \
        in text
    lines = text.splitlines()
    assert f"data loss = {fmt(e.loss.data)}" in lines
    equation = next(line for line in lines if line.startswith("data loss: "))
    assert "p = sigmoid(Z2)" in equation and fmt(e.loss.data) not in equation  # the value is not p's
    relu = explain(load_config(ROOT / "configs" / "moons.yaml"))
    assert relu.start.startswith("the weights start random: layer 1 he_uniform, layer 2 he_uniform, "
                                 "layer 3 glorot_uniform (model.init: auto)")
    assert explanation_to_dict(relu)["start"] == relu.start


def test_explain_comments_when_the_loss_rose_after_the_step():
    calm = explain(load_config(ROOT / "configs" / "regression.yaml"))
    assert calm.loss_after.total < calm.loss.total and "the loss rose" not in _view_text(calm)
    wild = explain(load_config(ROOT / "configs" / "regression.yaml", ["optimizer.learning_rate=5"]))
    assert wild.loss_after.total > wild.loss.total
    assert ("note: the loss rose: on the same rows a small enough step down the gradient lowers it, so this one "
            "overshot; eta = 5 is too large for this loss here (optimizer.learning_rate)") in \
        " ".join(_view_text(wild).split())


def test_only_a_sigmoid_or_softmax_output_calls_its_sums_logits():
    from rich.console import Console

    def shown(name: str) -> str:
        console = Console(width=400, record=True, file=open(os.devnull, "w"))
        console.print(explanation_view(explain(load_config(ROOT / "configs" / name), 2)))
        return console.export_text()

    assert "Z1 (logits)" not in shown("regularization.yaml")  # an identity output: Z is the prediction
    assert "Z2 (logits)" in shown("circles.yaml")
