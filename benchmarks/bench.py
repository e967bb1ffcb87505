"""nnctl against PyTorch and scikit-learn: the same MLP, data and hyper-parameters, side by side.

    python benchmarks/bench.py [--workloads W1,W3] [--repeats 3] [--tools nnctl,torch,sklearn] [--quick]

For every workload each tool trains the same network (layer sizes, activation, softmax
cross-entropy), on the same float32 rows, with plain SGD at the same learning rate,
batch size and number of epochs, starting from the same initial weights (nnctl's
``auto`` scheme: He uniform for relu layers, Glorot uniform otherwise, biases 0).
Every run is a fresh process (this script with ``--child TOOL WORKLOAD``, which prints
one JSON line), so its peak RSS is its own; the tools alternate within each repeat.

What is timed: from arrays in memory to a trained model.  nnctl: ``Model.fit`` (its
epoch figures are the means over each epoch's batches, as the peers report theirs, and
one pass of the best and of the last epoch's weights over every row, one if they are the
same, gives the run's summary); PyTorch: building
the model and a plain index-batching loop; scikit-learn: ``MLPClassifier.fit``.  The final
loss is the mean cross-entropy on the whole training set after the last epoch, computed
outside the timing for every tool.

The peers come with the optional extra: ``pip install -e ".[bench]"``.  Data are made
here from seeded generators; nothing is downloaded.  ``--child nnctl W1 --profile``
prints a cProfile of one nnctl fit to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
TOOLS = ("nnctl", "torch", "sklearn")
PEER_MODULES = {"torch": "torch", "sklearn": "sklearn"}  # tool -> module that must import
SEED = 0
TORCH_THREADS = 2
CONTENDED = 0.15  # a run during which other processes took more of the CPUs than this is run again
CONTENDED_RETRIES = 3
CONTENDED_PAUSE = 5.0  # seconds to wait before running a contended run again
QUIET_BUDGET = 180.0  # the most seconds one invocation waits for other processes to finish
MIN_JUDGED_SECONDS = 0.2  # shorter runs are not judged for contention


# --- workloads ------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    name: str
    what: str
    sizes: tuple[int, ...]  # [n_inputs, *hidden, n_classes]
    activation: str  # of every hidden layer: relu or tanh
    batch: int
    epochs: int
    rows: int
    learning_rate: float
    data: str  # digits | uniform | moons: how make_data draws the features

    @property
    def hidden(self) -> list[int]:
        return list(self.sizes[1:-1])

    @property
    def parameters(self) -> int:
        """Weights and biases of the network: sum of (fan_in + 1) x fan_out."""
        return sum((a + 1) * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def steps(self) -> int:
        return self.epochs * math.ceil(self.rows / self.batch)

    @property
    def samples(self) -> int:
        return self.epochs * self.rows

    def buffer_bytes(self) -> int:
        """One batch's float32 buffers: the batch's input rows, then Z, A and dZ of every
        layer, plus one gradient per parameter."""
        per_row = self.sizes[0] + 3 * sum(self.sizes[1:])
        return 4 * (self.batch * per_row + self.parameters)


WORKLOADS = {
    w.name: w
    for w in (
        Workload("W1", "digits-sized: 1437 rows of 64 integer features in [0, 16]", (64, 64, 10), "relu",
                 32, 50, 1437, 0.05, "digits"),
        Workload("W2", "MNIST-shaped: 60000 random rows of 784 features", (784, 256, 128, 10), "relu",
                 128, 3, 60000, 0.05, "uniform"),
        Workload("W3", "two moons (nnctl.toydata, noise 0.2), 800 rows", (2, 8, 2), "tanh",
                 32, 100, 800, 0.2, "moons"),
        Workload("W4", "wide: 20000 random rows of 512 features", (512, 1024, 1024, 10), "relu",
                 256, 2, 20000, 0.02, "uniform"),
    )
}


def quick(w: Workload) -> Workload:
    """A tiny version for the smoke test: a few hundred rows, one or two epochs."""
    return replace(w, rows=min(w.rows, 300), epochs=min(w.epochs, 2))


def make_data(w: Workload, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``X: (rows, n_inputs)`` float32, standardised column by column (so every tool sees
    the same inputs and none needs a scaler), and ``y: (rows,)`` int64 class indices.

    Labels other than the moons' come from a random teacher network (one tanh layer of
    32 units, logits centred per class so that every class occurs), so the task can be
    learnt and the loss falls.  Drawn in float32 and in place, so that the child's
    memory holds the data once.
    """
    rng = np.random.default_rng(seed)
    n, d, k = w.rows, w.sizes[0], w.sizes[-1]
    if w.data == "moons":
        from nnctl.toydata import moons

        X64, y = moons(n, 0.2, rng)
        X = X64.astype(np.float32)
    else:
        if w.data == "digits":
            X = rng.integers(0, 17, size=(n, d), dtype=np.int8).astype(np.float32)
        else:
            X = rng.random((n, d), dtype=np.float32)
        W1 = rng.standard_normal((d, 32), dtype=np.float32) / np.float32(math.sqrt(d))
        W2 = rng.standard_normal((32, k), dtype=np.float32)
        centre = X.mean(axis=0)
        logits = np.empty((n, k), dtype=np.float32)
        for rows in _chunks(n):  # no full-size temporaries
            logits[rows] = np.tanh((X[rows] - centre) @ W1 * 3) @ W2
        logits -= np.median(logits, axis=0)
        y = logits.argmax(axis=1).astype(np.int64)
    mean = X.mean(axis=0, dtype=np.float64)
    var = sum(((X[rows] - mean) ** 2).sum(axis=0) for rows in _chunks(n)) / n
    X -= mean.astype(np.float32)
    X /= np.where(var > 0, np.sqrt(var), 1).astype(np.float32)
    return X, y


