"""The command line's help in the words a user types, and shell completion."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnctl.cli import app

runner = CliRunner()
COMMANDS = [["train"], ["predict"], ["sweep"], ["sweep-hidden"], ["boundary"], ["gradcheck"], ["explain"],
            ["inspect"], ["evaluate"], ["plot"], ["runs"], ["config", "show"], ["data", "make"], ["data", "describe"],
            ["export"], ["importance"]]


def _help(command: list[str]) -> str:
    done = runner.invoke(app, [*command, "--help"], terminal_width=200, prog_name="nnctl")
    assert done.exit_code == 0, done.output
    return done.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_shows_no_internal_type_names(command):
    text = _help(command)
    assert not re.search(r"\{[a-z_]+\}|<[a-z]", text), text  # Typer's own {config}, <int range>, <path>
    arguments = text.split("Arguments:")[1].split("Options:")[0] if "Arguments:" in text else ""
    assert all(line.split()[0].isupper() for line in arguments.splitlines() if line[:3].strip()), arguments
    assert "TEXT" not in text or command[-1] in ("sweep", "sweep-hidden", "make", "predict", "boundary", "inspect",
                                                 "evaluate", "gradcheck", "explain")


@pytest.mark.parametrize("command, usage", [
    (["train"], "Usage: nnctl train [OPTIONS] CONFIG"),
    (["predict"], "Usage: nnctl predict [OPTIONS] CHECKPOINT DATA"),
    (["boundary"], "Usage: nnctl boundary [OPTIONS] CHECKPOINT [DATA]"),
    (["plot"], "Usage: nnctl plot [OPTIONS] RUN_DIR..."),
    (["runs"], "Usage: nnctl runs [OPTIONS] [PATH...]"),
    (["data", "make"], "Usage: nnctl data make [OPTIONS] KIND"),
])
def test_usage_names_the_arguments_as_typed(command, usage):
    assert usage in _help(command)


def test_option_values_say_their_kind_and_range():
    train = " ".join(_help(["train"]).split())
    assert "--every INTEGER >= 1" in train and "--save-seconds NUMBER 0..86400" in train
    assert "--resume RUN_DIR" in train and "-s, --set KEY.PATH=VALUE" in train
    make = " ".join(_help(["data", "make"]).split())
    assert "--n INTEGER 1..1000000" in make and "--noise NUMBER 0..100" in make and "-o, --output PATH" in make


def test_shell_completion_is_offered_and_completes():
    top = runner.invoke(app, ["--help"]).output
    assert "--install-completion" in top and "--show-completion" in top
    script = shutil.which("nnctl")
    command = [script] if script else [sys.executable, "-c", "from nnctl.cli import main; main()"]
    env = {**os.environ, "_NNCTL_COMPLETE": "complete_bash", "COMP_WORDS": "nnctl tr", "COMP_CWORD": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["train"], (done.stdout, done.stderr)
    env.update(COMP_WORDS="nnctl train --ev", COMP_CWORD="2")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["--every"]


ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
CIRCLES = str(ROOT / "configs" / "circles.yaml")


def test_a_set_path_resolves_against_the_working_directory_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = runner.invoke(app, ["train", CIRCLES, "--set", "data.train=nope.csv"])
    assert done.exit_code == 1
    assert done.stderr.strip() == (f"error: {tmp_path / 'nope.csv'}: no such file (data.train from --set, "
                                   f"relative to the working directory {tmp_path})")


@pytest.mark.parametrize("setting, key", [("data.target=lable", "data.target"),
                                          ("data.features=[x1,x9]", "data.features")])
def test_a_missing_column_is_blamed_on_the_key_that_named_it(setting, key):
    done = runner.invoke(app, ["train", CIRCLES, "--set", setting])
    assert done.exit_code == 1
    assert done.stderr.strip().endswith(f"({key} from --set)"), done.stderr


def test_config_show_keeps_a_path_outside_the_configs_tree_absolute(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("x1,x2,label\n0,1,0\n1,0,1\n")
    shown = runner.invoke(app, ["config", "show", CIRCLES, "--set", f"data.train={data}"]).stdout
    assert f"  train: {data}\n" in shown
    assert "  train: ../datasets/circles.csv\n" in runner.invoke(app, ["config", "show", CIRCLES]).stdout


@pytest.mark.parametrize("command", [["train", CIRCLES, "--set", "data.target=zz"],
                                     ["explain", CIRCLES, "--set", "data.target=zz"],
                                     ["inspect", "/nonexistent/run"]])
def test_with_json_an_error_is_a_json_object_on_stdout_too(command):
    import json

    done = runner.invoke(app, [*command, "--json"])
    assert done.exit_code == 1
    document = json.loads(done.stdout)
    assert list(document) == ["error"] and document["error"]
    assert done.stderr.strip() == f"error: {document['error']}"
    plain = runner.invoke(app, command)
    assert plain.exit_code == 1 and plain.stdout == ""


@pytest.mark.parametrize("command, message, where", [
    (["train", CIRCLES, "--every", "0"], "Invalid value for '--every': 0 is not in the range x>=1.", "nnctl train"),
    (["config", "show", CIRCLES, "--bogus"], "No such option: --bogus", "nnctl config show"),
    (["plot", "--width", "3", "runs"], "Invalid value for '--width': 3 is not in the range 10<=x<=400.", "nnctl plot"),
    (["trian", CIRCLES], "No such command 'trian'. Did you mean 'train'?", "nnctl"),
    (["data", "make", "blobs", "-o", "-"], "Invalid value for KIND: unknown kind 'blobs'; choose one of: linear, xor, "
     "circles, moons, spirals, gaussians, regression, mixed", "nnctl data make"),
])
def test_a_usage_error_is_one_line_and_with_json_a_json_object_too(command, message, where):
    import json

    plain = runner.invoke(app, command, prog_name="nnctl")
    assert plain.exit_code == 2 and plain.stdout == ""  # Click's exit code for usage errors
    assert plain.stderr == f"error: {message.rstrip('.')} (see {where} --help)\n"
    if command[:2] == ["data", "make"]:
        return  # no --json there: it writes a CSV file
    done = runner.invoke(app, [*command, "--json"], prog_name="nnctl")
    assert done.exit_code == 2
    assert json.loads(done.stdout) == {"error": message, "usage": True}


def test_train_json_carries_the_note_that_the_run_went_beside_an_earlier_one(tmp_path):
    import json

    args = ["train", CIRCLES, "--set", f"output={tmp_path / 'r'}", "--set", "optimizer.epochs=1", "--json"]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    notes = json.loads(again.stdout)["notes"]
    assert notes[0].startswith(f"{tmp_path / 'r'} holds an earlier run, kept; this one goes to ")
    assert notes[0].endswith(f"{tmp_path / 'r-2'} (--overwrite replaces it instead)")


def test_a_csv_given_as_the_config_says_it_looks_like_data():
    done = runner.invoke(app, ["train", str(Path(CIRCLES).parent.parent / "datasets" / "circles.csv")])
    assert done.exit_code == 1
    assert done.stderr.strip().endswith("got a str; this looks like a data file: give it in a config's data.train "
                                        "(see configs/*.yaml, or nnctl config show configs/circles.yaml)")


@pytest.mark.parametrize("given, hint", [
    ("cross_entropy", "(did you mean 'softmax_cross_entropy' (any number of classes) or 'binary_cross_entropy' "
                      "(two classes, one sigmoid output)?)"),
    ("categorical_crossentropy", "(did you mean 'softmax_cross_entropy' (any number of classes)"),
    ("mean_squared_error", "(did you mean 'mse'?)"),
    ("BCE", "(did you mean 'binary_cross_entropy'?)"),
    ("softmax_crossentropy", "(did you mean 'softmax_cross_entropy'?)"),
])
def test_a_loss_named_as_other_libraries_name_it_gets_ours(given, hint):
    from nnctl.config import load_config
    from nnctl.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_config(ROOT / "configs" / "gaussians.yaml", [f"loss={given}"])
    assert str(caught.value).endswith(hint) or hint in str(caught.value)


def test_boundary_plot_and_config_show_print_json(tmp_path):
    import csv
    import json

    from nnctl.cli import app as cli_app

    trained = runner.invoke(cli_app, ["train", CIRCLES, "--set", f"output={tmp_path / 'run'}",
                                      "--set", "optimizer.epochs=3"])
    assert trained.exit_code == 0, trained.output
    grid = json.loads(runner.invoke(cli_app, ["boundary", str(tmp_path / "run"), "--json", "--width", "8",
                                              "--height", "4"]).stdout)
    assert grid["feature_names"] == ["x1", "x2"] and grid["classes"] == [0, 1]  # as predict --json gives them
    assert len(grid["xs"]) == 8 and len(grid["ys"]) == 4 and len(grid["regions"]) == 4
    assert {cell for row in grid["regions"] for cell in row} <= {0, 1}
    assert len(grid["points"]) == len(grid["labels"]) == 400
    curves = json.loads(runner.invoke(cli_app, ["plot", str(tmp_path / "run"), "--json"]).stdout)["runs"]
    history = list(csv.DictReader((tmp_path / "run" / "history.csv").open()))
    assert curves[0]["epochs"] == [1, 2, 3]
    assert curves[0]["val_loss"] == [float(row["val_loss"]) for row in history]
    assert curves[0]["val_accuracy"] == [float(row["val_accuracy"]) for row in history]
    shown = json.loads(runner.invoke(cli_app, ["config", "show", CIRCLES, "--json"]).stdout)
    assert shown["data"]["train"] == "../datasets/circles.csv" and shown["model"]["hidden"] == [8]


def test_a_table_printed_to_a_file_is_never_cut(monkeypatch, capsys):
    from rich.table import Table

    from nnctl import cli

    console = cli.out_console()  # pytest's captured stdout is not a terminal
    assert not console.is_terminal and console.width >= cli.FILE_WIDTH
    table = Table(*(f"column {i}" for i in range(12)))
    table.add_row(*(f"{18268.991 + i:.3f}±{8.04 + i:.3f}" for i in range(12)))  # ~250 characters wide
    console.print(table)
    printed = capsys.readouterr().out
    assert "…" not in printed and "18279.991±19.040" in printed


def test_a_network_too_large_for_memory_is_one_line(monkeypatch):
    from nnctl import run

    def no_memory(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(run, "init_network", no_memory)
    monkeypatch.setattr(run, "available_memory", lambda: None)  # the check before it cannot tell: NumPy fails
    done = runner.invoke(app, ["train", CIRCLES, "--set", "model.hidden=[65536,65536]"])
    assert done.exit_code == 1
    # (2 + 1) x 65536 + (65536 + 1) x 65536 + (65536 + 1) x 2 parameters; the largest layer 65536 x 65536 x 8 bytes
    assert done.stderr.strip() == ("error: the network 2 -> 65536 -> 65536 -> 2 has 4,295,360,514 parameters: drawing its "
                                   "largest layer needs 32.0 GiB, more memory than there is; fewer units in "
                                   "model.hidden from --set")


def test_each_command_imports_what_it_uses_where_it_uses_it():
    """cli.py imports nnctl's modules inside the commands that need them (``nnctl --help`` stays
    free of NumPy): at module level only nnctl.errors and nnctl.files, and no lazy-module aliases."""
    import ast

    source = (Path(__file__).resolve().parent.parent / "nnctl" / "cli.py").read_text()
    tree = ast.parse(source)
    top = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    nnctl_top = sorted({node.module for node in top if isinstance(node, ast.ImportFrom) and
                        (node.module or "").startswith("nnctl")})
    assert nnctl_top == ["nnctl", "nnctl.errors", "nnctl.files"]
    assert "LazyLoader" not in source and "importlib" not in source
    # The renderers each command uses are its own: `inspect` draws with nnctl.views.inspect, and so on.
    views = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            views[node.name] = sorted({n.module.split(".")[2] for n in ast.walk(node) if isinstance(n, ast.ImportFrom)
                                       and (n.module or "").startswith("nnctl.views.")} - {"text"})
    assert views["inspect_command"] == ["inspect"] and views["evaluate"] == ["evaluate"]
    assert views["plot_command"] == ["plot"] and views["gradcheck"] == ["gradcheck"]
    assert views["explain"] == ["explain"] and views["train"] == ["train"] and views["runs_command"] == ["runs"]
    assert views["data_describe"] == ["describe"] and views["boundary"] == ["boundary"]
