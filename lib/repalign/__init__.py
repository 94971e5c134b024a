"""repalign: representational alignment of ensembles trained on noisy copies of a data set.

The package behind the book *Signal, Noise and Sample Size: When Do Neural Networks Align?*,
a computational companion to Umar & Laio (arXiv 2605.26973). Modules:

- ``repalign.experiment``: ``Experiment`` and ``run_experiment``, one trained ensemble
  (also importable as ``from repalign import Experiment, run_experiment``);
- ``repalign.data``, ``repalign.models``, ``repalign.training``: noisy ensembles of data sets,
  stacked networks, and training all members at once;
- ``repalign.metrics``: alignment measures over whole ensembles;
- ``repalign.theory``: closed-form alignment and test error of the linear network;
- ``repalign.presets``: each chapter's configuration and its named presets;
- ``repalign.plotting``: the book's figure style;
- ``repalign.book``: run chapters through papermill and build the book
  (``python -m repalign.book --help``).
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy, so that `import repalign` (and the book's command line) does not load torch.
    if name in ("Experiment", "ExperimentResult", "run_experiment"):
        from . import experiment

        return getattr(experiment, name)
    raise AttributeError(f"module 'repalign' has no attribute {name!r}")
