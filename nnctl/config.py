"""YAML -> validated, frozen config objects.

Every key's constraint is declared once, in ``_RULES``; every violation reads
``<key.path>: must be <what is allowed>, got <value>``.  All problems of a file
are gathered and raised as one single-line ``ConfigError`` that starts with the
file name and gives each problem's line (or ``--set`` for an override).

Files are read with a subclass of ``yaml.SafeLoader`` that also reads ``1e-3``
as a float, records the line of every key and notices duplicate keys.  Tags
that name Python objects are refused; nothing in a config can run code.
"""

from __future__ import annotations

import difflib
import importlib
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from nnctl.errors import ConfigError
from nnctl.files import read_capped
from nnctl.prep.columns import DEFAULT_NA_VALUES
from nnctl.prep.preprocessor import IMPUTE, UNKNOWN_CATEGORY

DTYPES = ("float32", "float64")
EVALUATE_TRAIN = ("auto", "batches", "full")  # training.evaluate_train
_FIGURES = ("loss", "accuracy", "zero_one_loss", "mse", "rmse", "mae", "r2")
MONITORS = ("auto", *(f"{where}_{what}" for where in ("val", "train") for what in _FIGURES))
CLASSIFICATION_FIGURES, REGRESSION_FIGURES = ("accuracy", "zero_one_loss"), ("mse", "rmse", "mae", "r2")


def _default_output(stem: str = "config") -> Path:
    """``runs/<stem>`` under the current working directory."""
    return (Path.cwd() / "runs" / stem).resolve()


@dataclass(frozen=True)
class DataConfig:
    train: Path                                 # training CSV, absolute
    target: tuple[str, ...]                     # column(s) to predict; several = multi-output regression
    features: tuple[str, ...] | None = None     # input columns; None = every column except the targets
    validation: float | Path = 0.2              # held-out fraction (0 = none), or a validation CSV
    test: Path | None = None                    # a test CSV: scored once, with the best epoch's weights, at the end
    standardize: bool = True                    # scale features to mean 0, std 1 (statistics from train)
    split_seed: int | None = None               # seed of the train/validation split; None: the config's seed
    class_weight: str | dict | None = None      # None, "balanced", or {class label: weight}: weighs the training loss
    sample_weight: str | None = None            # a column of per-row weights (not a feature)
    exclude: tuple[str, ...] = ()               # columns never used as features: IDs, names, dates
    categorical: str | tuple[str, ...] = "auto"  # auto: every feature column holding text; or exactly these
    na_values: tuple[str, ...] = DEFAULT_NA_VALUES  # cells that mean "no value"
    impute: str = "median"                      # numeric missing cells: median, mean, zero, or drop (the rows)
    missing_indicators: bool = False            # a 0/1 input per numeric column with missing training cells
    max_categories: int = 50                    # one-hot slots per column at most; the rarest share '(other)'
    unknown_category: str = "ignore"            # at predict: ignore (all zeros, counted) or error
    standardize_target: str | bool = "auto"     # regression: train on z-scored targets (auto: yes for mse/mae)

    @property
    def scales_target(self) -> bool:
        """Whether regression targets are z-scored for training (given a regression loss)."""
        return self.standardize_target is not False


@dataclass(frozen=True)
class ModelConfig:
    hidden: tuple[int, ...] = (8,)              # units per hidden layer; () = perceptron
    activation: str | tuple[str, ...] = "sigmoid"  # one name for all hidden layers, or one per layer
    init: str = "auto"                          # weight initializer, a key of INITIALIZERS
    dtype: str = "float32"                      # parameter and data precision
    dropout: float | tuple[float, ...] = 0.0    # share p of hidden units dropped in each training step: one
                                                # rate for all hidden layers, or one per layer; 0 = none

    @property
    def hidden_activations(self) -> tuple[str, ...]:
        """One activation name per hidden layer."""
        if isinstance(self.activation, str):
            return (self.activation,) * len(self.hidden)
        return self.activation

    @property
    def hidden_dropout(self) -> tuple[float, ...]:
        """One dropout rate per hidden layer."""
        if isinstance(self.dropout, tuple):
            return self.dropout
        return (self.dropout,) * len(self.hidden)


@dataclass(frozen=True)
class RegularizationConfig:
    l1: float = 0.0                             # weight of the L1 penalty on weights (never biases)
    l2: float = 0.0                             # weight of the L2 penalty on weights (never biases)


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "sgd"                           # update rule, a key of OPTIMIZERS
    learning_rate: float = 0.1                  # step size, > 0
    batch_size: int | None = 32                 # samples per update; None = full batch
    epochs: int = 100                           # passes over the training set
    shuffle: bool = True                        # reshuffle the training set every epoch
    momentum: float = 0.9                       # mu of momentum and nesterov
    beta1: float = 0.9                          # adam: decay of the mean of the gradients
    beta2: float = 0.999                        # adam: decay of the mean of their squares
    epsilon: float = 1e-8                       # adam: keeps the division finite


