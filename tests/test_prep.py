"""Data preparation (nnctl/prep): typed columns, imputation, one-hot encoding, target scaling.

Values against hand-worked examples, against a scikit-learn pipeline on the shipped mixed
table, and files and messages through the command line.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnctl import run, toydata
from nnctl.api import Model, UnknownCategoryWarning
from nnctl.checkpoint import load_checkpoint
from nnctl.cli import app
from nnctl.config import config_from_dict, load_config
from nnctl.errors import CheckpointError, ConfigError, DataError
from nnctl.evaluation import evaluate_file
from nnctl.prep.columns import DEFAULT_NA_VALUES, parse_column, plan_column
from nnctl.prep.preprocessor import (CategoricalColumn, NumericColumn, Options, Preprocessor, TargetScaling,
                                     fit_preprocessor, one_hot)
from nnctl.prep.prepare import prepare_data
from nnctl.prep.rows import read_training_rows

ROOT = Path(__file__).resolve().parent.parent
MIXED = ROOT / "datasets" / "mixed.csv"
runner = CliRunner()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _invoke(args: list[str]):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


# --------------------------------------------------------------------------- typing columns


def _plan(cells, categorical="auto"):
    return plan_column(parse_column("c", cells, DEFAULT_NA_VALUES), categorical, DEFAULT_NA_VALUES)


def test_cells_are_numbers_missing_or_text():
    column = parse_column("c", ["1.5", "", "NA", "?", "abc", "inf", "-2"], DEFAULT_NA_VALUES)
    np.testing.assert_array_equal(column.missing, [False, True, True, True, False, False, False])
    np.testing.assert_array_equal(column.text, [False, False, False, False, True, True, False])
    np.testing.assert_array_equal(column.values[[0, 6]], [1.5, -2.0])
    assert np.isnan(column.values[1:6]).all()
    assert list(column.categories()) == ["1.5", None, None, None, "abc", "inf", "-2"]


def test_column_kinds_under_auto_and_a_list():
    assert _plan(["1", "", "2.5"]).kind == "numeric"
    assert _plan(["a", "b", "", "a"]).kind == "categorical"
    assert _plan(["1", "b", "c"]).kind == "categorical"  # more text than numbers
    assert _plan(["1", "b"]).kind is None  # as many numbers as text: a number column with a stray cell
    mostly_numbers = _plan(["1", "2", "3", "abc"])
    assert mostly_numbers.kind is None and mostly_numbers.row == 3
    assert mostly_numbers.problem == ("'abc' is not a number (the column's other 3 cells are numbers); fix the "
                                      "cell, or list the column under data.categorical to read it as categories")
    assert _plan(["1", "2", "3"], ["c"]).kind == "categorical"  # listed: categories even when numbers
    infinite = _plan(["1", "2", "inf"])
    assert infinite.problem == ("'inf' is not a finite number (the column's other 2 cells are numbers); fix the "
                                "cell, or add 'inf' to data.na_values to read it as a missing value")
    unlisted = _plan(["x", "y"], ["other"])
    assert unlisted.kind is None and "list the column under data.categorical to one-hot encode it" in unlisted.problem
    assert _plan(["", "NA", "?"]).problem == "every cell is missing; add the column to data.exclude"


@pytest.mark.parametrize("cells, first, what", [
    (["$30.00", "$1,200.50", "$7"], "$30.00", "is a number written with a currency sign, a % or thousands separators"),
    (["12%", "3.5%", "100%"], "12%", "is a number written with a currency sign"),
    (["17,000", "1,234", "2,000,000"], "17,000", "is a number written with a currency sign"),
    (["1970-01-01", "1982-05-03"], "1970-01-01", "looks like a date: add the column to data.exclude"),
    (["2020-01-01T10:00:00Z", "2020-01-02 11:00"], "2020-01-01T10:00:00Z", "looks like a date"),
    (["3/4/2021", "12/31/99"], "3/4/2021", "looks like a date"),
])
def test_formatted_numbers_and_dates_are_refused_not_one_hot_encoded(cells, first, what):
    plan = _plan(cells)
    assert plan.kind is None and plan.row == 0 and plan.problem.startswith(f"'{first}' {what}")
    assert "list the column under data.categorical" in plan.problem
    assert _plan(cells, ["c"]).kind == "categorical"  # listed: categories as asked


def test_every_refused_column_in_one_line(tmp_path):
    table = _write(tmp_path / "t.csv", "id,price,day,label\n" + "".join(
        f"R{i},${i}.50,2024-01-{i % 28 + 1:02d},{i % 2}\n" for i in range(40)))
    result = _invoke(["train", _write(tmp_path / "t.yaml", f"data: {{train: {table}, target: label}}\n"
                                                          f"output: {tmp_path}/o")])
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: {table}: 3 columns refused: column 'id': holds 40 distinct values")
    assert "; line 2, column 'price': '$0.50' is a number written with a currency sign" in result.stderr
    assert "; line 2, column 'day': '2024-01-01' looks like a date" in result.stderr
    assert f"(nnctl data describe {table} shows every column)" in result.stderr


def test_a_text_column_of_distinct_values_is_refused_as_an_identifier():
    ids = [f"ID{i:04d}" for i in range(30)]
    plan = _plan(ids)
    assert plan.kind is None
    assert plan.problem.startswith("holds 30 distinct values in 30 rows, like an identifier or a name; add it to "
                                   "data.exclude")
    assert _plan(ids, ["c"]).kind == "categorical"  # forced
    assert _plan(ids[:19]).kind == "categorical"  # too few values to look like an identifier


# --------------------------------------------------------------------------- the preprocessor, by hand


def _hand_preprocessor(options=Options()) -> tuple[Preprocessor, np.ndarray, dict]:
    numbers = np.array([[1.0, 10.0], [np.nan, 20.0], [3.0, np.nan], [5.0, 40.0], [100.0, 50.0]])
    texts = {"colour": np.array(["red", "blue", None, "red", "green"], dtype=object)}
    rows = np.array([0, 1, 2, 3])  # the last row is a validation row: never seen by the fit
    return fit_preprocessor(numbers, ("a", "b"), texts, rows, options), numbers, texts


def test_fill_values_and_vocabularies_come_from_the_training_rows_only():
    pre, numbers, texts = _hand_preprocessor()
    assert pre.numeric == (NumericColumn("a", 3.0, False), NumericColumn("b", 20.0, False))  # medians of rows 0-3
    assert pre.categorical == (CategoricalColumn("colour", ("blue", "red"), missing=True, other=False),)
    assert pre.input_names == ("a", "b", "colour=blue", "colour=red", "colour=(missing)")
    assert pre.summary() == "2 numeric + colour (3) = 5 inputs"
    found = pre.transform(numbers, texts)
    np.testing.assert_array_equal(found.X, [
        [1, 10, 0, 1, 0],
        [3, 20, 1, 0, 0],
        [3, 20, 0, 0, 1],
        [5, 40, 0, 1, 0],
        [100, 50, 0, 0, 0],  # 'green' was never seen in training: all zeros, counted
    ])
    assert found.unknown["colour"].count == 1 and found.unknown["colour"].first_row == 4
    assert found.unknown["colour"].first_value == "green"


def test_mean_zero_indicators_and_drop():
    mean, numbers, texts = _hand_preprocessor(Options(impute="mean", missing_indicators=True))
    assert [c.fill for c in mean.numeric] == [3.0, pytest.approx(70 / 3)]
    assert mean.input_names[:4] == ("a", "b", "a (missing)", "b (missing)")
    X = mean.transform(numbers, texts).X
    np.testing.assert_array_equal(X[:, 2], [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(X[:, 3], [0, 0, 1, 0, 0])
    zero, _, _ = _hand_preprocessor(Options(impute="zero"))
    assert [c.fill for c in zero.numeric] == [0.0, 0.0]
    drop, _, _ = _hand_preprocessor(Options(impute="drop"))
    assert drop.transform(numbers, texts).unfilled == ("a", 1)


def test_the_rarest_categories_share_one_other_slot():
    values = np.array(list("aaaabbbccd") + [None], dtype=object)
    column = fit_preprocessor(np.empty((11, 0)), (), {"k": values}, None, Options(max_categories=3)).categorical[0]
    assert column.slots == ("a", "b", "(missing)", "(other)")  # 2 most frequent + (other) = 3, and (missing)
    X, unknown = one_hot(column, np.array(["c", "zzz", "a", None], dtype=object))
    np.testing.assert_array_equal(X, [[0, 0, 0, 1], [0, 0, 0, 1], [1, 0, 0, 0], [0, 0, 1, 0]])
    assert unknown is None  # with an (other) slot, nothing is unknown


def test_a_category_written_like_a_slot_label_keeps_its_input_name_apart():
    column = CategoricalColumn("c", ("(missing)", "a"), missing=True)
    assert column.input_names == ('c="(missing)"', "c=a", "c=(missing)")
    X, _ = one_hot(column, np.array(["(missing)", None, "a"], dtype=object))
    np.testing.assert_array_equal(X, np.eye(3)[[0, 2, 1]])


def test_an_all_numeric_table_comes_back_as_the_same_array():
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    pre = fit_preprocessor(X, ("x", "y", "z"), {}, None, Options())
    assert pre.is_identity and pre.transform(X).X is X
    assert [c.fill for c in pre.numeric] == [4.5, 5.5, 6.5]


def test_target_scaling_round_trips():
    y = np.array([[100.0, 1.0], [300.0, 1.0], [200.0, 1.0]])
    scaling = TargetScaling.fit(y)
    assert scaling.mean == (200.0, 1.0) and scaling.scale == (pytest.approx(math.sqrt(20000 / 3)), 1.0)
    np.testing.assert_allclose(scaling.inverse(scaling.forward(y)), y)


def test_the_preprocessor_round_trips_through_metadata_and_refuses_damage():
    pre, _, _ = _hand_preprocessor()
    pre = Preprocessor(pre.numeric, pre.categorical, pre.na_values, "error", TargetScaling((5.0,), (2.0,)))
    assert Preprocessor.from_meta(json.loads(json.dumps(pre.to_meta()))) == pre
    broken = pre.to_meta()
    broken["categorical"][0]["categories"] = ["x", "x"]
    with pytest.raises(ValueError, match="colour"):
        Preprocessor.from_meta(broken)
    for key, value in (("numeric", {"a": 1}), ("unknown_category", "maybe"), ("target", {"mean": [1], "scale": [0]})):
        with pytest.raises(ValueError):
            Preprocessor.from_meta({**pre.to_meta(), key: value})


# --------------------------------------------------------------------------- training on the mixed table


def _mixed_config(tmp_path: Path, target: str = "bought", **data) -> Path:
    excluded = ["id", "spend" if target == "bought" else "bought"]
    loss = "softmax_cross_entropy" if target == "bought" else "mse"
    extra = "".join(f"\n  {key}: {json.dumps(value)}" for key, value in data.items())
    return _write(tmp_path / "mixed.yaml", f"""
