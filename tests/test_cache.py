"""The result cache (repalign.cache): entries round-trip exactly, keys, folders, info and clear.
Damaged entries, killed and concurrent writers: tests/test_faults.py."""

import json
import warnings

import pytest
from data_helpers import assert_same_result

from repalign import Experiment, run_experiment
from repalign.cache import (KEYED_WHEN_SET, SCHEMA_VERSION, ResultCache, _meta_checksum, data_identity,
                            default_folder, experiment_key, from_entry, to_entry)

BASE = Experiment(d=30, members=3, n_probe=200, metrics=("cka", "procrustes"))


@pytest.fixture
def cache(tmp_path):
    return ResultCache(tmp_path / "cache")


@pytest.fixture(scope="module")
def result():
    return run_experiment(BASE.replace(n_train=10, snr=2.0, steps=2000))


def test_an_entry_round_trips_exactly(result, cache):
    arrays, meta = to_entry(result)
    json.dumps(meta)  # the metadata is plain JSON
    assert_same_result(from_entry(arrays, meta), result)
    assert cache.load(result.experiment) is None  # absent: no warning, no result
    npz, meta_path = cache.paths(result.experiment)
    assert cache.store(result) == meta_path and npz.exists()
    assert json.loads(meta_path.read_text())["schema"] == SCHEMA_VERSION
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same_result(cache.load(result.experiment), result)


def test_an_entry_written_before_a_field_was_added_is_read_back(result, cache):
    """An entry of an earlier version lacks the later fields (``plateau``): at their defaults it
    is the same experiment, read back without a warning, not recomputed."""
    npz, meta_path = cache.paths(result.experiment)
    cache.store(result)
    meta = json.loads(meta_path.read_text())
    for name in KEYED_WHEN_SET:
        del meta["experiment"][name]
    meta["meta_sha256"] = _meta_checksum(meta)
    meta_path.write_text(json.dumps(meta))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same_result(cache.load(result.experiment), result)


def test_keys_are_32_hex_digits_and_auto_is_keyed_as_its_device():
    import torch

    key = experiment_key(BASE)
    assert len(key) == 32 and int(key, 16) >= 0
    here = "cuda" if torch.cuda.is_available() else "cpu"
    assert experiment_key(BASE.replace(device="auto")) == experiment_key(BASE.replace(device=here))


def test_data_identity_names_generated_data_and_hashes_real_data():
    assert data_identity("teacher-linear") == "teacher-linear:generated"
    digits = data_identity("digits")
    assert digits.startswith("digits:") and len(digits.split(":")[1]) == 64
    assert data_identity("digits") == digits  # the same arrays, the same identity


def test_the_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("REPALIGN_CACHE", str(tmp_path / "elsewhere"))
    assert default_folder() == tmp_path / "elsewhere" and ResultCache().folder == tmp_path / "elsewhere"


def test_info_counts_entries_and_clear_removes_them(result, cache, monkeypatch):
    from repalign import verdicts

    assert cache.info()["entries"] == 0 and cache.clear() == 0  # a folder that does not exist yet
    cache.store(result)
    info = cache.info()
    assert info["entries"] == 1 and info["bytes"] > 0
    monkeypatch.setenv("REPALIGN_CACHE", str(cache.folder))
    row = verdicts.record("snr", setting="s", metric="cka", statistic="x", value=1.0, verdict="holds", control="c")
    verdicts.save(verdicts.verdict_table("snr", [row]), "snr", "smoke")
    tables = cache.folder / "verdicts"
    assert cache.clear() == 1 and cache.info()["entries"] == 0
    assert not list(tables.iterdir())  # the verdicts computed from the entries go with them




def test_info_survives_a_temporary_file_renamed_while_it_counts(result, cache, monkeypatch):
    """A chapter writing beside ``info`` renames its temporary file between the listing and the
    stat: the file is counted as gone, not raised as an error (it once failed a Ctrl-C test)."""
    cache.store(result)
    listed = cache.owned()
    vanished = cache.folder / ".0123.npz.abcdefgh.tmp"
    monkeypatch.setattr(type(cache), "owned", lambda self: listed + [vanished])
    info = cache.info()
    assert info["entries"] == 1 and info["bytes"] == sum(p.stat().st_size for p in listed)
