"""Messy CSV files and broken configs, fed to the CLI: documented behaviour, never a traceback.

Two corpora (issue 5, points 1 and 2), each with a manifest that says, per file, what nnctl
does with it: ``tests/corpus/csv/expected.yaml`` and ``tests/corpus/config/expected.yaml``.
A refused file gives exactly one line on stderr that names the file (and the line, column or
key path where one applies) and exit code 1; an accepted one is checked for what was read.
Every file runs once per module, whatever tests are selected, and ``test_corpus_summary``
counts the files tried, the tracebacks and the code executed (both must be 0).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from nnctl.checkpoint import load_checkpoint
from nnctl.cli import app

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
CSV_DIR, CONFIG_DIR = CORPUS / "csv", CORPUS / "config"
MANIFEST = "expected.yaml"
CSV_CASES: dict = yaml.safe_load((CSV_DIR / MANIFEST).read_text(encoding="utf-8"))
CONFIG_CASES: dict = yaml.safe_load((CONFIG_DIR / MANIFEST).read_text(encoding="utf-8"))
MARKER = "MARKER"  # the file the tag_*.yaml configs would create if a tag ran
REFERENCE = "good.csv"  # the model for predict cases is trained on it; same_as compares with it
runner = CliRunner()


@dataclass
class Outcome:
    """What one CLI run left behind."""

    args: list[str]
    exit_code: int
    stdout: str
    stderr: str
    traceback: str | None  # an exception that escaped the CLI (a bug), formatted
    warnings: list[str]  # RuntimeWarnings (overflow, invalid value ...) raised during the run
    markers: list[Path] = field(default_factory=list)  # MARKER files found afterwards

    def __str__(self) -> str:
        return (f"nnctl {' '.join(self.args)}\nexit {self.exit_code}\n--- stdout\n{self.stdout[-3000:]}"
                f"\n--- stderr\n{self.stderr[-3000:]}\n--- traceback\n{self.traceback}\n--- warnings\n{self.warnings}")


def invoke(args: list[str]) -> Outcome:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = runner.invoke(app, args)
    escaped = result.exception if not isinstance(result.exception, (SystemExit, type(None))) else None
    formatted = "".join(traceback.format_exception(escaped)) if escaped else None
    if formatted is None and "Traceback" in result.output:
        formatted = result.output
    runtime = [f"{w.category.__name__}: {w.message}" for w in caught if issubclass(w.category, RuntimeWarning)]
    return Outcome(args, result.exit_code, result.stdout, result.stderr, formatted, runtime)


class Runs:
    """Runs each corpus file once and keeps its outcome, in whatever order tests ask."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.outcomes: dict[tuple[str, str], Outcome] = {}

    def csv(self, name: str) -> Outcome:
        key = ("csv", name)
        if key not in self.outcomes:
            case = CSV_CASES[name]
            self.outcomes[key] = self._train_csv(name, case) if case["use"] == "train" else self._predict(name)
        return self.outcomes[key]

    def config(self, name: str) -> Outcome:
        key = ("config", name)
        if key not in self.outcomes:
            self.outcomes[key] = self._train_config(name)
        return self.outcomes[key]

    def run_dir(self, name: str) -> Path:
        return self.tmp / "csv" / Path(name).stem

    def _train_csv(self, name: str, case: dict) -> Outcome:
        config = self.tmp / "csv" / f"{Path(name).stem}.yaml"
        config.parent.mkdir(exist_ok=True)
        config.write_text(yaml.safe_dump({
            "data": {"train": str(CSV_DIR / name), "target": "label"},
            "optimizer": {"epochs": 2},
            "output": str(self.run_dir(name)),
        }))
        return invoke(["train", str(config), *_set_options(case.get("set", []))])

    def model(self) -> Path:
        """A run directory trained on good.csv (relu, so that an overflow shows as NaN, not saturation)."""
        run_dir = self.tmp / "model"
        if not run_dir.exists():
            config = self.tmp / "model.yaml"
            config.write_text(yaml.safe_dump({"data": {"train": str(CSV_DIR / REFERENCE), "target": "label"},
                                              "output": str(run_dir)}))
            trained = invoke(["train", str(config), *_set_options(["optimizer.epochs=2", "model.activation=relu"])])
            assert trained.exit_code == 0, trained
        return run_dir

    def _predict(self, name: str) -> Outcome:
        return invoke(["predict", str(self.model()), str(CSV_DIR / name), "--proba"])

    def reference_predictions(self) -> list[list[str]]:
        key = ("reference", REFERENCE)
        if key not in self.outcomes:
            self.outcomes[key] = self._predict(REFERENCE)
        outcome = self.outcomes[key]
        assert outcome.exit_code == 0, outcome
        return list(csv.reader(io.StringIO(outcome.stdout)))

    def _train_config(self, name: str) -> Outcome:
        """``nnctl train`` in a fresh working directory, which also receives the default output."""
        cwd = self.tmp / "config" / Path(name).stem
        cwd.mkdir(parents=True)
        before = os.getcwd()
        os.chdir(cwd)
        try:
            outcome = invoke(["train", str(CONFIG_DIR / name)])
        finally:
            os.chdir(before)
        outcome.markers = [place / MARKER for place in (cwd, CONFIG_DIR, CSV_DIR, ROOT) if (place / MARKER).exists()]
        return outcome


