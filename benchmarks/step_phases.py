"""Where one nnctl training step spends its time, phase by phase, on bench.py's workloads.

    python benchmarks/step_phases.py [--workloads W1,W2,W3,W4] [--steps 200]

Each phase of the step that ``core/training.py`` runs is timed on its own, over the same
shuffled batches, with the arrays and buffers of a real fit (``training.make_job`` and
``Job.prepare``): the gather of the batch's rows, the forward pass, the loss's output delta,
the backward pass, the optimizer's update, the two finiteness checks, and the tally of the
epoch's figures.  Then the whole step, as the loop runs it, and the step's matrix products
alone (the floor no arrangement of the rest can go below).  Microseconds per step, the best
of three rounds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import WORKLOADS, make_data, matmul_floor_us  # noqa: E402

from nnctl.core.model import backward, forward, init_network  # noqa: E402
from nnctl.core.optimizers import OPTIMIZERS, Hyper  # noqa: E402
from nnctl.core.training import Settings, make_job, new_state  # noqa: E402


def best_of(rounds: int, steps: int, run) -> float:
    """Microseconds per step of ``run(step)`` for ``steps`` steps, the best of ``rounds``."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for step in range(steps):
            run(step)
        best = min(best, (time.perf_counter() - started) / steps)
    return best * 1e6


def phases(name: str, steps: int) -> dict[str, float]:
    w = WORKLOADS[name]
    X, y = make_data(w)
    rng = np.random.default_rng(0)
    layers = init_network(list(w.sizes), [w.activation] * len(w.hidden), "softmax", rng)
    settings = Settings(loss="softmax_cross_entropy", learning_rate=w.learning_rate, epochs=1, batch_size=w.batch)
    job = make_job(layers, X, y, settings, None, None)
    job.prepare([layers])
    space, loss = job.workspace, job.loss
    state = new_state(layers, settings, rng)
    optimizer = OPTIMIZERS["sgd"]
    opt_state = {key: value for key, value in state.optimizer.items()}
    order = rng.permutation(len(X))
    n_batches = len(X) // w.batch
    batch_rows = [order[s * w.batch:(s + 1) * w.batch] for s in range(len(X) // w.batch)]  # whole batches
    rows_of = lambda step: batch_rows[step % n_batches]  # noqa: E731
    steps = min(steps, 10 * n_batches)
    tally = job.tally(order)

    X_b, T_b, _ = job.gather(rows_of(0))
    buffers = space._buffers(len(X_b))
    inputs, sums = forward(space.layers, X_b, buffers)
    delta = loss.delta(sums[-1], T_b)

    def whole(step):
        rows = rows_of(step)
        step_buffers = space.gradients(loss, *job.gather(rows), 0.0, 0.0)
        space.finite(space.output_bias_gradient())
        optimizer.update([space.theta], [space.grad], opt_state, w.learning_rate, Hyper(), space.work)
        space.finite(space.theta)
        tally.add((step % n_batches) * w.batch, step_buffers)

    out = {
        "gather": best_of(3, steps, lambda s: job.gather(rows_of(s))),
        "forward": best_of(3, steps, lambda s: forward(space.layers, X_b, buffers)),
        "loss delta": best_of(3, steps, lambda s: loss.delta(sums[-1], T_b)),
        "backward": best_of(3, steps, lambda s: backward(space.layers, inputs, sums, delta, buffers)),
        "update": best_of(3, steps, lambda s: optimizer.update([space.theta], [space.grad], opt_state,
                                                                w.learning_rate, Hyper(), space.work)),
        "finite checks": best_of(3, steps, lambda s: (space.finite(space.output_bias_gradient()),
                                                       space.finite(space.theta))),
        "tally": best_of(3, steps, lambda s: tally.add(0, buffers)),
    }
    out["whole step"] = best_of(3, steps, whole)
    out["matmul floor"] = matmul_floor_us(w)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default="W1,W2,W3,W4")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    results = {name: phases(name, args.steps) for name in names}
    columns = list(next(iter(results.values())))
    print("| workload | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, found in results.items():
        print(f"| {name} | " + " | ".join(f"{found[c]:.1f}" for c in columns) + " |")
    print("\nmicroseconds per step; the phases are timed apart, so their sum differs a little from the whole step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
