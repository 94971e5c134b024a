"""The package itself (repalign/__init__.py): its map names every module, and importing it stays light."""

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import repalign

PACKAGE = Path(repalign.__file__).parent


def module_names() -> list[str]:
    """Every module file under lib/repalign as a dotted name (a package by its own name)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            names.append(".".join(("repalign", *parts)))
    return names


def test_the_module_map_lists_every_module():
    """A module of a subpackage may be listed in its package's own docstring instead."""
    listed = repalign.__doc__
    missing = []
    for name in module_names():
        package = name.rsplit(".", 1)[0]
        package_doc = "" if package == "repalign" else importlib.import_module(package).__doc__ or ""
        if f"``{name}``" not in listed and f"``{name}``" not in package_doc:
            missing.append(name)
    assert not missing, f"modules missing from the map in repalign/__init__.py: {missing}"


def test_the_map_lists_no_module_that_does_not_exist():
    existing = set(module_names())
    named = set(re.findall(r"``(repalign(?:\.\w+)+)``", repalign.__doc__))
    assert named <= existing, named - existing


def test_importing_the_package_does_not_load_torch():
    code = "import sys, repalign; repalign.__version__; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_lazy_names_and_an_unknown_one():
    from repalign.experiment import Experiment

    assert repalign.Experiment is Experiment
    with pytest.raises(AttributeError, match="no attribute 'Experimnet'"):
        repalign.Experimnet  # noqa: B018