data:
  train: {MIXED}
  target: {target}
  exclude: {json.dumps(excluded)}{extra}
model: {{hidden: [8], activation: relu}}
loss: {loss}
optimizer: {{name: adam, learning_rate: 0.01, epochs: 3}}
output: {tmp_path / "run"}
""")


def test_train_says_what_the_inputs_became_and_what_it_left_out(tmp_path):
    result = _invoke(["train", _mixed_config(tmp_path, "spend")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ("network: 3 numeric + plan (3) + region (5) = 11 inputs + bias -> 8 relu + bias -> "
                        "1 output (identity); 105 parameters")
    assert lines[1] == "rows: 633 training, 158 validation"  # 800 rows, 9 without a spend
    assert lines[2] == "note: left out 9 rows whose target is missing (column 'spend')"
    assert "train loss (mean of batches, data + penalty, standardized y)" in lines[3]
    meta = load_checkpoint(tmp_path / "run").meta
    assert meta["feature_names"][3:] == ["plan=basic", "plan=plus", "plan=premium", "region=east", "region=north",
                                         "region=south", "region=west", "region=(missing)"]
    assert meta["preprocessing"]["target"]["mean"][0] == pytest.approx(376.4, abs=0.5)


def test_the_stored_statistics_are_those_of_the_training_rows(tmp_path):
    config = load_config(_mixed_config(tmp_path, "spend"))
    data = prepare_data(config, run.generators(config)[0])
    rows = read_training_rows(config)
    train_rows = np.flatnonzero(np.isin(np.arange(len(rows.numbers)), _training_rows(config, rows)))
    ages = rows.numbers[train_rows, 0]
    assert data.preprocessor.numeric[0].fill == np.median(ages[~np.isnan(ages)])
    spend = rows.y[train_rows, 0]
    assert data.preprocessor.target.mean == (pytest.approx(spend.mean()),)
    assert data.preprocessor.target.scale == (pytest.approx(spend.std()),)
    np.testing.assert_allclose(data.y_train[:, 0], (spend - spend.mean()) / spend.std(), rtol=1e-12)


def _training_rows(config, rows):
    from nnctl.prep.transforms import split_indices

    return split_indices(rows.y, config.data.validation, run.generators(config)[0], False)[0]


def test_regression_figures_are_in_the_target_units(tmp_path):
    """The summary's validation MSE is the one `nnctl evaluate` computes from the predictions."""
    valid = tmp_path / "valid.csv"
    columns, rows = toydata.mixed(300, 0.1, np.random.default_rng(5))
    _write(valid, ",".join(columns) + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    config = load_config(_mixed_config(tmp_path, "spend"), [f"data.validation={valid}"])
    result = run.train(config)
    found = evaluate_file(tmp_path / "run", valid)
    assert found.rows == sum(1 for r in rows if r[6] != "")
    assert result.best_row["val_mse"] == pytest.approx(found.metrics["mse"], rel=1e-5)
    assert result.best_row["val_r2"] == pytest.approx(found.metrics["r2"], rel=1e-5)
    assert found.metrics["mse"] > 1000  # spend is in the hundreds: not standardised units


def test_a_diabetes_like_table_trains_with_plain_sgd_at_0_01(tmp_path):
    """10 features, a target of 25-346: z-scored, plain SGD at learning rate 0.01 converges."""
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_diabetes(return_X_y=True, scaled=False)
    path = tmp_path / "diabetes.csv"
    _write(path, ",".join([f"x{i}" for i in range(10)] + ["y"]) + "\n"
           + "\n".join(",".join(map(str, [*row, target])) for row, target in zip(X, y)) + "\n")
    base = {"data": {"train": str(path), "target": "y"}, "model": {"hidden": [16], "activation": "tanh"},
            "loss": "mse", "optimizer": {"name": "sgd", "learning_rate": 0.01, "epochs": 60},
            "output": str(tmp_path / "run")}
    result = run.train(config_from_dict(base))
    assert result.history.stop_reason == "all 60 epochs done"
    assert result.best_row["val_r2"] > 0.35 and 25 < result.best_row["val_mae"] < 60
    assert result.rows[0]["val_loss"] < 1.5  # the loss in standardized units starts near 1 (the variance of t)
    (scale,) = result.data.preprocessor.target.scale
    assert 70 < scale < 85  # the standard deviation of the training rows' targets
    assert result.best_row["val_mse"] == pytest.approx(result.best_row["val_loss"] * scale ** 2, rel=1e-4)


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")  # scikit-learn: max_iter reached, as nnctl's epochs
def test_scores_as_well_as_a_scikit_learn_pipeline_on_the_same_split(tmp_path):
    """Median imputation, one-hot, scaling, MLP: scikit-learn's pipeline and nnctl's config, both
    trained on datasets/mixed.csv and scored at their last epoch on 1500 fresh rows."""
    pytest.importorskip("sklearn")
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.metrics import r2_score
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    valid = tmp_path / "valid.csv"
    assert _invoke(["data", "make", "mixed", "-o", valid, "--n", 1500, "--seed", 11]).exit_code == 0
    train_rows, valid_rows = _dict_rows(MIXED), _dict_rows(valid)
    prep = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), [0, 1, 2]),
        ("text", OneHotEncoder(handle_unknown="ignore"), [3, 4])])
    classifier = make_pipeline(prep, MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=100,
                                                   random_state=0))
    classifier.fit(_matrix(train_rows), [r["bought"] for r in train_rows])
    theirs = np.mean(classifier.predict(_matrix(valid_rows)) == [r["bought"] for r in valid_rows])

    run.train(load_config(ROOT / "configs" / "mixed.yaml", [
        f"output={tmp_path / 'bought'}", f"data.validation={valid}", "optimizer.batch_size=200",
        "early_stopping.patience=null"]))  # as scikit-learn trains: batches of 200, every epoch
    ours = evaluate_file(tmp_path / "bought" / "last.npz", valid).metrics["accuracy"]
    assert abs(ours - theirs) <= 0.02, (ours, theirs)
    assert ours > 0.8

    spent = [r for r in train_rows if r["spend"]]
    scored = [r for r in valid_rows if r["spend"]]
    regressor = TransformedTargetRegressor(make_pipeline(prep, MLPRegressor(
        hidden_layer_sizes=(16,), solver="sgd", learning_rate_init=0.01, max_iter=200, random_state=0)),
        transformer=StandardScaler())
    regressor.fit(_matrix(spent), [float(r["spend"]) for r in spent])
    theirs = r2_score([float(r["spend"]) for r in scored], regressor.predict(_matrix(scored)))
    run.train(load_config(ROOT / "configs" / "mixed-spend.yaml", [f"output={tmp_path / 'spend'}",
                                                                  f"data.validation={valid}"]))
    ours = evaluate_file(tmp_path / "spend" / "last.npz", valid).metrics["r2"]
    assert abs(ours - theirs) <= 0.05, (ours, theirs)
    assert ours > 0.75


