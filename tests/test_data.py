"""nnctl.data: CSV reading, data sets, splits, scaling and atomic writing."""

import io
import os

import numpy as np
import pytest

from nnctl.data import load_dataset, load_features, read_table, write_csv, write_csv_to
from nnctl.prep.transforms import Scaler, split_indices
from nnctl.errors import NnctlError


def write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def write_bytes(tmp_path, data, name="d.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def error_of(call, *args, **kwargs):
    with pytest.raises(NnctlError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- read_table


def test_read_table_strips_names_and_cells_and_numbers_lines(tmp_path):
    path = write(tmp_path, " x1 , x2 ,label\n1, 2 ,a\n3,4,b\n")
    table = read_table(path)
    assert table.path == path
    assert table.columns == ("x1", "x2", "label")
    assert table.cells == [["1", "2", "a"], ["3", "4", "b"]]
    assert table.lines == [2, 3]


def test_read_table_bom_and_crlf(tmp_path):
    path = write_bytes(tmp_path, b"\xef\xbb\xbfx1,label\r\n1.5,a\r\n2.5,b\r\n")
    table = read_table(path)
    assert table.columns == ("x1", "label")
    assert table.cells == [["1.5", "a"], ["2.5", "b"]]
    assert table.lines == [2, 3]


def test_read_table_blank_lines_are_skipped_but_counted(tmp_path):
    path = write(tmp_path, "\nx1,label\n\n1,a\n   \n\r\n2,b\n\n")
    table = read_table(path)
    assert table.columns == ("x1", "label")
    assert table.cells == [["1", "a"], ["2", "b"]]
    assert table.lines == [4, 7]


def test_read_table_quoted_fields_and_multiline_quotes(tmp_path):
    path = write(tmp_path, 'x1,"name, full"\n"1.5","a, b"\n2,"two\nlines"\n3,c\n')
    table = read_table(path)
    assert table.columns == ("x1", "name, full")
    assert table.cells == [["1.5", "a, b"], ["2", "two\nlines"], ["3", "c"]]
    assert table.lines == [2, 3, 5]


def test_read_table_trailing_delimiter_drops_the_empty_column(tmp_path):
    path = write(tmp_path, "x1,x2,label,\n1,2,a,\n3,4,b\n")
    table = read_table(path)
    assert table.columns == ("x1", "x2", "label")
    assert table.cells == [["1", "2", "a"], ["3", "4", "b"]]


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "x1,x2,x3,label\n1,2,3,a\n1,2,3,a\n\n1,2,a\n",
            ": line 5: 3 cells, but the header has 4 columns",
        ),
        ("x1,label\n1,a,\n", ": line 2: 3 cells, but the header has 2 columns"),
        ("x1,label,\n1,a,oops\n", ": line 2: 3 cells, but the header has 2 columns"),
        ("x1,x2,x1\n1,2,3\n", ": line 1: column 'x1' appears twice (columns 1 and 3)"),
        ("\nx1,,label\n1,2,3\n", ": line 2: column 2 has an empty name"),
        ("", ": the file is empty"),
        ("\n  \n\n", ": the file is empty"),
        ("\nx1,label\n\n", ": line 2: the file has a header but no data rows"),
    ],
)
def test_read_table_errors(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert error_of(read_table, path) == f"{path}{expected}"


def test_missing_file_and_directory(tmp_path):
    assert error_of(read_table, tmp_path / "nope.csv") == f"{tmp_path / 'nope.csv'}: no such file"
    assert error_of(read_table, tmp_path) == f"{tmp_path}: is a directory, not a CSV file"


def test_message_names_the_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    assert error_of(read_table, "data/x.csv") == "data/x.csv: no such file"


def test_non_utf8_names_the_line(tmp_path):
    path = write_bytes(tmp_path, b"x1,label\n1,a\n2,caf\xe9\n")
    assert error_of(read_table, path) == (
        f"{path}: line 3: byte 0xe9 is not valid UTF-8; save the file as UTF-8"
    )


def test_binary_file(tmp_path):
    path = write_bytes(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert error_of(read_table, path) == (
        f"{path}: does not look like a CSV text file (it contains NUL bytes)"
    )


def test_utf16_file(tmp_path):
    path = write_bytes(tmp_path, "x1,label\n1,a\n".encode("utf-16"))
    assert error_of(read_table, path) == f"{path}: the file is UTF-16 text; save it as UTF-8"


# --------------------------------------------------------------------------- load_dataset

CLASSES_CSV = "x1,x2,label\n0.5,1,cat\n1.5,2,dog\n2.5,3,cat\n3.5,4,bird\n"


def test_string_labels_become_sorted_classes(tmp_path):
    ds = load_dataset(write(tmp_path, CLASSES_CSV), ("label",), None, "classification")
    assert ds.classes == ("bird", "cat", "dog")
    assert ds.y.dtype == np.int64
    assert ds.y.tolist() == [1, 2, 1, 0]
    assert ds.X.dtype == np.float64
    np.testing.assert_array_equal(ds.X, [[0.5, 1], [1.5, 2], [2.5, 3], [3.5, 4]])
    assert ds.feature_names == ("x1", "x2")
    assert ds.target_names == ("label",)
    assert ds.task == "classification"


def test_integer_labels_are_sorted_numerically(tmp_path):
    path = write(tmp_path, "x,label\n1,10\n2,2\n3,-1\n4,1\n5,2\n")
    ds = load_dataset(path, ("label",), None, "classification")
    assert ds.classes == (-1, 1, 2, 10)
    assert all(type(c) is int for c in ds.classes)
    assert ds.y.tolist() == [3, 2, 0, 1, 2]


def test_labels_not_written_as_plain_integers_stay_as_written(tmp_path):
    path = write(tmp_path, "x,label\n1,07\n2,3\n3,1.0\n4,07\n")
    ds = load_dataset(path, ("label",), None, "classification")
    assert ds.classes == ("07", "1.0", "3")
    assert ds.y.tolist() == [0, 2, 1, 0]


def test_mixed_labels_are_strings(tmp_path):
    path = write(tmp_path, "x,label\n1,1\n2,b\n3,10\n4,2\n")
    ds = load_dataset(path, ("label",), None, "classification")
    assert ds.classes == ("1", "10", "2", "b")
    assert ds.y.tolist() == [0, 3, 1, 2]


def test_quoted_and_padded_numbers(tmp_path):
    path = write(tmp_path, 'x1,x2,label\n" 1.5 ",  -2e-3 ,"1"\n"3",4,0\n')
    ds = load_dataset(path, ("label",), None, "classification")
    np.testing.assert_array_equal(ds.X, [[1.5, -0.002], [3.0, 4.0]])
    assert ds.classes == (0, 1)
    assert ds.y.tolist() == [1, 0]


def test_multi_target_regression(tmp_path):
    path = write(tmp_path, "a,t1,b,t2\n1,0.5,2,-1\n3,1.5,4,2e3\n")
    ds = load_dataset(path, ("t1", "t2"), None, "regression", loss_name="mse")
    assert ds.feature_names == ("a", "b")
    assert ds.target_names == ("t1", "t2")
    assert ds.classes is None
    assert ds.task == "regression"
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4]])
    assert ds.y.dtype == np.float64
    np.testing.assert_array_equal(ds.y, [[0.5, -1.0], [1.5, 2000.0]])


