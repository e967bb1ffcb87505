"""Data preparation: a row's way from a CSV file (or arrays) to the network's inputs.

    columns.py       cells -> typed columns: numbers (NaN where missing) or categories   (pure)
    preprocessor.py  the fitted preprocessor: imputation, one-hot encoding, target scaling,
                     stored in the checkpoint and applied at predict time               (pure)
    transforms.py    splitting rows, standardising columns                              (pure)
    describe.py      what `nnctl data describe` says of a column                         (pure)
    rows.py          a file's rows, read through nnctl.data and typed                   (adapter)
    prepare.py       config -> split, fit, transform, scale -> PreparedData             (adapter)
    arrays.py        the same for the Python API's arrays and named columns             (adapter)
"""
