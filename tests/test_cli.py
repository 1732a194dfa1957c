"""The command line: exit codes, one-line errors with no traceback, atomic output files."""

import json
import subprocess
import sys

import pytest

from moccasin_cli.main import main

from conftest import ROOT, paper_graph

CHAIN = ROOT / "graphs" / "chain32_train.json"


def run_cli(*args):
    """Run the real console entry in a subprocess (what a user sees)."""
    proc = subprocess.run([sys.executable, "-m", "moccasin_cli", *map(str, args)], capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_plan_then_validate(tmp_path):
    out = tmp_path / "s.json"
    code, stdout, stderr = run_cli("plan", CHAIN, "--budget", "0.8", "--time-limit", "3", "--workers", "2", "-o", out)
    assert code == 0, stderr
    assert "TDI" in stdout
    data = json.loads(out.read_text())
    assert data["format"] == "moccasin-schedule/1" and data["peak_memory"] <= data["budget"]
    code, stdout, _ = run_cli("validate", CHAIN, out)
    assert code == 0 and stdout.startswith("valid")


def test_plan_json_matches_file(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["plan", str(CHAIN), "-b", "90%", "-t", "2", "--workers", "2", "--json", "-o", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert set(printed) >= {"format", "graph", "solver", "status", "budget", "budget_fraction", "sequence", "peak_memory",
                            "total_cost", "baseline_peak", "baseline_cost", "tdi_percent", "lower_bound",
                            "solve_seconds", "first_solution_seconds"}


def test_below_min_budget_exits_2_without_file(tmp_path):
    out = tmp_path / "s.json"
    code, stdout, stderr = run_cli("plan", paper_graph("vgg16_train"), "--budget", "0.8", "-o", out)
    assert code == 2
    assert "13153337344" in stdout + stderr
    assert not out.exists()
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"nodes": [{"id": 0, "cost_cpu": 1, "cost_ram": 1}], "links": [{"source": 0, "target": 3}]}', "unknown node 3"),
        ('{"nodes": [', "truncated JSON"),
        ('{"nodes": [{"id": 0, "cost_cpu": 1, "cost_ram": 1}, {"id": 1, "cost_cpu": 1, "cost_ram": 1}],'
         ' "links": [{"source": 0, "target": 1}, {"source": 1, "target": 0}]}', "cycle"),
        ('{"nodes": [{"id": 0, "cost_cpu": -4, "cost_ram": 1}], "links": []}', "negative cost_cpu"),
    ],
)
def test_bad_graph_exits_1_one_line(tmp_path, content, message):
    graph = tmp_path / "bad.json"
    graph.write_text(content)
    out = tmp_path / "s.json"
    code, stdout, stderr = run_cli("plan", graph, "--budget", "0.8", "-o", out)
    assert code == 1
    assert stderr.count("\n") == 1 and message in stderr and str(graph) in stderr
    assert "Traceback" not in stderr and not out.exists()


def test_bad_usage_exits_1(tmp_path):
    code, _, stderr = run_cli("plan", CHAIN, "--budget", "lots")
    assert code == 1 and "budget 'lots'" in stderr and "Traceback" not in stderr
    code, _, stderr = run_cli("plan", CHAIN)
    assert code == 1 and "--budget" in stderr
    code, _, stderr = run_cli("plan", tmp_path / "nope.json", "--budget", "0.5")
    assert code == 1 and "no such file" in stderr


def test_validate_rejects_bad_schedules(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["plan", str(CHAIN), "-b", "0.9", "-t", "2", "--workers", "2", "-q", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    broken = dict(data, sequence=data["sequence"][1:])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken))
    assert main(["validate", str(CHAIN), str(bad)]) == 1
    assert "not computed before it" in capsys.readouterr().err
    over = dict(data, budget=data["peak_memory"] - 1)
    bad.write_text(json.dumps(over))
    assert main(["validate", str(CHAIN), str(bad)]) == 1
    assert "exceeds the budget" in capsys.readouterr().err
    bad.write_text("{}")
    assert main(["validate", str(CHAIN), str(bad)]) == 1
    assert "format" in capsys.readouterr().err


def test_help_explains():
    code, stdout, _ = run_cli("plan", "--help")
    assert code == 0 and "--max-recompute" in stdout and "Exit 0" in stdout