def test_features_subset_in_the_order_given(tmp_path):
    path = write(tmp_path, "x1,junk,x2,y\n1,a,2,0.1\n3,b,4,0.2\n")
    ds = load_dataset(path, ("y",), ("x2", "x1"), "regression")
    assert ds.feature_names == ("x2", "x1")
    np.testing.assert_array_equal(ds.X, [[2, 1], [4, 3]])
    np.testing.assert_array_equal(ds.y, [[0.1], [0.2]])


def test_features_none_means_all_but_the_targets_in_file_order(tmp_path):
    path = write(tmp_path, "x3,y,x1,x2\n1,0,2,3\n4,1,5,6\n")
    ds = load_dataset(path, ("y",), None, "classification")
    assert ds.feature_names == ("x3", "x1", "x2")
    np.testing.assert_array_equal(ds.X, [[1, 2, 3], [4, 5, 6]])


def test_missing_target_column_suggests_a_close_name(tmp_path):
    path = write(tmp_path, "x1,x2,label\n1,2,a\n")
    assert error_of(load_dataset, path, ("lable",), None, "classification") == (
        f"{path}: column 'lable' not found; columns are: x1, x2, label; did you mean 'label'?"
    )


def test_missing_feature_column_without_a_close_name(tmp_path):
    path = write(tmp_path, "x1,x2,label\n1,2,a\n")
    assert error_of(load_dataset, path, ("label",), ("x1", "zzz"), "classification") == (
        f"{path}: column 'zzz' not found; columns are: x1, x2, label"
    )