def _chunks(n: int, size: int = 8192):
    return (slice(start, start + size) for start in range(0, n, size))


# --- the children: one training run each, one JSON line out ----------------------------


def rss_kib() -> int:
    """Resident memory now, KiB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_kib() -> int:
    """The process's peak resident memory, KiB, since it began or since the last ``reset_peak``.

    Linux's VmHWM; ru_maxrss only where /proc is missing, because ru_maxrss survives
    fork and exec: a child would report its parent's peak (here the 2048 x 2048
    matrices of the matmul peak) when that is the larger."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak() -> bool:
    """Set the kernel's high-water mark of resident memory (VmHWM) to the memory in use now
    (Linux >= 4.0: "5" into /proc/self/clear_refs).  False where that cannot be done."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine (every process, and the hypervisor's steal) has been busy."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return math.nan
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


class Meter:
    """The timed part of a run: wall seconds, the peak of resident memory above what was
    there before (interpreter, libraries, data: the baseline), and the share of the CPUs
    that other processes took meanwhile (a run that shared the machine is not a measurement)."""

    def start(self) -> None:
        self.lifetime_peak = peak_rss_kib()
        self.baseline = rss_kib()
        self.reset = reset_peak()
        self.busy, self.own = machine_busy_seconds(), own_cpu_seconds()
        self.started = time.perf_counter()

    def stop(self) -> dict:
        seconds = time.perf_counter() - self.started
        peak = peak_rss_kib()
        own = own_cpu_seconds() - self.own
        others = max(0.0, machine_busy_seconds() - self.busy - own)
        # /proc/stat counts in ticks of 10 ms: too coarse to judge a shorter run
        foreign = others / (seconds * (os.cpu_count() or 1)) if seconds >= MIN_JUDGED_SECONDS else None
        return {"seconds": seconds, "baseline_rss_kib": self.baseline,
                "peak_rss_kib": max(self.lifetime_peak, peak),  # of the whole process
                "run_peak_rss_kib": peak if self.reset else None,  # of the timed part
                "cpu_seconds": own, "foreign_cpu_share": foreign}


def warm_blas() -> None:
    """One small matrix product, so that the BLAS threads and buffers exist before the
    baseline memory is read (they are the library's, not the run's)."""
    a = np.ones((512, 512), dtype=np.float32)
    a @ a


def nnctl_config(w: Workload, seed: int = SEED) -> dict:
    """The config of the run: no validation hold-out, no scaling (the data are standardised)."""
    return {
        "data": {"train": "<arrays>", "target": "y", "validation": 0, "standardize": False},
        "model": {"hidden": w.hidden, "activation": w.activation, "init": "auto", "dtype": "float32"},
        "loss": "softmax_cross_entropy",
        "regularization": {"l1": 0.0, "l2": 0.0},
        "optimizer": {"name": "sgd", "learning_rate": w.learning_rate, "batch_size": w.batch,
                      "epochs": w.epochs, "shuffle": True},
        # the epoch figures as the peers have theirs, from the batches (without validation rows nnctl's
        # default would pass over every training row after each epoch, to pick the best epoch exactly)
        "training": {"evaluate_train": "batches"},
        "seed": seed,
    }


def initial_weights(w: Workload, seed: int = SEED) -> tuple[list[np.ndarray], str]:
    """The (fan_in, fan_out) float32 weight matrices nnctl starts from with this seed, and
    how they were had.  Taken from nnctl's own generator and initialiser when those can be
    reached (the peers then start where nnctl does); otherwise the same scheme, drawn here."""
    try:
        from nnctl.config import config_from_dict
        from nnctl.core.model import init_network
        from nnctl.run import generators

        config = config_from_dict(nnctl_config(w, seed))
        init_rng = generators(config)[1]
        layers = init_network(list(w.sizes), [w.activation] * len(w.hidden), "softmax", init_rng, "auto",
                              np.float32)
        return [layer.W for layer in layers], "identical to nnctl's"
    except Exception:  # nnctl's internals moved: fall back to the same scheme
        rng = np.random.default_rng(seed)
        weights = []
        for i, (fan_in, fan_out) in enumerate(zip(w.sizes[:-1], w.sizes[1:])):
            hidden_relu = i < len(w.hidden) and w.activation == "relu"
            r = math.sqrt(6.0 / fan_in) if hidden_relu else math.sqrt(6.0 / (fan_in + fan_out))
            weights.append(rng.uniform(-r, r, (fan_in, fan_out)).astype(np.float32))
        return weights, "same scheme as nnctl's"


def run_nnctl(w: Workload, X: np.ndarray, y: np.ndarray, profile: bool) -> dict:
    import nnctl

    model = nnctl.Model.from_config(nnctl_config(w))
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    meter = Meter()
    meter.start()
    model.fit(X, y)
    measured = meter.stop()
    if profiler is not None:
        profiler.disable()
        import pstats

        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
    rows = model.history_
    epoch_seconds = sum(row["seconds"] for row in rows)
    return {**measured, "final_loss": final_loss(model, X, y), "epochs_run": len(rows),
            "epoch_seconds": epoch_seconds, "init": "nnctl's"}


def final_loss(model, X: np.ndarray, y: np.ndarray) -> float:
    """The mean cross-entropy of the last epoch's weights on every training row, as the peers
    report theirs: the run summary's exact figure (``Model.fit`` keeps the best epoch's weights,
    which without validation rows the batch-mean training loss picks, and may be an earlier one)."""
    last = (getattr(model, "summary_", None) or {}).get("last", {})
    if "train_data_loss" in last:
        return float(last["train_data_loss"])
    P = model.predict_proba(X).astype(np.float64)  # an nnctl without that summary: its final weights
    return float(np.mean(-np.log(np.clip(P[np.arange(len(y)), y], 1e-300, None))))


def warm_up_torch(torch, nn, F) -> None:
    """One step of a throwaway model, outside the timing and before the baseline memory:
    the first SGD() imports torch._dynamo (about 1.5 s here) and the first product
    starts the thread pool; neither is training."""
    torch.ones(512, 512) @ torch.ones(512, 512)
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    F.cross_entropy(model(torch.ones(8, 4)), torch.zeros(8, dtype=torch.long)).backward()
    optimizer.step()


def run_torch(w: Workload, X: np.ndarray, y: np.ndarray) -> dict:
    """A standard PyTorch loop: nn.Sequential, torch.optim.SGD, a shuffled index per epoch."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(SEED)
    weights, init = initial_weights(w)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)  # no copies
    activation = nn.ReLU if w.activation == "relu" else nn.Tanh
    meter = Meter()
    meter.start()
    layers: list[nn.Module] = []
    for i, W in enumerate(weights):
        linear = nn.Linear(*W.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T))  # torch stores (fan_out, fan_in)
            linear.bias.zero_()
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(activation())
    model = nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=w.learning_rate)
    generator = torch.Generator().manual_seed(SEED)
    n = len(X)
    for _ in range(w.epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, w.batch):
            rows = order[start:start + w.batch]
            loss = F.cross_entropy(model(Xt[rows]), yt[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    measured = meter.stop()
    with torch.no_grad():
        final = float(F.cross_entropy(model(Xt), yt))
    return {**measured, "final_loss": final, "epochs_run": w.epochs, "init": init}


def run_sklearn(w: Workload, X: np.ndarray, y: np.ndarray) -> dict:
    """MLPClassifier with plain SGD, every epoch run (tol=0, n_iter_no_change=max_iter).

    Two classes make scikit-learn use one logistic output unit instead of two softmax
    units (W3: 2-8-1); its output layer then starts from Glorot uniform."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    weights, init = initial_weights(w)

    class StartingFrom(MLPClassifier):
        """MLPClassifier whose weights start at given matrices and biases at 0.

        ``_init_coef(fan_in, fan_out, dtype)`` is the private hook scikit-learn
        calls once per layer, in order, when fit begins."""

        start: list[np.ndarray] = []

        def _init_coef(self, fan_in, fan_out, dtype):
            layer = len(self.coefs_)
            if layer < len(self.start) and self.start[layer].shape == (fan_in, fan_out):
                coef = self.start[layer]
            else:
                r = math.sqrt(6.0 / (fan_in + fan_out))
                coef = np.random.default_rng(SEED + layer).uniform(-r, r, (fan_in, fan_out))
            return coef.astype(dtype, copy=True), np.zeros(fan_out, dtype=dtype)

    model = StartingFrom(
        hidden_layer_sizes=tuple(w.hidden), activation=w.activation, solver="sgd", alpha=0.0,
        batch_size=w.batch, learning_rate="constant", learning_rate_init=w.learning_rate,
        max_iter=w.epochs, shuffle=True, random_state=SEED, tol=0.0, momentum=0.0,
        nesterovs_momentum=False, early_stopping=False, n_iter_no_change=w.epochs,
    )
    model.start = weights
    meter = Meter()
    meter.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # "max_iter reached": what is asked
        model.fit(X, y)
    measured = meter.stop()
    P = model.predict_proba(X).astype(np.float64)
    final = float(np.mean(-np.log(np.clip(P[np.arange(len(y)), y], 1e-300, None))))
    params = sum(c.size + b.size for c, b in zip(model.coefs_, model.intercepts_))
    return {**measured, "final_loss": final, "epochs_run": model.n_iter_, "init": init, "parameters": params,
            "dtype": str(model.coefs_[0].dtype)}


def warm_up(tool: str, w: Workload) -> None:
    """The tool's imports and a throwaway fit of 16 rows, before the data are made: whatever a
    tool loads on first use (modules, thread pools, caches) is neither training nor the run's memory."""
    tiny = replace(w, rows=16, epochs=1)
    if tool == "nnctl":
        import nnctl
        import nnctl.api  # noqa: F401

        nnctl.Model.from_config(nnctl_config(tiny)).fit(*make_data(tiny))
    elif tool == "torch":
        import torch
        import torch.nn.functional as F
        from torch import nn

        torch.set_num_threads(TORCH_THREADS)
        warm_up_torch(torch, nn, F)
    else:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            MLPClassifier(hidden_layer_sizes=tuple(w.hidden), solver="sgd", max_iter=1).fit(*make_data(tiny))


def child(tool: str, name: str, is_quick: bool, profile: bool) -> None:
    """Train once and print one JSON line: seconds, memory, final loss."""
    w = quick(WORKLOADS[name]) if is_quick else WORKLOADS[name]
    warm_up(tool, w)
    warm_blas()
    before_data = rss_kib()  # the interpreter and libraries: what the run's memory is counted above
    X, y = make_data(w)
    runner = {"nnctl": lambda: run_nnctl(w, X, y, profile), "torch": lambda: run_torch(w, X, y),
              "sklearn": lambda: run_sklearn(w, X, y)}[tool]
    out = {"tool": tool, "workload": name, "rows": w.rows, "epochs": w.epochs, "steps": w.steps,
           "samples": w.samples, "parameters": w.parameters, "data_bytes": X.nbytes + y.nbytes,
           "before_data_rss_kib": before_data, **runner()}
    print(json.dumps(out))


# --- the parent: peak, runs, table, RESULTS.md -------------------------------------------


def matmul_peak(size: int = 2048, times: int = 8) -> float:
    """The best float32 GFLOP/s of ``A @ B`` for two size x size matrices (2 n^3 flops)."""
    rng = np.random.default_rng(1)
    A, B = rng.random((size, size), dtype=np.float32), rng.random((size, size), dtype=np.float32)
    A @ B
    best = math.inf
    for _ in range(times):
        started = time.perf_counter()
        A @ B
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def matmul_floor_us(w: Workload, times: int = 20) -> float:
    """Microseconds per step of the step's matrix products alone, in NumPy float32: one
    forward product per layer, dW for each and dA for every layer but the first."""
    rng = np.random.default_rng(2)
    A = [rng.random((w.batch, n), dtype=np.float32) for n in w.sizes]
    W = [rng.random((a, b), dtype=np.float32) for a, b in zip(w.sizes[:-1], w.sizes[1:])]

    def step() -> None:
        for l, Wl in enumerate(W):
            A[l] @ Wl
        for l in range(len(W) - 1, -1, -1):
            A[l].T @ A[l + 1]
            if l > 0:
                A[l + 1] @ W[l].T

    step()
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(times):
            step()
        best = min(best, (time.perf_counter() - started) / times)
    return best * 1e6


def run_child(tool: str, name: str, is_quick: bool) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", tool, name]
    done = subprocess.run(command + (["--quick"] if is_quick else []), capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"error: the {tool} run of {name} failed (exit {done.returncode}); its output is above")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Quiet:
    """Waits, before a run, until the other processes on the machine leave the CPUs alone
    (less than CONTENDED of them busy over half a second), for at most ``budget`` seconds
    in all.  With two cores, one busy core slows a two-thread BLAS call on a 300 x 64 matrix
    from about 10 us to 8 ms: a shared machine gives no measurement at all."""

    def __init__(self, budget: float):
        self.budget = budget
        self.waited = 0.0

    def wait(self) -> None:
        while self.budget > 0 and self.waited < self.budget:
            before = machine_busy_seconds()
            time.sleep(0.5)
            busy = (machine_busy_seconds() - before) / (0.5 * (os.cpu_count() or 1))
            if not busy > CONTENDED:  # also when /proc/stat cannot be read (nan)
                return
            self.waited += 0.5
        if self.budget > 0:
            print(f"note: waited {self.waited:.0f} s for other processes to finish; from now on runs go "
                  "ahead regardless and are not repeated", file=sys.stderr)
            self.budget = 0.0


def measure(tool: str, name: str, is_quick: bool, retries: int = CONTENDED_RETRIES,
            quiet: Quiet | None = None) -> dict:
    """One run; again (at most ``retries`` times, after a pause) while other processes took
    more than CONTENDED of the CPUs during its timed part, unless ``quiet`` has run out of
    patience.  The try with the least such contention is kept, with the number of tries."""
    tries = []
    for attempt in range(retries + 1):
        if attempt and quiet is not None and quiet.budget <= 0:
            break
        if quiet is not None:
            quiet.wait()
        result = run_child(tool, name, is_quick)
        tries.append(result)
        foreign = result["foreign_cpu_share"]
        if foreign is None or foreign <= CONTENDED:
            break
        again = attempt < retries and (quiet is None or quiet.budget > 0)
        print(f"  {name} {tool}: other processes used {100 * foreign:.0f}% of the CPUs during the run"
              + (f"; again in {CONTENDED_PAUSE:g} s" if again else "; keeping the least contended try"),
              file=sys.stderr)
        if again:
            time.sleep(CONTENDED_PAUSE)
    best = min(tries, key=lambda r: r["foreign_cpu_share"] or 0.0)
    return {**best, "tries": len(tries)}


def median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else math.nan


def budget_bytes(w: Workload, data_bytes: int) -> int:
    """What training needs to hold: the data, the parameters and one batch's buffers (and gradients)."""
    return data_bytes + 4 * w.parameters + w.buffer_bytes()


@dataclass
class Summary:
    """The medians of one tool on one workload over the repeats."""

    tool: str
    samples_per_s: float
    us_per_step: float
    peak_share: float  # of the float32 matmul peak, counting 6 x parameters x samples
    peak_rss_mib: float  # of the whole process (ru_maxrss)
    run_rss_mib: float  # the timed part's peak above the baseline (interpreter, libraries, data)
    held_mib: float  # the timed part's peak above the memory before the data were made: all the run holds
    budget_mib: float  # data + parameters + one batch's buffers
    final_loss: float
    ratio: float | None  # a peer: nnctl's samples/s over this tool's, median of the per-repeat ratios
    setup_share: float | None = None  # nnctl: the share of fit outside the epochs


def summarise(w: Workload, runs: dict[str, list[dict]], peak: float) -> dict[str, Summary]:
    out = {}
    ours = runs.get("nnctl", [])
    for tool, results in runs.items():
        sps = [r["samples"] / r["seconds"] for r in results]
        ratio = None
        if tool != "nnctl" and ours:
            ratio = median(a["samples"] / a["seconds"] / s for a, s in zip(ours, sps))
        s = Summary(
            tool=tool, samples_per_s=median(sps),
            us_per_step=median(r["seconds"] / r["steps"] * 1e6 for r in results),
            peak_share=median(6 * r["parameters"] * r["samples"] / r["seconds"] / 1e9 / peak for r in results),
            peak_rss_mib=median(r["peak_rss_kib"] / 1024 for r in results),
            run_rss_mib=median(max(0, (r["run_peak_rss_kib"] or r["peak_rss_kib"]) - r["baseline_rss_kib"]) / 1024
                               for r in results),
            held_mib=median(max(0, (r["run_peak_rss_kib"] or r["peak_rss_kib"]) - r["before_data_rss_kib"]) / 1024
                            for r in results),
            budget_mib=budget_bytes(w, results[0]["data_bytes"]) / 2**20,
            final_loss=median(r["final_loss"] for r in results), ratio=ratio,
        )
        if tool == "nnctl":
            s.setup_share = median(1 - r["epoch_seconds"] / r["seconds"] for r in results)
        out[tool] = s
    return out


COLUMNS = ["workload", "tool", "samples/s", "us/step", "nnctl x", "% of fp32 peak", "peak RSS MiB",
           "run RSS over baseline MiB", "held MiB (data included)", "final loss", "nnctl outside-epochs share",
           "matmul floor us/step"]


def table_rows(w: Workload, summaries: dict[str, Summary], floor_us: float) -> list[list[str]]:
    rows = []
    for s in summaries.values():
        shares = "-" if s.setup_share is None else f"{100 * s.setup_share:.0f}%"
        rows.append([w.name, s.tool, f"{s.samples_per_s:.0f}", f"{s.us_per_step:.1f}",
                     "-" if s.ratio is None else f"{s.ratio:.2f}", f"{100 * s.peak_share:.1f}",
                     f"{s.peak_rss_mib:.1f}", f"{s.run_rss_mib:.1f}", f"{s.held_mib:.1f}", f"{s.final_loss:.4f}",
                     shares,
                     f"{floor_us:.1f}"])
    return rows


def nnctl_breakdown(workloads: list[Workload], runs: dict, floors: dict[str, float]) -> str:
    """Where nnctl's fit spends its time, per workload (medians): outside the epochs (checking and
    preparing the arrays, the final exact evaluation), the epochs; a step against the matmul floor."""
    rows = []
    for w in workloads:
        results = runs[w.name].get("nnctl")
        if not results:
            continue
        setup = median(r["seconds"] - r["epoch_seconds"] for r in results)
        steps = median(r["epoch_seconds"] for r in results)
        step_us = steps / w.steps * 1e6
        rows.append([w.name, f"{median(r['seconds'] for r in results):.3f}", f"{setup:.3f}", f"{steps:.3f}",
                     f"{step_us:.1f}", f"{floors[w.name]:.1f}", f"{100 * floors[w.name] / step_us:.0f}%"])
    return markdown_table(["workload", "fit s", "outside the epochs s", "epochs s", "us per step (epochs / steps)",
                           "matmul floor us", "floor / step"], rows)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def targets(summaries: dict[str, dict[str, Summary]]) -> list[list[str]]:
    """[target, met/missed, measured and gap] for each target of issue 14 point 3 that the
    run can judge (a ratio needs its workload and its peer); memory: everything the run holds,
    the data included, against 1.2 x (data + parameters + one batch's buffers)."""
    out = []

    def ratio(name: str, peer: str, want: float) -> None:
        s = summaries.get(name, {}).get(peer)
        if s is None or s.ratio is None:
            return
        got = s.ratio
        gap = "" if got >= want else f"; nnctl needs {want / got:.2f}x its speed ({100 * (1 - got / want):.0f}% short)"
        out.append([f"{name}: nnctl >= {want}x {peer}", "met" if got >= want else "**missed**", f"{got:.2f}x{gap}"])

    ratio("W2", "torch", 1.5)
    ratio("W2", "sklearn", 2.0)
    ratio("W4", "torch", 1.15)
    s = summaries.get("W4", {}).get("nnctl")
    if s is not None:
        met = s.peak_share >= 0.65
        out.append(["W4: nnctl >= 65% of the float32 peak", "met" if met else "**missed**",
                    f"{100 * s.peak_share:.1f}%" + ("" if met else f"; {65 - 100 * s.peak_share:.1f} points short")])
    ratio("W1", "torch", 4.0)
    ratio("W3", "torch", 4.0)
    for name, by_tool in summaries.items():
        s = by_tool.get("nnctl")
        if s is None:
            continue
        met = s.held_mib <= 1.2 * s.budget_mib
        out.append([f"{name}: all nnctl holds <= 1.2 x (data + parameters + one batch's buffers = "
                    f"{s.budget_mib:.2f} MiB)", "met" if met else "**missed**",
                    f"{s.held_mib:.1f} MiB = {s.held_mib / s.budget_mib:.2f}x"
                    + ("" if met else f"; {s.held_mib - 1.2 * s.budget_mib:.1f} MiB over")])
    return out


def machine(revision: str, peaks: list[float], size: int, times: int) -> list[str]:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = "unknown"
    try:
        import threadpoolctl

        blas = ", ".join(f"{i['internal_api']} {i['version']} ({i.get('architecture')}, {i['num_threads']} threads)"
                         for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas")
    except Exception:  # threadpoolctl comes with scikit-learn; without it the BLAS stays unnamed
        pass
    versions = [f"numpy {np.__version__}"]
    for module in ("torch", "sklearn"):
        if installed(module):
            versions.append(f"{module} {importlib.import_module(module).__version__}")
    return [f"nnctl: {revision}",
            f"CPU: {cpu}, {os.cpu_count()} logical cores",
            f"Python {platform.python_version()}; {'; '.join(versions)}",
            f"NumPy BLAS: {blas}; PyTorch: {TORCH_THREADS} threads",
            f"float32 matmul peak ({size} x {size} `A @ B`, best of {times}, measured {len(peaks)} times in the run): "
            f"**{max(peaks):.1f} GFLOP/s** (each time: {', '.join(f'{p:.0f}' for p in peaks)})"]


def nnctl_revision() -> str:
    """The git commit of the nnctl measured, and whether nnctl/ had uncommitted changes."""
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True,
                                  check=True).stdout.strip()

        commit = git("log", "-1", "--format=%h %s")
        dirty = git("status", "--porcelain", "--", "nnctl")
        return f"commit {commit}" + (" (with uncommitted changes in nnctl/)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated, e.g. W1,W3")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tools", default=None,
                        help="comma-separated from nnctl,torch,sklearn (default: all installed; --quick: nnctl)")
    parser.add_argument("--quick", action="store_true", help="a tiny version of each workload (smoke test)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"the Markdown results (default {RESULTS.relative_to(HERE.parent)}; none with --quick)")
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "WORKLOAD"), help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)  # with --child nnctl
    return parser.parse_args(argv)


