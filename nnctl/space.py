"""The search space of ``nnctl sweep``: ``--grid KEY=V1,V2,...`` and ``--random N`` over ranges.

Pure: text in, settings out (``KEY=VALUE`` strings, the form ``--set`` takes).  A value is
YAML, as in a config: ``model.hidden=[8],[16,16]`` is two values, the commas inside brackets
belong to them.  For ``--random``, a key takes a range instead of a list:

    KEY=log:1e-4..1e-1   log-uniform between the two numbers
    KEY=int:4..64        a whole number, uniform, both ends included
    KEY=0.1..0.9         uniform between the two numbers
    KEY=V1,V2,...        one of the values, uniform
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence

import numpy as np

from nnctl.errors import ConfigError

_RANGE = re.compile(r"(?:(log|int):)?\s*([-+0-9.eE]+)\s*\.\.\s*([-+0-9.eE]+)")


def split_values(text: str) -> list[str]:
    """``'[8],[16,16]'`` -> ``['[8]', '[16,16]']``: commas split values except inside brackets or quotes."""
    values, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(text[start:i].strip())
            start = i + 1
    values.append(text[start:].strip())
    return values


def parse_axis(text: str, flag: str = "--grid") -> tuple[str, str]:
    """``KEY=VALUES`` -> (key, values text), with one line naming the flag when it is not that."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key or not values.strip() or not all(part for part in key.split(".")):
        raise ConfigError(f"{flag} {text!r}: expected KEY=VALUE1,VALUE2,... (e.g. optimizer.learning_rate=0.01,0.1)")
    return key, values.strip()


def grid_points(axes: Sequence[str]) -> list[tuple[str, ...]]:
    """The product of every ``--grid`` axis: one tuple of ``KEY=VALUE`` settings per point."""
    parsed = [parse_axis(text) for text in axes]
    keys = [key for key, _ in parsed]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ConfigError(f"--grid: {twice[0]} is given twice; put all its values in one --grid")
    lists = []
    for key, values in parsed:
        items = split_values(values)
        if any(not item for item in items):
            raise ConfigError(f"--grid {key}={values}: an empty value; separate values by single commas")
        twice = sorted({item for item in items if items.count(item) > 1})
        if twice:
            raise ConfigError(f"--grid {key}={values}: {twice[0]} is given twice")
        lists.append([f"{key}={item}" for item in items])
    return list(itertools.product(*lists))


def random_points(axes: Sequence[str], n: int, rng: np.random.Generator) -> list[tuple[str, ...]]:
    """``n`` points drawn from the axes (ranges or lists of values), without repeats."""
    parsed = [parse_axis(text, "--random") for text in axes]
    draws = [_sampler(key, values) for key, values in parsed]
    points: list[tuple[str, ...]] = []
    for _ in range(50 * n):  # a few ints or choices may not have n distinct points: stop trying
        point = tuple(f"{key}={draw(rng)}" for (key, _), draw in zip(parsed, draws))
        if point not in points:
            points.append(point)
        if len(points) == n:
            break
    return points


def _sampler(key: str, values: str):
    found = _RANGE.fullmatch(values)
    if found is None:
        items = split_values(values)
        return lambda rng: items[int(rng.integers(len(items)))]
    kind = found.group(1)
    try:
        low, high = float(found.group(2)), float(found.group(3))
    except ValueError:
        raise ConfigError(f"--random {key}={values}: the ends of the range must be numbers, as in 0.001..0.1") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high or (kind == "log" and low <= 0):
        raise ConfigError(f"--random {key}={values}: the range must run from a lower to a higher number"
                          + (" (both > 0 for log:)" if kind == "log" else ""))
    if kind == "int":
        if low != int(low) or high != int(high):
            raise ConfigError(f"--random {key}={values}: int: takes whole numbers")
        return lambda rng: str(int(rng.integers(int(low), int(high) + 1)))
    if kind == "log":
        return lambda rng: _short(math.exp(rng.uniform(math.log(low), math.log(high))))
    return lambda rng: _short(rng.uniform(low, high))


def _short(value: float) -> str:
    """A drawn number with 4 significant digits: settings people can read and type again."""
    return repr(float(f"{value:.4g}"))


def label_of(settings: Sequence[str]) -> str:
    """'learning_rate=0.1 hidden=[8]': each setting by the last part of its key (whole keys when those collide)."""
    keys = [setting.partition("=")[0] for setting in settings]
    short = [key.rsplit(".", 1)[-1] for key in keys]
    names = short if len(set(short)) == len(short) else keys
    return " ".join(f"{name}={setting.partition('=')[2]}" for name, setting in zip(names, settings))
