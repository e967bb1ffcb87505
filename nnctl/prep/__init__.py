"""Data preparation: a row's way from a CSV file (or arrays) to the network's inputs.

    columns.py       cells -> typed columns: numbers (NaN where missing) or categories  (pure)
    preprocessor.py  the fitted preprocessor: imputation, one-hot encoding, target scaling,
                     stored in the checkpoint and applied at predict time              (pure)
    transforms.py    splitting rows, standardising columns                             (pure)
    prepare.py       config -> files (through nnctl.data) -> PreparedData for training (adapter)
"""
