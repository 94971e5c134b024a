"""Several sweeps as one table (repalign.multisweep)."""

import pytest

from repalign import Experiment
from repalign.cache import ResultCache
from repalign.multisweep import missing_points, sweep_many


def test_jobs_are_tagged_concatenated_and_cached(tmp_path):
    cache = ResultCache(tmp_path)
    base = Experiment(d=6, n_train=4, members=3, n_probe=20, steps=50, snr=2.0)
    jobs = [({"kind": "a"}, base, {"n_train": [3, 9]}), ({"kind": "b"}, base.replace(width=4), {"seed": [0, 1]})]
    assert missing_points(jobs, cache) == 4
    table = sweep_many(jobs, cache=cache)
    assert list(table.kind) == ["a", "a", "b", "b"]
    assert missing_points(jobs, cache) == 0
    again = sweep_many(jobs, cache=cache, workers=2)  # everything cached: no cluster is started
    assert again.cached.all()
    assert (again.alignment.to_numpy() == table.alignment.to_numpy()).all()


def test_bad_arguments_are_named():
    base = Experiment(d=6, n_train=4, members=3)
    with pytest.raises(ValueError, match="workers"):
        sweep_many([({}, base, {"seed": [0]})], workers=0)
    with pytest.raises(ValueError, match="jobs"):
        sweep_many([])
    with pytest.raises(ValueError, match="each job"):
        sweep_many([({}, {"d": 6}, {"seed": [0]})])
