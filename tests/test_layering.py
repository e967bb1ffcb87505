"""The architecture, held by an AST walk over nnctl/.

* nnctl/core imports only NumPy, the standard library and nnctl.core;
* only cli.py imports Typer, only cli.py and the renderers (nnctl/views/, one module per command)
  import Rich, and only cli.py imports the renderers;
* only cluster.py imports Dask (``distributed`` is an optional extra);
* nothing uses pickle, an unsafe YAML loader or ``allow_pickle=True``;
* nothing touches the global ``np.random`` state (a Generator is passed in);
* nothing in nnctl/core prints or opens files;
* the pure modules of data preparation (nnctl/prep: columns, preprocessor, transforms, describe)
  import only NumPy, the standard library, nnctl.errors and each other, and neither print nor
  open files; its adapters (prepare, rows, arrays) are the ones that read files and configs.

Each checker takes source text and a display name and returns one
``"name:line: problem"`` string per violation, so a failure says where to look.
"""

from __future__ import annotations

import ast
import fnmatch
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nnctl"
CORE = PACKAGE / "core"

RNG_ALLOWED = frozenset({"default_rng", "Generator", "SeedSequence"})
UNSAFE_YAML = frozenset({"load", "load_all", "unsafe_load", "unsafe_load_all", "full_load", "full_load_all",
                         "Loader", "FullLoader", "UnsafeLoader", "Constructor", "FullConstructor",
                         "UnsafeConstructor"})
