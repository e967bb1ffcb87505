"""The command line: each command loads, calls, renders.

Only this module imports Typer.  ``NnctlError`` becomes one red line on
stderr and exit code 1 in one place (``NnctlGroup.invoke``); usage errors
exit with 2 (Click's rule); anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import errno
import io
import os
from contextlib import contextmanager
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from nnctl import __version__
from nnctl.errors import ConfigError, NnctlError
from nnctl.files import json_text

try:  # Typer from 0.2x carries its own copy of Click; older ones use Click itself
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - depends on the Typer installed
    from click.exceptions import UsageError

if TYPE_CHECKING:  # annotations only
    from nnctl.sweep import SweepResult


TOY_KINDS = ("linear", "xor", "circles", "moons", "spirals", "gaussians", "regression", "mixed")  # toydata's
SAVE_SECONDS = 2.0  # run.SAVE_SECONDS, here so that the help text needs no import
FILE_WIDTH = 1000  # the width of output to a file or a pipe: tables are as wide as their cells, never cut


class NnctlGroup(TyperGroup):
    """Turns user errors from any command into one line on stderr and exit code 1; with --json,
    also into a JSON object on stdout, ``{"error": "..."}``, where the document would have been.
    Usage errors (an unknown option, a value out of range) are one line too, with exit code 2."""

    def invoke(self, ctx):
        as_json = "--json" in [*getattr(ctx, "_protected_args", getattr(ctx, "protected_args", [])), *ctx.args]
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # here, so that a full device is met inside the try, not at exit
            return result
        except OSError as error:
            if error.errno not in OUTPUT_ERRNOS:
                raise  # not a failed write of the output: a bug, shown whole
            _silence_stdout()
            if error.errno == errno.EPIPE:  # the reader stopped (`| head`): as other tools, say nothing
                raise typer.Exit(1) from None
            err_console().print(f"error: cannot write the output ({error.strerror or error})", style="bold red",
                                markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except NnctlError as error:
            from nnctl.views.text import error_text

            # One line, always: a cell quoted from a file may hold line breaks or escape sequences;
            # error_text shows them escaped.
            err_console().print(error_text(str(error)), soft_wrap=True)
            if as_json:
                print_json({"error": str(error)})
            raise typer.Exit(1) from None
        except UsageError as error:
            _usage_error(error, as_json)

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except UsageError as error:  # before any command: `nnctl --bogus`, `nnctl` alone is help, not this
            _usage_error(error, "--json" in args)


def _usage_error(error: UsageError, as_json: bool) -> None:
    """A usage error as one line on stderr, pointing at the help, with Click's exit code 2 (and,
    with --json, a JSON object on stdout too)."""
    from nnctl.views.text import error_text

    where = error.ctx.command_path if error.ctx is not None else "nnctl"
    message = error.format_message().rstrip(".")
    err_console().print(error_text(f"{message} (see {where} --help)"), soft_wrap=True)
    if as_json:
        print_json({"error": error.format_message(), "usage": True})
    raise typer.Exit(2)


OUTPUT_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EPIPE, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _silence_stdout() -> None:
    """After a failed write to stdout, send what is still buffered nowhere: Python would try to
    flush it at exit and print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):  # stdout is not a file (tests in-process)
        pass


class NnctlCommand(TyperCommand):
    """Usage and help in the words a user types: ``nnctl train [OPTIONS] CONFIG``, ``RUN_DIR...``,
    ``--every INTEGER >= 1``, ``--png PATH`` (Typer's own: ``{config}``, ``<int range>``, ``<path>``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.metavar is not None:
                continue
            if param.param_type_name == "argument":
                param.metavar = (param.name or "").upper()
            elif not getattr(param, "is_flag", False):
                param.metavar = _option_metavar(param.type)

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = param.metavar or (param.name or "").upper()
                name += "..." if param.nargs != 1 else ""
                pieces.append(name if param.required else f"[{name}]")
        return pieces


def _option_metavar(kind) -> str:
    """What an option's value is, as a user would write it: INTEGER >= 1, NUMBER 0..86400, PATH, TEXT."""
    kind_name = getattr(kind, "name", "")  # Click says "integer range", Typer's own copy of it "int range"
    name = {"integer range": "INTEGER", "int range": "INTEGER", "float range": "NUMBER"}.get(kind_name)
    if name is not None:
        low, high = (None if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in (kind.min, kind.max))
        if low is not None and high is not None:
            return f"{name} {low}..{high}"
        return f"{name} >= {low}" if low is not None else f"{name} <= {high}"
    return {"path": "PATH", "integer": "INTEGER", "int": "INTEGER", "float": "NUMBER"}.get(kind_name, "TEXT")


