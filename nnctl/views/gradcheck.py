"""``nnctl gradcheck``: backpropagation against finite differences, and its plain-dict form for --json."""

from __future__ import annotations

from typing import Any, Sequence

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from nnctl.gradcheck import GradcheckResult
from nnctl.views.text import significant as fmt

def _names(items: Sequence) -> str:
    return ", ".join(str(item) for item in items)


# --------------------------------------------------------------------------- gradcheck


def gradcheck_table(result: GradcheckResult) -> Table:
    """One row per parameter array, weights and biases apart: entries checked, max errors, PASS/FAIL."""
    table = Table("layer", "array", "shape", "entries checked", "max abs error", "max rel error", "",
                  title="backprop vs central differences", title_justify="left", box=box.SIMPLE_HEAD)
    for check in result.arrays:
        checked = f"{check.checked}" if check.checked == check.size else f"{check.checked} of {check.size}"
        table.add_row(str(check.layer), f"{check.kind} {check.name}", "x".join(map(str, check.shape)), checked,
                      f"{check.max_abs_error:.2e}", f"{check.max_rel_error:.2e}",
                      Text("PASS", style="bold green") if check.passed else Text("FAIL", style="bold red"))
    return table


def gradcheck_view(result: GradcheckResult) -> Group:
    """What the check did, the table, and the verdict."""
    sizes = " -> ".join(map(str, result.layer_sizes))
    penalty = f", l1 {result.l1:g}, l2 {result.l2:g}" if result.l1 or result.l2 else ""
    lines = [
        Text(f"network {sizes} ({_names(result.activations)}), loss {result.loss}{penalty}; float64, "
             f"{result.rows} training rows, objective L = {fmt(result.objective)}"),
        Text(f"numerical gradient (L(theta + eps) - L(theta - eps)) / (2 eps), eps = {result.eps:g}; "
             f"relative error |a - n| / max(|a|, |n|, {result.floor:g}); pass: <= {result.tolerance:g}"),
    ]
    if result.dropout:
        lines.append(Text(f"dropout {_names(fmt(p) for p in result.dropout)} (per hidden layer): one set of masks, "
                          f"seeded, held fixed in both gradients; it drops {result.dropped} hidden output"
                          f"{'s' if result.dropped != 1 else ''}"
                          + (f" ({result.kept_back} more kept, in rows whose kept units all output 0, which would "
                             "leave the next sums at the zero biases)" if result.kept_back else "")))
    if result.sampled:
        lines.append(Text(f"arrays larger than {result.max_params} entries: a seeded sample of {result.max_params}"))
    verdict = [Text(f"all {len(result.arrays)} arrays pass ({result.checked} entries)", style="bold green")
               if result.passed else
               Text(f"{sum(not c.passed for c in result.arrays)} of {len(result.arrays)} arrays FAIL: "
                    f"{_names(c.name for c in result.arrays if not c.passed)}", style="bold red")]
    if result.near_kinks:
        verdict.append(Text(f"note: {result.near_kinks} values lie within 1e-4 of a kink (relu at 0, mae, hinge, "
                            "L1 at 0); an entry there can fail although backprop is right", style="yellow"))
    return Group(*lines, gradcheck_table(result), *verdict)


def gradcheck_to_dict(result: GradcheckResult) -> dict[str, Any]:
    return {
        "passed": result.passed,
        "layer_sizes": list(result.layer_sizes),
        "activations": list(result.activations),
        "loss": result.loss, "l1": result.l1, "l2": result.l2,
        "rows": result.rows, "objective": result.objective,
        "eps": result.eps, "tolerance": result.tolerance, "floor": result.floor,
        "max_params": result.max_params, "checked": result.checked, "near_kinks": result.near_kinks,
        "dropout": list(result.dropout), "dropped": result.dropped, "kept_back": result.kept_back,
        "arrays": [{"layer": c.layer, "kind": c.kind, "name": c.name, "shape": list(c.shape), "size": c.size,
                    "checked": c.checked, "max_abs_error": c.max_abs_error, "max_rel_error": c.max_rel_error,
                    "worst": list(c.worst), "passed": c.passed} for c in result.arrays],
    }
