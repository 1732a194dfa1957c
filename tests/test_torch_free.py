"""The planner side must not import torch (it plans saved graphs on machines without it)."""

import subprocess
import sys


def test_planner_imports_without_torch():
    code = "import sys, moccasin, moccasin.api, moccasin.graph, moccasin.schedule, moccasin.solvers; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