def _dict_rows(path: Path) -> list[dict]:
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def _matrix(rows: list[dict]) -> np.ndarray:
    """The five feature columns as scikit-learn takes them: NaN for missing numbers, '(missing)' for text."""
    numbers = [[float(r[c]) if r[c] not in ("", "NA", "?") else np.nan for c in ("age", "income", "visits")]
               for r in rows]
    texts = [[r[c] or "(missing)" for c in ("plan", "region")] for r in rows]
    return np.hstack([np.array(numbers, dtype=object), np.array(texts, dtype=object)])


# --------------------------------------------------------------------------- predict, evaluate, the API


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("mixed")
    assert _invoke(["train", _mixed_config(tmp, "bought", unknown_category="ignore")]).exit_code == 0
    return tmp / "run"


NEW_ROWS = "id,age,income,visits,plan,region\nX1,40,55,3,plus,north\nX2,,NA,?,gold,\nX3,70,120,8,premium,mars\n"


def test_predict_keeps_columns_imputes_and_counts_unseen_categories(mixed_run, tmp_path):
    rows = _write(tmp_path / "new.csv", NEW_ROWS)
    result = _invoke(["predict", mixed_run, rows, "--keep", "id", "--proba"])
    assert result.exit_code == 0, result.output
    table = list(csv.reader(result.stdout.splitlines()))
    assert table[0] == ["id", "predicted_bought", "probability_no", "probability_yes"]
    assert [row[0] for row in table[1:]] == ["X1", "X2", "X3"]
    assert (f"note: {rows}: column 'plan': 1 row with a value not seen in training ('gold' first, line 3): "
            "the column's one-hot inputs are all zero there") in result.stderr
    assert "'mars' first, line 4" in result.stderr
    assert "ignored columns" not in result.stderr  # id is kept, not ignored

    model = Model.load(mixed_run / "best.npz")
    columns = {"age": [40, None, 70], "income": [55, float("nan"), 120], "visits": [3, None, 8],
               "plan": ["plus", "gold", "premium"], "region": ["north", None, "mars"]}
    with pytest.warns(UnknownCategoryWarning) as caught:
        assert list(model.predict(columns)) == [row[1] for row in table[1:]]
        probabilities = model.predict_proba(columns)
    assert [str(w.message) for w in caught][:2] == [
        "X: column 'plan': 1 row with a value not seen in training ('gold' first, row 1): the column's one-hot "
        "inputs are all zero there",
        "X: column 'region': 1 row with a value not seen in training ('mars' first, row 2): the column's one-hot "
        "inputs are all zero there"]
    np.testing.assert_allclose(probabilities, [[float(p) for p in row[2:]] for row in table[1:]], rtol=1e-6)