def test_no_feature_columns_left(tmp_path):
    path = write(tmp_path, "label\na\nb\n")
    assert error_of(load_dataset, path, ("label",), None, "classification") == (
        f"{path}: no feature columns left once the targets are taken out"
    )


def test_feature_and_target_overlap(tmp_path):
    path = write(tmp_path, "x1,y\n1,2\n3,4\n")
    assert error_of(load_dataset, path, ("y",), ("x1", "y"), "regression") == (
        f"{path}: column 'y' is both a feature and a target"
    )


@pytest.mark.parametrize(
    "cell, why",
    [
        ("abc", "'abc' is not a number"),
        ("", "the cell is empty; a number is needed"),
        ("NA", "'NA' is a missing value; fill it in or drop the row"),
        ("nan", "'nan' is a missing value; fill it in or drop the row"),
        ("-NaN", "'-NaN' is a missing value; fill it in or drop the row"),
        ("inf", "'inf' is not a finite number"),
        ("-Infinity", "'-Infinity' is not a finite number"),
        ("1e400", "'1e400' is too large (it overflows to infinity)"),
    ],
)
def test_bad_feature_cell_names_line_and_column(tmp_path, cell, why):
    path = write(tmp_path, f"x1,x2,label\n1,2,a\n\n3,{cell},b\n")
    message = error_of(load_dataset, path, ("label",), None, "classification")
    assert message == f"{path}: line 4, column 'x2': {why}"


def test_bad_regression_target_cell(tmp_path):
    path = write(tmp_path, "x,y\n1,2\n3,oops\n")
    assert error_of(load_dataset, path, ("y",), None, "regression") == (
        f"{path}: line 3, column 'y': 'oops' is not a number"
    )


def test_empty_label(tmp_path):
    path = write(tmp_path, 'x,label\n1,a\n2,""\n3,b\n')
    assert error_of(load_dataset, path, ("label",), None, "classification") == (
        f"{path}: line 3, column 'label': the label is empty"
    )


def test_single_class(tmp_path):
    path = write(tmp_path, "x,label\n1,1\n2,1\n")
    assert error_of(load_dataset, path, ("label",), None, "classification") == (
        f"{path}: column 'label' has a single class (1); a classifier needs at least two"
    )


def test_continuous_target_for_a_classification_loss(tmp_path):
    path = write(tmp_path, "x,y\n1,0.37\n2,1\n3,2.5\n")
    assert error_of(load_dataset, path, ("y",), None, "classification", "cross_entropy") == (
        f"{path}: column 'y' holds continuous values, but loss: cross_entropy needs class "
        "labels; use loss: mse or mae for regression"
    )


def test_classification_needs_one_target(tmp_path):
    path = write(tmp_path, "x,a,b\n1,0,1\n2,1,0\n")
    assert error_of(load_dataset, path, ("a", "b"), None, "classification") == (
        f"{path}: a classifier takes exactly one target column, but 2 were given: a, b"
    )


def test_known_classes_map_labels_and_allow_a_single_class(tmp_path):
    path = write(tmp_path, "x,label\n1,2\n2,02\n")
    ds = load_dataset(path, ("label",), None, "classification", classes=(0, 1, 2))
    assert ds.classes == (0, 1, 2)
    assert ds.y.tolist() == [2, 2]


def test_unseen_class_at_prediction_time(tmp_path):
    path = write(tmp_path, "x,label\n1,cat\n2,cow\n")
    message = error_of(
        load_dataset, path, ("label",), None, "classification", classes=("cat", "dog")
    )
    assert message == (
        f"{path}: line 3, column 'label': class 'cow' was not seen in training; "
        "known classes: cat, dog"
    )


# --------------------------------------------------------------------------- load_features


