"""The Schedule type every solver returns, and its JSON file (``moccasin-schedule/1``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from typing import Any

from moccasin.errors import InputError
from moccasin.fileio import atomic_write_json, read_json

FORMAT = "moccasin-schedule/1"
#: OPTIMAL and FEASIBLE carry a sequence; INFEASIBLE and UNKNOWN do not.
STATUSES = ("OPTIMAL", "FEASIBLE", "INFEASIBLE", "UNKNOWN")


@dataclass
class Schedule:
    """A solver's answer: the sequence of node ids and what the simulator says of it.

    ``peak_memory`` and ``total_cost`` always come from the common simulator, never from a
    solver's own model. ``extra`` holds optional keys (``method``, ``variables``,
    ``constraints``, ``min_budget``, ``message``, ...) written beside the fixed ones.
    """

    graph: str
    solver: str
    status: str
    budget: int
    budget_fraction: float | None
    sequence: list
    peak_memory: int | None
    total_cost: int | None
    baseline_peak: int
    baseline_cost: int
    tdi_percent: float | None
    lower_bound: int | None
    solve_seconds: float
    first_solution_seconds: float | None
    extra: dict = field(default_factory=dict)

    @property
    def found(self) -> bool:
        """True when the schedule holds a sequence (status OPTIMAL or FEASIBLE)."""
        return self.status in ("OPTIMAL", "FEASIBLE")

    @property
    def message(self) -> str | None:
        return self.extra.get("message")

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"format": FORMAT}
        for f in fields(self):
            if f.name != "extra":
                d[f.name] = getattr(self, f.name)
        for k, v in self.extra.items():
            d.setdefault(k, v)
        return d

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, data: str | dict, source: str = "<schedule>") -> "Schedule":
        """Parse a schedule from a JSON string or an already parsed dict."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as e:
                raise InputError(f"{source}: not valid JSON ({e.msg})") from None
        if not isinstance(data, dict):
            raise InputError(f"{source}: a schedule is a JSON object")
        fmt = data.get("format")
        if fmt != FORMAT:
            raise InputError(f"{source}: format {fmt!r} is not {FORMAT!r}")
        seq = data.get("sequence")
        if not isinstance(seq, list):
            raise InputError(f"{source}: 'sequence' must be a list of node ids")
        for k, nid in enumerate(seq):
            if isinstance(nid, bool) or not isinstance(nid, (int, str)):
                raise InputError(f"{source}: sequence entry #{k} {nid!r} is not a node id")
        status = data.get("status", "UNKNOWN")
        if status not in STATUSES:
            raise InputError(f"{source}: status {status!r} is not one of {', '.join(STATUSES)}")
        names = {f.name for f in fields(cls)} - {"extra"}
        kwargs = {name: data.get(name) for name in names}
        kwargs["sequence"] = seq
        kwargs["status"] = status
        kwargs["graph"] = str(data.get("graph", ""))
        kwargs["solver"] = str(data.get("solver", ""))
        kwargs["solve_seconds"] = float(data.get("solve_seconds") or 0.0)
        extra = {k: v for k, v in data.items() if k not in names and k != "format"}
        return cls(**kwargs, extra=extra)

    def save(self, path: str | os.PathLike) -> None:
        """Write the schedule file atomically."""
        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Schedule":
        return cls.from_json(read_json(path), source=str(path))