def _a_number(value: float) -> float:
    """A float option's value, refused when it is nan (which passes any range: nan < x is false)."""
    if value != value:
        raise typer.BadParameter("nan is not a number here")
    return value


app = typer.Typer(
    cls=NnctlGroup, no_args_is_help=True, add_completion=True, pretty_exceptions_show_locals=False,
    rich_markup_mode=None,  # plain Click help and usage errors: flags shown as flags, errors in three short lines
    help="Train multi-layer perceptrons written in NumPy from YAML config files.",
)
config_app = typer.Typer(no_args_is_help=True, help="Look at configs.")
data_app = typer.Typer(no_args_is_help=True, help="Make toy data sets; describe a CSV file's columns.")
app.add_typer(config_app, name="config")
app.add_typer(data_app, name="data")


JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout, without progress or tables.")


def quiet_console() -> Console:
    """A console that shows nothing: with --json, stdout holds the JSON document alone."""
    return Console(file=io.StringIO())


def print_json(document) -> None:
    typer.echo(json_text(document))


def out_console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:  # logs and pipes: no terminal width to respect; no table is wrapped or cut
        console.width = max(console.width, FILE_WIDTH)
    return console


def err_console() -> Console:
    return Console(stderr=True, highlight=False)


MAX_TOY_ROWS = 1_000_000  # toy sets are for learning; a larger one would only fill memory

SET_OPTION = typer.Option(
    None, "--set", "-s", metavar="KEY.PATH=VALUE", help="Override a config key, e.g. --set model.hidden=[16,16]. Repeatable."
)


class CtrlC:
    """While training: the first Ctrl-C asks to stop after the current step (a checkpoint is
    written and the run can be resumed); a second one stops at once.  Files are written
    atomically, so even then none is left damaged."""

    def __init__(self) -> None:
        self.requested = False

    def __enter__(self) -> "CtrlC":
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self.previous)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        # A plain write, not Rich: the live display may be drawing when the signal lands.
        note = "\nnote: stopping after this step to write a checkpoint; press Ctrl-C again to quit at once\n"
        try:
            os.write(sys.stderr.fileno(), note.encode())
        except (OSError, ValueError, io.UnsupportedOperation):  # stderr is not a file (tests in-process)
            sys.stderr.write(note)

    def __call__(self) -> bool:
        return self.requested


