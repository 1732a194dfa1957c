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