@dataclass(frozen=True)
class ScheduleConfig:
    name: str = "constant"                      # constant, step, exponential or plateau
    factor: float = 0.5                         # multiplies the rate: each step, each epoch, or on a plateau
    every: int = 10                             # step: epochs between two decays
    patience: int = 10                          # plateau: epochs without improvement before a decay
    min_delta: float = 0.0                      # plateau: the least change that counts as an improvement
    min_learning_rate: float = 0.0              # plateau: the rate never goes below this


@dataclass(frozen=True)
class EarlyStoppingConfig:
    monitor: str = "auto"                       # the figure that picks the best epoch: val_loss, val_accuracy, ...
    patience: int | None = None                 # stop after this many epochs without improvement; None: never
    min_delta: float = 0.0                      # the least change that counts as an improvement
    target: float | None = None                 # stop as soon as the monitored figure reaches this


@dataclass(frozen=True)
class TrainingConfig:
    evaluate_train: str = "auto"                # the epoch's training figures: batches (the mean of its batch
                                                # losses and metrics, no extra pass) or full (a pass over all rows);
                                                # auto: batches, but full when a training figure picks the best epoch
    baselines: bool = True                      # nnctl train also scores a majority-class (mean) guess and the
                                                # linear model of the same loss, and says if the hidden layers pay


@dataclass(frozen=True)
class Config:
    data: DataConfig                            # what to learn from
    model: ModelConfig = ModelConfig()          # network shape
    loss: str = "softmax_cross_entropy"         # a key of LOSSES; also fixes the output activation
    regularization: RegularizationConfig = RegularizationConfig()  # weight penalties
    optimizer: OptimizerConfig = OptimizerConfig()  # how weights are updated
    schedule: ScheduleConfig = ScheduleConfig()  # how the learning rate changes over the epochs
    early_stopping: EarlyStoppingConfig = EarlyStoppingConfig()  # which epoch is best; when to stop
    training: TrainingConfig = TrainingConfig()  # how each epoch's training figures are had
    seed: int = 0                               # seeds the initial weights and the shuffling
    output: Path = field(default_factory=_default_output)  # run directory, absolute
    source: Path | None = field(default=None, compare=False)  # file it came from; None for dicts
    overridden: frozenset = field(default=frozenset(), compare=False)  # key paths given by --set
    absolute: frozenset = field(default=frozenset(), compare=False)  # path keys written as absolute paths

    @property
    def split_seed(self) -> int:
        """The seed of the train/validation split: data.split_seed, or else the config's seed."""
        return self.seed if self.data.split_seed is None else self.data.split_seed


def task_of_loss(loss: str) -> str:
    """The task of the loss, as its registry entry says: "regression" (mse, mae) or "classification"."""
    from nnctl.core.losses import LOSSES  # the registry says (imported on first use: --help needs none of it)

    found = LOSSES.get(loss) if isinstance(loss, str) else None
    return found.task if found is not None else "classification"


# --- the table of constraints -------------------------------------------------

_INVALID = object()  # what a converter returns for a value it rejects


@dataclass(frozen=True)
class _Rule:
    allowed: str                                # finishes "must be ..."; "{names}" lists the choices
    convert: Callable[[Any, Path], Any]         # (value, base dir for paths) -> typed value or _INVALID
    names: Callable[[], tuple[str, ...]] | None = None  # registry keys, for choices and did-you-mean

    def describe(self) -> str:
        return self.allowed.format(names=", ".join(map(repr, self.names()))) if self.names else self.allowed


