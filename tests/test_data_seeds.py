"""Tests of repalign.data.seeds: the seed's child streams, their documented order, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from data_helpers import SYNTHETIC_ARGS, ensemble
from repalign import data
from repalign.data import seeds


def state(sequence):
    return sequence.generate_state(4)


def test_child_is_what_spawn_makes_and_leaves_the_parent_alone():
    parent = np.random.SeedSequence(2024)
    made = [seeds.child(parent, k) for k in range(3)]
    assert parent.n_children_spawned == 0
    for mine, spawned in zip(made, np.random.SeedSequence(2024).spawn(3)):
        np.testing.assert_array_equal(state(mine), state(spawned))
    grandchild = seeds.child(made[1], 2)
    np.testing.assert_array_equal(state(grandchild), state(np.random.SeedSequence(2024).spawn(2)[1].spawn(3)[2]))


@pytest.mark.parametrize("entropy", [7, [1, 2, 3], 2**100])
def test_seed_key_stands_for_its_sequence(entropy):
    sequence = seeds.child(np.random.SeedSequence(entropy), 4)
    key = seeds.seed_key(sequence)
    assert hash(key) == hash(seeds.seed_key(seeds.child(np.random.SeedSequence(entropy), 4)))
    np.testing.assert_array_equal(state(seeds.sequence_from_key(key)), state(sequence))


def test_root_sequence_takes_ints_and_sequences_only():
    sequence = np.random.SeedSequence(5)
    assert seeds.root_sequence(sequence) is sequence
    np.testing.assert_array_equal(state(seeds.root_sequence(np.int64(5))), state(sequence))
    for bad in (-1, 1.5, "5", None):
        with pytest.raises(ValueError, match="seed must be an integer >= 0 or a numpy SeedSequence"):
            seeds.root_sequence(bad)


def test_streams_follow_the_documented_order():
    """teacher 0, inputs 1, probes 2, label noise 3, input noise 4; member k: child k."""
    assert (seeds.TEACHER, seeds.INPUTS, seeds.PROBE, seeds.LABEL_NOISE, seeds.INPUT_NOISE) == (0, 1, 2, 3, 4)
    children = seeds.streams(11)
    e = ensemble("teacher-linear", seed=11, members=3, shared_inputs=False, noise="labels", snr=4.0)
    noisy_inputs = ensemble("teacher-linear", seed=11, members=3, shared_inputs=False, noise="inputs", snr=4.0)
    d, n = SYNTHETIC_ARGS["d"], e.x_train.shape[1]
    teacher = data.make_teacher("teacher-linear", seed=11, **SYNTHETIC_ARGS)
    beta = np.random.default_rng(children[0]).standard_normal(d)
    np.testing.assert_array_equal(teacher.readout, beta / np.linalg.norm(beta))
    probe = np.random.default_rng(children[2]).standard_normal((e.x_probe.shape[0], d))
    np.testing.assert_array_equal(e.x_probe, probe)
    for k in range(3):
        inputs = np.random.default_rng(seeds.child(children[1], k)).standard_normal((n, d))
        np.testing.assert_array_equal(e.x_train[k], inputs)
        noise = np.sqrt(e.label_noise_var) * np.random.default_rng(seeds.child(children[3], k)).standard_normal(n)
        np.testing.assert_array_equal(e.y_train[k], teacher(inputs) + noise)
        jitter = np.random.default_rng(seeds.child(children[4], k)).standard_normal((n, d))
        np.testing.assert_array_equal(noisy_inputs.x_train[k], inputs + np.sqrt(noisy_inputs.input_noise_var) * jitter)


@pytest.mark.parametrize("name", ["teacher-mlp-class", "teacher-mlp", "digits"])
def test_same_arguments_same_arrays_other_seed_other_arrays(name):
    kwargs = dict(noise="both", snr=3.0, shared_inputs=False,
                  flip=0.1 if data.task_of(name) == "classification" else 0.0)
    first, again = ensemble(name, seed=5, **kwargs), ensemble(name, seed=5, **kwargs)
    other = ensemble(name, seed=6, **kwargs)
    for field in ("x_train", "y_train", "x_probe", "y_probe"):
        np.testing.assert_array_equal(getattr(first, field), getattr(again, field))
    assert not np.array_equal(first.x_train, other.x_train)
    assert not np.array_equal(first.y_train, other.y_train)


def test_seed_sequence_is_not_consumed():
    sequence = np.random.SeedSequence(123)
    first = ensemble("teacher-linear", seed=sequence, noise="both", snr=1.0)
    again = ensemble("teacher-linear", seed=sequence, noise="both", snr=1.0)
    np.testing.assert_array_equal(first.x_train, again.x_train)
    np.testing.assert_array_equal(first.y_train, again.y_train)
    np.testing.assert_array_equal(first.x_train, ensemble("teacher-linear", seed=123, noise="both",
                                                          snr=1.0).x_train)


@pytest.mark.parametrize("name", ["teacher-linear", "teacher-linear-class", "concrete"])
def test_adding_a_member_keeps_the_first_members(name):
    kwargs = dict(noise="both", snr=2.0, shared_inputs=False,
                  flip=0.2 if data.task_of(name) == "classification" else 0.0)
    three, four = ensemble(name, members=3, **kwargs), ensemble(name, members=4, **kwargs)
    np.testing.assert_array_equal(four.x_train[:3], three.x_train)
    np.testing.assert_array_equal(four.y_train[:3], three.y_train)
    np.testing.assert_array_equal(four.x_probe, three.x_probe)
