"""The same training as `nnctl train`, written as a bare NumPy script: the yardstick of
benchmarks/end_to_end.py.

    python benchmarks/bare_numpy.py TRAIN.csv VALIDATION.csv [--hidden 64] [--epochs 50]
                                    [--batch 32] [--learning-rate 0.05] [--seed 0]

Both CSV files have a header, numeric feature columns and the class label (0..k-1) in the
last column.  The script standardises the features with the training rows' mean and
standard deviation, trains an MLP with one relu hidden layer and a softmax output by plain
mini-batch SGD on the mean softmax cross-entropy (He-uniform weights, zero biases, the rows
reshuffled every epoch), evaluates the validation rows once per epoch (loss and accuracy),
and prints the last epoch's figures.  It writes no files and checks nothing: what a user
would write by hand for one known, clean table.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def load(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(features float32, labels int64) of a CSV file with a header and the label last."""
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    return table[:, :-1].astype(np.float32), table[:, -1].astype(np.int64)


def he_uniform(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    r = np.sqrt(6.0 / fan_in)
    return rng.uniform(-r, r, size=(fan_in, fan_out)).astype(np.float32)


def softmax(Z: np.ndarray) -> np.ndarray:
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def forward(params, X):
    W1, b1, W2, b2 = params
    Z1 = X @ W1 + b1
    A1 = np.maximum(Z1, 0)
    return Z1, A1, A1 @ W2 + b2


def cross_entropy(Z: np.ndarray, y: np.ndarray) -> float:
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train")
    parser.add_argument("validation")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X, y = load(args.train)
    X_val, y_val = load(args.validation)
    mean, std = X.mean(axis=0), X.std(axis=0)
    std[std == 0] = 1.0
    X, X_val = (X - mean) / std, (X_val - mean) / std
    k = int(max(y.max(), y_val.max())) + 1
    T = np.eye(k, dtype=np.float32)[y]

    rng = np.random.default_rng(args.seed)
    params = [he_uniform(X.shape[1], args.hidden, rng), np.zeros(args.hidden, np.float32),
              he_uniform(args.hidden, k, rng), np.zeros(k, np.float32)]
    eta = np.float32(args.learning_rate)
    n = len(X)
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(n)
        for start in range(0, n, args.batch):
            rows = order[start:start + args.batch]
            Xb, Tb = X[rows], T[rows]
            Z1, A1, Z2 = forward(params, Xb)
            dZ2 = (softmax(Z2) - Tb) / len(rows)  # mean softmax cross-entropy
            dW2, db2 = A1.T @ dZ2, dZ2.sum(axis=0)
            dZ1 = (dZ2 @ params[2].T) * (Z1 > 0)
            dW1, db1 = Xb.T @ dZ1, dZ1.sum(axis=0)
            for p, g in zip(params, (dW1, db1, dW2, db2)):
                p -= eta * g
        Z_val = forward(params, X_val)[2]
        val_loss, val_accuracy = cross_entropy(Z_val, y_val), float(np.mean(Z_val.argmax(axis=1) == y_val))
    print(f"epoch {args.epochs}: val loss {val_loss:.4f}, val accuracy {val_accuracy:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
