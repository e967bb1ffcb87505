"""Stacked seeds (issue 6, point 5): 8 seeds of a small net trained as one stacked computation.

    python benchmarks/seeds.py [--seeds 8] [--repeats 5]

For each workload: the seconds of one seed trained alone, of the seeds trained one
after the other, and of the same seeds trained stacked (``core.stacked.fit_stacked``,
what ``sweep-hidden --seeds N`` uses through ``run.train_seeds``); the best of
``--repeats`` each, alternating.  It also checks that every stacked seed ends with the
weights and figures of its run alone, bit for bit.  Two levels are timed: the core
(``fit`` / ``fit_stacked`` on arrays) and a whole run in memory (``run.train`` /
``run.train_seeds``: the history rows and checkpoints kept as they are in a sweep).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from nnctl import run, toydata
from nnctl.prep import prepare
from nnctl.config import load_config
from nnctl.core.model import init_network
from nnctl.core.stacked import fit_stacked
from nnctl.core.training import Settings, fit

ROOT = Path(__file__).resolve().parent.parent


def w3(seeds: int):
    """W3 of bench.py: two moons, 800 rows, 2-8-2 tanh, batch 32, 100 epochs, 20% held out."""
    X, y, _, _ = toydata.make("moons", 1000, 0.2, np.random.default_rng(0))
    X = X.astype(np.float32)
    settings = Settings(loss="softmax_cross_entropy", learning_rate=0.2, epochs=100, batch_size=32)
    validation = (X[800:], y[800:])

    def nets():
        return [init_network([2, 8, 2], ["tanh"], "identity", np.random.default_rng(s)) for s in range(seeds)]

    def alone(k):
        layers = nets()[k]
        history = fit(layers, X[:800], y[:800], settings, np.random.default_rng(100 + k), validation)
        return layers, history

    def stacked():
        layers = nets()
        histories = fit_stacked(layers, X[:800], y[:800], settings, [np.random.default_rng(100 + k)
                                                                     for k in range(seeds)], validation)
        return list(zip(layers, histories))
    return alone, stacked


def circles_runs(seeds: int):
    """configs/circles.yaml as sweep-hidden runs it: whole runs in memory."""
    base = load_config(ROOT / "configs" / "circles.yaml")
    configs = [replace(base, seed=s) for s in range(seeds)]
    data = prepare.prepare_data(configs[0], run.generators(configs[0])[0])

    def alone(k):
        result = run.train(configs[k], data=data, write_files=False)
        return result.layers, result.rows

    def stacked():
        return [(r.layers, r.rows) for r in run.train_seeds(configs, data, write_files=False)]
    return alone, stacked


def same(a, b) -> bool:
    (layers_a, rest_a), (layers_b, rest_b) = a, b
    weights = all(np.array_equal(x.W, y.W) and np.array_equal(x.b, y.b) for x, y in zip(layers_a, layers_b))
    if isinstance(rest_a, list):  # history rows: all but the wall time
        figures = [{k: v for k, v in r.items() if k != "seconds"} for r in rest_a] == \
                  [{k: v for k, v in r.items() if k != "seconds"} for r in rest_b]
    else:
        figures = ([(r.train, r.validation, r.health) for r in rest_a.records]
                   == [(r.train, r.validation, r.health) for r in rest_b.records])
    return weights and figures


def seconds(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"| workload | one seed s | {args.seeds} seeds one by one s | {args.seeds} seeds stacked s "
          f"| stacked / one seed | one by one / stacked | equal to the runs alone |")
    print("|---|---|---|---|---|---|---|")
    for name, make in (("W3 (core: fit vs fit_stacked)", w3),
                       ("configs/circles.yaml (whole runs: run.train vs run.train_seeds)", circles_runs)):
        alone, stacked = make(args.seeds)
        stacked(), alone(0)  # warm up
        one, serial, together = [], [], []
        for _ in range(args.repeats):
            one.append(seconds(lambda: alone(0)))
            serial.append(seconds(lambda: [alone(k) for k in range(args.seeds)]))
            together.append(seconds(stacked))
        equal = all(same(alone(k), result) for k, result in enumerate(stacked()))
        print(f"| {name} | {min(one):.3f} | {min(serial):.3f} | {min(together):.3f} | "
              f"{min(together) / min(one):.2f}x | {min(serial) / min(together):.2f}x | {'yes' if equal else 'NO'} |")


if __name__ == "__main__":
    main()