PICKLE_MODULES = frozenset({"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "joblib"})
NUMPY_FILE_IO = frozenset({"load", "save", "savez", "savez_compressed", "loadtxt", "savetxt", "genfromtxt",
                           "fromfile", "memmap"})
IO_CALLS = frozenset({"print", "open", "input", "breakpoint"})


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def _imports(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of everything imported; ``module`` resolves relative imports.

    ``from a.b import c`` gives ``a.b.c`` (c may be a submodule or a name in a.b).
    """
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts)  # nnctl.core.model; a package's __init__ keeps the trailing "__init__"


def _dotted(node: ast.AST) -> str | None:
    """``np.random.seed`` for an Attribute chain on a Name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


# --------------------------------------------------------------------------- checkers


def check_core_imports(source: str, name: str, module: str = "nnctl.core.x") -> list[str]:
    """nnctl/core imports numpy, the standard library and nnctl.core only."""
    problems = []
    for line, imported in _imports(ast.parse(source), module):
        top = imported.split(".")[0]
        if top == "numpy" or top in sys.stdlib_module_names:
            continue
        if imported == "nnctl.core" or imported.startswith("nnctl.core."):
            continue
        problems.append(f"{name}:{line}: nnctl/core imports {imported}")
    return problems


PREP = PACKAGE / "prep"
PREP_PURE = ("columns", "preprocessor", "transforms", "describe")


def check_prep_imports(source: str, name: str, module: str = "nnctl.prep.x") -> list[str]:
    """The pure preparation modules import numpy, the standard library, nnctl.errors and nnctl.prep's pure modules."""
    problems = []
    for line, imported in _imports(ast.parse(source), module):
        top = imported.split(".")[0]
        if top == "numpy" or top in sys.stdlib_module_names or imported.startswith("nnctl.errors"):
            continue
        if imported.split(".")[:3] in [["nnctl", "prep", name] for name in PREP_PURE]:
            continue
        problems.append(f"{name}:{line}: a pure preparation module imports {imported}")
    return problems


def check_ui_imports(source: str, name: str) -> list[str]:
    """Typer only in cli.py; Rich only in cli.py and the renderers, nnctl/views/; the renderers only in cli.py
    and each other; Dask only in cluster.py."""
    allowed = {"typer": {"nnctl/cli.py"}, "rich": {"nnctl/cli.py", "nnctl/views/*.py"}, "click": {"nnctl/cli.py"},
               "nnctl.views": {"nnctl/cli.py", "nnctl/views/*.py"},
               "distributed": {"nnctl/cluster.py"}, "dask": {"nnctl/cluster.py"},
               "onnx": {"nnctl/export.py"}, "safetensors": {"nnctl/export.py"}, "onnxruntime": set()}
    problems = []
    for line, imported in _imports(ast.parse(source), "nnctl.x"):
        top = "nnctl.views" if f"{imported}.".startswith("nnctl.views.") else imported.split(".")[0]
        if top in allowed and not any(fnmatch.fnmatch(name, pattern) for pattern in allowed[top]):
            problems.append(f"{name}:{line}: imports {imported} (allowed only in {', '.join(sorted(allowed[top]))})")
    return problems


def check_no_unsafe_loading(source: str, name: str) -> list[str]:
    """No pickle, no unsafe YAML loading, no allow_pickle other than a literal False."""
    tree = ast.parse(source)
    problems = []
    for line, imported in _imports(tree, "nnctl.x"):
        parts = imported.split(".")
        if parts[0] in PICKLE_MODULES:
            problems.append(f"{name}:{line}: imports {imported}")
        if parts[0] == "yaml" and len(parts) == 2 and parts[1] in UNSAFE_YAML:
            problems.append(f"{name}:{line}: imports {imported} (use a yaml.SafeLoader)")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted and dotted.split(".")[0] in PICKLE_MODULES:
                problems.append(f"{name}:{node.lineno}: uses {dotted}")
            if dotted and dotted.startswith("yaml.") and node.attr in UNSAFE_YAML:
                problems.append(f"{name}:{node.lineno}: uses {dotted} (use a yaml.SafeLoader)")
        elif isinstance(node, ast.keyword) and node.arg == "allow_pickle":
            if not (isinstance(node.value, ast.Constant) and node.value.value is False):
                problems.append(f"{name}:{node.value.lineno}: allow_pickle={ast.unparse(node.value)}")
    return problems


def check_no_global_random(source: str, name: str) -> list[str]:
    """Only np.random.default_rng / Generator / SeedSequence; never the global np.random functions."""
    tree = ast.parse(source)
    numpy_names, random_names = {"numpy"}, set()
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "numpy":
                    numpy_names.add(alias.asname or "numpy")
                elif alias.name == "numpy.random":
                    if alias.asname:
                        random_names.add(alias.asname)
        elif isinstance(node, ast.ImportFrom) and node.module == "numpy":
            random_names.update(a.asname or a.name for a in node.names if a.name == "random")
        elif isinstance(node, ast.ImportFrom) and node.module == "numpy.random":
            for alias in node.names:
                if alias.name not in RNG_ALLOWED:
                    problems.append(f"{name}:{node.lineno}: imports numpy.random.{alias.name} (global random state)")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        dotted = _dotted(node) or ""
        parts = dotted.split(".")
        via_numpy = len(parts) == 3 and parts[0] in numpy_names and parts[1] == "random"
        via_random = len(parts) == 2 and parts[0] in random_names
        if (via_numpy or via_random) and node.attr not in RNG_ALLOWED:
            problems.append(f"{name}:{node.lineno}: uses {dotted} (pass an np.random.Generator instead)")
    return problems


def check_core_no_io(source: str, name: str) -> list[str]:
    """No print, open (or other file/terminal I/O) in nnctl/core."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in IO_CALLS:
            problems.append(f"{name}:{node.lineno}: calls {func.id}()")
        elif isinstance(func, ast.Attribute):
            dotted = _dotted(func) or f"<expression>.{func.attr}"
            if func.attr in {"open", "read_text", "write_text", "read_bytes", "write_bytes", "tofile"}:
                problems.append(f"{name}:{node.lineno}: calls {dotted}()")
            elif dotted.split(".")[0] in {"np", "numpy"} and len(dotted.split(".")) == 2 and func.attr in NUMPY_FILE_IO:
                problems.append(f"{name}:{node.lineno}: calls {dotted}()")
            elif dotted in {"sys.stdout.write", "sys.stderr.write"}:
                problems.append(f"{name}:{node.lineno}: calls {dotted}()")
    return problems


# --------------------------------------------------------------------------- the package holds


def _run(checker, paths: list[Path], **kwargs) -> list[str]:
    problems = []
    for path in paths:
        extra = {"module": _module_name(path)} if "module" in kwargs else {}
        problems += checker(path.read_text(encoding="utf-8"), _name(path), **extra)
    return problems


def test_the_walk_sees_the_package():
    names = {_name(path) for path in _modules()}
    assert {"nnctl/cli.py", "nnctl/views/train.py", "nnctl/checkpoint.py", "nnctl/run.py",
            "nnctl/core/model.py", "nnctl/core/training.py"} <= names
    core = [path for path in _modules() if path.is_relative_to(CORE)]
    assert len(core) >= 7
    # Some of the package really does import numpy, typer and rich, so the checks below bite.
    imported = {i.split(".")[0] for path in _modules()
                for _, i in _imports(ast.parse(path.read_text()), _module_name(path))}
    assert {"numpy", "typer", "rich", "yaml", "nnctl"} <= imported


def test_core_imports_only_numpy_stdlib_and_core():
    problems = _run(check_core_imports, [p for p in _modules() if p.is_relative_to(CORE)], module=True)
    assert not problems, "\n".join(problems)


def _pure_prep() -> list[Path]:
    return [PREP / f"{name}.py" for name in PREP_PURE]


def test_pure_preparation_modules_import_only_numpy_stdlib_and_each_other():
    assert all(p.is_file() for p in _pure_prep())
    problems = _run(check_prep_imports, _pure_prep(), module=True)
    problems += _run(check_core_no_io, _pure_prep())
    assert not problems, "\n".join(problems)


def test_only_cli_imports_typer_and_only_cli_and_the_views_import_rich():
    problems = _run(check_ui_imports, _modules())
    assert not problems, "\n".join(problems)


def test_no_pickle_no_unsafe_yaml_no_allow_pickle():
    problems = _run(check_no_unsafe_loading, _modules())
    assert not problems, "\n".join(problems)


def test_no_global_numpy_random_state():
    problems = _run(check_no_global_random, _modules())
    assert not problems, "\n".join(problems)


def test_core_neither_prints_nor_opens():
    problems = _run(check_core_no_io, [p for p in _modules() if p.is_relative_to(CORE)])
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- the checkers bite


@pytest.mark.parametrize(
    ("checker", "source", "expected"),
    [
        (check_core_imports, "import numpy as np\nimport yaml\n", ["bad.py:2: nnctl/core imports yaml"]),
        (check_core_imports, "from nnctl.data import Scaler\n", ["bad.py:1: nnctl/core imports nnctl.data"]),
        (check_core_imports, "import os\nfrom .. import checkpoint\n", ["bad.py:2: nnctl/core imports nnctl"]),
        (check_core_imports, "def f():\n    import rich\n", ["bad.py:2: nnctl/core imports rich"]),
        (check_prep_imports, "from nnctl.data import read_table\n",
         ["bad.py:1: a pure preparation module imports nnctl.data.read_table"]),
        (check_prep_imports, "from nnctl.prep.rows import model_rows\n",
         ["bad.py:1: a pure preparation module imports nnctl.prep.rows.model_rows"]),
        (check_ui_imports, "import json\nfrom typer import Typer\n", ["bad.py:2: imports typer"]),
        (check_ui_imports, "from rich.table import Table\n", ["bad.py:1: imports rich.table"]),
        (check_ui_imports, "def f():\n    from distributed import Client\n", ["bad.py:2: imports distributed.Client"]),
        (check_ui_imports, "from nnctl.views.train import summary\n", ["bad.py:1: imports nnctl.views.train.summary"]),
        (check_ui_imports, "from nnctl import views\n", ["bad.py:1: imports nnctl.views"]),
        (check_no_unsafe_loading, "import pickle\n", ["bad.py:1: imports pickle"]),
        (check_no_unsafe_loading, "import yaml\nx = yaml.load(s, Loader=L)\n", ["bad.py:2: uses yaml.load"]),
        (check_no_unsafe_loading, "import yaml\nyaml.unsafe_load(s)\n", ["bad.py:2: uses yaml.unsafe_load"]),
        (check_no_unsafe_loading, "import yaml\nclass L(yaml.FullLoader): pass\n", ["bad.py:2: uses yaml.FullLoader"]),
        (check_no_unsafe_loading, "import yaml\nyaml.safe_load(s, yaml.Loader)\n", ["bad.py:2: uses yaml.Loader"]),
        (check_no_unsafe_loading, "from yaml import load\n", ["bad.py:1: imports yaml.load"]),
        (check_no_unsafe_loading, "import yaml\nyaml.constructor.UnsafeConstructor\n",
         ["bad.py:2: uses yaml.constructor.UnsafeConstructor"]),
        (check_no_unsafe_loading, "import dill\n", ["bad.py:1: imports dill"]),
        (check_no_unsafe_loading, "import numpy as np\n\nnp.load(p, allow_pickle=True)\n",
         ["bad.py:3: allow_pickle=True"]),
        (check_no_global_random, "import numpy as np\nnp.random.seed(0)\n", ["bad.py:2: uses np.random.seed"]),
        (check_no_global_random, "import numpy as np\nx = np.random.randn(3)\n", ["bad.py:2: uses np.random.randn"]),
        (check_no_global_random, "import numpy\nnumpy.random.shuffle(a)\n", ["bad.py:2: uses numpy.random.shuffle"]),
        (check_no_global_random, "from numpy import random as r\nr.permutation(5)\n",
         ["bad.py:2: uses r.permutation"]),
        (check_no_global_random, "import numpy.random as npr\nnpr.choice(5)\n", ["bad.py:2: uses npr.choice"]),
        (check_no_global_random, "from numpy.random import randint\n", ["bad.py:1: imports numpy.random.randint"]),
        (check_no_global_random, "import numpy as np\nrs = np.random.RandomState(0)\n",
         ["bad.py:2: uses np.random.RandomState"]),
        (check_core_no_io, "def f(x):\n    print(x)\n", ["bad.py:2: calls print()"]),
        (check_core_no_io, "with open('f') as s:\n    pass\n", ["bad.py:1: calls open()"]),
        (check_core_no_io, "import io\nio.open('f')\n", ["bad.py:2: calls io.open()"]),
        (check_core_no_io, "import numpy as np\nnp.save('f', x)\n", ["bad.py:2: calls np.save()"]),
    ],
)
def test_checker_finds_a_violation_with_its_line(checker, source, expected):
    problems = checker(source, "bad.py")
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected):
        assert problem.startswith(start), problems


@pytest.mark.parametrize(
    ("checker", "source"),
    [
        (check_core_imports, "from __future__ import annotations\nimport math\nimport numpy as np\n"
                             "from nnctl.core.activations import ACTIVATIONS\nfrom . import losses\n"
                             "from nnctl.core import metrics\nfrom typing import Callable\n"),
        (check_ui_imports, "import numpy as np\nfrom nnctl import run\nfrom nnctl.viewsx import y\n"),
        (check_prep_imports, "import math\nimport numpy as np\nfrom nnctl.errors import DataError\n"
                             "from nnctl.prep.columns import parse_column\n"),
        (check_no_unsafe_loading, "import yaml\nclass L(yaml.SafeLoader): pass\nyaml.safe_load(s)\n"
                                  "yaml.dump(x, Dumper=yaml.SafeDumper)\nnp.load(p, allow_pickle=False)\n"),
        (check_no_global_random, "import numpy as np\nrng = np.random.default_rng(np.random.SeedSequence(0))\n"
                                 "def f(rng: np.random.Generator):\n    return rng.normal(), rng.permutation(3)\n"),
        (check_core_no_io, "import numpy as np\ndef f(A):\n    return np.exp(A).sum(axis=0)\n"),
    ],
)
def test_checker_accepts_clean_source(checker, source):
    assert checker(source, "good.py") == []