def installed(module: str) -> bool:
    """Whether ``module`` can be found, without importing it (torch takes seconds)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder refused it, or a broken entry in sys.modules
        return False


def choose_tools(requested: str | None, is_quick: bool) -> tuple[list[str], list[str]]:
    """(tools to run, notes on peers left out).  A peer asked for by name but not
    installed is an error; one left out of a default run is a note."""
    missing = [t for t, m in PEER_MODULES.items() if not installed(m)]
    hint = "install the benchmark extra: pip install -e \".[bench]\" (PyTorch CPU and scikit-learn)"
    if requested is None:
        tools = ["nnctl"] if is_quick else [t for t in TOOLS if t not in missing]
        notes = [] if is_quick else [f"{t} is not installed, so it is left out; {hint}" for t in missing]
        return tools, notes
    tools = [t.strip() for t in requested.split(",") if t.strip()]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        raise SystemExit(f"error: unknown tool {unknown[0]!r}; choose from {', '.join(TOOLS)}")
    absent = [t for t in tools if t in missing]
    if absent:
        raise SystemExit(f"error: {' and '.join(absent)} requested but not installed; {hint}")
    return tools, []


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.child:
        tool, name = args.child
        child(tool, name, args.quick, args.profile)
        return 0
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise SystemExit(f"error: unknown workload {unknown[0]!r}; choose from {', '.join(WORKLOADS)}")
    tools, notes = choose_tools(args.tools, args.quick)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    workloads = [quick(WORKLOADS[n]) if args.quick else WORKLOADS[n] for n in names]
    started, revision = time.perf_counter(), nnctl_revision()
    size, times = (512, 3) if args.quick else (2048, 8)
    quiet = None if args.quick else Quiet(QUIET_BUDGET)
    peaks: list[float] = []
    floors = {w.name: math.inf for w in workloads}

    def calibrate() -> None:
        """The matmul peak and each workload's matmul floor, the best of every measurement."""
        if quiet is not None:
            quiet.wait()
        peaks.append(matmul_peak(size, times))
        for w in workloads:
            floors[w.name] = min(floors[w.name], matmul_floor_us(w, 3 if args.quick else 20))

    calibrate()
    runs: dict[str, dict[str, list[dict]]] = {w.name: {t: [] for t in tools} for w in workloads}
    for repeat in range(args.repeats):
        order = tools[repeat % len(tools):] + tools[: repeat % len(tools)]  # who goes first rotates
        for w in workloads:
            for tool in order:
                result = measure(tool, w.name, args.quick, retries=0 if args.quick else CONTENDED_RETRIES,
                                 quiet=quiet)
                runs[w.name][tool].append(result)
                print(f"repeat {repeat + 1}/{args.repeats} {w.name} {tool:8s} {result['seconds']:8.3f} s  "
                      f"loss {result['final_loss']:.4f}", file=sys.stderr)
        calibrate()
    summaries = {w.name: summarise(w, runs[w.name], max(peaks)) for w in workloads}
    table = markdown_table(COLUMNS, [row for w in workloads
                                     for row in table_rows(w, summaries[w.name], floors[w.name])])
    print(table)
    judged = [] if args.quick else targets(summaries)
    if judged:
        print()
        print(markdown_table(["target (issue 14, point 3)", "status", "measured"], judged))
    output = args.output if args.output is not None else (None if args.quick else RESULTS)
    if output is not None:
        command = " ".join(["python benchmarks/bench.py", *argv])
        write_results(output, command, machine(revision, peaks, size, times), workloads, table,
                      nnctl_breakdown(workloads, runs, floors), judged, runs, time.perf_counter() - started)
        print(f"\nwrote {output}", file=sys.stderr)
    return 0


