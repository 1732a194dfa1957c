"""The explicit package list in pyproject.toml names every package folder we ship."""

import tomllib

from conftest import ROOT


def test_every_package_is_listed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = {"moccasin": "moccasin", **{v: k for k, v in config["package-dir"].items()}}
    found = set()
    for top, name in mapping.items():
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((name, *rel)))
    assert found == listed


def test_planner_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, moccasin, moccasin_cli.main; moccasin_cli.main.build_parser(); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_or_tools_waits_for_the_first_schedule():
    """Importing the planner and the CLI leaves OR-Tools (and the pandas it pulls in, ~0.4 s)
    unimported: the CP solver imports it once its starting schedule exists, the MILP on use."""
    import subprocess
    import sys

    code = (
        "import sys, moccasin, moccasin_cli.main; moccasin_cli.main.build_parser(); "
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('ortools', 'pandas')]; assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
