"""nnctl.config: YAML -> frozen dataclasses, every problem of a file in one line."""

from pathlib import Path

import pytest

from nnctl.config import (
    Config,
    DataConfig,
    ModelConfig,
    OptimizerConfig,
    RegularizationConfig,
    config_from_dict,
    config_to_dict,
    dump_config,
    load_config,
    task_of_loss,
)
from nnctl.errors import ConfigError

# Every key of the shape, one per line, so a test can name the line of each.
FULL = """\
data:
  train: ../datasets/circles.csv
  target: label
  features: [x1, x2]
  validation: 0.25
  standardize: false
model:
  hidden: [16, 8]
  activation: [relu, tanh]
  init: he_normal
  dtype: float64
loss: softmax_cross_entropy
regularization:
  l1: 0.001
  l2: 1e-4
optimizer:
  name: sgd
  learning_rate: 0.05
  batch_size: 16
  epochs: 50
  shuffle: false
seed: 7
output: ../runs/circles
"""
FULL_LINES = FULL.splitlines()
MINIMAL = "data:\n  train: d.csv\n  target: y\n"


def write(tmp_path, text, name="configs/c.yaml"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def error_of(call, *args, **kwargs):
    with pytest.raises(ConfigError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def line_of(key_path):
    """1-based line of ``key_path`` (e.g. "model.init") in FULL."""
    section, _, key = key_path.rpartition(".")
    start = FULL_LINES.index(f"{section}:") + 1 if section else 0
    indent = "  " if section else ""
    return next(i for i in range(start, len(FULL_LINES)) if FULL_LINES[i].startswith(f"{indent}{key}:")) + 1


def with_line(number, text):
    """FULL with line ``number`` (1-based) replaced by ``text``."""
    lines = list(FULL_LINES)
    lines[number - 1] = text
    return "\n".join(lines) + "\n"


# --- valid configs ----------------------------------------------------------------

def test_full_config_loads_with_paths_relative_to_the_config_file(tmp_path):
    config = load_config(write(tmp_path, FULL))
    assert config == Config(
        data=DataConfig(train=tmp_path / "datasets/circles.csv", target=("label",), features=("x1", "x2"),
                        validation=0.25, standardize=False),
        model=ModelConfig(hidden=(16, 8), activation=("relu", "tanh"), init="he_normal", dtype="float64"),
        loss="softmax_cross_entropy",
        regularization=RegularizationConfig(l1=0.001, l2=0.0001),
        optimizer=OptimizerConfig(name="sgd", learning_rate=0.05, batch_size=16, epochs=50, shuffle=False),
        seed=7,
        output=tmp_path / "runs/circles",
    )
    assert config.source == tmp_path / "configs/c.yaml"
    assert config.model.hidden_activations == ("relu", "tanh")


def test_defaults_fill_every_missing_key_and_output_goes_under_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(write(tmp_path, MINIMAL, "configs/circles.yaml"))
    assert config.data == DataConfig(train=tmp_path / "configs/d.csv", target=("y",), features=None,
                                     validation=0.2, standardize=True)
    assert (config.model, config.loss, config.seed) == (ModelConfig(), "softmax_cross_entropy", 0)
    assert config.regularization == RegularizationConfig(l1=0.0, l2=0.0)
    assert config.optimizer == OptimizerConfig("sgd", 0.1, 32, 100, True)
    assert config.output == tmp_path / "runs/circles"
    assert config.model.hidden_activations == ("sigmoid",)


def test_validation_may_be_a_csv_path_and_target_a_list_for_regression(tmp_path):
    text = MINIMAL.replace("target: y", "target: [y1, y2]\n  validation: val.csv") + "loss: mse\n"
    data = load_config(write(tmp_path, text)).data
    assert (data.target, data.validation) == (("y1", "y2"), tmp_path / "configs/val.csv")


@pytest.mark.parametrize("text, value", [("1e-3", 0.001), ("1E5", 1e5), (".5", 0.5), ("2.5e+3", 2500.0),
                                         ("3", 3.0), ("1_000.5", 1000.5)])
def test_numbers_in_exponent_form_are_floats(tmp_path, text, value):
    config = load_config(write(tmp_path, MINIMAL + f"optimizer:\n  learning_rate: {text}\n"))
    assert config.optimizer.learning_rate == value
    assert type(config.optimizer.learning_rate) is float


def test_negative_exponent_form_is_a_number_and_is_range_checked(tmp_path):
    path = write(tmp_path, MINIMAL + "optimizer:\n  learning_rate: -2.5e+3\n")
    assert error_of(load_config, path) == f"{path}: line 5: optimizer.learning_rate: must be a number > 0, got -2500.0"


def test_a_section_left_empty_takes_its_defaults(tmp_path):
    assert load_config(write(tmp_path, MINIMAL + "model:\n")).model == ModelConfig()


def test_task_of_loss():
    assert [task_of_loss(name) for name in ("mse", "mae", "hinge", "softmax_cross_entropy")] == \
        ["regression", "regression", "classification", "classification"]


# --- problems in a file -----------------------------------------------------------

@pytest.mark.parametrize("key_path, typo", [
    ("data", "dat"), ("data.train", "trian"), ("data.target", "targte"), ("data.features", "feature"),
    ("data.validation", "validaton"), ("data.standardize", "standardise"), ("model", "modle"),
    ("model.hidden", "hiden"), ("model.activation", "activations"), ("model.init", "inti"),
    ("model.dtype", "dtyp"), ("loss", "los"), ("regularization", "regularisation"), ("regularization.l1", "ll1"),
    ("regularization.l2", "l2_"), ("optimizer", "optimiser"), ("optimizer.name", "nam"),
    ("optimizer.learning_rate", "learning_rat"), ("optimizer.batch_size", "batchsize"),
    ("optimizer.epochs", "epoch"), ("optimizer.shuffle", "shufle"), ("seed", "sed"), ("output", "ouput"),
])
def test_every_misspelled_key_names_its_line_and_the_right_key(tmp_path, key_path, typo):
    number = line_of(key_path)
    key = key_path.rpartition(".")[2]
    path = write(tmp_path, with_line(number, FULL_LINES[number - 1].replace(f"{key}:", f"{typo}:", 1)))
    typo_path = key_path.rpartition(".")[0] + "." + typo if "." in key_path else typo
    assert f"line {number}: {typo_path}: unknown key (did you mean '{key}'?)" in error_of(load_config, path)


def test_a_key_in_the_wrong_section_points_to_its_section(tmp_path):
    path = write(tmp_path, MINIMAL + "hidden: [4]\n")
    assert error_of(load_config, path) == f"{path}: line 4: hidden: unknown key (did you mean 'model.hidden'?)"


@pytest.mark.parametrize("key_path, value, message", [
    ("optimizer.learning_rate", "-1", "must be a number > 0, got -1"),
    ("optimizer.learning_rate", ".inf", "must be a number > 0, got inf"),
    ("regularization.l2", ".nan", "must be a number >= 0, got nan"),
    ("regularization.l1", "-0.5", "must be a number >= 0, got -0.5"),
    ("data.validation", "1.0", "must be a fraction >= 0 and < 1 (0 = no validation) or a path to a CSV file, got 1.0"),
    ("data.validation", "-.inf", "must be a fraction >= 0 and < 1 (0 = no validation) or a path to a CSV file, "
                                 "got -inf"),
    ("data.standardize", "'yes'", "must be true or false, got 'yes'"),
    ("data.target", "[]", "must be a column name or a non-empty list of distinct column names, got []"),
    ("data.features", "x1", "must be 'all' or a non-empty list of distinct column names, got 'x1'"),
    ("data.features", "[x1, x1]", "must be 'all' or a non-empty list of distinct column names, got ['x1', 'x1']"),
    ("model.hidden", "[8, true]", "must be a list of whole numbers from 1 to 65536 ([] = no hidden layer), got [8, true]"),
    ("model.hidden", "[8.0]", "must be a list of whole numbers from 1 to 65536 ([] = no hidden layer), got [8.0]"),
    ("model.hidden", "[0]", "must be a list of whole numbers from 1 to 65536 ([] = no hidden layer), got [0]"),
    ("model.dtype", "float16", "must be one of 'float32', 'float64', got 'float16' (did you mean 'float64'?)"),
    ("optimizer.epochs", "true", "must be a whole number >= 1, got true"),
    ("optimizer.epochs", "8.0", "must be a whole number >= 1, got 8.0"),
    ("optimizer.batch_size", "0", "must be a whole number >= 1 or null (full batch), got 0"),
    ("optimizer.shuffle", "1", "must be true or false, got 1"),
    ("seed", "-1", "must be a whole number >= 0, got -1"),
    ("output", "''", "must be a path to a directory, got ''"),
])
def test_wrong_types_and_ranges_name_the_key_path_and_line(tmp_path, key_path, value, message):
    number = line_of(key_path)
    key = key_path.rpartition(".")[2]
    indent = "  " if "." in key_path else ""
    path = write(tmp_path, with_line(number, f"{indent}{key}: {value}"))
    assert error_of(load_config, path) == f"{path}: line {number}: {key_path}: {message}"


@pytest.mark.parametrize("key_path, value, expected", [
    ("model.activation", "rellu", "got 'rellu' (did you mean 'relu'?)"),
    ("model.activation", "[relu, tahn]", "got ['relu', 'tahn'] (did you mean 'tanh'?)"),
    ("model.init", "glorot_unifrom", "got 'glorot_unifrom' (did you mean 'glorot_uniform'?)"),
    ("loss", "softmax_crossentropy", "got 'softmax_crossentropy' (did you mean 'softmax_cross_entropy'?)"),
    ("optimizer.name", "sdg", "got 'sdg' (did you mean 'sgd'?)"),
])
def test_registry_names_are_checked_with_a_did_you_mean(tmp_path, key_path, value, expected):
    number = line_of(key_path)
    key = key_path.rpartition(".")[2]
    path = write(tmp_path, with_line(number, ("  " if "." in key_path else "") + f"{key}: {value}"))
    message = error_of(load_config, path)
    assert message.startswith(f"{path}: line {number}: {key_path}: must be one of 'sgd'"
                              if key_path == "optimizer.name" else f"{path}: line {number}: {key_path}: must be one of")
    assert message.endswith(expected)


def test_all_problems_are_reported_at_once_in_line_order(tmp_path):
    text = with_line(18, "  learning_rate: 0").replace("  hidden: [16, 8]", "  hiden: [16, 8]")
    path = write(tmp_path, text.replace("seed: 7", "seed: 1.5"))
    assert error_of(load_config, path) == (
        f"{path}: 4 problems: line 8: model.hiden: unknown key (did you mean 'hidden'?); "
        "line 9: model.activation: must be one name or a list of 1 name (one per layer of model.hidden [8]), "
        "got ['relu', 'tanh']; line 18: optimizer.learning_rate: must be a number > 0, got 0; "
        "line 22: seed: must be a whole number >= 0, got 1.5")


def test_activation_list_must_have_one_name_per_hidden_layer(tmp_path):
    path = write(tmp_path, with_line(8, "  hidden: [16, 8, 4]"))
    assert error_of(load_config, path) == (
        f"{path}: line 9: model.activation: must be one name or a list of 3 names "
        "(one per layer of model.hidden [16, 8, 4]), got ['relu', 'tanh']")


def test_several_targets_need_a_regression_loss(tmp_path):
    path = write(tmp_path, with_line(3, "  target: [y1, y2]").replace("  features: [x1, x2]\n", ""))
    assert error_of(load_config, path) == (
        f"{path}: line 11: loss: softmax_cross_entropy needs one target column of class labels; "
        "data.target names 2 columns")


def test_features_must_not_include_a_target(tmp_path):
    path = write(tmp_path, with_line(4, "  features: [x1, label]"))
    assert error_of(load_config, path) == f"{path}: line 4: data.features: must not list a target column, got 'label'"


def test_missing_data_section_and_missing_required_keys(tmp_path):
    path = write(tmp_path, "seed: 1\n")
    assert error_of(load_config, path) == f"{path}: data: required section is missing (it needs train and target)"
    path = write(tmp_path, "seed: 1\ndata:\n  train: d.csv\n")
    assert error_of(load_config, path) == f"{path}: line 2: data.target: required key is missing"


def test_a_section_that_is_not_a_mapping(tmp_path):
    path = write(tmp_path, MINIMAL + "optimizer: sgd\n")
    assert error_of(load_config, path) == (
        f"{path}: line 4: optimizer: must be a mapping with keys name, learning_rate, batch_size, epochs, "
        "shuffle, momentum, beta1, beta2, epsilon, got 'sgd'")


# --- files that are not configs ---------------------------------------------------

def test_duplicate_keys_give_both_lines_at_top_level_and_nested(tmp_path):
    path = write(tmp_path, MINIMAL + "seed: 1\nmodel:\n  hidden: [4]\n  hidden: [5]\nseed: 2\n")
    assert error_of(load_config, path) == (
        f"{path}: 2 problems: line 7: model.hidden: duplicate key (first at line 6); "
        "line 8: seed: duplicate key (first at line 4)")


def test_python_tags_are_refused_and_nothing_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, MINIMAL + 'seed: !!python/object/apply:os.system ["touch MARKER"]\n')
    message = error_of(load_config, path)
    assert message == (f"{path}: line 4, column 7: the tag '!!python/object/apply:os.system' is not allowed "
                       "(a config holds plain data only)")
    assert not (tmp_path / "MARKER").exists()


@pytest.mark.parametrize("text, message", [
    ("- data\n- model\n", "the top level must be a mapping of sections (data, model, loss, regularization, "
                          "optimizer, schedule, early_stopping, training, seed, output), got a list"),
    ("", "the file is empty; a config needs at least a data section"),
    ("# only a comment\n", "the file is empty; a config needs at least a data section"),
    ("data:\n  train: [a\n  target: y\n", "line 3, column 9: expected ',' or ']', but got ':' "
                                         "(while parsing a flow sequence at line 2)"),
    ("data:\n\ttrain: a\n", "line 2, column 1: found character '\\t' that cannot start any token"),
    ("seed: \x01\n", 'not readable as YAML: unacceptable character #x0001: special characters are not allowed '
                      'in "<unicode string>", position 6'),
])
def test_files_that_are_not_configs(tmp_path, text, message):
    path = write(tmp_path, text)
    assert error_of(load_config, path) == f"{path}: {message}"


def test_missing_file_directory_and_non_utf8(tmp_path):
    assert error_of(load_config, "nowhere/c.yaml") == "nowhere/c.yaml: no such file"
    assert error_of(load_config, tmp_path) == f"{tmp_path}: is a directory, not a config file"
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"data:\n  target: caf\xe9\n")
    assert error_of(load_config, path) == f"{path}: not UTF-8 text (byte 0xe9 at offset 19)"