def test_predictions_from_the_checkpoint_equal_the_api_on_the_whole_table(mixed_run, tmp_path):
    result = _invoke(["predict", mixed_run, MIXED, "-o", tmp_path / "p.csv"])
    assert result.exit_code == 0, result.output
    predicted = [row["predicted_bought"] for row in _dict_rows(tmp_path / "p.csv")]
    rows = _dict_rows(MIXED)
    model = Model.load(mixed_run)
    assert list(model.predict({name: [r[name] for r in rows] for name in rows[0]})) == predicted


def test_the_api_fits_named_columns_as_train_fits_the_file(tmp_path):
    """A dict of columns (None for missing) gives the same network as `nnctl train` on the CSV file."""
    config = load_config(_mixed_config(tmp_path, "bought"))
    trained = run.train(config)
    rows = _dict_rows(MIXED)
    columns = {name: [r[name] or None for r in rows] for name in rows[0] if name != "bought"}
    model = Model.from_config(config).fit(columns, [r["bought"] for r in rows])
    for mine, theirs in zip(model.layers, trained.layers, strict=True):
        np.testing.assert_array_equal(mine.W, theirs.W)
    assert model.feature_columns_ == ("age", "income", "visits", "plan", "region")
    with pytest.raises(DataError, match=r"this model reads text columns too: give X as named columns"):
        model.predict(np.zeros((2, 5)))
    with pytest.raises(DataError, match=r"X lacks the column\(s\) the model was trained on: region"):
        model.predict({name: values for name, values in columns.items() if name != "region"})


