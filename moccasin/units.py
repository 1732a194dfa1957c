"""Memory amounts for people: is a graph's ``cost_ram`` in bytes, and how to print an amount.

Graph files do not say their memory unit. A graph attribute ``ram_units`` (``"bytes"`` or
anything else) settles it; otherwise outputs of a MiB or more mean bytes (real tensors), and
smaller numbers (the paper's random layered graphs) are plain units.
"""

from __future__ import annotations

import networkx as nx

from moccasin.errors import InputError

UNIT_CHOICES = ("auto", "bytes", "plain")
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_SI = ("", "k", "M", "G", "T", "P")


def memory_units(G: nx.DiGraph, units: str = "auto") -> str:
    """``"bytes"`` or ``"plain"`` for the ``cost_ram`` of ``G``; ``units`` overrides the guess."""
    if units not in UNIT_CHOICES:
        raise InputError(f"units {units!r}: choose one of {', '.join(UNIT_CHOICES)}")
    if units != "auto":
        return units
    declared = G.graph.get("ram_units")
    if declared is not None:
        return "bytes" if str(declared).lower() in ("b", "byte", "bytes") else "plain"
    largest = max((int(d.get("cost_ram", 0)) for _, d in G.nodes(data=True)), default=0)
    return "bytes" if largest >= 2**20 else "plain"


def scale(amount: float, units: str) -> tuple[float, str]:
    """The divisor and unit name that show ``amount`` as a number between 1 and 1024 (or 1000).

    >>> scale(3 * 2**30, "bytes")
    (1073741824, 'GiB')
    >>> scale(48_000, "plain")
    (1000, 'k')
    """
    step, names = (1024, _BINARY) if units == "bytes" else (1000, _SI)
    divisor, k = 1, 0
    while abs(amount) >= divisor * step and k < len(names) - 1:
        divisor *= step
        k += 1
    return divisor, names[k]


def human(amount: float | None, units: str = "bytes", digits: int = 1) -> str:
    """``28.4 GiB`` for bytes, ``486.9k`` for plain units, ``-`` for None.

    >>> human(30447484928)
    '28.4 GiB'
    >>> human(486896, "plain")
    '486.9k'
    """
    if amount is None:
        return "-"
    divisor, name = scale(amount, units)
    if divisor == 1:
        return f"{amount:,.0f} B" if units == "bytes" else f"{amount:,.0f}"
    text = f"{amount / divisor:.{digits}f}"
    return f"{text} {name}" if units == "bytes" else f"{text}{name}"