def test_load_features_matches_by_name_and_reports_extras(tmp_path):
    path = write(tmp_path, "id,x2,label,x1,note\n7,2,b,1,hi\n8,4,a,3,yo\n")
    X, y, ignored, note = load_features(path, ("x1", "x2"), ("label",), "classification", ("a", "b"))
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    assert y.tolist() == [1, 0]
    assert ignored == ("id", "note") and note is None


def test_load_features_still_predicts_when_targets_cannot_be_scored(tmp_path):
    path = write(tmp_path, "x1,x2,label\n1,2,a\n3,4,cow\n5,6,b\n")
    X, y, ignored, note = load_features(path, ("x1", "x2"), ("label",), "classification", ("a", "b"))
    np.testing.assert_array_equal(X, [[1, 2], [3, 4], [5, 6]])
    assert y is None
    assert note == f"no metrics: {path}: line 3, column 'label': class 'cow' was not seen in training; known classes: a, b"


def test_load_features_without_targets(tmp_path):
    path = write(tmp_path, "x2,x1\n2,1\n")
    X, y, ignored, note = load_features(path, ("x1", "x2"), ("t1", "t2"), "regression", None)
    np.testing.assert_array_equal(X, [[1, 2]])
    assert y is None
    assert ignored == ()


def test_load_features_regression_targets(tmp_path):
    path = write(tmp_path, "t2,x1,t1\n5,1,6\n")
    X, y, ignored, note = load_features(path, ("x1",), ("t1", "t2"), "regression", None)
    np.testing.assert_array_equal(y, [[6, 5]])
    assert ignored == ()


def test_load_features_missing_feature(tmp_path):
    path = write(tmp_path, "x2,label\n2,a\n")
    features = ("x1", "x2", "x3")
    message = error_of(load_features, path, features, ("label",), "classification", ("a",))
    assert message == (
        f"{path}: missing feature column(s) the model was trained on: x1, x3; "
        "columns are: x2, label"
    )


# --------------------------------------------------------------------------- split_indices


def test_split_is_disjoint_covering_and_sorted():
    y = np.arange(50) % 2
    train, val = split_indices(y, 0.2, np.random.default_rng(1), stratify=False)
    assert len(val) == 10 and len(train) == 40
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.union1d(train, val), np.arange(50))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    assert train.dtype.kind == "i" and val.dtype.kind == "i"


def test_stratified_split_keeps_class_proportions():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    train, val = split_indices(y, 0.2, np.random.default_rng(0), stratify=True)
    assert np.bincount(y[val]).tolist() == [12, 6, 2]
    assert np.bincount(y[train]).tolist() == [48, 24, 8]
    np.testing.assert_array_equal(np.union1d(train, val), np.arange(100))


def test_stratified_split_gives_every_class_a_validation_row():
    y = np.array([0] * 20 + [1] * 2 + [2])
    train, val = split_indices(y, 0.1, np.random.default_rng(0), stratify=True)
    assert np.bincount(y[val], minlength=3).tolist() == [2, 1, 0]  # a lone row stays in training
    assert np.bincount(y[train]).tolist() == [18, 1, 1]


def test_split_is_deterministic_for_a_seed():
    y = np.arange(40) % 3
    first = split_indices(y, 0.25, np.random.default_rng(7), stratify=True)
    second = split_indices(y, 0.25, np.random.default_rng(7), stratify=True)
    other = split_indices(y, 0.25, np.random.default_rng(8), stratify=True)
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[1], other[1])


def test_split_fraction_zero_keeps_everything_for_training():
    train, val = split_indices(np.zeros((5, 1)), 0.0, np.random.default_rng(0), stratify=False)
    np.testing.assert_array_equal(train, np.arange(5))
    assert val.size == 0


def test_split_regression_targets_ignore_stratify_and_n_samples_without_y():
    y = np.linspace(0, 1, 10)[:, None]
    train, val = split_indices(y, 0.3, np.random.default_rng(0), stratify=True)
    assert (len(train), len(val)) == (7, 3)
    train, val = split_indices(None, 0.5, np.random.default_rng(0), False, n_samples=4)
    assert (len(train), len(val)) == (2, 2)


