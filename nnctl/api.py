"""The Python API: build a model from a config, fit it on NumPy arrays, predict, save, load.

    import nnctl
    model = nnctl.Model.from_config("configs/circles.yaml")          # or a dict, or a Config
    model.fit(X, y)                                                   # the same training as `nnctl train`
    model.predict(X_new), model.predict_proba(X_new)
    model.save("model.npz"); nnctl.Model.load("model.npz")

``fit`` runs ``nnctl.run.train``, the code path of the command line, on arrays
instead of CSV files; it writes no files unless ``save_run=True``.  Errors
are ``nnctl.errors.NnctlError`` with the same one-line messages.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from nnctl import run
from nnctl.prep.arrays import prepare_arrays, table_inputs
from nnctl.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from nnctl.config import Config, config_from_dict, load_config
from nnctl.core.losses import LOSSES
from nnctl.core.model import logits
from nnctl.core.training import EpochRecord
from nnctl.errors import NnctlError

ARRAYS = {"train": "<arrays>", "target": "y"}


class UnknownCategoryWarning(UserWarning):
    """Rows hold a category the model never saw in training: their one-hot inputs for it are all zero."""  # the data section when a dict gives none: fit takes arrays


class Model:
    """A network as a config describes it; trained weights after ``fit`` or ``load``."""

    def __init__(self, config: Config):
        self.config = config
        self._checkpoint: Checkpoint | None = None
        self.history_: list[dict[str, Any]] = []  # one row per epoch, as history.csv
        self.summary_: dict[str, Any] = {}

    @classmethod
    def from_config(cls, source: str | Path | Mapping | Config, overrides: Sequence[str] = (),
                    base_dir: str | Path = ".") -> "Model":
        """From a YAML file, a dict with the config's shape (its data section optional), or a Config."""
        if isinstance(source, Config):
            return cls(source)
        if isinstance(source, Mapping):
            raw = {"data": dict(ARRAYS), **source}
            return cls(config_from_dict(raw, base_dir=base_dir))
        return cls(load_config(source, overrides))

    def fit(self, X, y, X_val=None, y_val=None, sample_weight=None, feature_names: Sequence[str] | None = None,
            on_epoch: Callable[[EpochRecord], None] | None = None, save_run: bool = False) -> "Model":
        """Train on ``X: (n_samples, n_features)`` and ``y`` (class labels or target values).

        ``X`` may also be named columns (a dict of columns, a pandas DataFrame): then text
        columns are one-hot encoded and missing values (None, NaN) imputed, as for a CSV file.

        Without ``X_val``, the config's validation fraction is held out.  The
        model ends with the weights of its best epoch.
        """
        split_rng = run.generators(self.config)[0]
        data = prepare_arrays(self.config, X, y, split_rng, X_val, y_val, sample_weight, feature_names)
        result = run.train(self.config, on_epoch=on_epoch, data=data, write_files=save_run)
        meta = {**run.checkpoint_meta(self.config, data), "epoch": result.best_row.get("epoch", 0),
                "metrics": {k: v for k, v in result.best_row.items() if k.startswith(("train_", "val_"))}}
        self._checkpoint = Checkpoint(result.layers, data.scaler, meta, preprocessor=data.preprocessor)
        self.history_, self.summary_ = result.rows, result.summary
        return self

    @property
    def classes_(self) -> list | None:
        return self._trained().meta.get("classes")

    def decision_function(self, X) -> np.ndarray:
        """The logits Z_L: (n_samples, n_outputs) (for regression, in units of the trained targets).

        ``X``: named columns (a dict of columns, a pandas DataFrame: text, numbers, None or NaN
        for missing values), or, for a model of numeric columns only, a matrix of them in the
        order of ``feature_columns_``.  The stored fill values and categories are applied."""
        ckpt = self._trained()
        inputs, notes = table_inputs(ckpt.preprocessor, X)
        for note in notes:  # as `nnctl predict` prints them
            warnings.warn(note, UnknownCategoryWarning, stacklevel=3)
        return logits(ckpt.layers, ckpt.scaler.transform(inputs).astype(ckpt.layers[0].W.dtype))

    @property
    def feature_columns_(self) -> tuple[str, ...]:
        """The columns the model reads: numeric ones, then categorical ones."""
        return self._trained().preprocessor.raw_names

    def predict(self, X) -> np.ndarray:
        """Class labels as they were in ``y`` (classification) or values in the target's units (regression)."""
        Z = self.decision_function(X)
        ckpt = self._trained()
        meta = ckpt.meta
        if meta["task"] == "regression":
            values = ckpt.preprocessor.outputs(Z)
            return values[:, 0] if values.shape[1] == 1 else values
        classes = np.array(meta["classes"], dtype=object)
        return classes[LOSSES[meta["loss"]].decide(Z)]

    def predict_proba(self, X) -> np.ndarray:
        """(n_samples, n_classes) probabilities, for the cross-entropy losses."""
        loss = LOSSES[self._trained().meta["loss"]]
        if loss.probabilities is None:
            raise NnctlError(f"loss {loss.name} gives scores, not probabilities")
        return loss.probabilities(self.decision_function(X))

    def save(self, path: str | Path) -> None:
        """A checkpoint that ``Model.load`` and ``nnctl predict`` read."""
        ckpt = self._trained()
        save_checkpoint(path, ckpt.layers, ckpt.scaler, ckpt.meta)

    @classmethod
    def load(cls, path: str | Path) -> "Model":
        ckpt = load_checkpoint(path)
        config = config_from_dict(ckpt.meta["config"]) if ckpt.meta.get("config") else None
        model = cls(config)
        model._checkpoint = ckpt
        return model

    @property
    def layers(self):
        return self._trained().layers

    def _trained(self) -> Checkpoint:
        if self._checkpoint is None:
            raise NnctlError("the model is not trained yet: call fit, or Model.load a checkpoint")
        return self._checkpoint
