"""Schedules: the Schedule type, its JSON file, and the simulator that scores it."""

from moccasin.schedule.schedule import Schedule, STATUSES
from moccasin.schedule.simulator import Simulation, baseline, simulate, simulate_graph, simulate_indices

__all__ = ["STATUSES", "Schedule", "Simulation", "baseline", "simulate", "simulate_graph", "simulate_indices"]
