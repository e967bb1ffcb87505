"""nnctl.data's fast path (plain files through np.loadtxt) against the careful csv reader.

Every file is loaded twice: by ``load_dataset`` / ``load_features`` as they are (the fast
path first), and with the fast path switched off, so that the careful reader does all the
work.  Both must give the same arrays bit for bit, the same names and classes, or the same
error message.  Most tests also check that the fast path did take the file, so that they
compare two readers and not the careful one with itself.  Speed is measured by
``benchmarks/csv_load.py``, never asserted here.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nnctl import data
from nnctl.data import Dataset, load_dataset, load_features
from nnctl.errors import DataError

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "csv"


# --------------------------------------------------------------------------- helpers


def write(tmp_path: Path, text: str, name: str = "d.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def outcome(call, *args, **kwargs):
    """The result, or the error message for a DataError."""
    try:
        return call(*args, **kwargs)
    except DataError as error:
        return f"error: {error}"


def both_ways(monkeypatch, call, *args, **kwargs):
    """(as loaded now, as the careful reader alone loads it)."""
    now = outcome(call, *args, **kwargs)
    with monkeypatch.context() as patch:
        patch.setattr(data, "load_plain_dataset", lambda *_: None)
        patch.setattr(data, "load_plain_features", lambda *_: None)
        careful = outcome(call, *args, **kwargs)
    return now, careful


def assert_same_array(a, b) -> None:
    if a is None or b is None:
        assert a is None and b is None
        return
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()  # bit for bit: -0.0 too


def assert_same(now, careful) -> None:
    if isinstance(careful, str):
        assert now == careful
    elif isinstance(careful, Dataset):
        assert isinstance(now, Dataset)
        for field in ("feature_names", "target_names", "classes", "task"):
            assert getattr(now, field) == getattr(careful, field), field
        if careful.classes is not None:
            assert [type(c) for c in now.classes] == [type(c) for c in careful.classes]  # 3 vs "3"
        for field in ("X", "y", "weights"):
            assert_same_array(getattr(now, field), getattr(careful, field))
    else:  # load_features: (X, y, ignored, note)
        assert_same_array(now[0], careful[0])
        assert_same_array(now[1], careful[1])
        assert now[2:] == careful[2:]


def fast_takes(path: Path, target=("label",), features=None, task="classification", **kwargs) -> bool:
    return data.load_plain_dataset(Path(path), tuple(target), features, task, "", kwargs.get("classes"),
                               kwargs.get("weight_column")) is not None


def numeric_csv(rows: int = 200, features: int = 5, labels=("0", "1", "2"), seed: int = 0,
                digits: int = 6, newline: str = "\n") -> str:
    """What csv.writer writes for floats rounded to ``digits`` significant digits (as a benchmark file)."""
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.integers(-6, 7, size=features)
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator=newline)
    writer.writerow([f"x{i}" for i in range(features)] + ["label"])
    for row in rng.standard_normal((rows, features)) * scales:
        writer.writerow([float(f"{value:.{digits}g}") for value in row] + [labels[rng.integers(len(labels))]])
    return stream.getvalue()


# --------------------------------------------------------------------------- plain files: the same result


PLAIN = {
    "integer labels": numeric_csv(),
    "17 significant digits": numeric_csv(digits=17, seed=1),
    "text labels": numeric_csv(labels=("cat", "dog", "bird"), seed=2),
    "labels with spaces and accents": numeric_csv(labels=(" disque é", "anneau ", "\tring"), seed=3),
    "labels written as numbers in several ways": numeric_csv(labels=("07", "1.0", "3", "-0", "0"), seed=4),
    "negative integer labels": numeric_csv(labels=("-1", "1", "10", "2"), seed=5),
    "CRLF": numeric_csv(newline="\r\n", seed=6),
    "CR line ends (classic Mac OS)": numeric_csv(newline="\r", seed=13),
    "line ends of all kinds": "x1,x2,label\r\n1,2,a\r3,4,b\n5,6,a\r\n",
    "no final newline": numeric_csv(seed=7).rstrip("\n"),
    "blank lines inside and at the end": "x1,x2,label\n1,2,a\n\n3,4,b\n\n\n5,6,a\n\n",
    "spaces, tabs and no-break spaces around cells": " x1 ,\tx2,label \n 1.5 ,\t2,a\n\xa03\xa0, 4 , b \n",
    "number formats": "x1,x2,x3,label\n+1e-3,.5,-0,0\n5.,1E2,-.25,1\n1e-320,-1.7976931348623157e308,0.1,0\n",
    "extremes of float64": "x1,x2,label\n2.2250738585072014e-308,5e-324,0\n1.7976931348623157e+308,-0.0,1\n",
}


@pytest.mark.parametrize("name", sorted(PLAIN))
@pytest.mark.parametrize("bom", [False, True], ids=["", "BOM"])
def test_plain_files_load_the_same_both_ways(tmp_path, monkeypatch, name, bom):
    path = write(tmp_path, PLAIN[name], bom=bom)
    assert fast_takes(path)
    now, careful = both_ways(monkeypatch, load_dataset, path, ("label",), None, "classification")
    assert isinstance(careful, Dataset)
    assert_same(now, careful)


SHORT_LABELS = {  # labels read as 8-byte strings in C; else (too long, not Latin-1) through a converter
    "7 characters": numeric_csv(labels=("abcdefg", "gfedcba"), seed=20),
    "8 characters": numeric_csv(labels=("abcdefgh", "abcdefgX"), seed=21),
    "8 characters further down": numeric_csv(labels=("a", "b"), seed=22) + "1,2,3,4,5,abcdefgh\n",
    "longer further down": numeric_csv(labels=("a", "b"), seed=23) + "1,2,3,4,5,abcdefghijk\n",
    "not Latin-1 further down": numeric_csv(labels=("a", "b"), seed=24) + "1,2,3,4,5,猫\n",
    "Latin-1 with spaces": numeric_csv(labels=(" é ", "ü", "\tx"), seed=25),
    "a bad cell further down": numeric_csv(labels=("a", "b"), seed=26) + "1,2,x,4,5,a\n",
    "label in the first column": "label,x1,x2\na,1,2\nb,3,4\nabcdefghij,5,6\n",
}


@pytest.mark.parametrize("name", sorted(SHORT_LABELS))
@pytest.mark.parametrize("file_name", ["d.csv", "d.csv.gz"])
def test_short_and_long_labels_load_the_same_both_ways(tmp_path, monkeypatch, name, file_name):
    path = write(tmp_path, SHORT_LABELS[name], name=file_name)
    now, careful = both_ways(monkeypatch, load_dataset, path, ("label",), None, "classification")
    assert_same(now, careful)
    assert fast_takes(path) == isinstance(careful, Dataset)


def test_the_fast_path_gives_the_same_floats_as_float(tmp_path):
    rng = np.random.default_rng(11)
    values = np.concatenate([rng.standard_normal(500) * 10.0 ** rng.integers(-300, 300, 500),
                             rng.random(500), [0.1, 1 / 3, 2 / 3, 5e-324, 1e-310, 9007199254740993.0]])
    values = [float(v) for v in values]
    cells = [repr(v) for v in values] + [f"{v:.6g}" for v in values] + [f"{v:.20e}" for v in values]
    lines = [f"{cell},{i % 2}" for i, cell in enumerate(cells)]
    path = write(tmp_path, "x,label\n" + "\n".join(lines) + "\n")
    dataset = data.load_plain_dataset(path, ("label",), None, "classification", "", None, None)
    assert dataset is not None
    np.testing.assert_array_equal(dataset.X[:, 0].view(np.uint64), np.array([float(c) for c in cells]).view(np.uint64))


@pytest.mark.parametrize("features", [("x3", "x1"), ("x2",), ("x0", "x1", "x2", "x3", "x4"), ("x4", "x4")])
def test_a_features_subset_in_any_order(tmp_path, monkeypatch, features):
    path = write(tmp_path, numeric_csv(seed=8))
    assert fast_takes(path, features=features)
    now, careful = both_ways(monkeypatch, load_dataset, path, ("label",), features, "classification")
    assert_same(now, careful)
    assert now.feature_names == features


def test_text_columns_left_out_by_the_features(tmp_path, monkeypatch):
    path = write(tmp_path, "id,x1,note,x2,label\na7,1,hello there,2,cat\nb8,3,#not a comment,4,dog\n")
    assert fast_takes(path, features=("x1", "x2"))
    assert_same(*both_ways(monkeypatch, load_dataset, path, ("label",), ("x1", "x2"), "classification"))


def test_regression_with_targets_apart_and_a_weight_column(tmp_path, monkeypatch):
    path = write(tmp_path, "t2,a,w,b,t1\n5,1,0.5,2,-1\n6,3,0,4,2e3\n7,5,2,6,0.25\n")
    assert fast_takes(path, ("t1", "t2"), task="regression", weight_column="w")
    now, careful = both_ways(monkeypatch, load_dataset, path, ("t1", "t2"), None, "regression", "mse",
                             weight_column="w")
    assert_same(now, careful)
    assert now.feature_names == ("a", "b") and now.weights.tolist() == [0.5, 0.0, 2.0]


@pytest.mark.parametrize("labels, classes", [
    (("0", "2", "02", "2.0"), (0, 1, 2)),  # integer classes: "02" and "2.0" are 2
    (("cat", "dog", " cat "), ("cat", "dog", "cow")),
    (("1",), (0, 1)),  # a single class is fine when the classes are known
])
def test_known_classes_from_a_checkpoint(tmp_path, monkeypatch, labels, classes):
    path = write(tmp_path, numeric_csv(rows=30, labels=labels, seed=9))
    assert fast_takes(path, classes=classes)
    assert_same(*both_ways(monkeypatch, load_dataset, path, ("label",), None, "classification", classes=classes))


def test_load_features_reordered_columns_extra_columns_and_targets(tmp_path, monkeypatch):
    rows = [line.split(",") for line in numeric_csv(rows=50, features=3, labels=("a", "b"), seed=10).splitlines()]
    reordered = [",".join([f"note {i}", label, x2, x0, x1]) for i, (x0, x1, x2, label) in enumerate(rows)]
    path = write(tmp_path, "\n".join(reordered).replace("note 0", "note", 1) + "\n")
    assert path.read_text().startswith("note,label,x2,x0,x1\n")
    now, careful = both_ways(monkeypatch, load_features, path, ("x0", "x1", "x2"), ("label",), "classification",
                             ("a", "b"))
    assert_same(now, careful)
    assert now[2] == ("note",) and now[3] is None
    assert data.load_plain_features(path, ("x0", "x1", "x2"), ("label",), "classification", ("a", "b")) is not None


@pytest.mark.parametrize("text, targets, task", [
    ("x2,x1\n2,1\n4,3\n", ("label",), "classification"),  # no target column: nothing to score
    ("t2,x1,t1\n5,1,6\n7,2,8\n", ("t1", "t2"), "regression"),
    ("x1,x2,label\n1,2,cow\n3,4,a\n", ("label",), "classification"),  # unseen class: a note, from the careful path
    ("x1,x2,label\n1,2,\n3,4,a\n", ("label",), "classification"),  # an empty label: a note
    ("x1,x2,label\n1,2,a\n3,abc,b\n", ("label",), "classification"),  # a bad feature: an error
])
def test_load_features_the_same_both_ways(tmp_path, monkeypatch, text, targets, task):
    path = write(tmp_path, text)
    features = ("x1",) if task == "regression" else ("x1", "x2")
    classes = None if task == "regression" else ("a", "b")
    assert_same(*both_ways(monkeypatch, load_features, path, features, targets, task, classes))


def test_load_features_with_no_feature_names(tmp_path, monkeypatch):
    path = write(tmp_path, "x1,label\n1,a\n2,b\n")
    now, careful = both_ways(monkeypatch, load_features, path, (), ("label",), "classification", ("a", "b"))
    assert_same(now, careful)
    assert now[0].shape == (2, 0)


# --------------------------------------------------------------------------- anything else: the careful reader


@pytest.mark.parametrize("cell", ["abc", "", " ", "NA", "n/a", "nan", "-NaN", "inf", "-Infinity", "1e400",
                                  "1_0", "\u0661", '"1.5"', "0x10", "1.5.2", "--1", "\ufeff1"])
def test_a_bad_or_unusual_cell_falls_back_with_the_careful_outcome(tmp_path, monkeypatch, cell):
    path = write(tmp_path, f"x1,x2,label\n1,2,a\n\n3,{cell},b\n")
    assert not fast_takes(path)
    now, careful = both_ways(monkeypatch, load_dataset, path, ("label",), None, "classification")
    assert_same(now, careful)


def test_the_bad_cell_message_names_line_and_column(tmp_path):
    lines = numeric_csv(rows=100, seed=12).splitlines()
    cells = lines[57].split(",")
    cells[3] = "oops"
    lines[57] = ",".join(cells)
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        load_dataset(path, ("label",), None, "classification")
    assert str(info.value) == f"{path}: line 58, column 'x3': 'oops' is not a number"


@pytest.mark.parametrize("label, message", [
    ("", "line 3, column 'label': the label is empty"),
    ("N/A", "line 3, column 'label': 'N/A' is a missing label"),
])
def test_a_bad_label_falls_back(tmp_path, monkeypatch, label, message):
    path = write(tmp_path, f"x1,label\n1,a\n2,{label}\n3,b\n")
    now, careful = both_ways(monkeypatch, load_dataset, path, ("label",), None, "classification")
    assert now == careful == f"error: {path}: {message}"


STRUCTURE = {
    "ragged short row": "x1,x2,label\n1,2,a\n3,b\n",
    "ragged long row": "x1,x2,label\n1,2,a\n3,4,5,b\n",
    "a short and a long row": "x1,x2,label\n1,2,a,0\n3,b\n5,6,a\n",
    "rows longer than the header": "x1,x2,label\n1,2,a,\n3,4,b,\n",
    "trailing delimiter on the header": "x1,x2,label,\n1,2,a,\n3,4,b\n",
    "quoted cells": 'x1,x2,label\n"1",2,"a, b"\n3,4,b\n',
    "an unclosed quote in an unused column": 'x1,x2,note,label\n1,2,ok,a\n3,4,"oops,b\n5,6,x,a\n',
    "a NUL byte in an unused column": "x1,x2,note,label\n1,2,o\x00k,a\n3,4,x,b\n",
    "a lone CR in the header": "x1,x2\rlabel\n1,2,a\n",
    "a blank line after the header": "x1,x2,label\n\n1,2,a\n3,4,b\n",
    "a line of spaces": "x1,x2,label\n1,2,a\n   \n3,4,b\n",
    "blank lines before the header": "\n\nx1,x2,label\n1,2,a\n3,4,b\n",
    "header only": "x1,x2,label\n",
    "header and blank lines": "x1,x2,label\n\n\n",
    "header without a line end": "x1,x2,label",
    "duplicate column names": "x1,x2,x1\n1,2,3\n",
    "an empty column name": "x1,,label\n1,2,a\n",
    "one column": "label\na\nb\n",
    "semicolons": "x1;x2;label\n1;2;a\n",
    "a comment line first": "# data\nx1,x2,label\n1,2,a\n",
    "empty": "",
}


@pytest.mark.parametrize("name", sorted(STRUCTURE))
def test_structure_the_fast_path_leaves_to_the_careful_reader(tmp_path, monkeypatch, name):
    path = write(tmp_path, STRUCTURE[name])
    assert not fast_takes(path, features=("x1", "x2") if "unused" in name else None)
    assert_same(*both_ways(monkeypatch, load_dataset, path, ("label",), None, "classification"))
    assert_same(*both_ways(monkeypatch, load_dataset, path, ("label",), ("x1", "x2"), "classification"))
    assert_same(*both_ways(monkeypatch, load_features, path, ("x1", "x2"), ("label",), "classification", ("a", "b")))


@pytest.mark.parametrize("raw", [b"x1,x2,note,label\n1,2,caf\xe9,a\n3,4,x,b\n", "x1,label\n1,a\n".encode("utf-16")],
                         ids=["latin-1 byte in an unused column", "UTF-16"])
def test_bytes_that_are_not_utf8(tmp_path, monkeypatch, raw):
    path = tmp_path / "d.csv"
    path.write_bytes(raw)
    assert not fast_takes(path, features=("x1", "x2"))
    assert_same(*both_ways(monkeypatch, load_dataset, path, ("label",), ("x1", "x2"), "classification"))


@pytest.mark.parametrize("limit", [200, 131072])
def test_a_cell_beyond_the_csv_field_limit_in_an_unused_column(tmp_path, monkeypatch, limit):
    old = csv.field_size_limit(limit)
    try:
        long_cell = "z" * (limit + 1)
        path = write(tmp_path, f"x1,x2,note,label\n1,2,a,a\n3,4,{long_cell},b\n5,6,c,a\n")
        assert not fast_takes(path, features=("x1", "x2"))
        now, careful = both_ways(monkeypatch, load_dataset, path, ("label",), ("x1", "x2"), "classification")
        assert now == careful == f"error: {path}: line 3: field larger than field limit ({limit})"
        fits = write(tmp_path, f"x1,x2,note,label\n1,2,{'z' * (limit - 20)},a\n3,4,b,b\n", name="fits.csv")
        assert fast_takes(fits, features=("x1", "x2"))
    finally:
        csv.field_size_limit(old)


@pytest.mark.parametrize("name", ["missing.csv", "."])
def test_missing_files_and_directories(tmp_path, monkeypatch, name):
    path = tmp_path / name
    assert not fast_takes(path)
    now, careful = both_ways(monkeypatch, load_dataset, path, ("label",), None, "classification")
    assert now == careful and now.startswith("error: ")


@pytest.mark.parametrize("args, kwargs", [
    ((("lable",), None, "classification"), {}),  # a missing target: a close name suggested
    ((("label",), ("x1", "zz"), "classification"), {}),
    ((("label",), ("x1", "label"), "classification"), {}),  # both a feature and a target
    (((), None, "classification"), {}),
    ((("x1", "label"), None, "classification"), {}),  # a classifier takes one target
    ((("label",), None, "classification"), {"weight_column": "x1"}),
    ((("label",), None, "classification"), {"weight_column": "label"}),  # the label is also the weight
    ((("label",), None, "classification"), {"weight_column": "nope"}),
    ((("label",), None, "classification"), {"classes": ("a",)}),  # "b" unseen
    ((("x2",), None, "classification"), {"loss_name": "cross_entropy"}),  # continuous values
])
def test_column_and_class_errors_are_the_careful_ones(tmp_path, monkeypatch, args, kwargs):
    path = write(tmp_path, "x1,x2,label\n1,2.5,a\n-3,4,b\n5,6,a\n")
    assert_same(*both_ways(monkeypatch, load_dataset, path, *args, **kwargs))


def test_a_negative_weight_falls_back(tmp_path, monkeypatch):
    path = write(tmp_path, "x1,w,label\n1,1,a\n2,-1,b\n")
    assert not fast_takes(path, weight_column="w")
    now, careful = both_ways(monkeypatch, load_dataset, path, ("label",), None, "classification", weight_column="w")
    assert now == careful == f"error: {path}: line 3, column 'w': a weight must be >= 0, got -1"


# --------------------------------------------------------------------------- every file of the CSV corpus


CORPUS_FILES = sorted(p.name for p in CORPUS.iterdir() if p.suffix == ".csv")


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_every_corpus_file_gives_the_same_outcome(monkeypatch, name):
    path = CORPUS / name
    case = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))[name]
    weight = next((s.split("=")[1] for s in case.get("set", []) if s.startswith("data.sample_weight=")), None)
    assert_same(*both_ways(monkeypatch, load_dataset, path, ("label",), None, "classification", weight_column=weight))
    assert_same(*both_ways(monkeypatch, load_dataset, path, ("x2",), ("x1",), "regression"))
    assert_same(*both_ways(monkeypatch, load_features, path, ("x1", "x2"), ("label",), "classification", (0, 1)))


def test_the_plain_corpus_files_take_the_fast_path():
    """So that the corpus test above compares two readers on them."""
    plain = {"good.csv", "bom.csv", "crlf.csv", "bom_crlf.csv", "no_final_newline.csv", "whitespace_cells.csv",
             "nbsp_around_number.csv", "number_formats.csv", "wide_500_columns.csv", "duplicate_rows.csv"}
    assert {name for name in CORPUS_FILES if fast_takes(CORPUS / name)} >= plain


# --------------------------------------------------------------------------- any file hypothesis can think of


NUMBERS = ["0", "1", "2", "-1", "0.5", " 2.5 ", "\t3", "1e3", "-0", ".5", "5.", "+1e-3", "1.25e-7", "-123456.7"]
LABELS = ["0", "1", "2", "cat", "dog", " cat ", "07", "1.0", "é"]
ODD = ["1e400", "nan", "inf", "NA", "?", "", " ", "abc", '"4"', '"a,b"', '"', "1_0", "\u0661", "\xa01\xa0",
       "x\x0by", "a\x0cb", "\x85", "\u2028", "#", "\ufeff2", "1\r", "\x00", "a,b"]
NAMES = ["x1", "x2", "label", "w", " x3 "]


@st.composite
def csv_texts(draw) -> tuple[str, bool]:
    """A small file: half of them plain, the others with an odd cell, row, line end or header here and there."""
    odd = draw(st.booleans())
    names = draw(st.permutations(NAMES))[: draw(st.integers(1, len(NAMES)))]
    if odd and draw(st.integers(0, 4)) == 0:
        names[-1] = draw(st.sampled_from(["x1", "", " ", "a;b"]))  # a duplicate, empty or odd name
    numbers = st.sampled_from(NUMBERS * 4 + LABELS + ODD) if odd else st.sampled_from(NUMBERS)
    labels = st.sampled_from(LABELS * 4 + ODD) if odd else st.sampled_from(LABELS)
    rows = []
    for _ in range(draw(st.integers(0 if odd else 1, 6))):
        row = [draw(labels if name == "label" else numbers) for name in names]
        if odd and draw(st.integers(0, 9)) == 0:
            row = row[:-1] if draw(st.booleans()) else row + ["1"]  # a ragged row
        rows.append(row)
    lines = [",".join(names)] + [",".join(row) for row in rows]
    if odd and draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", "  "])))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"] if odd else ["\n", "\r\n"]))
    return newline.join(lines) + draw(st.sampled_from([newline, "", newline * 2])), draw(st.booleans())


@settings(max_examples=200)
@given(csv_texts(), st.sampled_from(["classification", "regression"]))
def test_any_file_the_same_both_ways(tmp_path_factory, text_and_bom, task):
    text, bom = text_and_bom
    path = write(tmp_path_factory.getbasetemp(), text, name="hypothesis.csv", bom=bom)
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same(*both_ways(monkeypatch, load_dataset, path, ("label",), None, task))
        assert_same(*both_ways(monkeypatch, load_dataset, path, ("label",), ("x1", "x2"), task, weight_column="w"))
        classes = (0, 1, 2) if task == "classification" else None
        assert_same(*both_ways(monkeypatch, load_features, path, ("x2", "x1"), ("label",), task, classes))


# --------------------------------------------------------------------------- the benchmark runs


def test_the_csv_benchmark_runs_on_a_small_file():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "csv_load.py"), "--rows", "300",
                           "--features", "4", "--repeat", "1", "--careful", "--json"],
                          capture_output=True, text=True, check=True, timeout=120)
    figures = json.loads(done.stdout)
    assert set(figures["readers"]) == {"loadtxt", "nnctl", "nnctl careful", "nnctl prepare"}
    for reader in figures["readers"].values():
        assert reader["seconds"] >= 0 and reader["peak_rss_mb"] > 0
    assert figures["readers"]["nnctl"]["shape"] == [300, 4]  # X
    assert figures["readers"]["nnctl prepare"]["shape"] == [240, 4]  # X_train: 80% of the rows
    assert figures["readers"]["loadtxt"]["shape"] == [300, 5]  # every column, the label too
