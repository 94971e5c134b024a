"""No verdict word is typed by hand: the chapters and book pages take them from glued verdicts.

The prose of every chapter and book page is scanned for verdict words (holds, fails, rises,
falls, monotone, without exception, exact, and their forms) outside what is computed or
defined: glued text, code cells, mathematics, inline code, MyST comments, the claims'
statements (MyST substitutions ``{{ claim1 }}`` ... defined once in ``_config.yml``), and
blocks marked as definitions (an admonition with ``:class: definition``). The Methods and
notation pages define the words and are left out.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFINITION_PAGES = {"methods.md", "notation.md", "bibliography.md"}
PAGES = sorted((ROOT / "chapters").glob("*.md")) + sorted(p for p in (ROOT / "book").glob("*.md")
                                                          if p.name not in DEFINITION_PAGES)
VERDICT_WORD = re.compile(r"\b(holds?|held|holding|fails?|failed|failing|rises?|rising|rose|risen|falls?|falling|"
                          r"fell|fallen|monoton\w*|without exception|exact|exactly)\b", re.IGNORECASE)

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_CODE_CELL = re.compile(r"^```\{code-cell\}.*?^```\s*$", re.S | re.M)
_DEFINITION = re.compile(r"^(`{3,}|:{3,})\{admonition\}[^\n]*\n:class: definition\n.*?^\1\s*$", re.S | re.M)
_FENCE_LINE = re.compile(r"^(```|:::)\{?[\w:-]*\}?.*$", re.M)  # directive lines (a figure's caption stays)
_OPTION = re.compile(r"^:[\w-]+:.*$", re.M)
_MATH_BLOCK = re.compile(r"\$\$.*?\$\$", re.S)
_MATH = re.compile(r"\$[^$\n]+\$")
_ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")  # {glue:text}`name`, {doc}`...`, {numref}`...`, {cite:p}`...`
_CODE = re.compile(r"`[^`\n]+`")
_SUBSTITUTION = re.compile(r"\{\{.*?\}\}")
_COMMENT = re.compile(r"^%.*$", re.M)
_LABEL = re.compile(r"^\(.*\)=\s*$", re.M)


def prose(text: str) -> str:
    """What a reader reads as typed text: everything computed, quoted or defined removed."""
    for pattern in (_FRONT_MATTER, _CODE_CELL, _DEFINITION, _MATH_BLOCK, _MATH, _ROLE, _CODE, _SUBSTITUTION,
                    _COMMENT, _LABEL, _FENCE_LINE, _OPTION):
        text = pattern.sub(" ", text)
    return text


def typed_verdicts(path: Path) -> list[str]:
    """'line: context' for every verdict word in the page's prose."""
    found = []
    for number, line in enumerate(prose(path.read_text()).splitlines(), start=1):
        for m in VERDICT_WORD.finditer(line):
            found.append(f"{path.relative_to(ROOT)}: ...{line[max(0, m.start() - 40):m.end() + 40].strip()}...")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_verdict_word_is_typed_by_hand(page):
    found = typed_verdicts(page)
    assert not found, "verdict words typed by hand (glue them from the verdict tables):\n" + "\n".join(found)


def test_the_scan_finds_typed_words_and_spares_computed_ones():
    text = ("---\nx: 1\n---\nThe claim holds here.\n{glue:text}`verdict` and {{ claim1 }} and $x_\\mathrm{rises}$\n"
            "```{code-cell} ipython3\nprint('fails')\n```\n"
            "```{admonition} How it is decided\n:class: definition\nA curve rises when ...\n```\n"
            "```{glue:figure} fig\nThe curve falls.\n```\n")
    words = [m.group(0) for line in prose(text).splitlines() for m in VERDICT_WORD.finditer(line)]
    assert words == ["holds", "falls"]


def test_claim_statements_are_defined_once_as_substitutions():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    statements = config["parse"]["myst_substitutions"]
    assert {"claim1", "claim2", "claim3"} <= set(statements)