@app.command(cls=NnctlCommand)
def train(
    config: Path = typer.Argument(..., help="The YAML config file."),
    set_: Optional[List[str]] = SET_OPTION,
    every: Optional[int] = typer.Option(None, min=1, help="Show every Nth epoch in the table (default: about 20 rows)."),
    resume: Optional[Path] = typer.Option(None, "--resume", metavar="RUN_DIR",
                                          help="Go on from the last checkpoint of this run directory."),
    force: bool = typer.Option(False, "--force", help="With --resume: go on even if the data or model section changed."),
    health: bool = typer.Option(False, "--health", help="Show gradient and weight norms, saturated or dead units "
                                "and weight sparsity per layer (always in history.csv)."),
    save_seconds: float = typer.Option(SAVE_SECONDS, "--save-seconds", min=0.0, max=86400.0, callback=_a_number,
                                       help="Write the checkpoints at most this often during training "
                                       "(0: after every epoch); always at the end."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run in the output directory (by default "
                                   "a new run goes to the next free name, output-2, -3, ...)."),
    no_baselines: bool = typer.Option(False, "--no-baselines", help="Do not score the majority-class (mean) guess "
                                      "and the linear model beside the network (also: training.baselines: false)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Train the network a config describes and write checkpoints to its run directory."""
    from nnctl import config as configs, resume as resumes, run
    from nnctl.core import training
    from nnctl.files import display_path
    from nnctl.views.text import note_text, shown
    from nnctl.views.train import TrainingDisplay, architecture, summary

    cfg = configs.load_config(config, set_ or ())
    start, moved = None, None
    if resume is not None:
        start = resumes.load_resumable(resume, cfg, force)
        cfg = replace(cfg, output=(resume if resume.is_dir() else resume.parent).resolve())
    else:
        cfg, moved = run.claim_output(cfg, overwrite)
    console = quiet_console() if as_json else out_console()
    task = configs.task_of_loss(cfg.loss)
    standardized = task == "regression" and cfg.data.scales_target
    display = TrainingDisplay(console, cfg.optimizer.epochs, task, cfg.data.validation != 0, every, health,
                              standardized, run.uses_batch_figures(cfg))
    inputs = None
    notes = run.config_notes(cfg)

    def on_start(layers, data):
        nonlocal inputs
        inputs = None if data.preprocessor.is_identity else data.preprocessor.summary()
        n_val = 0 if data.X_val is None else len(data.X_val)
        lines = [f"network: {architecture(layers, cfg.model.hidden_activations, inputs, cfg.model.hidden_dropout)}",
                 f"rows: {len(data.X_train)} training, {n_val} validation"
                 + (f", {len(data.X_test)} test (scored once, at the end)" if data.X_test is not None else "")]
        lines = ([f"note: {moved}"] if moved else []) + lines + [f"note: {note}" for note in data.notes + notes]
        if start is not None:
            state = start.meta[resumes.STATE_KEY]
            lines.append(f"resuming {display_path(cfg.output)} after epoch {state['epoch']}"
                         + (f", step {state['step']}" if state["step"] else ""))
        for line in lines:  # column names and notes come from the data: escaped (views.text.shown)
            console.print(shown(line), markup=False, soft_wrap=True)

    with CtrlC() as ctrl_c, display:
        result = run.train(cfg, on_epoch=display.on_epoch, on_start=on_start, should_stop=ctrl_c, resume_from=start,
                           save_seconds=save_seconds)
    console.print(summary(
        architecture(result.layers, cfg.model.hidden_activations, inputs, cfg.model.hidden_dropout),
        {**{k: v for k, v in result.best_row.items() if k.startswith(("train_", "val_"))},
         **(result.summary.get("test") or {})},
        result.best_row.get("epoch", 0), training.monitor_name(run.settings_of(cfg), result.data.X_val is not None),
        result.files, standardized,
    ))
    console.print(f"stopped: {result.history.stop_reason}", markup=False, soft_wrap=True)
    if result.convergence_note:
        console.print(note_text(result.convergence_note), soft_wrap=True)
    if cfg.training.baselines and not no_baselines and not result.history.interrupted and result.best_row:
        from nnctl.baselines import baselines
        from nnctl.files import write_json
        from nnctl.views.text import baselines_lines

        on = "val" if result.data.X_val is not None else "train"
        metric = "accuracy" if task == "classification" else "r2"
        test = (result.summary.get("test") or {}).get(f"test_{metric}")
        found = baselines(cfg, result.data, float(result.best_row[f"{on}_{metric}"]), test)
        for line in [line for each in found for line in baselines_lines(each)]:
            console.print(line, markup=False, soft_wrap=True)
        result.summary["baselines"] = {**found[0].to_dict(), **({"test": found[1].to_dict()} if found[1:] else {})}
        if "summary" in result.files:
            write_json(result.files["summary"], result.summary)
    if as_json:
        print_json({**result.summary, "interrupted": result.history.interrupted, "run_dir": str(cfg.output),
                    "files": {name: str(path) for name, path in result.files.items()},
                    "inputs": result.data.preprocessor.summary(), "notes": [moved] * bool(moved) + list(result.data.notes) + notes})
    if result.history.interrupted:
        again = f"nnctl train {config}" + "".join(f" --set {s}" for s in set_ or ()) + f" --resume {display_path(cfg.output)}"
        err_console().print(f"to go on: {again}", markup=False, soft_wrap=True)
        raise typer.Exit(130)


@app.command(cls=NnctlCommand)
def predict(
    checkpoint: Path = typer.Argument(..., help="A checkpoint file, or a run directory (its best checkpoint)."),
    data: Path = typer.Argument(..., help="CSV file with the feature columns (any order, extra columns ignored)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write predictions here instead of stdout."),
    proba: bool = typer.Option(False, "--proba", help="Add one probability column per class."),
    keep: Optional[List[str]] = typer.Option(None, "--keep", metavar="COLUMN",
                                             help="Copy this input column (an ID, say) into the predictions, "
                                             "in front. Repeatable."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Predict one value or class per row of DATA with a trained checkpoint."""
    from nnctl import data as datafiles, predict as predictions
    from nnctl.checkpoint import checkpoint_path
    from nnctl.run import check_output_file
    from nnctl.views.text import confusion_table, metrics_table, note_text, shown

    if output is not None:
        check_output_file(output, [data, checkpoint_path(checkpoint)])
    result = predictions.predict_file(checkpoint, data, proba, keep or ())
    if as_json:
        if output:
            datafiles.write_csv(output, result.columns, result.rows)
        print_json(predictions.predictions_document(result, str(output) if output else None))
        return
    # With predictions on stdout, everything else goes to stderr so the CSV stays clean.
    info = out_console() if output else err_console()
    if result.ignored_columns:
        info.print(note_text(f"ignored columns not used by the model: {', '.join(result.ignored_columns)}"),
                   soft_wrap=True)
    for note in [result.note, *result.notes] if result.note else result.notes:
        info.print(note_text(note), soft_wrap=True)
    if output:
        datafiles.write_csv(output, result.columns, result.rows)
        count = len(result.rows)
        info.print(f"wrote {count} prediction{'s' if count != 1 else ''} to {output}", markup=False)
    elif sys.stdout.isatty():  # for a person: a label or an ID from the file cannot drive the terminal
        datafiles.write_csv_to(sys.stdout, [shown(c) for c in result.columns],
                               [[shown(cell) if isinstance(cell, str) else cell for cell in row] for row in result.rows])
    else:
        datafiles.write_csv_to(sys.stdout, result.columns, result.rows)
    if result.metrics is not None:
        info.print(metrics_table(result.metrics))
        if result.confusion is not None:
            info.print(confusion_table(result.confusion, result.classes))


SEEDS_OPTION = typer.Option(1, min=1, max=1000, help="Train each candidate this many times, with seeds spawned from "
                            "the config's.")
FOLDS_OPTION = typer.Option(None, "--folds", min=2, max=100, help="K-fold cross-validation on the training file "
                            "(stratified for classes): seeds x K runs per candidate; data.validation is not used.")
JOBS_OPTION = typer.Option(None, min=1, help="Parallel processes (default: the number of cores).")
CLUSTER_OPTION = typer.Option(
    None, "--cluster", metavar="tcp://HOST:PORT",
    help="Run the sweep on the workers of this Dask scheduler instead of local processes "
    "(needs the dask extra: pip install '.[dask]' in a checkout of nnctl).")
SWEEP_OVERWRITE = typer.Option(False, "--overwrite", help="Replace the sweep in the output directory, its runs "
                               "too (by default a new sweep goes to the next free name, DIR-2, -3, ...).")


@app.command("sweep", cls=NnctlCommand)
def sweep_command(
    config: Path = typer.Argument(..., help="The YAML config file."),
    grid: Optional[List[str]] = typer.Option(None, "--grid", metavar="KEY=V1,V2,...",
                                             help="Values of any config key (YAML, e.g. model.hidden=[8],[16,16]); "
                                             "the candidates are every combination. Repeatable. With --random: "
                                             "ranges, KEY=log:1e-4..1e-1, KEY=int:4..64, KEY=0.1..0.9."),
    random: Optional[int] = typer.Option(None, "--random", min=1, max=1000, metavar="N",
                                         help="Draw N candidates from the --grid values and ranges instead."),
    seeds: int = SEEDS_OPTION,
    folds: Optional[int] = FOLDS_OPTION,
    jobs: Optional[int] = JOBS_OPTION,
    cluster: Optional[str] = CLUSTER_OPTION,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The sweep directory (default: the run "
                                          "directory + '-sweep')."),
    set_: Optional[List[str]] = SET_OPTION,
    overwrite: bool = SWEEP_OVERWRITE,
    as_json: bool = JSON_OPTION,
) -> None:
    """Search any config keys: every --grid combination (or --random draws), with seeds and folds, compared."""
    from nnctl import config as configs, sweep

    cfg = configs.load_config(config, set_ or ())
    candidates = sweep.grid_candidates(config, set_ or (), grid or (), random, cfg.seed)
    notes = []
    if random and len(candidates) < random:
        notes.append(f"--random {random}: these values and ranges hold only {len(candidates)} distinct candidates; "
                     "all of them are tried")
    _run_sweep(cfg, candidates, "grid", seeds, folds, jobs, cluster, output, overwrite, as_json, notes)


@app.command("sweep-hidden", cls=NnctlCommand)
def sweep_hidden(
    config: Path = typer.Argument(..., help="The YAML config file."),
    sizes: Optional[str] = typer.Option(
        None, help="Candidates: 0 = perceptron, 8 = one layer of 8, 16x16 = two layers. "
        "Default: 0,1,2,3,4,8,16,32."),
    seeds: int = SEEDS_OPTION,
    folds: Optional[int] = FOLDS_OPTION,
    jobs: Optional[int] = JOBS_OPTION,
    cluster: Optional[str] = CLUSTER_OPTION,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The sweep directory (default: the run directory + '-sweep')."),
    show_boundary: bool = typer.Option(False, "--boundary", help="Draw each candidate's decision regions side by side (2-feature classifiers)."),
    png: Optional[Path] = typer.Option(None, "--png", help="Write the decision regions as a PNG image (needs the 'plot' extra)."),
    set_: Optional[List[str]] = SET_OPTION,
    overwrite: bool = SWEEP_OVERWRITE,
    as_json: bool = JSON_OPTION,
) -> None:
    """Train the config at several hidden-layer sizes and compare them side by side."""
    from nnctl import config as configs, plot, sweep

    cfg = configs.load_config(config, set_ or ())
    if png:  # before the sweep, not after it
        plot.check_image(png)
    sizes_list = sweep.parse_sizes(sizes) if sizes is not None else list(sweep.DEFAULT_SIZES)
    candidates = sweep.hidden_candidates(cfg, sizes_list)
    console, result = _run_sweep(cfg, candidates, "hidden", seeds, folds, jobs, cluster, output, overwrite, as_json)
    if show_boundary or png:
        _sweep_boundaries(console, result, show_boundary, png)


def _run_sweep(cfg, candidates, kind: str, seeds: int, folds: Optional[int], jobs: Optional[int],
               cluster: Optional[str], output: Optional[Path], overwrite: bool, as_json: bool, notes=()):
    """What sweep and sweep-hidden share: the directory, the executor, the display, the results."""
    from nnctl import config as configs, files, run, rundir, sweep
    from nnctl.files import display_path
    from nnctl.views.sweep import SweepDisplay, candidate_name, sweep_table, sweep_verdict
    from nnctl.views.text import note_text

    directory = output or Path(f"{cfg.output}-sweep")
    if cluster is not None and jobs is not None:
        raise ConfigError("--jobs and --cluster: give one; on a cluster, the workers set how many runs go at once")
    console = quiet_console() if as_json else out_console()
    if not console.is_terminal:  # a log or a pipe: the table's rows whole, however long the candidates' names
        console.width = max(console.width, 200)
    unused = [(c.label, run.unused_dropout(c.config)) for c in candidates]
    notes = [*notes, *(f"{candidate_name(kind)} {label}: {note}" for label, note in unused if note)]
    if not overwrite:
        free = files.free_directory(directory, lambda d: sweep.holds_sweep(d) or rundir.is_held(d))  # or one going
        if free != Path(directory).resolve():  # (a relative -o is the same directory)
            notes.append(f"{display_path(directory)} holds an earlier sweep (or a run, or a sweep going on), kept; "
                         f"this one goes to {display_path(free)} (--overwrite replaces an earlier sweep instead)")
            directory = free
    if folds:
        trains = sorted({str(display_path(c.config.data.train)) for c in candidates})
        on = trains[0] if len(trains) == 1 else "each candidate's training file"
        notes.append(f"{folds}-fold cross-validation on {on}: data.validation is not used; each run holds out one "
                     "fold, and the chosen candidate is trained again on every row (best-run)")
    for note in notes:
        console.print(note_text(note), soft_wrap=True)
    total = len(candidates) * seeds * (folds or 1)
    with _sweep_executor(cluster) as executor, \
            SweepDisplay(console, total, configs.task_of_loss(cfg.loss), kind) as display:
        result = sweep.search(cfg, candidates, seeds, jobs or os.cpu_count() or 1, directory, display.on_run,
                              executor=executor, folds=folds, kind=kind, fresh=not overwrite)
    console.print(sweep_table(result))
    console.print(sweep_verdict(result), markup=False, soft_wrap=True)
    if result.perceptron_note:
        console.print(note_text(result.perceptron_note), soft_wrap=True)
    chosen = sweep.chosen_test(result)
    if chosen is not None:
        figures = ", ".join(f"{key.removeprefix('test_')} {value:.4f}" for key, value in chosen.items()
                            if key.startswith("test_"))
        which = " trained again on every training row" if chosen.get("refit") else ""
        console.print(f"test (data.test, never used for choosing), {candidate_name(result.kind)} "
                      f"{chosen['candidate']} seed={chosen['seed']}{which}: {figures}", markup=False, soft_wrap=True)
    for name, path in result.files.items():
        console.print(f"{name}: {display_path(path)}", markup=False, soft_wrap=True)
    if as_json:
        print_json({**sweep.results_document(result), "files": {k: str(v) for k, v in result.files.items()},
                    "notes": list(notes)})
    return console, result


@contextmanager
def _sweep_executor(address: Optional[str]):
    """The Dask cluster at ``address`` as an executor; None (local processes) without one."""
    from nnctl import cluster as clusters

    if address is None:
        yield None
        return
    with clusters.connect(address) as executor:
        yield executor


def _sweep_boundaries(console: Console, result: SweepResult, show: bool, png: Optional[Path]) -> None:
    """One small decision-region panel per candidate (its best seed), side by side."""
    from nnctl import plot, sweep
    from nnctl.views.boundary import boundary_legend, boundary_panel
    from nnctl.views.text import note_text

    from rich.columns import Columns

    names = [c.candidate for c in result.candidates if c.runs]
    try:
        small = sweep.sweep_grids(result.runs, names, result.task, 30, 12)
    except NnctlError as error:
        console.print(note_text(f"{error}; no picture drawn"), soft_wrap=True)
        return
    if show:
        console.print(Columns([boundary_panel(grid, f"hidden {name}") for name, grid in small]))
        console.print(boundary_legend(small[0][1]), markup=False)
    if png:
        fine = sweep.sweep_grids(result.runs, names, result.task, 200, 200)
        scores = {c.candidate: c.val_metric[0] for c in result.candidates}
        plot.boundary_png(png, [(f"hidden {name}: val accuracy {scores[name]:.3f}", grid) for name, grid in fine])
        console.print(f"wrote {png}", markup=False)


@app.command(cls=NnctlCommand)
def boundary(
    checkpoint: Path = typer.Argument(..., help="A checkpoint file, or a run directory (its best checkpoint)."),
    data: Optional[Path] = typer.Argument(None, help="Points to draw (default: the training file, if it is still there)."),
    width: int = typer.Option(64, min=8, max=400, help="Grid columns."),
    height: int = typer.Option(24, min=4, max=200, help="Grid rows."),
    png: Optional[Path] = typer.Option(None, "--png", help="Also write the picture as a PNG image (needs the 'plot' extra)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Draw a 2-feature classifier's predicted class regions, with the data on top."""
    from nnctl import boundary as boundaries, checkpoint as checkpoints, plot
    from nnctl.views.boundary import boundary_legend, boundary_panel

    ckpt = checkpoints.load_checkpoint(checkpoint)
    boundaries.check_drawable(ckpt, str(checkpoint))
    points, labels = boundaries.load_points(ckpt, data)
    source = boundaries.points_source(ckpt, data) if points is not None else ""
    grid = boundaries.predict_grid(ckpt, points, labels, width, height, source=source)
    if as_json:
        if png:
            plot.boundary_png(png, [(str(checkpoint), boundaries.predict_grid(ckpt, points, labels, 200, 200,
                                                                                 source=source))])
        print_json({**boundaries.grid_document(grid), **({"png": str(png)} if png else {})})
        return
    console = out_console()
    console.print(boundary_panel(grid, Path(checkpoint).name))
    console.print(boundary_legend(grid), markup=False)
    if png:  # a finer grid than the terminal's
        plot.boundary_png(png, [(str(checkpoint), boundaries.predict_grid(ckpt, points, labels, 200, 200,
                                                                                 source=source))])
        console.print(f"wrote {png}", markup=False)


@app.command(cls=NnctlCommand)
def gradcheck(
    config: Path = typer.Argument(..., help="The YAML config file."),
    set_: Optional[List[str]] = SET_OPTION,
    rows: int = typer.Option(8, min=1, max=10_000, help="Training rows to check the gradients on."),
    max_params: int = typer.Option(2000, min=1, help="Check at most this many entries per array (a seeded sample)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Compare backpropagation with finite differences, layer by layer (exit 1 when one fails)."""
    from nnctl import config as configs, gradcheck as gradchecks
    from nnctl.views.gradcheck import gradcheck_to_dict, gradcheck_view

    result = gradchecks.gradcheck(configs.load_config(config, set_ or ()), rows, max_params)
    if as_json:
        print_json(gradcheck_to_dict(result))
    else:
        out_console().print(gradcheck_view(result))
    if not result.passed:
        raise typer.Exit(1)


@app.command(cls=NnctlCommand)
def explain(
    config: Path = typer.Argument(..., help="The YAML config file."),
    set_: Optional[List[str]] = SET_OPTION,
    rows: int = typer.Option(2, min=1, max=100, help="Training rows in the worked batch."),
    spread: bool = typer.Option(False, "--spread", help="For a one-output perceptron: also train from [1, 0, 0, ...] "
                                "with no penalty, L1 and L2, and show where the weights end."),
    as_json: bool = JSON_OPTION,
) -> None:
    """One training step worked through on real numbers, in the order of the math."""
    from nnctl import config as configs, explain as explanations
    from nnctl.views.explain import explanation_to_dict, explanation_view, spread_table, spread_to_dict

    cfg = configs.load_config(config, set_ or ())
    worked = explanations.explain(cfg, rows)
    runs = explanations.spread_runs(cfg) if spread else None
    if as_json:
        document = explanation_to_dict(worked)
        print_json({**document, "spread": spread_to_dict(runs)} if runs else document)
        return
    console = out_console()
    console.print(explanation_view(worked))
    if runs:
        console.print(spread_table(runs))


@app.command("inspect", cls=NnctlCommand)
def inspect_command(
    checkpoint: Path = typer.Argument(..., help="A checkpoint file, or a run directory (its best checkpoint)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show what a checkpoint holds: the architecture, parameters, weight statistics, metadata."""
    from nnctl import inspection
    from nnctl.views.inspect import inspection_view

    found = inspection.inspect_checkpoint(checkpoint)
    if as_json:
        print_json(inspection.inspection_to_dict(found))
    else:
        out_console().print(inspection_view(found))


@app.command(cls=NnctlCommand)
def evaluate(
    checkpoint: Path = typer.Argument(..., help="A checkpoint file, or a run directory (its best checkpoint)."),
    data: Path = typer.Argument(..., help="CSV file with the feature and target columns."),
    no_baselines: bool = typer.Option(False, "--no-baselines", help="Do not score the majority-class (mean) guess "
                                      "and the linear model, learned from the run's training rows, beside it."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Score a checkpoint on labelled rows: accuracy, confusion, precision/recall/F1, or MSE, MAE, R^2."""
    from nnctl import evaluation
    from nnctl.views.evaluate import evaluation_view

    scored = evaluation.evaluate_file(checkpoint, data, not no_baselines)
    if as_json:
        print_json(evaluation.evaluation_to_dict(scored))
    else:
        out_console().print(evaluation_view(scored))


@app.command("plot", cls=NnctlCommand)
def plot_command(
    run_dirs: List[Path] = typer.Argument(..., metavar="RUN_DIR", help="Run directories (their history.csv), or directories of runs: "
                                          "every run below them, as nnctl runs lists them."),
    width: int = typer.Option(60, min=10, max=400, help="Chart width in characters."),
    height: int = typer.Option(12, min=4, max=200, help="Chart height in lines."),
    png: Optional[Path] = typer.Option(None, "--png", help="Also write the curves as an image (needs the 'plot' extra)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Draw training and validation loss and the metric per epoch, several runs overlaid."""
    from nnctl import curves, plot, runs as runlist
    from nnctl.views.plot import curves_view

    if png:
        plot.check_image(png)  # the extra and the file's suffix, before anything is drawn
    found = curves.load_curves([path for path, _ in runlist.select_runs(run_dirs)])
    if as_json:
        if png:
            plot.curves_png(png, found)
        print_json({"runs": [curves.curves_document(c) for c in found], **({"png": str(png)} if png else {})})
        return
    console = out_console()
    console.print(curves_view(found, width, height))
    if png:
        plot.curves_png(png, found)
        console.print(f"wrote {png}", markup=False)


@app.command("importance", cls=NnctlCommand)
def importance_command(
    checkpoint: Path = typer.Argument(..., help="A checkpoint file, or a run directory (its best checkpoint)."),
    data: Path = typer.Argument(..., help="CSV file with the feature and target columns (e.g. the validation rows)."),
    repeats: int = typer.Option(5, "--repeats", min=1, max=1000, help="Shuffles per column."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the shuffles."),
    png: Optional[Path] = typer.Option(None, "--png", help="Also draw the bars as an image (needs the 'plot' extra)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Permutation importance: how much the metric drops when each input column is shuffled."""
    from nnctl import importance, plot
    from nnctl.views.importance import importance_caption, importance_table

    if png:
        plot.check_image(png)
    found = importance.permutation_importance(checkpoint, data, repeats, seed)
    if png:
        plot.importance_png(png, found)
    if as_json:
        print_json({**importance.importance_document(found), **({"png": str(png)} if png else {})})
        return
    console = out_console()
    console.print(importance_table(found))
    console.print(importance_caption())
    if png:
        console.print(f"wrote {png}", markup=False)


@app.command("export", cls=NnctlCommand)
def export_command(
    checkpoint: Path = typer.Argument(..., help="A checkpoint file, or a run directory (its best checkpoint)."),
    output: Path = typer.Option(..., "--output", "-o", help="The file to write: NAME.onnx or NAME.safetensors."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="onnx|safetensors",
                                      help="The format (default: from the output's suffix)."),
    force: bool = typer.Option(False, "--force", help="Replace the output file if it exists."),
) -> None:
    """Write a checkpoint as ONNX (preprocessing included, for any ONNX runtime) or safetensors."""
    from nnctl import export
    from nnctl.checkpoint import checkpoint_path, load_checkpoint
    from nnctl.run import check_output_file

    kind = export.export_format(output, fmt)
    check_output_file(output, [checkpoint_path(checkpoint)])
    export.export(load_checkpoint(checkpoint), output, kind, force)
    out_console().print(f"wrote {output} ({kind})", markup=False)


@app.command("runs", cls=NnctlCommand)
def runs_command(
    paths: Optional[List[Path]] = typer.Argument(None, metavar="PATH", help="Run directories, or directories of runs "
                                                 "(default: runs/)."),
    sort: Optional[str] = typer.Option(None, "--sort", metavar="KEY", help="Sort by a column (name, when, loss, "
                                       "best_epoch, ...) or a figure (val_accuracy, test_r2, ...): best first."),
    as_json: bool = JSON_OPTION,
) -> None:
    """A table of runs: what each was, how it stopped, its validation and test figures."""
    from nnctl import runs as runlist
    from nnctl.views.runs import runs_table

    records = runlist.list_runs(paths or [Path("runs")], sort)
    if as_json:
        print_json({"runs": [runlist.record_to_dict(r) for r in records]})
        return
    where = ", ".join(str(p) for p in paths or [Path("runs")])
    console = out_console()
    if not console.is_terminal:  # a log or a pipe: one line per run, however long
        console.width = max(console.width, 200)
    console.print(runs_table(records, f"{len(records)} run{'s' if len(records) != 1 else ''} in {where}"))


@config_app.command("show", cls=NnctlCommand)
def config_show(
    config: Path = typer.Argument(..., help="The YAML config file."),
    set_: Optional[List[str]] = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Print the resolved config, with every default filled in."""
    from nnctl import config as configs

    cfg = configs.load_config(config, set_ or ())
    if as_json:
        print_json(configs.config_to_dict(cfg, relative_to=Path(config).resolve().parent, as_written=True))
        return
    typer.echo(configs.dump_config(cfg, relative_to=Path(config).resolve().parent, as_written=True), nl=False)


@data_app.command("make", cls=NnctlCommand)
def data_make(
    kind: str = typer.Argument(..., help=f"One of: {', '.join(TOY_KINDS)}."),
    output: Path = typer.Option(..., "--output", "-o", help="The CSV file to write ('-' for stdout)."),
    n: int = typer.Option(400, "--n", min=1, max=MAX_TOY_ROWS, help="Number of rows."),
    noise: float = typer.Option(0.1, "--noise", min=0.0, max=100.0, callback=_a_number,
                                help="Standard deviation of the Gaussian jitter."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the random generator."),
) -> None:
    """Write one of the classic toy data sets as CSV."""
    import numpy as np

    from nnctl import data as datafiles, toydata
    from nnctl.run import check_output_file

    if kind not in TOY_KINDS:
        raise typer.BadParameter(f"unknown kind {kind!r}; choose one of: {', '.join(TOY_KINDS)}", param_hint="KIND")
    if kind == "mixed":
        columns, rows = toydata.mixed(n, noise, np.random.default_rng(seed))
    else:
        X, y, features, target = toydata.make(kind, n, noise, np.random.default_rng(seed))
        columns = [*features, target]
        rows = [[*np.round(x, 6).tolist(), label]
                for x, label in zip(X, np.round(y, 6).tolist() if y.dtype.kind == "f" else y.tolist())]
    if str(output) == "-":
        datafiles.write_csv_to(sys.stdout, columns, rows)
        return
    check_output_file(output)
    datafiles.write_csv(output, columns, rows)
    out_console().print(f"wrote {n} row{'s' if n != 1 else ''} of {kind} to {output}", markup=False)


@data_app.command("describe", cls=NnctlCommand)
def data_describe(
    file: Path = typer.Argument(..., help="The CSV file."),
    target: Optional[List[str]] = typer.Option(None, "--target", metavar="COLUMN",
                                               help="The column(s) to predict: not described as features."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Each column's type, missing cells, distinct values and range or top categories, and what
    training with features: all does with it."""
    from nnctl.prep import rows as preparation
    from nnctl.views.describe import describe_table

    from dataclasses import asdict

    reports = preparation.describe_file(file, target or ())
    if as_json:
        print_json({"file": str(file), "columns": [asdict(r) for r in reports]})
        return
    out_console().print(describe_table(reports, f"{file}: {len(reports)} columns"))


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"nnctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True, help="Print the version."),
) -> None:
    """Train multi-layer perceptrons written in NumPy from YAML config files."""


def main() -> None:
    app()
