"""Cache keys are stable: the same Experiment names the same result entry after any refactor.

The keys below were computed once (package 0.1.0; result schema 2 since the json carries its own checksum) and are written down as
literals. A change of ``repalign.cache.experiment_key``, of the Experiment's fields or their
defaults, or of a real data set's arrays changes a key and fails this test: then every cached
result of the book would silently be recomputed. Such a change must be deliberate (bump the
schema or the version) and the literals updated with it.
"""

import math

import pytest

from repalign import Experiment
from repalign.cache import KEYED_WHEN_SET, experiment_key
from repalign.data import DataUnavailable

CASES = {
    "linear, label noise": (
        dict(d=50, n_train=25, snr=4.0, device="cpu"),
        "fa94bf22ca600685fc9d8a2e8863b748"),
    "linear, independent inputs, no noise, two metrics": (
        dict(d=30, n_train=60, snr=math.inf, shared_inputs=False, members=4, metrics=("cka", "procrustes"),
             device="cpu"),
        "7ead39428fb4e2423454475b82e617af"),
    "linear, input noise, shared init, float64": (
        dict(d=20, n_train=10, noise="inputs", snr=2.0, shared_init=True, init_scale=0.3, device="cpu",
             dtype="float64"),
        "c779037dd1fca1925d7805b2c652faf0"),
    "mlp2, regression, Adam, every metric": (
        dict(data="teacher-linear", d=16, n_train=40, snr=1.0, model="mlp", depth=2, width=8, optimizer="adam",
             lr=0.01, loss="mse", steps=1000, tol=1e-5, n_probe=300, members=6,
             metrics=("cka", "cka_debiased", "cka_rbf", "procrustes", "mutual_knn"), seed=2, device="cpu"),
        "50a1b08c08b283934daefd3d251af85c"),
    "mlp, classification, label flips": (
        dict(data="teacher-linear-class", d=10, n_classes=3, n_train=60, flip=0.2, model="mlp", width=32,
             optimizer="adam", lr=1e-2, steps=3000, tol=1e-4, members=3, n_probe=500,
             metrics=("cka", "mutual_knn"), device="cpu"),
        "eb0620f9cb6490850451a7e94b0ab454"),
    "mlp teacher, noise on both, tanh, minibatch SGD": (
        dict(data="teacher-mlp", d=12, n_train=30, noise="both", snr=8.0, model="mlp", activation="tanh",
             optimizer="sgd", lr=0.05, batch_size=10, weight_decay=1e-4, shared_inputs=False, device="cpu"),
        "9daa9f703310fd4550e5afe4c9f39317"),
    "digits, PCA to 10, flips": (
        dict(data="digits", d=10, n_train=50, flip=0.1, model="mlp", width=8, optimizer="adam", lr=0.01,
             loss="mse", steps=60, n_probe=60, members=3, device="cpu"),
        "10880d52c015fb107d6716539868b9da"),
    "diabetes, native features": (
        dict(data="diabetes", d=None, n_train=40, snr=2.0, model="mlp", width=4, optimizer="adam", lr=0.01,
             steps=60, n_probe=60, members=3, device="cpu"),
        "037a9a87c3a9bf0f17c7082a4124fd2c"),
    "concrete, input noise": (
        dict(data="concrete", d=None, n_train=100, noise="inputs", snr=0.25, model="mlp", width=12,
             optimizer="adam", lr=0.01, steps=3000, n_probe=1000, members=6, device="cpu"),
        "86745e634c687ea129472d5a56ec8450"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_cache_key_of_an_experiment_is_unchanged(case):
    fields, key = CASES[case]
    try:
        assert experiment_key(Experiment(**fields)) == key
    except DataUnavailable as err:  # a real data set that is not installed here
        pytest.skip(str(err))


def test_every_field_is_part_of_the_key():
    """Changing any one field changes the key (so the literals above guard every field)."""
    base = Experiment(d=50, n_train=25, snr=4.0, device="cpu")
    changes = dict(n_train=26, snr=2.0, shared_inputs=False, width=21, members=9, init_scale=0.5,
                   shared_init=True, steps=100, tol=1e-5, n_probe=100, metrics=("procrustes",), seed=1,
                   dtype="float64", teacher_width=50, n_classes=3, noise="inputs", lr=0.1, weight_decay=0.1)
    keys = {experiment_key(base.replace(**{name: value})) for name, value in changes.items()}
    assert len(keys) == len(changes) and experiment_key(base) not in keys


def test_a_field_added_later_enters_the_key_only_when_set():
    """``plateau`` came after results were cached: at its default every earlier key holds (the
    literals above), and any other value is a key of its own."""
    base = Experiment(data="teacher-mlp", d=4, n_train=12, model="mlp", width=8, optimizer="lm", dtype="float64",
                      device="cpu")
    assert base.plateau == KEYED_WHEN_SET["plateau"]
    keys = {experiment_key(base.replace(plateau=p)) for p in (base.plateau, 1e-2, 1e-4)}
    assert len(keys) == 3 and experiment_key(base) in keys