# --- --set overrides --------------------------------------------------------------

def test_overrides_set_nested_list_null_and_float_values_and_make_sections(tmp_path):
    path = write(tmp_path, MINIMAL)
    config = load_config(path, ["model.hidden=[16,16]", "optimizer.batch_size=null",
                                "optimizer.learning_rate=1e-3", "data.target=z", "seed = 3"])
    assert config.model.hidden == (16, 16)
    assert config.optimizer == OptimizerConfig(learning_rate=0.001, batch_size=None)
    assert (config.data.target, config.seed) == (("z",), 3)


def test_override_paths_resolve_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(write(tmp_path, MINIMAL), ["output=out/here", "data.train=../t.csv"])
    assert (config.output, config.data.train) == (tmp_path / "out/here", tmp_path.parent / "t.csv")


def test_override_problems_say_set_instead_of_a_line(tmp_path):
    path = write(tmp_path, MINIMAL + "model:\n  hidden: [4]\n")
    message = error_of(load_config, path, ["model.hiden=[4]", "optimizer.epochs=0", "model.hidden=[2.5]"])
    assert message == (f"{path}: 3 problems: --set model.hidden: must be a list of whole numbers from 1 to 65536 "
                       "([] = no hidden layer), got [2.5]; --set model.hiden: unknown key (did you mean 'hidden'?); "
                       "--set optimizer.epochs: must be a whole number >= 1, got 0")


