"""The hostile corpus (tests/corpus/hostile/expected.yaml): FIFOs, devices, links, lies in a
checkpoint's metadata, outputs over inputs, sizes that cannot run, numbers at float64's limit and
escape sequences in a file's text.  Each case makes its input, runs one command and checks the
outcome the manifest gives it; none may end in a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from nnctl.cli import app

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "hostile"
CASES: dict = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))
CONFIG, DATA = ROOT / "configs" / "circles.yaml", ROOT / "datasets" / "circles.csv"
ESC = "\x1b]0;owned\x07\x1b[31m"
CODE = "import sys; sys.argv[0] = 'nnctl'; from nnctl.cli import main; main()"
runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hostile") / "run"
    done = runner.invoke(app, ["train", str(CONFIG), "--set", f"output={out}", "--set", "optimizer.epochs=3"])
    assert done.exit_code == 0, done.output
    return out


def _table(kind: str) -> str:
    if kind == "huge":  # both signs near 1.8e308: a plain mean or variance overflows
        values = [1.7e308, -1.7e308, 1.7e308, -1.6e308, 1.0e308, -1.0e308] * 4
        return "x1,x2,label\n" + "".join(f"{v!r},{i},{i % 2}\n" for i, v in enumerate(values))
    if kind == "ages":
        return "x1,age\n" + "".join(f"{i % 7},{float(i % 300)}\n" for i in range(6000))
    if kind == "zero_weights":
        return "x1,x2,label,w\n" + "".join(f"{i},{-i},{i % 2},0\n" for i in range(20))
    if kind == "escapes":
        return f"x1,x2{ESC},label\n" + "".join(f"{i},{-i},{'bad' + ESC if i % 2 else 'ok'}\n" for i in range(20))
    if kind == "escape_in_a_number":
        return f"x1,x2,label\n1,2{ESC},a\n3,4,b\n"
    raise ValueError(kind)


def _make(case: dict, folder: Path, trained: Path) -> Path:
    path = folder / "case"
    kind = case["make"]
    (folder / "precious").write_text("keep me\n")
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
        if "file" in case:
            (path / case["file"]).write_text("{}\n")
    elif kind == "big":
        path.write_bytes(b"#" * case["size"])
    elif kind == "text":
        path.write_text(case["text"])
    elif kind == "symlink":
        path.symlink_to(folder / "precious")
    elif kind in ("run", "meta"):
        shutil.copytree(trained, path)
        shutil.copy(DATA, path / "rows.csv")
        if "link" in case:
            (path / case["link"]).unlink()
            (path / case["link"]).symlink_to(folder / "precious")
        if kind == "meta":
            _set_meta(path / case["file"], case["path"], case["value"])
    elif kind == "csv":
        path = folder / "case.csv"
        path.write_text(_table(case["table"]))
    return path


def _set_meta(checkpoint: Path, keys: list[str], value) -> None:
    with np.load(checkpoint, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(str(arrays["meta"]))
    holder = meta
    for key in keys[:-1]:
        holder = holder[key]
    holder[keys[-1]] = value
    arrays["meta"] = np.array(json.dumps(meta))
    with open(checkpoint, "wb") as stream:
        np.savez(stream, **arrays)


def _fill(text: str, case_path: Path, folder: Path, trained: Path) -> str:
    return text.format(case=case_path, run=trained, config=CONFIG, data=DATA, tmp=folder)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_case(name, tmp_path, trained):
    case = CASES[name]
    path = _make(case, tmp_path, trained)
    args = [_fill(a, path, tmp_path, trained) for a in case["args"]]
    unchanged = {p: Path(p).read_bytes() for p in (_fill(u, path, tmp_path, trained) for u in case.get("unchanged", ()))}
    if case.get("process"):
        stdout = open(case["stdout"], "w") if "stdout" in case else subprocess.PIPE
        try:
            done = subprocess.run([sys.executable, "-c", CODE, *args], stdout=stdout, stderr=subprocess.PIPE,
                                  text=True, timeout=120, cwd=tmp_path)
        finally:
            if stdout is not subprocess.PIPE:
                stdout.close()
        code, out, err = done.returncode, done.stdout or "", done.stderr
    else:
        done = runner.invoke(app, args, terminal_width=300, prog_name="nnctl")
        assert done.exception is None or isinstance(done.exception, SystemExit), repr(done.exception)
        code, out, err = done.exit_code, done.stdout, done.stderr
    assert "Traceback" not in err
    assert code == case["exit"], f"{name}: exit {code}\n{out[-2000:]}\n{err[-2000:]}"
    if code:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        for part in case.get("stderr", ()):
            assert part in lines[0], (part, lines[0])
        if code == 2:
            assert lines[0].endswith("--help)"), lines[0]
    for file, before in unchanged.items():
        assert Path(file).read_bytes() == before, file
    if case.get("escaped"):
        assert "\x1b" not in out and "\x07" not in out and case["shown"] in out
