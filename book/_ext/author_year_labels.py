"""Author-year labels for the bibliography ("Belkin et al., 2019"), to match the citations in the
text (``bibtex_reference_style: author_year``); pybtex's default labels abbreviate ("[BHMM19]").
Registered by ``repalign_site`` as the formatting style ``author_year_labels``."""

from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle

NAME = "author_year_labels"


def last_name(person) -> str:
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


def author_year(entry) -> str:
    """'Umar and Laio, 2026' for two authors, 'Belkin et al., 2019' for more, as the text cites them."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [last_name(person) for person in people]
    if len(names) > 2:
        authors = f"{names[0]} et al."
    else:
        authors = " and ".join(names) or entry.fields.get("title", entry.key)
    return f"{authors}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year(entry) for entry in entries]
        repeated = Counter(labels)
        seen: Counter = Counter()
        for label in labels:  # two works with one label: 2019a, 2019b
            if repeated[label] > 1:
                seen[label] += 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class AuthorYearStyle(UnsrtStyle):
    default_label_style = NAME
    default_sorting_style = "author_year_title"


def register() -> None:
    register_plugin("pybtex.style.labels", NAME, AuthorYearLabels)
    register_plugin("pybtex.style.formatting", NAME, AuthorYearStyle)