@pytest.mark.parametrize("override", ["xyz", "=3", "model..hidden=1", ".seed=1"])
def test_malformed_overrides(tmp_path, override):
    path = write(tmp_path, MINIMAL)
    assert error_of(load_config, path, [override]) == f"--set {override!r}: expected key.path=value"


def test_override_value_with_bad_yaml(tmp_path):
    message = error_of(load_config, write(tmp_path, MINIMAL), ["model.hidden=[1,"])
    assert message.startswith("--set 'model.hidden=[1,': line 1, column 4: expected the node content")


# --- round trip and dicts --------------------------------------------------------

def test_config_to_dict_writes_every_key_in_order(tmp_path):
    plain = config_to_dict(load_config(write(tmp_path, MINIMAL)), relative_to=tmp_path)
    assert list(plain) == ["data", "model", "loss", "regularization", "optimizer", "schedule", "early_stopping",
                           "training", "seed", "output"]
    assert plain["data"] == {"train": "configs/d.csv", "target": "y", "features": "all", "validation": 0.2, "test": None,
                             "standardize": True, "split_seed": None, "class_weight": None, "sample_weight": None,
                             "exclude": [], "categorical": "auto",
                             "na_values": ["", "NA", "N/A", "NaN", "nan", "null", "None", "?"], "impute": "median",
                             "missing_indicators": False, "max_categories": 50, "unknown_category": "ignore",
                             "standardize_target": "auto"}
    assert plain["model"] == {"hidden": [8], "activation": "sigmoid", "init": "auto", "dtype": "float32",
                             "dropout": 0.0}
    assert plain["optimizer"] == {"name": "sgd", "learning_rate": 0.1, "batch_size": 32, "epochs": 100,
                                  "shuffle": True, "momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    assert plain["schedule"] == {"name": "constant", "factor": 0.5, "every": 10, "patience": 10, "min_delta": 0.0,
                                 "min_learning_rate": 0.0}
    assert plain["early_stopping"] == {"monitor": "auto", "patience": None, "min_delta": 0.0, "target": None}


