"""The benchmark's smoke test: a tiny workload, nnctl alone, with PyTorch and scikit-learn hidden.

The peers are hidden by a ``sitecustomize`` on PYTHONPATH that refuses to import them, so
the test shows the nnctl-only path never needs them (and runs where they are not installed).
"""

import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "bench.py"

HIDE_PEERS = '''
import sys

class _Hidden:
    """Refuses torch and scikit-learn, as if they were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "sklearn"):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the smoke test)", name=name)
        return None

sys.meta_path.insert(0, _Hidden())
'''


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "sitecustomize.py").write_text(HIDE_PEERS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)


def _table(stdout: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table printed, as dicts by column name."""
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]


def test_quick_w3_nnctl_prints_a_table_of_real_figures(tmp_path):
    done = _run(tmp_path, "--quick", "--workloads", "W3", "--tools", "nnctl")
    assert done.returncode == 0, done.stderr
    rows = [row for row in _table(done.stdout) if row.get("workload") == "W3" and row.get("tool") == "nnctl"]
    assert len(rows) == 1, done.stdout
    assert float(rows[0]["samples/s"]) > 0
    assert float(rows[0]["us/step"]) > 0
    assert math.isfinite(float(rows[0]["final loss"]))
    assert not list(tmp_path.glob("*.md"))  # --quick writes no results file


def test_a_missing_peer_asked_for_by_name_says_how_to_install_it(tmp_path):
    done = _run(tmp_path, "--quick", "--workloads", "W3", "--tools", "nnctl,torch")
    assert done.returncode != 0
    assert "torch requested but not installed" in done.stderr
    assert 'pip install -e ".[bench]"' in done.stderr
