"""environment.yml (for conda users) mirrors requirements.txt (what `make` installs)."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def requirement_lines(lines):
    return sorted(line.split("#")[0].strip() for line in lines
                  if line.split("#")[0].strip() and not line.strip().startswith("-"))


def test_environment_yml_mirrors_requirements():
    pip_block = next(d["pip"] for d in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
                     if isinstance(d, dict))
    requirements = requirement_lines((ROOT / "requirements.txt").read_text().splitlines())
    assert requirement_lines(pip_block) == requirements


def test_every_requirement_is_pinned_exactly():
    for line in requirement_lines((ROOT / "requirements.txt").read_text().splitlines()):
        assert "==" in line, f"{line!r} is not pinned with =="


def test_torch_is_the_offline_cpu_pin():
    assert "torch==2.13.0" in requirement_lines((ROOT / "requirements.txt").read_text().splitlines())