MULTI_OUTPUT = MINIMAL.replace("target: y", "target: ['1e3', 'yes', '0.5']\n  validation: v.csv") + \
    "loss: mae\noptimizer:\n  batch_size: null\n  learning_rate: 1.0e-05\n"


@pytest.mark.parametrize("text", [FULL, MINIMAL, MULTI_OUTPUT])
def test_dump_then_load_gives_an_equal_config(tmp_path, text):
    config = load_config(write(tmp_path, text))
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text(dump_config(config, relative_to=out), encoding="utf-8")
    again = load_config(out / "config.yaml")
    assert again == config
    assert again.source == out / "config.yaml"
    assert str(tmp_path) not in (out / "config.yaml").read_text(encoding="utf-8")


def test_dump_without_relative_to_writes_absolute_paths(tmp_path):
    text = dump_config(load_config(write(tmp_path, FULL)))
    assert f"train: {tmp_path / 'datasets/circles.csv'}\n" in text
    assert "hidden: [16, 8]\n" in text


def test_config_from_dict_resolves_against_base_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = config_from_dict({"data": {"train": "d.csv", "target": "y"}, "model": {"hidden": (4,)}},
                              base_dir=tmp_path / "x")
    assert (config.data.train, config.model.hidden, config.source) == (tmp_path / "x/d.csv", (4,), None)
    assert config.output == tmp_path / "runs/config"