def test_train_json_says_what_the_inputs_became(tmp_path):
    result = _invoke(["train", _mixed_config(tmp_path, "spend"), "--json"])
    document = json.loads(result.stdout)
    assert document["inputs"] == "3 numeric + plan (3) + region (5) = 11 inputs"
    assert document["notes"] == ["left out 9 rows whose target is missing (column 'spend')"]


def test_an_unseen_category_is_an_error_when_the_config_says_so(tmp_path):
    config = _mixed_config(tmp_path, "bought", unknown_category="error")
    assert _invoke(["train", config]).exit_code == 0
    rows = _write(tmp_path / "new.csv", NEW_ROWS)
    result = _invoke(["predict", tmp_path / "run", rows])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == (f"error: {rows}: line 3, column 'plan': category 'gold' was not seen in "
                                     "training (data.unknown_category: error); known: basic, plus, premium")


def test_impute_drop_leaves_rows_out_and_refuses_a_missing_cell_at_predict(tmp_path):
    result = _invoke(["train", _mixed_config(tmp_path, "bought", impute="drop")])
    assert result.exit_code == 0, result.output
    assert "note: left out 172 rows with a missing number (data.impute: drop)" in result.stdout
    assert "rows: 502 training, 126 validation" in result.stdout
    rows = _write(tmp_path / "new.csv", NEW_ROWS)
    result = _invoke(["predict", tmp_path / "run", rows])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"error: {rows}: line 3, column 'age': the cell is missing, and this model "
                                     "was trained with data.impute: drop, so it has no value to fill in")


def test_evaluate_scores_the_rows_with_a_target(tmp_path):
    assert _invoke(["train", _mixed_config(tmp_path, "spend")]).exit_code == 0
    found = evaluate_file(tmp_path / "run", MIXED)
    assert found.rows == 791 and found.notes[0] == "metrics over the 791 rows with a target; 9 rows without one"


def test_inspect_shows_what_the_inputs_became(mixed_run):
    result = _invoke(["inspect", mixed_run])
    assert result.exit_code == 0, result.output
    shown = {" ".join(line.split()[:2]): " ".join(line.split()[2:]) for line in result.stdout.splitlines()}
    assert shown["inputs 3"] == "numeric + plan (3) + region (5) = 11 inputs"
    assert shown["one-hot region"] == "east, north, south, west, (missing)"
    document = json.loads(_invoke(["inspect", mixed_run, "--json"]).stdout)
    assert document["inputs"] == "3 numeric + plan (3) + region (5) = 11 inputs"
    assert [c["name"] for c in document["preprocessing"]["categorical"]] == ["plan", "region"]


def test_boundary_refuses_a_model_of_one_hot_inputs(mixed_run):
    result = _invoke(["boundary", mixed_run])
    assert result.exit_code == 1
    assert "a decision boundary is drawn in the plane of 2 numeric features" in result.stderr


