"""moccasin sweep: budget specs, the JSON of results, infeasible rows, exit codes, the plot."""

from __future__ import annotations

import json

import pytest

import moccasin
from conftest import training_graph
from moccasin.errors import InputError
from moccasin.schedule.simulator import simulate_graph
from moccasin.sweep import load_sweep, parse_budgets, sweep
from moccasin_cli.main import main


def test_parse_budgets_range_and_list():
    assert parse_budgets("0.4:1.0:0.1") == ["0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1"]
    assert parse_budgets("40%:100%:30%") == ["0.4", "0.7", "1"]
    assert parse_budgets("0.5,0.7, 0.9") == ["0.5", "0.7", "0.9"]
    assert parse_budgets("0.5,512MiB") == ["0.5", "512MiB"]
    for bad in ("", "0.4:1.0:0", "0.9:0.4:0.1", "0.4:2:0.1", "a:1:0.1", "0.5,,0.7"):
        with pytest.raises(InputError):
            parse_budgets(bad)


def test_sweep_results_are_schedules_with_infeasible_rows():
    G = training_graph()
    result = sweep(G, "0.05,0.6,1.0", time_limit=5, workers=2)
    assert [s.budget_fraction for s in result.results] == [0.05, 0.6, 1.0]
    low, mid, full = result.results
    assert low.status == "INFEASIBLE" and low.sequence == []
    assert full.status == "OPTIMAL" and full.tdi_percent == 0
    for s in (mid, full):
        sim = simulate_graph(G, s.sequence)
        assert sim.peak <= s.budget and sim.cost == s.total_cost
    assert mid.tdi_percent >= full.tdi_percent


def test_cli_sweep_json_table_and_plot(tmp_path, capsys, toy_graph_file):
    out, pic = tmp_path / "sweep.json", tmp_path / "sweep.png"
    code = main(["sweep", toy_graph_file, "--budgets", "0.05,0.5:1.0:0.25", "-t", "5", "--workers", "2",
                 "-o", str(out), "--plot", str(pic)])
    assert code == 0
    table = capsys.readouterr().out
    assert "INFEASIBLE" in table and "OPTIMAL" in table and "TDI %" in table
    data = json.loads(out.read_text())
    assert data["format"] == "moccasin-sweep/1" and data["graph"] == "toy_train"
    assert [r["budget_fraction"] for r in data["results"]] == [0.05, 0.5, 0.75, 1.0]
    for r in data["results"]:
        s = moccasin.Schedule.from_json(r)  # every result is a full schedule object
        assert r["format"] == "moccasin-schedule/1"
        assert s.found == (r["status"] in ("OPTIMAL", "FEASIBLE"))
    assert load_sweep(out).results[1].sequence == data["results"][1]["sequence"]
    assert pic.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_sweep_all_infeasible_exits_2(capsys, toy_graph_file):
    assert main(["sweep", toy_graph_file, "--budgets", "0.01,0.02", "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in data["results"]] == ["INFEASIBLE", "INFEASIBLE"]


def test_cli_sweep_bad_budgets_is_one_line(capsys, toy_graph_file):
    assert main(["sweep", toy_graph_file, "--budgets", "0.9:0.1:0.1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("moccasin: error: budgets") and "\n" not in err
