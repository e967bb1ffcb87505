"""Runs on disk: which directories are runs, and what each one's summary says (``nnctl runs``).

A run directory is one that ``nnctl train`` (or a sweep) wrote: it holds summary.json, or, while
the run is going or when it was stopped before its end, history.csv (written with each checkpoint).
``select_runs`` turns what a user names into run directories, the same way for
``nnctl runs`` and ``nnctl plot``: a run directory is itself; any other directory
stands for every run directory below it.  No printing: ``views.runs.runs_table`` draws.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from nnctl.core.training import LOWER_IS_BETTER
from nnctl.errors import NnctlError
from nnctl.files import display_path
from nnctl.inspection import dropout_rates

SUMMARY, CONFIG, HISTORY = "summary.json", "config.yaml", "history.csv"
UNFINISHED = "not finished: still running, or stopped before its end (nnctl train CONFIG --resume RUN_DIR goes on)"
MAX_RUNS = 10_000  # directories read at most: a typo like `nnctl runs /` must not walk the whole disk


@dataclass(frozen=True)
class RunRecord:
    """One run directory, as its summary.json and config.yaml describe it."""

    path: Path
    name: str  # the directory, relative to where the search started
    when: str  # when summary.json was written, local time, to the second
    network: str  # layer sizes, e.g. '2-8-2', and the dropout rates when there are any: '2-128-128-2 dropout 0.5'
    loss: str
    stop_reason: str
    best_epoch: int | None
    epochs_run: int | None
    converged: bool | None
    figures: dict[str, float] = field(default_factory=dict)  # the best epoch's train_/val_ figures, and test_
    problem: str = ""  # why the files could not be read, when they could not


def select_runs(paths: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """``(run directory, name)`` for each run a path names: a run directory is itself; any other
    directory stands for every run directory below it (sorted, the name relative to it)."""
    found: list[tuple[Path, str]] = []
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            what = "no such directory" if not path.exists() else "not a directory"
            raise NnctlError(f"{path}: {what}; give a run directory or a directory of runs")
        if _is_run(path):
            found.append((path, path.resolve().name or str(path)))
            continue
        below = _runs_below(path)
        if not below:
            raise NnctlError(f"{path}: no run directories in it (none holds {SUMMARY} or {HISTORY}, which nnctl train "
                             "writes)")
        found += [(run, run.relative_to(path).as_posix()) for run in below]
    unique, seen = [], set()
    for run, name in found:  # a run named twice is listed once
        if run.resolve() not in seen:
            seen.add(run.resolve())
            unique.append((run, name))
    names = [name for _, name in unique]
    return [(run, name if names.count(name) == 1 else display_path(run)) for run, name in unique]


def _runs_below(top: Path) -> list[Path]:
    runs, seen = [], 0
    for directory, subdirectories, files in os.walk(top):  # symbolic links are not followed
        seen += 1
        if seen > MAX_RUNS:
            raise NnctlError(f"{top}: more than {MAX_RUNS} directories below it; name a smaller one")
        subdirectories.sort()
        if SUMMARY in files or HISTORY in files:
            runs.append(Path(directory))
    return sorted(runs)


def _is_run(path: Path) -> bool:
    return (path / SUMMARY).is_file() or (path / HISTORY).is_file()


def read_run(path: Path, name: str) -> RunRecord:
    """What a run directory's summary.json and config.yaml say (a damaged one says why)."""
    summary_path = path / SUMMARY
    when = ""
    if not summary_path.exists() and (path / HISTORY).is_file():
        return _unfinished(path, name)
    try:
        when = datetime.datetime.fromtimestamp(summary_path.stat().st_mtime).isoformat(sep=" ", timespec="seconds")
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        if not isinstance(summary, dict):
            raise ValueError("not a JSON object")
        config = _config(path / CONFIG)
        figures = {key: float(value) for part in ("best", "test") for key, value in _mapping(summary, part).items()
                   if isinstance(value, (int, float)) and not isinstance(value, bool)}
        sizes = summary.get("layer_sizes")
        network = "-".join(map(str, sizes)) if isinstance(sizes, list) else ""
        rates = dropout_rates(config, len(sizes) - 2) if isinstance(sizes, list) and len(sizes) > 2 else []
        if any(rates):
            network += f" dropout {','.join(f'{p:g}' for p in _rates_shown(rates))}"
        converged = summary.get("converged")
        return RunRecord(path, name, when, network, str(config.get("loss", "")), str(summary.get("stop_reason", "")),
                         _int(summary.get("best_epoch")), _int(summary.get("epochs_run")),
                         converged if isinstance(converged, bool) else None, figures)
    except (OSError, ValueError, UnicodeDecodeError, yaml.YAMLError) as error:
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        return RunRecord(path, name, when, "", "", "", None, None, None, problem=f"unreadable: {reason}")


