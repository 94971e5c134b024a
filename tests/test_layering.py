"""The package's layers: the statistics never train, build networks or touch the cache; each
word and folder name is defined once; modules stay small enough to read."""

import ast
from pathlib import Path

import pytest

import repalign

PACKAGE = Path(repalign.__file__).parent
STATISTICS = PACKAGE / "inference"
FORBIDDEN = {"experiment", "models", "training", "cache", "sweep", "untrained", "torch"}  # what statistics never need
LONGEST = 450  # lines: a module beyond this is split by what its parts do
# The layers split so far: the statistics, the metrics and the chapter configurations.
SPLIT = sorted([*STATISTICS.glob("*.py"), *(PACKAGE / "metrics").glob("*.py"),
                *(PACKAGE / name for name in ("presets.py", "config.py", "sizes.py", "verdicts.py"))])


def imported_modules(path: Path) -> set[str]:
    """The repalign modules (by last name) and third-party packages a file imports, at any depth."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            found.update((node.module or "").split("."))
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(part for alias in node.names for part in alias.name.split("."))
    return found - {""}


@pytest.mark.parametrize("path", sorted(STATISTICS.glob("*.py")), ids=lambda p: p.name)
def test_the_statistics_import_no_training_models_or_cache(path):
    assert not imported_modules(path) & FORBIDDEN, path.name


def test_the_verdict_vocabulary_is_defined_once():
    definitions = [f"{path.relative_to(PACKAGE)}:{node.lineno}" for path in PACKAGE.rglob("*.py")
                   for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Assign)
                   for target in node.targets for name in ast.walk(target)
                   if isinstance(name, ast.Name) and name.id == "UNDECIDED"]
    assert definitions == ["inference/core.py:" + definitions[0].split(":")[1]], definitions


@pytest.mark.parametrize("path", SPLIT, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_too_long_to_read(path):
    assert len(path.read_text().splitlines()) <= LONGEST, f"{path.name}: split it by what its parts do"