def test_a_damaged_preprocessing_entry_is_one_line(mixed_run, tmp_path):
    from test_checkpoint import _rewrite

    damaged = _rewrite(mixed_run / "best.npz", tmp_path / "damaged.npz",
                       lambda arrays, meta: meta["preprocessing"]["categorical"][0].update(categories="abc"))
    with pytest.raises(CheckpointError, match=r"damaged metadata \(preprocessing.categorical\[0\].categories is not a"):
        load_checkpoint(damaged)
    result = _invoke(["predict", damaged, MIXED])
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- targets and losses that do not fit


def test_a_classifier_on_a_mostly_distinct_target_suggests_mse(tmp_path):
    config = _mixed_config(tmp_path, "bought")
    result = _invoke(["train", config, "--set", "data.target=income", "--set", "data.exclude=[id]"])
    assert result.exit_code == 1
    assert "column 'income' holds continuous values" in result.stderr  # decimals: not class labels
    result = _invoke(["train", config, "--set", "data.target=id", "--set", "data.exclude=[spend]"])
    assert "column 'id' holds 800 distinct values in 800 rows, too many to be classes for loss: " \
           "softmax_cross_entropy; is it an identifier or a name?" in result.stderr
    body = _write(tmp_path / "body.csv", "x,y\n" + "".join(f"{i},{3000 + 25 * (i % 60)}\n" for i in range(400)))
    result = _invoke(["train", _write(tmp_path / "b.yaml", f"data: {{train: {body}, target: y}}\noutput: {tmp_path}/o")])
    assert result.exit_code == 1  # 60 whole numbers in 400 rows: a quantity (body mass), not 60 classes
    assert "holds 60 distinct values in 400 rows, too many to be classes for loss: softmax_cross_entropy; use " \
           "loss: mse or mae to predict it as a number (if they are class codes, write them as text, e.g. c17)" \
           in result.stderr
    codes = _write(tmp_path / "codes.csv", "x,y\n" + "".join(f"{i},{i % 30}\n" for i in range(400)))
    result = _invoke(["train", _write(tmp_path / "c.yaml", f"data: {{train: {codes}, target: y}}\n"
                                                          f"optimizer: {{epochs: 1}}\noutput: {tmp_path}/o")])
    assert result.exit_code == 0, result.output  # 30 codes, 13 rows each: classes
    many = _write(tmp_path / "many.csv", "x,y\n" + "".join(f"{i},{i % 300}\n" for i in range(400)))
    result = _invoke(["train", _write(tmp_path / "m.yaml", f"data: {{train: {many}, target: y}}\noutput: {tmp_path}/o")])
    assert result.exit_code == 1
    assert "holds 300 distinct values in 400 rows, too many to be classes" in result.stderr
    assert "use loss: mse or mae to predict it as a number" in result.stderr


def test_regression_on_text_labels_is_an_error_and_on_a_few_integers_a_note(tmp_path):
    result = _invoke(["train", _mixed_config(tmp_path, "spend"), "--set", "data.target=plan",
                      "--set", "data.exclude=[id, spend]"])
    assert result.exit_code == 1
    assert ("line 2, column 'plan': 'basic' is not a number; loss: mse predicts a number per row (for class "
            "labels use loss: softmax_cross_entropy)") in result.stderr
    result = _invoke(["train", _mixed_config(tmp_path, "spend"), "--set", "data.target=visits",
                      "--set", "data.exclude=[id, bought]"])
    assert result.exit_code == 0, result.output
    assert ("note: column 'visits' holds 12 whole-number values (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)"
            not in result.stdout)  # more than 10 values: a number, no note
    few = _write(tmp_path / "few.csv", "x,y\n" + "".join(f"{i / 10},{i % 3}\n" for i in range(60)))
    result = _invoke(["train", _write(tmp_path / "f.yaml", f"data: {{train: {few}, target: y}}\nloss: mse\n"
                                                          f"optimizer: {{epochs: 1}}\noutput: {tmp_path}/o")])
    assert result.exit_code == 0, result.output
    assert ("note: column 'y' holds 3 whole-number values (0, 1, 2); loss: mse predicts them as numbers "
            "(regression), not as classes; for classes use loss: softmax_cross_entropy") in result.stdout


# --------------------------------------------------------------------------- config keys


def test_the_new_keys_are_checked_like_every_key(tmp_path):
    def problems(**data):
        with pytest.raises(ConfigError) as info:
            config_from_dict({"data": {"train": "x.csv", "target": "y", **data}})
        return str(info.value)

    assert "data.exclude: must not name the target column, got 'y'" in problems(exclude=["y"])
    assert "data.categorical: must not name the target column, got 'y'" in problems(categorical=["y"])
    assert "data.categorical: names 'a', which data.exclude leaves out" in problems(exclude=["a"], categorical=["a"])
    assert "data.impute: must be one of 'median', 'mean', 'zero', 'drop', got 'mode'" in problems(impute="mode")
    assert "data.max_categories: must be a whole number >= 2, got 1" in problems(max_categories=1)
    assert "data.unknown_category: must be one of 'ignore', 'error'" in problems(unknown_category="warn")
    assert "data.na_values: must be a list of distinct cell texts" in problems(na_values="NA")
    assert "data.standardize_target: scales regression targets, but loss softmax_cross_entropy is a " \
           "classification loss" in problems(standardize_target=True)
    config = config_from_dict({"data": {"train": "x.csv", "target": "y", "na_values": ["", -999]}})
    assert config.data.na_values == ("", "-999")


