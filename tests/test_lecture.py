"""docs/lecture.md: every command in it runs, and prints the lines the page shows."""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "lecture.md"


def _commands() -> list[tuple[str, list[str]]]:
    """(command, the output lines the page shows for it) for every '$ nnctl ...' line in a code block."""
    found: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```\n(.*?)```", PAGE.read_text(), flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            elif found and line.strip() and line.strip() != "...":
                found[-1][1].append(line)
    return found


def _normal(text: str) -> str:
    return " ".join(text.split())


def test_the_page_has_a_command_for_each_idea():
    commands = [command for command, _ in _commands()]
    assert len(commands) >= 10 and all(command.startswith("nnctl ") for command in commands)
    for needed in ("configs/neuron.yaml", "circles-perceptron.yaml", "sweep-hidden", "inspect", "explain configs/xor",
                   "gradcheck", "--spread", "plot"):
        assert any(needed in command for command in commands), needed
    assert "logistic regression" in PAGE.read_text()
    for picture in re.findall(r"!\[[^]]*\]\(([^)]+)\)", PAGE.read_text()):
        assert (PAGE.parent / picture).is_file(), picture


def test_every_command_on_the_page_prints_what_the_page_shows(tmp_path):
    pytest.importorskip("matplotlib")  # two commands draw the page's pictures
    for folder in ("configs", "datasets"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "docs").mkdir()
    for command, shown in _commands():
        args = shlex.split(command)[1:]
        done = subprocess.run([sys.executable, "-c", "from nnctl.cli import main; main()", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stderr)
        printed = {_normal(line) for line in done.stdout.splitlines()}
        for line in shown:
            assert _normal(line) in printed, (command, line, done.stdout[:3000])
