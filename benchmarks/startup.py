"""Start-up and a small run (issue 6, point 6): wall time of whole commands, in fresh processes.

    python benchmarks/startup.py [--repeat 5]

Times ``nnctl --help`` and ``nnctl train configs/circles.yaml`` (into a temporary run
directory) end to end, as a user starting them from a shell sees them: interpreter
start, imports, work, exit.  Prints the median and the best of ``--repeat`` runs each,
after one untimed run to warm the file cache.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def nnctl() -> list[str]:
    """The installed ``nnctl`` script (``pip install -e .``), or its entry point run by this interpreter."""
    found = shutil.which("nnctl")
    return [found] if found else [sys.executable, "-c", "from nnctl.cli import main; main()"]


def wall_seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        commands = {
            "nnctl --help": [*nnctl(), "--help"],
            "nnctl train configs/circles.yaml": [*nnctl(), "train", "configs/circles.yaml", "--set", f"output={out}/run"],
        }
        print("| command | median s | best s | target s |")
        print("|---|---|---|---|")
        for (name, command), target in zip(commands.items(), (0.35, 1.5)):
            wall_seconds(command)
            times = [wall_seconds(command) for _ in range(args.repeat)]
            print(f"| `{name}` | {statistics.median(times):.2f} | {min(times):.2f} | {target} |")


if __name__ == "__main__":
    main()
