"""moccasin plot and the pictures library: files are made, types follow the extension."""

from __future__ import annotations

import pytest

import moccasin
from conftest import training_graph
from moccasin.errors import InputError
from moccasin.plot import memory_profile, plot_memory
from moccasin.units import human, memory_units
from moccasin_cli.main import main


@pytest.fixture
def planned(tmp_path, toy_graph_file):
    out = tmp_path / "s.json"
    assert main(["plan", toy_graph_file, "-b", "0.6", "-t", "5", "--workers", "2", "-q", "-o", str(out)]) == 0
    return toy_graph_file, out


def test_cli_plot_png_and_svg(tmp_path, planned, capsys):
    graph, schedule = planned
    png, svg = tmp_path / "mem.png", tmp_path / "mem.svg"
    assert main(["plot", graph, str(schedule), "-o", str(png)]) == 0
    assert main(["plot", graph, str(schedule), "-o", str(svg)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert b"<svg" in svg.read_bytes()[:2000]
    assert main(["plot", graph, str(schedule)]) == 0  # default: the schedule's name with .png
    assert schedule.with_suffix(".png").exists()


def test_plot_errors_are_one_line(tmp_path, planned, capsys):
    graph, schedule = planned
    assert main(["plot", graph, str(schedule), "-o", str(tmp_path / "mem.jpg")]) == 1
    assert "use .png, .svg or .pdf" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text(moccasin.Schedule.load(schedule).to_json().replace('"sequence": [0', '"sequence": [999'))
    assert main(["plot", graph, str(other), "-o", str(tmp_path / "x.png")]) == 1
    assert "not in graph" in capsys.readouterr().err


def test_memory_profile_marks_recomputations(planned):
    graph, schedule = planned
    G = moccasin.load_graph(graph)
    s = moccasin.Schedule.load(schedule)
    prof = memory_profile(G, s)
    assert max(prof["memory"]) == s.peak_memory <= s.budget
    assert len(prof["recomputed"]) == len(s.sequence) - G.number_of_nodes()
    assert len(prof["baseline"]) == G.number_of_nodes()


def test_units():
    assert memory_units(training_graph()) == "bytes"
    G = training_graph()
    for _, d in G.nodes(data=True):
        d["cost_ram"] = 7
    assert memory_units(G) == "plain" and memory_units(G, "bytes") == "bytes"
    assert human(3 * 2**30) == "3.0 GiB" and human(1500, "plain") == "1.5k" and human(None) == "-"
    with pytest.raises(InputError):
        memory_units(G, "furlongs")


def test_plot_memory_without_sequence_is_input_error(tmp_path):
    G = training_graph()
    s = moccasin.solve(G, budget=0.01)
    with pytest.raises(InputError):
        plot_memory(G, s, tmp_path / "x.png")


def test_planning_and_cli_parser_do_not_import_matplotlib():
    import subprocess
    import sys

    code = (
        "import sys, moccasin, moccasin.sweep; from moccasin_cli.main import build_parser; build_parser(); "
        "sys.exit(1 if 'matplotlib' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
