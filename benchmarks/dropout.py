"""What dropout costs a training step: nnctl and PyTorch, each with and without it, on the same network.

    python benchmarks/dropout.py --repeat 3

Each tool trains a softmax network with plain SGD on the same float32 rows, in this process, one
thread pool of 2 threads for PyTorch; with dropout p = 0.5 after every hidden layer (nnctl's
``model.dropout``, PyTorch's ``nn.Dropout``, both inverted).  Timed: the epochs alone, from arrays
in memory (nnctl: ``core.training.fit`` with the figures from the batches; PyTorch: a shuffled index
per epoch, ``model.train()``), best of ``--repeat`` runs.  PyTorch comes with the optional extra
``pip install -e ".[bench]"``; without it only nnctl's columns are measured.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from nnctl.core.model import init_network
from nnctl.core.training import Settings, fit

SHAPES = {  # name: (rows, sizes, batch, epochs)
    "digits-sized 64-64-10": (1437, (64, 64, 10), 32, 20),
    "MNIST-shaped 784-256-128-10": (20000, (784, 256, 128, 10), 128, 2),
}


def data(rows: int, sizes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, sizes[0])).astype(np.float32)
    return X, rng.integers(0, sizes[-1], rows)


def nnctl_seconds(X: np.ndarray, y: np.ndarray, sizes, batch: int, epochs: int, p: float) -> float:
    layers = init_network(list(sizes), ["relu"] * (len(sizes) - 2), "identity", np.random.default_rng(1))
    settings = Settings(loss="softmax_cross_entropy", learning_rate=0.05, epochs=epochs, batch_size=batch,
                        evaluate_train="batches", dropout=(p,) * (len(sizes) - 2))
    started = time.perf_counter()
    fit(layers, X, y, settings, np.random.default_rng(2))
    return time.perf_counter() - started


def torch_seconds(X: np.ndarray, y: np.ndarray, sizes, batch: int, epochs: int, p: float) -> float:
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(2)
    torch.manual_seed(0)
    modules: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        modules.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            modules += [nn.ReLU(), *([nn.Dropout(p)] if p else [])]
    model = nn.Sequential(*modules)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), batch):
            rows = order[start:start + batch]
            loss = F.cross_entropy(model(Xt[rows]), yt[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    try:
        import torch  # noqa: F401

        tools = {"nnctl": nnctl_seconds, "torch": torch_seconds}
    except ImportError:
        tools = {"nnctl": nnctl_seconds}
    print("| network | rows x epochs | tool | no dropout, ms/epoch | dropout 0.5, ms/epoch | cost |")
    print("|---|---|---|---|---|---|")
    for name, (rows, sizes, batch, epochs) in SHAPES.items():
        X, y = data(rows, sizes)
        for tool, seconds in tools.items():
            seconds(X, y, sizes, batch, 1, 0.5)  # warm up: thread pools, first allocations
            best = {p: min(seconds(X, y, sizes, batch, epochs, p) for _ in range(args.repeat)) / epochs
                    for p in (0.0, 0.5)}
            print(f"| {name} | {rows} x {epochs} | {tool} | {1000 * best[0.0]:.1f} | {1000 * best[0.5]:.1f} | "
                  f"{100 * (best[0.5] / best[0.0] - 1):+.0f}% |")


if __name__ == "__main__":
    main()