NOTES_MARK = "<!-- Everything below this line is kept when bench.py rewrites this file. -->"


def write_results(path: Path, command: str, about: list[str], workloads: list[Workload], table: str,
                  breakdown: str, judged: list[list[str]], runs: dict, seconds: float) -> None:
    """The results as Markdown; the notes below NOTES_MARK of an earlier file are kept."""
    notes = ""
    if path.exists() and NOTES_MARK in path.read_text():
        notes = path.read_text().split(NOTES_MARK, 1)[1]
    lines = ["# Benchmark results", "", f"Command: `{command}` ({seconds:.0f} s in all), {time.strftime('%Y-%m-%d')}",
             ""]
    lines += [f"- {line}" for line in about]
    lines += ["", "## Workloads", "",
              markdown_table(["workload", "data", "network", "batch", "epochs", "learning rate", "parameters"],
                             [[w.name, w.what, "-".join(map(str, w.sizes)) + f" {w.activation}", str(w.batch),
                               str(w.epochs), f"{w.learning_rate:g}", str(w.parameters)] for w in workloads])]
    lines += ["", "## Results (medians over the repeats)", "", table, "", COLUMN_NOTES, ""]
    lines += ["## Where nnctl's time goes (medians)", "", breakdown, "", BREAKDOWN_NOTES, ""]
    if judged:
        lines += ["## Targets of issue 14, point 3", "", markdown_table(["target", "status", "measured"], judged), ""]
    lines += ["## Every run", "", markdown_table(
        ["workload", "tool", "seconds", "final loss", "peak RSS MiB", "baseline MiB", "run peak MiB",
         "CPU s", "others' CPU share", "tries", "initial weights"],
        [[name, tool, f"{r['seconds']:.3f}", f"{r['final_loss']:.4f}", f"{r['peak_rss_kib'] / 1024:.1f}",
          f"{r['baseline_rss_kib'] / 1024:.1f}",
          "-" if r["run_peak_rss_kib"] is None else f"{r['run_peak_rss_kib'] / 1024:.1f}",
          f"{r['cpu_seconds']:.2f}",
          "-" if r["foreign_cpu_share"] is None else f"{100 * r['foreign_cpu_share']:.0f}%", str(r["tries"]), r.get("init", "")]
         for name, by_tool in runs.items() for tool, results in by_tool.items() for r in results]), ""]
    path.write_text("\n".join(lines) + "\n" + NOTES_MARK + (notes or "\n"))


