"""repalign: representational alignment of ensembles trained on noisy copies of a data set.

The package behind the book *Signal, Noise and Sample Size: When Do Neural Networks Align?*,
a computational companion to Umar & Laio (arXiv 2605.26973). Its modules, by layer:

Engine: one trained ensemble, and grids of them

- ``repalign.data``: the data sets and each ensemble's noisy training sets:
  ``repalign.data.registry`` (the table of data sets: task, dimension, classes, display name,
  source), ``repalign.data.files`` (locating, downloading and reading real data),
  ``repalign.data.teachers`` (synthetic teachers), ``repalign.data.real`` (the fixed split,
  standardised and PCA-reduced), ``repalign.data.seeds`` (the seed's child streams),
  ``repalign.data.ensemble`` (noise and the noisy ensemble), ``repalign.data.checks``;
- ``repalign.models``: networks stacked over the members of an ensemble;
- ``repalign.training``: all members trained at once, each with its own stopping rule;
- ``repalign.experiment``: ``Experiment`` and ``run_experiment``, one ensemble trained and
  measured (also importable as ``from repalign import Experiment, run_experiment``), and
  ``run_stack``, several trained as one stack;
- ``repalign.sweep``: grids of experiments, trained in stacks, cached point by point, and
  several grids as one table (``sweep``, ``sweep_many``);
- ``repalign.cache``: the content-addressed result cache;
- ``repalign.paths``: every path the project uses;
- ``repalign.validate``: the argument checks of every entry point.

Mathematics: what the linear network does in closed form, and how alignment is measured

- ``repalign.theory``: closed-form alignment and test error of the linear network;
- ``repalign.derivation``: the same formulas derived symbolically with SymPy;
- ``repalign.multi_output``: linear networks with C outputs, trained, against their closed form;
- ``repalign.metrics``: alignment between representations: ``repalign.metrics.pairwise``
  (CKA, Procrustes, mutual k-NN for one pair), ``repalign.metrics.imbalance`` (the information
  imbalance for one pair), ``repalign.metrics.allpairs`` (all pairs of
  an ensemble at once) and ``repalign.metrics.registry`` (``METRICS``,
  ``alignment_matrix``, ``mean_alignment``).

Analysis: from sweep tables to the book's statements

- ``repalign.inference``: the statistics layer, which never trains, builds a network or
  touches the cache:
  ``repalign.inference.core`` (paired tests, Holm, Benjamini-Hochberg, the t-based number of
  ensembles that would decide, the word ``UNDECIDED``), ``repalign.inference.trends`` (claim
  1's trend test; label flips as an SNR), ``repalign.inference.extrema`` (the interpolation
  threshold and the extrema of curves), ``repalign.inference.threshold`` (window tests: where
  an extremum lies relative to the threshold), ``repalign.inference.colocation`` (does the
  alignment minimum sit at the error peak), ``repalign.inference.tracking`` (does an extremum
  move with the threshold across widths), ``repalign.inference.decoupling`` (regimes, the
  coupling of alignment and error, counterexamples), ``repalign.inference.floor`` (trained
  against untrained alignment), ``repalign.inference.claims`` (the three claims and their
  words), ``repalign.inference.robustness`` (every claim on every setup and metric) and
  ``repalign.inference.phrases`` (the sentences that report them);
- ``repalign.verdicts``: verdicts as data, one table per chapter run, read by the conclusion;
- ``repalign.sizes``: network names, parameter counts, and the one reference size N_ref
  (``reference_size``, ``reference_sizes``);
- ``repalign.untrained``: ensembles without training: the alignment floor, and the exact ridge
  estimator in closed form.

Book: the chapters' configurations, sweeps, figures, and the runner

- ``repalign.presets``: each chapter's configuration and its named presets (the base class,
  the coercion of parameters and the shared checks: ``repalign.config``);
- ``repalign.book_sweeps``: the sweeps behind the book's figures, declared in one place;
- ``repalign.plotting``: the book's figure style;
- ``repalign.report``: a chapter's setup and result tables, formatted for the page;
- ``repalign.book``: run chapters through papermill and build the book
  (``python -m repalign.book --help``);
- ``repalign.progress``: what a long build prints on its terminal (the chapter, the time, the
  sweep's ensembles trained and the time left);
- ``repalign.pdf``: the whole book as one PDF, printed offline by headless Chromium
  (``python -m repalign.pdf --preset paper|smoke``);
- ``repalign.__main__``: ``python -m repalign``, sweeps from YAML specs, the result cache
  and the book from the command line.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy, so that `import repalign` (and the book's command line) does not load torch.
    if name in ("Experiment", "ExperimentResult", "run_experiment"):
        from . import experiment

        return getattr(experiment, name)
    raise AttributeError(f"module 'repalign' has no attribute {name!r}")