def _set_options(settings: list[str]) -> list[str]:
    return [part for setting in settings for part in ("--set", setting)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    return Runs(tmp_path_factory.mktemp("corpus"))


def _assert_clean(outcome: Outcome) -> None:
    assert outcome.traceback is None, outcome
    assert "Traceback" not in outcome.stdout + outcome.stderr, outcome
    assert outcome.warnings == [], outcome


def _assert_one_error_line(outcome: Outcome, names: str | None, expected: list[str]) -> None:
    assert outcome.exit_code == 1, outcome
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, outcome
    line = lines[0]
    assert line.startswith("error: "), outcome
    if names is not None:
        assert names in line, outcome
    missing = [text for text in expected if text not in line]
    assert not missing, f"not in the error line: {missing}\n{outcome}"


# --------------------------------------------------------------------------- CSV corpus


@pytest.mark.parametrize("name", sorted(CSV_CASES))
def test_csv_file(runs: Runs, name: str) -> None:
    case = CSV_CASES[name]
    outcome = runs.csv(name)
    _assert_clean(outcome)
    assert outcome.exit_code == case["exit"], outcome
    if case["exit"] == 1:
        _assert_one_error_line(outcome, str(CSV_DIR / name), case["stderr"])
        if case["use"] == "predict":
            assert outcome.stdout == "", outcome  # no half-written predictions
        return
    assert "error:" not in outcome.stderr, outcome
    missing = [text for text in case.get("stderr", []) if text not in outcome.stderr]
    assert not missing, f"not on stderr: {missing}\n{outcome}"
    if case["use"] == "train":
        _check_training(runs, name, case, outcome)
    else:
        _check_predictions(runs, case, outcome)


def _check_training(runs: Runs, name: str, case: dict, outcome: Outcome) -> None:
    rows = re.search(r"^rows: (\d+) training, (\d+) validation$", outcome.stdout, re.M)
    assert rows, outcome
    assert int(rows[1]) + int(rows[2]) == case["rows"], outcome
    checkpoint = load_checkpoint(runs.run_dir(name) / "best.npz")
    if "same_as" in case:
        reference = runs.csv(case["same_as"])
        assert reference.exit_code == 0, reference
        same = load_checkpoint(runs.run_dir(case["same_as"]) / "best.npz")
        for mine, theirs in zip(checkpoint.layers, same.layers, strict=True):
            np.testing.assert_array_equal(mine.W, theirs.W)
            np.testing.assert_array_equal(mine.b, theirs.b)
    if "classes" in case:
        assert checkpoint.meta["classes"] == case["classes"]
    if "features" in case:
        assert checkpoint.meta["feature_names"] == case["features"]
    if "n_features" in case:
        assert len(checkpoint.meta["feature_names"]) == case["n_features"]


def _check_predictions(runs: Runs, case: dict, outcome: Outcome) -> None:
    header, *body = list(csv.reader(io.StringIO(outcome.stdout)))
    assert header == ["predicted_label", "probability_0", "probability_1"], outcome
    assert len(body) == case["rows"], outcome
    for row in body:
        assert row[0] in ("0", "1"), row
        probabilities = [float(p) for p in row[1:]]
        assert all(math.isfinite(p) for p in probabilities), row
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-5), row
    if case.get("same_as") == REFERENCE:
        assert body == runs.reference_predictions()[1:][: len(body)], outcome


# --------------------------------------------------------------------------- config corpus


@pytest.mark.parametrize("name", sorted(CONFIG_CASES))
def test_config_file(runs: Runs, name: str) -> None:
    case = CONFIG_CASES[name]
    outcome = runs.config(name)
    _assert_clean(outcome)
    assert outcome.markers == [], f"a config ran code: {outcome.markers}\n{outcome}"
    assert outcome.exit_code == case["exit"], outcome
    if case["exit"] == 0:
        assert (runs.tmp / "config" / Path(name).stem / "runs" / Path(name).stem / "best.npz").is_file(), outcome
        return
    names = str(CONFIG_DIR / name) if case.get("names_config", True) else None
    _assert_one_error_line(outcome, names, case["stderr"])
    if "problems" in case:
        assert f": {case['problems']} problems: " in outcome.stderr, outcome


# --------------------------------------------------------------------------- the figures


def test_corpus_summary(runs: Runs, request, record_property) -> None:
    """Every file has an expectation (and every expectation a file); the counts and the figures."""
    csv_files = sorted(path.name for path in CSV_DIR.iterdir() if path.name != MANIFEST)
    config_files = sorted(path.name for path in CONFIG_DIR.iterdir() if path.name != MANIFEST)
    assert csv_files == sorted(CSV_CASES)
    assert config_files == sorted(CONFIG_CASES)
    assert len(csv_files) >= 40
    assert len(config_files) >= 40

    outcomes = [runs.csv(name) for name in csv_files] + [runs.config(name) for name in config_files]
    figures = {
        "csv_files": len(csv_files),
        "config_files": len(config_files),
        "files_tried": len(outcomes),
        "refused_with_one_line": sum(o.exit_code == 1 for o in outcomes),
        "tracebacks": sum(o.traceback is not None for o in outcomes),
        "code_executed": sum(bool(o.markers) for o in outcomes),
    }
    record_property("corpus", figures)
    if getattr(request.config, "cache", None) is not None:  # .pytest_cache/v/nnctl/corpus, for the README
        request.config.cache.set("nnctl/corpus", figures)
    assert figures["tracebacks"] == 0, [str(o) for o in outcomes if o.traceback]
    assert figures["code_executed"] == 0, [str(o) for o in outcomes if o.markers]