def _unfinished(path: Path, name: str) -> RunRecord:
    """A run without summary.json: what its history and config say so far."""
    try:
        stat = (path / HISTORY).stat()
        when = datetime.datetime.fromtimestamp(stat.st_mtime).isoformat(sep=" ", timespec="seconds")
        with open(path / HISTORY, encoding="utf-8") as stream:
            if not stream.readline().startswith("epoch,"):
                raise ValueError("history.csv does not start with nnctl's header (epoch, ...)")
            epochs = sum(1 for line in stream if line.strip())
        config = _config(path / CONFIG)
    except (OSError, ValueError, UnicodeDecodeError, yaml.YAMLError) as error:
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        return RunRecord(path, name, "", "", "", "", None, None, None, problem=f"unreadable: {reason}")
    best_epoch, network, figures = _kept_so_far(path / "best.npz", config)
    return RunRecord(path, name, when, network, str(config.get("loss", "")), UNFINISHED, best_epoch, epochs, None,
                     figures)


def _kept_so_far(path: Path, config: dict) -> tuple[int | None, str, dict[str, float]]:
    """The best epoch, the network and the best epoch's figures of a run still going (or killed),
    from the best checkpoint it has written; nothing when it has written none that reads."""
    from nnctl.checkpoint import read_metadata  # numpy and the schema: only for runs without a summary

    if not path.is_file():
        return None, "", {}
    try:
        meta = read_metadata(path)  # the metadata alone: the weights of a large run stay on disk
    except NnctlError:
        return None, "", {}
    sizes = meta["layer_sizes"]
    rates = dropout_rates(config, len(sizes) - 2)
    network = "-".join(map(str, sizes)) + (f" dropout {','.join(f'{p:g}' for p in _rates_shown(rates))}"
                                           if any(rates) else "")
    figures = {key: float(value) for key, value in (meta.get("metrics") or {}).items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)}
    return meta.get("epoch"), network, figures


def _rates_shown(rates: list[float]) -> list[float]:
    """One rate when the layers share it, else one per layer."""
    return rates[:1] if len(set(rates)) == 1 else rates


def _mapping(summary: dict, key: str) -> dict:
    value = summary.get(key)
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"{key} is not a JSON object")
    return value or {}


def _config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    return config if isinstance(config, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


COLUMNS = ("name", "when", "network", "loss", "best_epoch", "epochs_run", "stop_reason")


def list_runs(paths: Sequence[str | Path], sort: str | None = None) -> list[RunRecord]:
    """The runs the paths name, sorted by ``sort`` (a column or a figure such as val_accuracy: best
    first; default: when, oldest first); runs without that figure come last."""
    records = [read_run(path, name) for path, name in select_runs(paths)]
    if sort is None:
        return sorted(records, key=lambda r: (r.when, r.name))
    known = set(COLUMNS) | {key for r in records for key in r.figures}
    if sort not in known:
        raise NnctlError(f"--sort {sort}: not a column or figure of these runs; choose from {', '.join(sorted(known))}")
    if sort in ("best_epoch", "epochs_run"):  # ascending, runs without one last
        return sorted(records, key=lambda r: (getattr(r, sort) is None, getattr(r, sort) or 0))
    if sort in COLUMNS:
        return sorted(records, key=lambda r: str(getattr(r, sort)))
    lower = LOWER_IS_BETTER.get(sort.split("_", 1)[1], True)
    missing = [r for r in records if not math.isfinite(r.figures.get(sort, math.nan))]
    present = sorted((r for r in records if r not in missing), key=lambda r: r.figures[sort], reverse=not lower)
    return present + missing


def record_to_dict(record: RunRecord) -> dict[str, Any]:
    """A run as plain JSON-ready data (for ``nnctl runs --json``)."""
    return {"path": display_path(record.path), "name": record.name, "when": record.when, "network": record.network,
            "loss": record.loss, "stop_reason": record.stop_reason, "best_epoch": record.best_epoch,
            "epochs_run": record.epochs_run, "converged": record.converged, "figures": record.figures,
            "problem": record.problem or None}