BREAKDOWN_NOTES = """\
outside the epochs = fit's seconds minus the sum of its epochs' seconds (nnctl's history): checking and
converting the arrays, the fill values and the split, building the network, the one pass of the final
weights over every training row for the run's summary; epochs = the shuffles, the optimizer steps, the
epoch's figures from its batches and the per-epoch bookkeeping (checkpoints kept in memory, health
figures).  `python benchmarks/step_phases.py` splits a step into its phases."""


COLUMN_NOTES = """\
samples/s = epochs x rows / seconds of the timed part; us/step = seconds / optimizer steps; nnctl x =
nnctl's samples/s over the peer's (median of the per-repeat ratios); % of fp32 peak = 6 x parameters x
samples / seconds over the matmul peak above; peak RSS = the run's process's peak resident memory
(VmHWM); run RSS over baseline = the timed part's peak resident memory (high-water mark reset when it
began) minus the memory in use then (interpreter, libraries, the float32 data); held = the same peak
minus the memory in use before the data were made: all the run holds, its data included (what the
memory targets judge); nnctl outside-epochs share = the part of nnctl's fit outside its epochs
(checking and preparing the arrays, building the network, the final exact evaluation); matmul floor =
the step's matrix products alone in NumPy float32 (3 per layer, 2 for the first), the best of the
measurements taken with the peak's."""


if __name__ == "__main__":
    sys.exit(main())