def test_config_show_lists_the_preparation_keys(tmp_path):
    result = _invoke(["config", "show", ROOT / "configs" / "mixed.yaml"])
    assert result.exit_code == 0, result.output
    for line in ("  exclude: [id, spend]", "  categorical: auto", "  impute: median", "  missing_indicators: false",
                 "  max_categories: 50", "  unknown_category: ignore", "  standardize_target: auto",
                 "  na_values: ['', NA, N/A, NaN, nan, 'null', None, '?']"):
        assert line in result.stdout.splitlines(), line


# --------------------------------------------------------------------------- data describe, data make mixed


def test_data_describe_says_what_features_all_does(tmp_path):
    result = _invoke(["data", "describe", MIXED, "--target", "bought", "--json"])
    assert result.exit_code == 0, result.output
    columns = {c["name"]: c for c in json.loads(result.stdout)["columns"]}
    assert columns["id"]["use"] == "refused" and "like an identifier" in columns["id"]["why"]
    assert columns["age"] | {"mean": 0} == {"name": "age", "type": "numeric", "missing": 59, "distinct": 63,
                                            "min": 18.0, "mean": 0, "max": 80.0, "top": [], "use": "used",
                                            "why": "missing cells get the training median"}
    assert columns["region"]["use"] == "one-hot, 5 slots" and columns["region"]["missing"] == 25
    assert columns["plan"]["top"][0] == ["basic", 400]
    assert columns["bought"]["use"] == "target"
    numbered = _write(tmp_path / "numbered.csv", "row,x,y\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(30)))
    columns = {c["name"]: c for c in json.loads(_invoke(["data", "describe", numbered, "--json"]).stdout)["columns"]}
    assert columns["row"]["why"] == "every value a distinct whole number: a row number or an ID? add it to data.exclude"
    assert columns["x"]["why"] == ""
    table = _invoke(["data", "describe", MIXED])
    assert table.exit_code == 0 and "one-hot, 3 slots" in table.stdout


def test_the_mixed_table_is_reproducible_and_shaped_as_documented(tmp_path):
    out = tmp_path / "m.csv"
    assert _invoke(["data", "make", "mixed", "-o", out, "--n", 800]).exit_code == 0
    assert out.read_bytes() == MIXED.read_bytes()
    rows = _dict_rows(out)
    assert list(rows[0]) == list(toydata.MIXED_COLUMNS)
    assert len({r["id"] for r in rows}) == 800
    assert {r["plan"] for r in rows} == {"basic", "plus", "premium"}
    assert sum(r["income"] == "NA" for r in rows) == 87 and sum(r["visits"] == "?" for r in rows) == 34
    spend = [float(r["spend"]) for r in rows if r["spend"]]
    assert 20 <= min(spend) and max(spend) < 1000 and 300 < np.mean(spend) < 450


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 1000, 1001, 2500])
def test_fill_medians_are_numpys_bit_for_bit(n):
    from nnctl.prep.preprocessor import _medians

    block = np.random.default_rng(n).normal(size=(n, 5))
    block[:, 1], block[:, 2] = 3.0, np.round(block[:, 2])  # a constant column, ties
    np.testing.assert_array_equal(_medians(block), np.median(block, axis=0))
    single = block.astype(np.float32)  # partitioned in float32, averaged in float64
    np.testing.assert_array_equal(_medians(single), np.median(single.astype(np.float64), axis=0))
    wide = np.random.default_rng(n).normal(size=(n, 70)).astype(np.float32)[:, 3:]  # strided, several tiles
    np.testing.assert_array_equal(_medians(wide), np.median(wide.astype(np.float64), axis=0))


