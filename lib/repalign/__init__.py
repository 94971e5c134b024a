"""repalign: representational alignment of ensembles trained on noisy copies of a data set.

The package behind the book *Signal, Noise and Sample Size: When Do Neural Networks Align?*,
a computational companion to Umar & Laio (arXiv 2605.26973). Modules:

- ``repalign.theory``: closed-form alignment and test error of the linear network;
- ``repalign.presets``: each chapter's configuration and its named presets;
- ``repalign.plotting``: the book's figure style;
- ``repalign.book``: run chapters through papermill and build the book
  (``python -m repalign.book --help``).
"""

__version__ = "0.1.0"
