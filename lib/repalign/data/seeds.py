"""The experiment seed and its child streams, in their documented order.

One ``seed`` (int or SeedSequence) gives five child sequences::

    0 teacher, 1 clean inputs / subsample, 2 probe inputs, 3 label noise, 4 input noise

and member k uses child k of 1 (unless inputs are shared: then everyone uses child 0), 3 and 4.
Children are derived without mutating the caller's SeedSequence, so the same arguments give
bitwise identical arrays, and adding members leaves the first members' data unchanged.
"""

from __future__ import annotations

import numpy as np

from .checks import as_int

# Seed-sequence children of the experiment seed, in their documented order.
TEACHER, INPUTS, PROBE, LABEL_NOISE, INPUT_NOISE = range(5)
N_STREAMS = 5


def root_sequence(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    """The caller's SeedSequence itself, or a new one from a non-negative int."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    try:
        return np.random.SeedSequence(as_int("seed", seed, 0))
    except ValueError as error:
        raise ValueError(f"seed must be an integer >= 0 or a numpy SeedSequence, got {seed!r}") from error


def child(parent: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """The index-th child of parent, as ``parent.spawn`` would make it, without mutating parent."""
    return np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, index),
                                  pool_size=parent.pool_size)


def streams(seed: int | np.random.SeedSequence) -> list[np.random.SeedSequence]:
    """The five child streams of ``seed``, indexed by TEACHER ... INPUT_NOISE."""
    root = root_sequence(seed)
    return [child(root, index) for index in range(N_STREAMS)]


def seed_key(sequence: np.random.SeedSequence) -> tuple:
    """A hashable stand-in for a SeedSequence (for caching teachers)."""
    entropy = sequence.entropy
    entropy = tuple(entropy) if isinstance(entropy, (list, tuple, np.ndarray)) else int(entropy)
    return entropy, tuple(sequence.spawn_key), sequence.pool_size


def sequence_from_key(key: tuple) -> np.random.SeedSequence:
    """The SeedSequence that ``seed_key`` stood in for."""
    entropy, spawn_key, pool_size = key
    return np.random.SeedSequence(list(entropy) if isinstance(entropy, tuple) else entropy,
                                  spawn_key=spawn_key, pool_size=pool_size)
