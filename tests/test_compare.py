"""``moccasin compare``: the library function and the command's JSON and table."""

from __future__ import annotations

import json

import pytest
from conftest import chain_train

import moccasin
from moccasin.compare import compare, parse_methods
from moccasin.errors import InputError
from moccasin_cli.main import main

METHODS = ["cp", "milp", "milp-cpsat", "heuristic", "chen-greedy", "chen-sqrtn", "checkpoint-all"]


def test_compare_returns_one_scored_schedule_per_method():
    G = chain_train(5)
    results = compare(G, 50, time_limit=5, methods=METHODS, workers=1)
    assert [s.extra["method"] for s in results] == METHODS
    by = {s.extra["method"]: s for s in results}
    assert by["cp"].status == by["milp"].status == by["milp-cpsat"].status == "OPTIMAL"
    assert by["cp"].total_cost == by["milp"].total_cost == by["milp-cpsat"].total_cost
    assert by["milp"].extra["variables"] > by["cp"].extra["variables"]
    assert by["heuristic"].extra["variables"] is None
    for s in results:
        assert not s.found or s.peak_memory <= s.budget
        assert s.budget == results[0].budget


def test_parse_methods():
    assert parse_methods(["cp,milp", "chen-sqrtn", "cp"]) == ["cp", "milp", "chen-sqrtn"]
    with pytest.raises(InputError):
        parse_methods(["simplex"])


def test_compare_json_shape(tmp_path, capsys):
    path = tmp_path / "chain.json"
    moccasin.save_graph(chain_train(4), path)
    code = main(["compare", str(path), "--budget", "0.8", "-t", "5", "--json", "--workers", "1",
                 "--methods", "cp", "milp", "chen-sqrtn", "checkpoint-all"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(data) >= {"graph", "budget", "results"}
    assert [r["method"] for r in data["results"]] == ["cp", "milp", "chen-sqrtn", "checkpoint-all"]
    for r in data["results"]:
        assert r["format"] == "moccasin-schedule/1"
        assert {"variables", "constraints", "status", "peak_memory", "tdi_percent", "lower_bound", "sequence"} <= set(r)
        assert r["budget"] == data["budget"]
    assert data["results"][1]["variables"] > data["results"][0]["variables"] > 0
    assert data["results"][3]["status"] == "UNKNOWN"  # 0.8 of the baseline: keeping all does not fit


def test_compare_table_and_refusal(tmp_path, capsys):
    path = tmp_path / "chain.json"
    moccasin.save_graph(chain_train(4), path)
    code = main(["compare", str(path), "--budget", "0.9", "-t", "3", "--workers", "1", "-m", "milp,heuristic",
                 "--max-model-bytes", "1000"])
    out = capsys.readouterr().out
    assert code == 0  # the heuristic found one
    assert "UNKNOWN (too large)" in out and "would need about" in out
    assert "method" in out and "heuristic" in out


def test_compare_unknown_method_is_exit_1(tmp_path, capsys):
    path = tmp_path / "chain.json"
    moccasin.save_graph(chain_train(3), path)
    assert main(["compare", str(path), "--budget", "0.9", "-m", "simplex"]) == 1
    assert "unknown method" in capsys.readouterr().err