def test_config_from_dict_reports_problems_without_lines():
    message = error_of(config_from_dict, {"data": {"train": "d.csv"}, "sed": 1}, source_name="api")
    assert message == "api: 2 problems: sed: unknown key (did you mean 'seed'?); data.target: required key is missing"
    assert error_of(config_from_dict, [1]) == ("<config>: the top level must be a mapping of sections "
                                               "(data, model, loss, regularization, optimizer, schedule, early_stopping, training, seed, output), "
                                               "got a list")


def test_configs_are_frozen(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    with pytest.raises(AttributeError):
        config.seed = 1
    assert isinstance(config.data.train, Path) and config.data.train.is_absolute()


@pytest.mark.parametrize("text, message", [
    ("early_stopping: {monitor: val_r2}\n", "early_stopping.monitor: val_r2 does not fit classification"),
    ("early_stopping: {monitor: val_loss}\ndata:\n  train: d.csv\n  target: y\n  validation: 0\n",
     "early_stopping.monitor: val_loss needs validation rows, but data.validation is 0"),
    ("loss: mse\ndata: {train: d.csv, target: y, class_weight: balanced}\n",
     "data.class_weight: weighs classes, but loss mse is a regression loss"),
    ("data: {train: d.csv, target: y, class_weight: {a: -1}}\n",
     "data.class_weight: must be null, 'balanced', or a mapping of class labels to weights > 0, got {a: -1}"),
    ("data: {train: d.csv, target: y, sample_weight: y}\n",
     "data.sample_weight: must be a column of its own, not a target or feature, got 'y'"),
    ("schedule: {name: cosine}\n", "schedule.name: must be one of 'constant', 'step', 'exponential', 'plateau', got 'cosine'"),
    ("optimizer: {name: adam, beta2: 1.0}\n", "optimizer.beta2: must be a number >= 0 and < 1, got 1.0"),
    ("optimizer: {learning_rate: 0.01}\nschedule: {name: plateau, min_learning_rate: 0.1}\n",
     "schedule.min_learning_rate: must not be above optimizer.learning_rate (0.01), got 0.1"),
])
def test_training_options_are_checked_against_each_other(tmp_path, text, message):
    base = "" if text.lstrip().startswith("data") or "\ndata" in text else MINIMAL
    assert message in error_of(load_config, write(tmp_path, base + text))


def test_training_options_load(tmp_path):
    config = load_config(write(tmp_path, MINIMAL + """optimizer: {name: nesterov, momentum: 0.8}
schedule: {name: plateau, factor: 0.1, patience: 3}
early_stopping: {monitor: val_mse, patience: 5, min_delta: 1e-4, target: 0.01}
loss: mse
"""))
    assert config.optimizer.name == "nesterov" and config.optimizer.momentum == 0.8
    assert config.schedule.name == "plateau" and config.schedule.patience == 3
    assert config.early_stopping.monitor == "val_mse" and config.early_stopping.min_delta == 1e-4
    assert config.early_stopping.target == 0.01


@pytest.mark.parametrize("value, hidden", [("16", (16,)), ("0", ()), ("[16, 8]", (16, 8))])
def test_hidden_as_one_number_is_one_layer(tmp_path, value, hidden):
    path = write(tmp_path, MINIMAL)
    assert load_config(path, [f"model.hidden={value}"]).model.hidden == hidden
