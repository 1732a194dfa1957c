"""Budgets: a fraction of the baseline peak (``0.8``, ``80%``), an amount in the graph's units
(``123456789``) or bytes with a unit (``512MiB``, ``1.5GB``)."""

from __future__ import annotations

import math
import re

from moccasin.errors import InputError
from moccasin.graph.problem import ceil_fraction

_UNITS = {
    "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40,
}
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z%]*)\s*$")


def resolve_budget(budget: str | float | int, baseline_peak: int) -> tuple[int, float | None]:
    """Turn a budget spec into ``(absolute budget, fraction of baseline or None)``.

    A number at most 1 (or a percentage) is a fraction of ``baseline_peak``, rounded up; a
    whole number above 1 is an absolute amount; a number with a byte unit is bytes. From
    Python, an ``int`` is always an amount and a ``float`` at most 1 a fraction.

    >>> resolve_budget("80%", 1000)
    (800, 0.8)
    >>> resolve_budget(0.5, 1001)
    (501, 0.5)
    >>> resolve_budget("1KiB", 4096)
    (1024, 0.25)
    >>> resolve_budget(3000, 4096)
    (3000, 0.732421875)
    """
    if isinstance(budget, bool):
        raise InputError(f"budget {budget!r}: expected a number")
    if isinstance(budget, int):  # from Python, an int is always an amount
        if budget <= 0:
            raise InputError(f"budget {budget!r}: must be positive")
        return budget, (budget / baseline_peak if baseline_peak else None)
    if isinstance(budget, float):
        value, unit = budget, ""
        if not math.isfinite(value):
            raise InputError(f"budget {budget!r}: not a finite number")
        text = repr(budget)
    else:
        text = str(budget)
        m = _PATTERN.match(text)
        if not m:
            raise InputError(f"budget {text!r}: expected a fraction (0.8), a percentage (80%), an amount (123456) or bytes (512MiB)")
        value, unit = float(m.group(1)), m.group(2).lower()
    if value <= 0:
        raise InputError(f"budget {text!r}: must be positive")
    if unit == "%":
        fraction = value / 100
        return ceil_fraction(fraction, baseline_peak), fraction
    if unit:
        if unit not in _UNITS:
            raise InputError(f"budget {text!r}: unknown unit {unit!r} (use B, KB, MB, GB, KiB, MiB, GiB)")
        amount = math.floor(value * _UNITS[unit])
        return amount, (amount / baseline_peak if baseline_peak else None)
    if value <= 1:
        return ceil_fraction(value, baseline_peak), value
    if not value.is_integer():
        raise InputError(f"budget {text!r}: a fraction is at most 1; an amount must be a whole number")
    amount = int(value)
    return amount, (amount / baseline_peak if baseline_peak else None)