def _names(module: str, attr: str) -> Callable[[], tuple[str, ...]]:
    """The keys of a core registry, looked up when first needed."""
    return lambda: tuple(getattr(importlib.import_module(module), attr))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (for bools, text, .inf, .nan, and ints too big for a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _real(allowed: str, ok: Callable[[float], bool]) -> _Rule:
    def convert(v: Any, _: Path) -> Any:
        number = _finite(v)
        return number if number is not None and ok(number) else _INVALID
    return _Rule(allowed, convert)


def _whole(allowed: str, minimum: int, *, null: bool = False) -> _Rule:
    def convert(v: Any, _: Path) -> Any:
        if null and v is None:
            return None
        return v if _is_int(v) and v >= minimum else _INVALID
    return _Rule(allowed, convert)


def _choice(names: Callable[[], tuple[str, ...]]) -> _Rule:
    return _Rule("one of {names}", lambda v, _: v if isinstance(v, str) and v in names() else _INVALID, names)


def _path(v: Any, base: Path) -> Any:
    if isinstance(v, os.PathLike) or (isinstance(v, str) and v.strip()):
        return (base / Path(v).expanduser()).resolve()
    return _INVALID


def _column_list(v: Any) -> Any:
    """A non-empty list of distinct, non-empty column names, as a tuple."""
    if not isinstance(v, (list, tuple)) or not v:
        return _INVALID
    if not all(isinstance(n, str) and n for n in v) or len(set(v)) != len(v):
        return _INVALID
    return tuple(v)


def _names_or_none(v: Any) -> Any:
    """A list of distinct, non-empty column names, possibly empty, as a tuple."""
    return () if isinstance(v, (list, tuple)) and not v else _column_list(v)


def _na_values(v: Any, _: Path) -> Any:
    """Cell texts (numbers as written, e.g. -999) meaning "no value", as a tuple of strings."""
    if not isinstance(v, (list, tuple)):
        return _INVALID
    texts = [str(x) if _is_int(x) else x for x in v]
    if not all(isinstance(t, str) for t in texts) or len(set(texts)) != len(texts):
        return _INVALID
    return tuple(t.strip() for t in texts)


def _fraction_or_path(v: Any, base: Path) -> Any:
    if isinstance(v, str):
        return _path(v, base)
    number = _finite(v)
    return number if number is not None and 0 <= number < 1 else _INVALID


# Names other trainers use for our keys, for the did-you-mean of an unknown key.
_ALIASES = {"lr": "learning_rate", "eta": "learning_rate", "n_epochs": "epochs", "max_iter": "epochs",
            "batch": "batch_size", "hidden_layer_sizes": "hidden", "layers": "hidden", "units": "hidden",
            "alpha": "l2", "weight_decay": "l2", "random_state": "seed", "optimiser": "optimizer",
            "solver": "name", "y": "target", "label": "target", "x": "features"}

MAX_DROPOUT = 0.99  # a layer keeps one unit in a hundred at least (p near 1 rounds to 1 in float32: nothing kept)
MAX_HIDDEN_UNITS = 65_536  # per layer: a typo like 99999999 must not try to fill the memory


def _class_weight(v: Any, _: Path) -> Any:
    if v is None or v == "balanced":
        return v
    if isinstance(v, Mapping) and v and all(
            isinstance(k, (str, int)) and not isinstance(k, bool) and _finite(w) is not None and _finite(w) > 0
            for k, w in v.items()):
        return {k: float(w) for k, w in v.items()}
    return _INVALID


def _layer_sizes(v: Any, _: Path) -> Any:
    if _is_int(v) and 0 <= v <= MAX_HIDDEN_UNITS:  # hidden: 16 is one layer of 16; 0 is no hidden layer
        return (v,) if v else ()
    if isinstance(v, (list, tuple)) and all(_is_int(n) and 1 <= n <= MAX_HIDDEN_UNITS for n in v):
        return tuple(v)
    return _INVALID


def _dropout(v: Any, _: Path) -> Any:
    rate = lambda n: (number := _finite(n)) is not None and 0 <= number <= MAX_DROPOUT  # noqa: E731
    if rate(v):
        return float(v)
    if isinstance(v, (list, tuple)) and all(rate(n) for n in v):
        return tuple(float(n) for n in v)
    return _INVALID


def _activation(v: Any, _: Path) -> Any:
    names = _ACTIVATION_NAMES()
    if isinstance(v, str):
        return v if v in names else _INVALID
    if isinstance(v, (list, tuple)) and all(isinstance(n, str) and n in names for n in v):
        return tuple(v)
    return _INVALID


_ACTIVATION_NAMES = _names("nnctl.core.activations", "ACTIVATIONS")
_COLUMNS = "a column name or a non-empty list of distinct column names"
_FLAG = _Rule("true or false", lambda v, _: v if isinstance(v, bool) else _INVALID)

_RULES: dict[str, _Rule] = {
    "data.train": _Rule("a path to a CSV file", _path),
    "data.target": _Rule(_COLUMNS, lambda v, _: (v,) if isinstance(v, str) and v else _column_list(v)),
    "data.features": _Rule("'all' or a non-empty list of distinct column names",
                           lambda v, _: None if v == "all" else _column_list(v)),
    "data.validation": _Rule("a fraction >= 0 and < 1 (0 = no validation) or a path to a CSV file",
                             _fraction_or_path),
    "data.test": _Rule("null or a path to a CSV file", lambda v, base: None if v is None else _path(v, base)),
    "data.standardize": _FLAG,
    "data.split_seed": _whole("a whole number >= 0 or null (use the config's seed)", 0, null=True),
    "data.class_weight": _Rule("null, 'balanced', or a mapping of class labels to weights > 0", _class_weight),
    "data.sample_weight": _Rule("null or a column name", lambda v, _: v if v is None or (isinstance(v, str) and v)
                                else _INVALID),
    "data.exclude": _Rule("a list of distinct column names ([] = none)", lambda v, _: _names_or_none(v)),
    "data.categorical": _Rule("'auto' or a list of distinct column names",
                              lambda v, _: v if v == "auto" else _names_or_none(v)),
    "data.na_values": _Rule("a list of distinct cell texts, e.g. ['', 'NA', '?']", _na_values),
    "data.impute": _choice(lambda: IMPUTE),
    "data.missing_indicators": _FLAG,
    "data.max_categories": _whole("a whole number >= 2", 2),
    "data.unknown_category": _choice(lambda: UNKNOWN_CATEGORY),
    "data.standardize_target": _Rule("'auto', true or false",
                                     lambda v, _: v if v == "auto" or isinstance(v, bool) else _INVALID),
    "model.hidden": _Rule(f"a list of whole numbers from 1 to {MAX_HIDDEN_UNITS} ([] = no hidden layer)",
                          _layer_sizes),
    "model.activation": _Rule("one of {names}, or a list of them (one per hidden layer)",
                              _activation, _ACTIVATION_NAMES),
    "model.init": _choice(_names("nnctl.core.model", "INITIALIZERS")),
    "model.dropout": _Rule(f"a number from 0 to {MAX_DROPOUT} (the share of hidden units dropped), or a list of "
                           "them (one per hidden layer)", _dropout),
    "model.dtype": _choice(lambda: DTYPES),
    "loss": _choice(_names("nnctl.core.losses", "LOSSES")),
    "regularization.l1": _real("a number >= 0", lambda v: v >= 0),
    "regularization.l2": _real("a number >= 0", lambda v: v >= 0),
    "optimizer.name": _choice(_names("nnctl.core.optimizers", "OPTIMIZERS")),
    "optimizer.learning_rate": _real("a number > 0", lambda v: v > 0),
    "optimizer.batch_size": _whole("a whole number >= 1 or null (full batch)", 1, null=True),
    "optimizer.epochs": _whole("a whole number >= 1", 1),
    "optimizer.shuffle": _FLAG,
    "optimizer.momentum": _real("a number >= 0 and < 1", lambda v: 0 <= v < 1),
    "optimizer.beta1": _real("a number >= 0 and < 1", lambda v: 0 <= v < 1),
    "optimizer.beta2": _real("a number >= 0 and < 1", lambda v: 0 <= v < 1),
    "optimizer.epsilon": _real("a number > 0", lambda v: v > 0),
    "schedule.name": _choice(_names("nnctl.core.schedules", "SCHEDULES")),
    "schedule.factor": _real("a number > 0 and <= 1", lambda v: 0 < v <= 1),
    "schedule.every": _whole("a whole number >= 1", 1),
    "schedule.patience": _whole("a whole number >= 1", 1),
    "schedule.min_delta": _real("a number >= 0", lambda v: v >= 0),
    "schedule.min_learning_rate": _real("a number >= 0", lambda v: v >= 0),
    "early_stopping.monitor": _choice(lambda: MONITORS),
    "early_stopping.patience": _whole("a whole number >= 1 or null (never stop early)", 1, null=True),
    "early_stopping.min_delta": _real("a number >= 0", lambda v: v >= 0),
    "early_stopping.target": _Rule("a number or null", lambda v, _: v if v is None else _finite(v)
                                   if _finite(v) is not None else _INVALID),
    "training.evaluate_train": _choice(lambda: EVALUATE_TRAIN),
    "training.baselines": _FLAG,
    "seed": _whole("a whole number >= 0", 0),
    "output": _Rule("a path to a directory", _path),
}
_SECTIONS = {"data": DataConfig, "model": ModelConfig, "regularization": RegularizationConfig,
             "optimizer": OptimizerConfig, "schedule": ScheduleConfig, "early_stopping": EarlyStoppingConfig,
             "training": TrainingConfig}
_TOP_LEVEL = ("data", "model", "loss", "regularization", "optimizer", "schedule", "early_stopping", "training", "seed",
              "output")


# --- reading YAML ----------------------------------------------------------------

class _YamlMapping(dict):
    """A mapping read from YAML, with the 1-based line of each key and any duplicate keys."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}
        self.duplicates: list[tuple[Any, int, int]] = []  # (key, line, line of its first use)


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-3`` as a float and records key lines and duplicate keys."""

    def construct_yaml_map(self, node: yaml.MappingNode):  # type: ignore[override]
        data = _YamlMapping()
        yield data
        # Duplicates are looked for among the keys as written, not those merged in by '<<'.
        written = [key for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge"]
        data.update(self.construct_mapping(node))
        for key_node in written:
            key, line = self.construct_object(key_node), key_node.start_mark.line + 1
            if key in data.lines:
                data.duplicates.append((key, line, data.lines[key]))
            else:
                data.lines[key] = line


def _refuse_tag(loader: _Loader, node: yaml.Node) -> Any:
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    raise yaml.constructor.ConstructorError(
        None, None, f"the tag {tag!r} is not allowed (a config holds plain data only)", node.start_mark)


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    try:
        return yaml.SafeLoader.construct_yaml_int(loader, node)
    except ValueError:  # Python converts at most 4300 digits (sys.get_int_max_str_digits)
        raise yaml.constructor.ConstructorError(
            None, None, f"a whole number of {len(node.value)} characters is too long", node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor(None, _refuse_tag)  # any tag SafeLoader does not know, e.g. !!python/object
# YAML 1.1 wants a dot in every float; YAML 1.2 and users also write 1e-3, 1E5.
_FLOAT = re.compile(r"""^[-+]?(?: [0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                            | \.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
                            | [0-9][0-9_]*[eE][-+]?[0-9]+ )$""", re.X)
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _parse_yaml(text: str, name: str) -> Any:
    """One YAML document -> Python data, or a one-line ConfigError prefixed with ``name``."""
    loader = None
    try:
        loader = _Loader(text)  # the reader already refuses control characters here
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark, where = exc.problem_mark, ""
        if mark is not None:
            where = f"line {mark.line + 1}, column {mark.column + 1}: "
        context = f" ({exc.context} at line {exc.context_mark.line + 1})" if exc.context and exc.context_mark else ""
        message = f"{name}: {where}{exc.problem}{context}"
    except yaml.YAMLError as exc:  # e.g. a control character
        message = f"{name}: not readable as YAML: {exc}"
    except RecursionError:  # brackets nested some hundreds deep; the reader stopped where it happened
        mark = loader.get_mark()
        message = f"{name}: line {mark.line + 1}, column {mark.column + 1}: values are nested too deeply"
    finally:
        if loader is not None:
            loader.dispose()
    raise ConfigError(" ".join(message.split()))  # PyYAML's messages span lines; ours may not


CONFIG_LIMIT = 2**20  # bytes: a config is a page of YAML; anything larger is the wrong file (or /dev/zero)


def _read(path: Path, name: str) -> Any:
    try:
        data = read_capped(path, CONFIG_LIMIT, "config file")
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read the file ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    return _parse_yaml(text, name)


def _locate(mapping: Mapping, prefix: str, where: dict[str, int | str], checker: _Checker,
            seen: set[int] | None = None) -> None:
    """Fill ``where`` with the line of every key and report duplicate keys.

    Each mapping is visited once: YAML aliases can make a mapping its own child
    (``&a {b: *a}``) or reach one mapping by exponentially many paths.
    """
    seen = set() if seen is None else seen
    seen.add(id(mapping))
    for key, line in getattr(mapping, "lines", {}).items():
        path = _join(prefix, key)
        where[path] = line
        if isinstance(mapping[key], Mapping) and id(mapping[key]) not in seen:
            _locate(mapping[key], path, where, checker, seen)
    for key, line, first in getattr(mapping, "duplicates", ()):
        checker.problem(_join(prefix, key), f"duplicate key (first at line {first})", at=line)


# --- checking -------------------------------------------------------------------

_SET = "--set"  # the location of a key that came from an override


def _join(prefix: str, key: Any) -> str:
    key_text = key if isinstance(key, str) and key.isprintable() else repr(key)
    return f"{prefix}.{key_text}" if prefix else key_text


class _Checker:
    """Collects problems, each placed at a key's line (or --set), and raises them all at once."""

    def __init__(self, name: str, where: dict[str, int | str], base_dir: Path) -> None:
        self.name, self.where, self.base_dir = name, where, base_dir
        self.problems: list[tuple[tuple[int, int], int, str]] = []
        self.absolute: set[str] = set()  # keys whose value is a path written absolute

    def locate(self, path: str) -> int | str | None:
        """The line (or --set) of ``path``, else of its nearest section."""
        while path not in self.where and "." in path:
            path = path.rsplit(".", 1)[0]
        return self.where.get(path)

    def problem(self, path: str, text: str, at: str | int | None = None) -> None:
        loc = at if isinstance(at, int) else self.locate(at or path)
        prefix, order = (f"line {loc}: ", (0, loc)) if isinstance(loc, int) else \
            ("--set ", (1, 0)) if loc == _SET else ("", (2, 0))
        self.problems.append((order, len(self.problems), f"{prefix}{path}: {text}"))

    def unknown(self, path: str, key: Any, siblings: Sequence[str]) -> None:
        close = difflib.get_close_matches(str(key).lower(), siblings, n=1)  # every key is lower case: L1, Seed
        if not close and str(key) in _ALIASES and _ALIASES[str(key)] in siblings:
            close = [_ALIASES[str(key)]]
        if not close:  # maybe it belongs in another section
            close = [p for p in _RULES if p.rsplit(".", 1)[-1] == str(key)][:1]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        self.problem(path, f"unknown key{hint}")

    def check(self, path: str, value: Any) -> Any:
        rule = _RULES[path]
        base = Path.cwd() if self.locate(path) == _SET else self.base_dir
        result = rule.convert(value, base)
        if isinstance(result, Path) and isinstance(value, (str, os.PathLike)) and Path(value).expanduser().is_absolute():
            self.absolute.add(path)
        if result is _INVALID:
            self.problem(path, f"must be {rule.describe()}, got {_show(value)}{_suggest(rule, value)}")
        return result

    def raise_if_any(self) -> None:
        if not self.problems:
            return
        texts = [text for _, _, text in sorted(self.problems)]
        head = f"{self.name}: " if len(texts) == 1 else f"{self.name}: {len(texts)} problems: "
        raise ConfigError(head + "; ".join(texts))


def _show(value: Any) -> str:
    """A value as a YAML user writes it: null, true, 'text', [1, 2], {a: 1}; at most 80 characters."""
    text = ""
    for piece in _yaml_pieces(value):  # piece by piece: aliases can make a value huge, even endless
        text += piece
        if len(text) > 80:
            return text[:77] + "..."
    return text


def _yaml_pieces(value: Any) -> Iterator[str]:
    if value is None:
        yield "null"
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ", "
            yield from _yaml_pieces(item)
        yield "]"
    elif isinstance(value, Mapping):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield f"{', ' if i else ''}{key}: "
            yield from _yaml_pieces(item)
        yield "}"
    else:
        yield repr(value)


def _suggest(rule: _Rule, value: Any) -> str:
    """A did-you-mean for a misspelled choice (or the first misspelled name of a list)."""
    if rule.names is None:
        return ""
    names = rule.names()
    given = value if isinstance(value, (list, tuple)) else [value]
    wrong = [v for v in given if isinstance(v, str) and v not in names]
    other = _OTHER_NAMES.get(wrong[0].lower().replace("-", "_")) if wrong else None
    if other is not None and all(name in names for name in other[0]):
        return f" (did you mean {other[1]}?)"
    close = difflib.get_close_matches(wrong[0], names, n=1) if wrong else []
    return f" (did you mean {close[0]!r}?)" if close else ""


_CROSS_ENTROPY = (("softmax_cross_entropy", "binary_cross_entropy"),
                  "'softmax_cross_entropy' (any number of classes) or 'binary_cross_entropy' (two classes, one "
                  "sigmoid output)")
_OTHER_NAMES = {  # what other libraries call our losses: (the names suggested, the suggestion)
    **dict.fromkeys(("cross_entropy", "crossentropy", "categorical_cross_entropy", "categorical_crossentropy",
                     "sparse_categorical_crossentropy", "ce", "log_loss", "logloss", "nll"), _CROSS_ENTROPY),
    **dict.fromkeys(("bce", "binary_crossentropy", "bce_with_logits"),
                    (("binary_cross_entropy",), "'binary_cross_entropy'")),
    **dict.fromkeys(("mean_squared_error", "squared_error", "l2", "l2_loss"), (("mse",), "'mse'")),
    **dict.fromkeys(("mean_absolute_error", "absolute_error", "l1", "l1_loss"), (("mae",), "'mae'")),
    **dict.fromkeys(("svm", "hinge_loss", "multi_margin"), (("hinge",), "'hinge'")),
}


def _build(raw: Mapping, checker: _Checker, stem: str, source: Path | None, overridden: frozenset = frozenset()
           ) -> Config:
    """Check every key of ``raw`` against ``_RULES`` and make the Config."""
    values: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        path = _join("", key)
        if path not in _TOP_LEVEL:
            checker.unknown(path, key, _TOP_LEVEL)
        elif path in _SECTIONS:
            sections[path] = _check_section(checker, path, value)
        else:
            values[path] = checker.check(path, value)
    if "data" not in raw:
        checker.problem("data", "required section is missing (it needs train and target)")
    elif sections["data"] is not None:
        for f in fields(DataConfig):
            if f.default is MISSING and f.name not in sections["data"]:  # no default: required
                checker.problem(f"data.{f.name}", "required key is missing")
    _cross_check(checker, raw, sections, values)
    checker.raise_if_any()
    made = {name: cls(**sections.get(name) or {}) for name, cls in _SECTIONS.items()}
    values.setdefault("output", _default_output(stem))
    return Config(**made, **values, source=source, overridden=overridden, absolute=frozenset(checker.absolute))


def _check_section(checker: _Checker, section: str, raw: Any) -> dict[str, Any] | None:
    """The checked values of one section (``_INVALID`` for rejected ones), or None when it is not a mapping."""
    if raw is None:  # a section whose keys are all commented out
        return {}
    keys = [p.split(".", 1)[1] for p in _RULES if p.startswith(section + ".")]
    if not isinstance(raw, Mapping):
        checker.problem(section, f"must be a mapping with keys {', '.join(keys)}, got {_show(raw)}")
        return None
    checked = {}
    for key, value in raw.items():
        path = _join(section, key)
        if path in _RULES:
            checked[key] = checker.check(path, value)
        else:
            checker.unknown(path, key, keys)
    return checked


def _cross_check(checker: _Checker, raw: Mapping, sections: dict, values: dict) -> None:
    """Constraints that tie two keys together; each runs only when both keys are valid (not _INVALID)."""
    data, model = sections.get("data") or {}, sections.get("model") or {}
    hidden, activation = model.get("hidden", ModelConfig.hidden), model.get("activation")
    if isinstance(activation, tuple) and isinstance(hidden, tuple) and len(activation) != len(hidden):
        names = f"{len(hidden)} name" + ("" if len(hidden) == 1 else "s")
        checker.problem("model.activation", f"must be one name or a list of {names} (one per layer "
                        f"of model.hidden {list(hidden)}), got {list(activation)}")
    dropout = model.get("dropout")
    if isinstance(dropout, tuple) and isinstance(hidden, tuple) and len(dropout) != len(hidden):
        rates = f"{len(hidden)} rate" + ("" if len(hidden) == 1 else "s")
        checker.problem("model.dropout", f"must be one number or a list of {rates} (one per layer "
                        f"of model.hidden {list(hidden)}), got {_show(list(dropout))}" if hidden else
                        f"must be one number: model.hidden [] has no layer to give a rate, got {_show(list(dropout))}")
    target, loss = data.get("target"), values.get("loss", Config.loss)
    if not isinstance(target, tuple):
        return
    if len(target) > 1 and isinstance(loss, str) and task_of_loss(loss) != "regression":
        checker.problem("loss", f"{loss} needs one target column of class labels; "
                        f"data.target names {len(target)} columns", at="loss" if "loss" in raw else "data.target")
    features = data.get("features")
    shared = [name for name in features if name in target] if isinstance(features, tuple) else []
    if shared:
        checker.problem("data.features", f"must not list a target column, got {shared[0]!r}")
    exclude, categorical = data.get("exclude"), data.get("categorical")
    for name in exclude if isinstance(exclude, tuple) else ():
        if name in target:
            checker.problem("data.exclude", f"must not name the target column, got {name!r}")
        elif isinstance(features, tuple) and name in features:
            checker.problem("data.exclude", f"names {name!r}, which data.features lists")
        elif isinstance(categorical, tuple) and name in categorical:
            checker.problem("data.categorical", f"names {name!r}, which data.exclude leaves out")
    for name in categorical if isinstance(categorical, tuple) else ():
        if name in target:
            checker.problem("data.categorical", f"must not name the target column, got {name!r}")
    weight = data.get("sample_weight")
    if isinstance(weight, str) and (weight in target or (isinstance(features, tuple) and weight in features)):
        checker.problem("data.sample_weight", f"must be a column of its own, not a target or feature, got {weight!r}")
    if not isinstance(loss, str):
        return
    regression = task_of_loss(loss) == "regression"
    if regression and data.get("class_weight") is not None:
        checker.problem("data.class_weight", f"weighs classes, but loss {loss} is a regression loss")
    if not regression and data.get("standardize_target") is True:
        checker.problem("data.standardize_target", f"scales regression targets, but loss {loss} is a "
                        "classification loss")
    floor = (sections.get("schedule") or {}).get("min_learning_rate")
    rate = (sections.get("optimizer") or {}).get("learning_rate", OptimizerConfig.learning_rate)
    if isinstance(floor, float) and isinstance(rate, float) and floor > rate:
        checker.problem("schedule.min_learning_rate", f"must not be above optimizer.learning_rate ({rate:g}), "
                        f"got {floor:g}")
    monitor = (sections.get("early_stopping") or {}).get("monitor")
    if isinstance(monitor, str) and monitor != "auto":
        where, what = monitor.split("_", 1)
        wrong = REGRESSION_FIGURES if not regression else CLASSIFICATION_FIGURES
        if what in wrong:
            kind = "regression" if regression else "classification"
            checker.problem("early_stopping.monitor", f"{monitor} does not fit {kind} with loss {loss}")
        elif where == "val" and data.get("validation", DataConfig.validation) == 0:
            checker.problem("early_stopping.monitor", f"{monitor} needs validation rows, but data.validation is 0")


# --- overrides and public API ----------------------------------------------------

def _parse_override(text: str) -> tuple[list[str], Any]:
    key, sep, value = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise ConfigError(f"--set {text!r}: expected key.path=value")
    return parts, _parse_yaml(value, f"--set {text!r}")


def _apply_override(raw: dict, where: dict[str, int | str], parts: list[str], value: Any) -> None:
    """Set ``raw[a][b]... = value``, making sections as needed; the keys it sets are located at --set."""
    section = raw
    for depth, part in enumerate(parts[:-1]):
        if not isinstance(section.get(part), dict):
            section[part] = {}
            where[".".join(parts[:depth + 1])] = _SET
        section = section[part]
    section[parts[-1]] = value
    path = ".".join(parts)
    for located in [p for p in where if p == path or p.startswith(path + ".")]:
        del where[located]
    where[path] = _SET


def _require_mapping(raw: Any, name: str) -> None:
    if not isinstance(raw, Mapping):
        hint = ""
        if str(name).lower().endswith((".csv", ".tsv", ".txt")) or (isinstance(raw, str) and "," in raw):
            hint = ("; this looks like a data file: give it in a config's data.train (see configs/*.yaml, "
                    "or nnctl config show configs/circles.yaml)")
        raise ConfigError(f"{name}: the top level must be a mapping of sections ({', '.join(_TOP_LEVEL)}), "
                          f"got a {type(raw).__name__}{hint}")


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """Read, override (``key.path=value`` strings, as from ``--set``) and check a YAML config file."""
    name, file = str(path), Path(path)
    settings = [_parse_override(text) for text in overrides]
    raw = _read(file, name)
    if raw is None:
        raise ConfigError(f"{name}: the file is empty; a config needs at least a data section")
    _require_mapping(raw, name)
    where: dict[str, int | str] = {}
    checker = _Checker(name, where, file.absolute().parent)
    _locate(raw, "", where, checker)
    for parts, value in settings:
        _apply_override(raw, where, parts, value)
    overridden = frozenset(".".join(parts) for parts, _ in settings)
    return _build(raw, checker, file.stem, file.resolve(), overridden)


def config_from_dict(raw: Mapping, base_dir: Path | str = ".", source_name: str = "<config>") -> Config:
    """Check a config given as Python data; relative paths resolve against ``base_dir``."""
    _require_mapping(raw, source_name)
    checker = _Checker(source_name, {}, Path(base_dir).absolute())
    return _build(raw, checker, Path(source_name).stem.strip("<>") or "config", None)


def config_to_dict(config: Config, relative_to: Path | None = None, as_written: bool = False) -> dict:
    """Every key of ``config`` as plain YAML-ready data, in the documented order (``source``,
    ``overridden`` and ``absolute`` left out); paths relative to ``relative_to`` (a run directory's
    config.yaml: the run moves with its data), but with ``as_written`` those written as absolute
    paths stay absolute (``config show``: no ../../../tmp/x.csv)."""
    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return os.path.relpath(value, Path(relative_to).resolve()) if relative_to is not None else str(value)
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
        return value

    out = plain(config)
    del out["source"], out["overridden"], out["absolute"]
    for key in config.absolute if as_written else ():
        section, _, name = key.rpartition(".")
        (out[section] if section else out)[name] = str(getattr(getattr(config, section) if section else config, name))
    target, features = config.data.target, config.data.features
    out["data"]["target"] = target[0] if len(target) == 1 else list(target)
    out["data"]["features"] = "all" if features is None else list(features)
    return out


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes lists inline (``hidden: [16, 8]``) and quotes strings like '1e3'."""


_Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def dump_config(config: Config, relative_to: Path | None = None, as_written: bool = False) -> str:
    """YAML text of ``config_to_dict``; ``load_config`` reads it back to an equal Config."""
    return yaml.dump(config_to_dict(config, relative_to, as_written), Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True)