def test_explain_says_the_targets_are_z_scored(tmp_path):
    result = _invoke(["explain", _mixed_config(tmp_path, "spend")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "regression targets z-scored: y = (spend - 376.4) / 115.9" in text  # the training rows' mean and std
    assert "targets y (z-scored)" in text


NEW_DATA_KEYS = ("exclude", "categorical", "na_values", "impute", "missing_indicators", "max_categories",
                 "unknown_category", "standardize_target")


@pytest.mark.parametrize("name", ["circles", "regression"])
def test_a_run_from_before_the_preparation_keys_resumes(tmp_path, name):
    """A last.npz whose config has none of the new data keys: as it trained, nothing changed, but a
    regression run's targets were raw, which the config must say to go on."""
    from test_checkpoint import _rewrite

    config = ROOT / "configs" / f"{name}.yaml"
    out = tmp_path / "run"
    assert _invoke(["train", config, "--set", f"output={out}", "--set", "optimizer.epochs=2",
                    "--set", "data.standardize_target=false"]).exit_code == 0

    def earlier(arrays, meta):
        for key in NEW_DATA_KEYS:
            del meta["config"]["data"][key]
        meta.pop("preprocessing")

    last = out / "last.npz"
    _rewrite(last, tmp_path / "old.npz", earlier).replace(last)
    more = ["--set", "optimizer.epochs=3", "--resume", out]
    result = _invoke(["train", config, "--set", f"output={out}", *more])
    if name == "circles":
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1
        assert "data.standardize_target: False -> 'auto'" in result.stderr
        result = _invoke(["train", config, "--set", f"output={out}", "--set", "data.standardize_target=false", *more])
        assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["epochs_run"] == 3


def test_a_pandas_dataframe_is_named_columns(mixed_run):
    """Columns by name in any order, NaN and pandas' NA missing, integer columns with gaps read as floats."""
    pd = pytest.importorskip("pandas")
    rows = _dict_rows(MIXED)[:200]
    frame = pd.DataFrame({name: [r[name] or None for r in rows] for name in ("region", "plan")})
    for name in ("visits", "income", "age"):  # numbers, with gaps: pandas makes them float64 with NaN
        frame[name] = pd.to_numeric(pd.Series([r[name] for r in rows]), errors="coerce")
    frame.loc[3, "region"] = pd.NA
    model = Model.load(mixed_run)
    as_dict = {name: [r[name] or None for r in rows] for name in ("age", "income", "visits", "plan", "region")}
    as_dict["region"][3] = None
    np.testing.assert_array_equal(model.predict_proba(frame), model.predict_proba(as_dict))
    assert all(frame[name].dtype == np.float64 and frame[name].isna().any() for name in ("age", "income", "visits"))


def test_a_diverging_run_on_raw_targets_suggests_scaling_them(tmp_path):
    result = _invoke(["train", _mixed_config(tmp_path, "spend"), "--set", "data.standardize_target=false",
                      "--set", "optimizer.name=sgd", "--set", "optimizer.learning_rate=0.5"])
    assert result.exit_code == 1
    assert ("lower optimizer.learning_rate (now 0.5) or set data.standardize_target: auto (targets z-scored for "
            "training)") in result.stderr


def test_the_fast_path_and_the_careful_reader_give_training_the_same_rows(monkeypatch, tmp_path):
    """A plain numeric file read by np.loadtxt, or cell by cell as every other file: the same Rows."""
    from nnctl import data as csvdata

    for name, target in (("circles", "label"), ("regression", "y"), ("spread", "y")):
        config = config_from_dict({"data": {"train": str(ROOT / "datasets" / f"{name}.csv"), "target": target},
                                   "loss": "mse" if target == "y" else "softmax_cross_entropy"})
        fast = read_training_rows(config)
        with monkeypatch.context() as patch:
            patch.setattr(csvdata, "load_plain_dataset", lambda *args: None)
            careful = read_training_rows(config)
        assert fast.lines is None and careful.lines is not None  # the two readers did run
        np.testing.assert_array_equal(fast.numbers, careful.numbers)
        np.testing.assert_array_equal(fast.y, careful.y)
        assert (fast.numeric_names, fast.classes, fast.notes) == (careful.numeric_names, careful.classes,
                                                                  careful.notes)


def test_a_number_as_a_missing_value_marker_is_missing_in_a_plain_file(tmp_path):
    """-999 in na_values: the fast path would read it as a number, so such a file goes cell by cell."""
    table = _write(tmp_path / "t.csv", "a,b,y\n" + "".join(
        f"{-999 if i % 5 == 0 else i},{i % 3},{i % 2}\n" for i in range(40)))
    config = config_from_dict({"data": {"train": str(table), "target": "y", "na_values": ["", "-999"]}})
    rows = read_training_rows(config)
    assert np.isnan(rows.numbers[::5, 0]).all() and not np.isnan(rows.numbers[1::5, 0]).any()
    data = prepare_data(config, run.generators(config)[0])
    assert data.preprocessor.numeric[0].fill > 0  # the median of the training rows' values, -999 not among them


@pytest.mark.parametrize("labels", [np.array([3, 1, 2, 3, 1, 2, 2, 1], dtype=np.int16),
                                    np.array([True, False, False, True, True, False, True, False]),
                                    np.array([7, -1, 7, 7, -1, 0, 0, 7], dtype=np.int64)])
def test_whole_number_labels_are_coded_as_the_general_path_codes_them(labels):
    from nnctl.errors import DataError
    from nnctl.prep.arrays import _targets_of

    fast = _targets_of(labels, "classification", len(labels), "softmax_cross_entropy")
    general = _targets_of(labels.astype(object), "classification", len(labels), "softmax_cross_entropy")
    np.testing.assert_array_equal(fast[0], general[0])
    assert fast[1] == general[1] and all(type(a) is type(b) for a, b in zip(fast[1], general[1]))
    val = _targets_of(labels[::-1], "classification", len(labels), "softmax_cross_entropy", fast[1])
    np.testing.assert_array_equal(val[0], fast[0][::-1])
    if labels.dtype == bool:
        return
    unseen = np.concatenate([labels[:2], [labels.max() + 5, labels.max() + 3]]).astype(labels.dtype)
    with pytest.raises(DataError, match=f"y_val holds class {(labels.max() + 5).item()!r}, which y does not have"):
        _targets_of(unseen, "classification", 4, "softmax_cross_entropy", fast[1])