def test_split_too_small_for_a_validation_set():
    message = error_of(split_indices, np.array([0, 1, 0, 1]), 0.1, np.random.default_rng(0), False)
    assert message == (
        "a validation fraction of 0.1 leaves the validation set empty (4 rows); "
        "use a larger fraction or more rows"
    )


def test_split_too_small_for_a_training_set():
    message = error_of(split_indices, np.array([0.5]), 0.9, np.random.default_rng(0), False)
    assert message == (
        "a validation fraction of 0.9 leaves the training set empty (1 rows); "
        "use a smaller fraction or more rows"
    )


# --------------------------------------------------------------------------- Scaler


def test_scaler_standardises_and_leaves_constant_columns_alone():
    X = np.array([[1.0, 0.1, -2.0], [3.0, 0.1, 2.0], [5.0, 0.1, 0.0]])
    scaler = Scaler.fit(X)
    np.testing.assert_allclose(scaler.mean, [3.0, 0.1, 0.0])
    np.testing.assert_allclose(scaler.scale, [np.sqrt(8 / 3), 1.0, np.sqrt(8 / 3)])
    Z = scaler.transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z[:, [0, 2]].std(axis=0), 1.0)
    np.testing.assert_allclose(Z[:, 1], 0.0, atol=1e-15)
    s = np.sqrt(8 / 3)
    np.testing.assert_allclose(scaler.transform([[7.0, 1.1, 4.0]]), [[4 / s, 1.0, 4 / s]])


def test_identity_scaler():
    X = np.array([[1.0, -2.0], [3.0, 4.0]])
    scaler = Scaler.identity(2)
    np.testing.assert_array_equal(scaler.transform(X), X)


# --------------------------------------------------------------------------- write_csv


def test_write_csv_round_trips_through_read_table(tmp_path):
    path = tmp_path / "out.csv"
    values = [0.1, 1 / 3, -2.5e-300, 12345678.901234567]
    rows = [(v, np.float32(0.5), np.int64(i), "a, b", True) for i, v in enumerate(values)]
    write_csv(path, ["x1", "x2", "n", "text", "flag"], rows)
    assert path.read_text(encoding="utf-8").splitlines()[1] == '0.1,0.5,0,"a, b",True'
    table = read_table(path)
    assert table.columns == ("x1", "x2", "n", "text", "flag")
    assert [float(row[0]) for row in table.cells] == values  # bit for bit
    assert [row[2] for row in table.cells] == ["0", "1", "2", "3"]
    assert table.cells[0][3] == "a, b"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_write_csv_failure_keeps_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old,content\n1,2\n", encoding="utf-8")

    def rows():
        yield (1.0, 2.0)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_csv(path, ["a", "b"], rows())
    assert path.read_text(encoding="utf-8") == "old,content\n1,2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_write_csv_creates_missing_directories_and_refuses_impossible_places(tmp_path):
    path = tmp_path / "new" / "out.csv"
    write_csv(path, ["a"], [(1,)])
    assert path.read_text() == "a\n1\n"
    blocked = tmp_path / "file.txt"
    blocked.write_text("x")
    assert error_of(write_csv, blocked / "out.csv", ["a"], [(1,)]) == f"{blocked}: exists and is not a directory"
    assert error_of(write_csv, tmp_path, ["a"], [(1,)]) == f"{tmp_path}: is a directory; give a file name"


def test_write_csv_to_a_stream():
    stream = io.StringIO()
    write_csv_to(stream, ["x", "label"], [(0.25, 1), (np.float64(2.0), "b")])
    assert stream.getvalue() == "x,label\n0.25,1\n2.0,b\n"
    with pytest.raises(ValueError, match="a row has 1 cells, but there are 2 columns"):
        write_csv_to(io.StringIO(), ["x", "label"], [(1,)])


def test_write_csv_replaces_an_existing_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n", encoding="utf-8")
    write_csv(path, ["a"], [(1,)])
    assert path.read_bytes() == b"a\n1\n"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_a_semicolon_separated_file_gets_a_delimiter_hint(tmp_path):
    path = write(tmp_path, "x1;x2;label\n1;2;a\n3;4;b\n")
    message = error_of(load_dataset, path, ("label",), None, "classification")
    assert message == (f"{path}: column 'label' not found; the header seems to separate its names with "
                       "semicolons, but nnctl reads comma-separated files: save the file with commas")
