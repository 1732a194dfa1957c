"""Ctrl-C during a solve keeps the best schedule so far (API and CLI), or gives up cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import moccasin
from conftest import save_graph, training_graph
from moccasin.schedule.simulator import simulate_graph
from moccasin.solvers import cp as cp_solver
from moccasin.solvers import cpsat
from moccasin_cli.main import main

HARD = 30  # layers: CP-SAT does not prove this graph optimal within seconds


def _check_valid(G, schedule):
    sim = simulate_graph(G, schedule.sequence)
    assert sim.peak == schedule.peak_memory <= schedule.budget
    assert sim.cost == schedule.total_cost


def test_interrupt_from_search_thread_returns_best():
    """KeyboardInterrupt raised in a progress report from CP-SAT's threads stops the search."""
    G = training_graph(HARD)
    main_thread = threading.main_thread()
    calls = []

    def progress(report):
        calls.append(report)
        if threading.current_thread() is not main_thread and report.best_cost is not None:
            raise KeyboardInterrupt

    started = time.perf_counter()
    s = moccasin.solve(G, budget=0.6, time_limit=30, workers=2, progress=progress)
    assert time.perf_counter() - started < 10
    assert s.status == "FEASIBLE" and s.extra["interrupted"] is True
    _check_valid(G, s)


def test_interrupt_before_search_returns_hint():
    """Ctrl-C while the first (greedy) schedule is reported: that schedule is the answer."""
    G = training_graph(HARD)

    def progress(report):
        raise KeyboardInterrupt

    s = moccasin.solve(G, budget=0.6, time_limit=30, workers=2, progress=progress)
    assert s.status == "FEASIBLE" and s.extra["interrupted"] is True
    _check_valid(G, s)


def test_sigint_in_process_keeps_python_handler():
    """A real SIGINT stops the search; afterwards Ctrl-C still raises KeyboardInterrupt."""
    G = training_graph(HARD)
    # The SIGINT goes off 0.5 s after the first schedule exists (before it, on a slow machine,
    # Ctrl-C rightly re-raises: there is nothing to keep).
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))

    def progress(report):
        if report.best_cost is not None and not timer.is_alive() and not timer.finished.is_set():
            timer.start()

    try:
        s = moccasin.solve(G, budget=0.6, time_limit=30, workers=2, progress=progress)
    finally:
        timer.cancel()
    assert s.extra.get("interrupted") is True and s.found
    _check_valid(G, s)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):  # OR-Tools did not leave SIGINT at SIG_DFL
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)


def test_interrupt_without_schedule_reraises(monkeypatch):
    """No schedule yet: the KeyboardInterrupt goes on to the caller."""
    G = training_graph(HARD)
    monkeypatch.setattr(cp_solver, "best_greedy", lambda *a, **k: None)

    def build(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cpsat, "build_model", build)
    with pytest.raises(KeyboardInterrupt):
        moccasin.solve(G, budget=0.6, time_limit=30)


def test_cli_interrupt_without_schedule_exits_3(monkeypatch, tmp_path, capsys):
    path = save_graph(training_graph(), tmp_path / "g.json")
    out = tmp_path / "s.json"

    def solve(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(moccasin, "solve", solve)
    assert main(["plan", path, "-b", "0.6", "-o", str(out)]) == 3
    assert not out.exists()
    assert "interrupted before any schedule" in capsys.readouterr().err


def wait_for_search(pid: int, timeout: float = 60.0) -> None:
    """Wait until the process runs CP-SAT (several threads), however slow the machine is.

    A fixed sleep is flaky on a loaded machine: a SIGINT during interpreter start-up, before
    ``main`` runs, kills the process as Python does for any program."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(os.listdir(f"/proc/{pid}/task")) >= 3:
                time.sleep(0.5)
                return
        except FileNotFoundError:
            return
        time.sleep(0.05)


def test_cli_sigint_writes_best_schedule(tmp_path):
    """SIGINT to ``moccasin plan`` with a long time limit: exit 0, a valid schedule file."""
    path = save_graph(training_graph(HARD), tmp_path / "g.json")
    out = tmp_path / "s.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moccasin_cli", "plan", path, "-b", "0.6", "-t", "60", "--workers", "2", "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    wait_for_search(proc.pid)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr
    assert "interrupted" in stdout
    s = moccasin.Schedule.load(out)
    assert s.status == "FEASIBLE" and s.extra["interrupted"] is True
    validate = subprocess.run([sys.executable, "-m", "moccasin_cli", "validate", path, str(out)], capture_output=True, text=True)
    assert validate.returncode == 0, validate.stderr
