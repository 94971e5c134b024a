"""A content-addressed cache of experiment results: re-rendering never re-trains.

An entry is two plain files named by the key: ``<key>.npz`` (the arrays, loaded without
pickle) and ``<key>.json`` (the experiment, the scalar results, the SHA-256 of the npz and
one of the json itself, so an edited digit is caught like a flipped byte).
The key hashes the full Experiment, the result-schema version, the package version and the
data set's identity. Each file is written to a temporary file in the same folder and renamed
into place, the json last: an entry exists only once both are complete. A reader trusts an
entry only if its json parses, names the same experiment and carries the npz's checksum; a
corrupted or truncated entry is reported (CorruptEntryWarning) and recomputed, never loaded.
Two processes writing the same entry each rename a complete file of their own.

Default folder: ``_build/cache`` of the book (``REPALIGN_CACHE`` overrides it; outside a checkout,
the per-user cache's ``repalign/results``), as decided in ``repalign.paths``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np

from . import __version__, paths
from .paths import TABLE_MARKER, VERDICT_TABLES, write_atomically
from . import data as datasets
from .experiment import Experiment, ExperimentResult, resolve_device

SCHEMA_VERSION = 2  # bump when ExperimentResult or its meaning changes (2: the json carries its own checksum)
_PER_MEMBER = ("train_error", "test_error", "train_loss", "steps", "converged", "diverged")


class CorruptEntryWarning(RuntimeWarning):
    """A cache entry failed its checks; it is recomputed."""


class CacheUnavailable(OSError):
    """The result cache's folder cannot hold new entries; the message says what to change."""


def default_folder() -> Path:
    """Where results go unless a folder is given: decided by ``repalign.paths.result_cache_dir``."""
    return paths.result_cache_dir()


@functools.lru_cache(maxsize=None)
def data_identity(name: str) -> str:
    """Synthetic data are defined by their generator (versioned with the package); real data
    by a SHA-256 of their raw training and held-out arrays."""
    if datasets.is_synthetic(name):
        return f"{name}:generated"
    split = datasets.real_split(name)
    digest = hashlib.sha256()
    for array in (split.x_pool, split.y_pool, split.x_heldout, split.y_heldout):
        digest.update(np.ascontiguousarray(array).tobytes())
    return f"{name}:{digest.hexdigest()}"


# Fields added to Experiment after results were cached: they identify an experiment only when
# they differ from their default, so that every earlier key and entry stays valid.
KEYED_WHEN_SET = {"plateau": Experiment.__dataclass_fields__["plateau"].default}


def identifying_fields(config: dict) -> dict:
    """An experiment's fields (``to_dict``) as they identify it: a field added later counts only when set."""
    return {k: v for k, v in config.items() if k not in KEYED_WHEN_SET or v != KEYED_WHEN_SET[k]}


def experiment_key(exp: Experiment) -> str:
    # device "auto" is keyed as the device it resolves to here: CPU and GPU numbers differ.
    config = {**identifying_fields(exp.to_dict()), "device": resolve_device(exp.device).type}
    identity = {"experiment": config, "schema": SCHEMA_VERSION, "repalign": __version__,
                "data": data_identity(exp.data)}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def to_entry(res: ExperimentResult) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, metadata): the result as plain arrays and JSON-ready values."""
    arrays = {name: np.asarray(getattr(res, name)) for name in _PER_MEMBER}
    arrays.update({f"alignment_matrix/{m}": v for m, v in res.alignment_matrix.items()})
    if res.end_to_end is not None:
        arrays["end_to_end"] = res.end_to_end
    meta = {"experiment": res.experiment.to_dict(), "alignment": res.alignment,
            "alignment_stderr": res.alignment_stderr, "n_parameters": res.n_parameters,
            "wall_time": res.wall_time}
    return arrays, meta


def from_entry(arrays: dict[str, np.ndarray], meta: dict) -> ExperimentResult:
    exp = Experiment(**meta["experiment"])
    return ExperimentResult(
        experiment=exp, alignment=meta["alignment"], alignment_stderr=meta["alignment_stderr"],
        alignment_matrix={m: arrays[f"alignment_matrix/{m}"] for m in exp.metrics},
        **{name: arrays[name] for name in _PER_MEMBER}, n_parameters=meta["n_parameters"],
        end_to_end=arrays.get("end_to_end"), wall_time=meta["wall_time"])


def _meta_checksum(meta: dict) -> str:
    """SHA-256 of the entry's json without its own checksum, written canonically (sorted keys)."""
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


# What the cache writes, by name: an entry's two files, named by its key, and the temporary
# files of write_atomically (.<file>.<random>.tmp). clear() removes nothing else.
_ENTRY_FILE = re.compile(r"[0-9a-f]{32}\.(json|npz)")
_TEMPORARY_FILE = re.compile(r"\.(.+)\.\w+\.tmp")


def is_entry_file(path: Path) -> bool:
    return bool(_ENTRY_FILE.fullmatch(path.name))


def is_temporary_file(path: Path) -> bool:
    """A killed writer's temporary file of an entry or of a verdict table."""
    written = _TEMPORARY_FILE.fullmatch(path.name)
    if not written:
        return False
    target = path.parent / written.group(1)
    return is_entry_file(target) if path.parent.name != VERDICT_TABLES else target.suffix == ".csv"


def is_verdict_table(path: Path) -> bool:
    """A csv that repalign.verdicts wrote: it starts with TABLE_MARKER."""
    if path.suffix != ".csv" or not path.is_file():
        return False
    with open(path, "rb") as f:
        return f.read(len(TABLE_MARKER)) == TABLE_MARKER.encode()


def _size(path: Path) -> int:
    """A file's size, 0 once it is gone: a writer running beside us renames or removes its
    temporary file between our listing and our stat."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class ResultCache:
    """Experiment results on disk, keyed by ``experiment_key``."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else default_folder()

    def paths(self, exp: Experiment) -> tuple[Path, Path]:
        key = experiment_key(exp)
        return self.folder / f"{key}.npz", self.folder / f"{key}.json"

    def check_writable(self, why: str = "some results are missing") -> None:
        """Raise CacheUnavailable, in one line naming the fix, unless new entries can be written
        (checked before any work that would end in ``store``; ``why`` says why it must be); creates
        the folder."""
        hint = f"point {paths.CACHE_VARIABLE} at a writable folder"
        if self.folder.exists() and not self.folder.is_dir():
            raise CacheUnavailable(f"the result cache {self.folder} is a file, not a folder; {hint}")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise CacheUnavailable(f"cannot create the result cache {self.folder} ({err.strerror}); {hint}") from None
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise CacheUnavailable(f"the result cache {self.folder} is read-only and {why}; {hint}")

    def load(self, exp: Experiment) -> ExperimentResult | None:
        """The cached result, or None if absent or failing its checks (then with a warning)."""
        npz, meta_path = self.paths(exp)
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            payload = npz.read_bytes()
            if meta.get("schema") != SCHEMA_VERSION or (identifying_fields(meta["experiment"])
                                                        != identifying_fields(json.loads(json.dumps(exp.to_dict())))):
                raise ValueError("the entry describes another experiment or schema")
            if _meta_checksum(meta) != meta["meta_sha256"]:
                raise ValueError("checksum mismatch (edited or corrupted json)")
            if hashlib.sha256(payload).hexdigest() != meta["sha256"]:
                raise ValueError("checksum mismatch (truncated or corrupted npz)")
            with np.load(io.BytesIO(payload), allow_pickle=False) as z:
                arrays = {name: z[name] for name in z.files}
            return from_entry(arrays, meta)
        except (OSError, ValueError, KeyError, TypeError) as err:
            warnings.warn(f"cache entry {meta_path.name} is unusable ({err}); recomputing",
                          CorruptEntryWarning, stacklevel=2)
            return None

    def store(self, res: ExperimentResult) -> Path:
        arrays, meta = to_entry(res)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        payload = buffer.getvalue()
        meta.update(schema=SCHEMA_VERSION, repalign=__version__, sha256=hashlib.sha256(payload).hexdigest())
        meta["meta_sha256"] = _meta_checksum(json.loads(json.dumps(meta)))  # as it will read back
        npz, meta_path = self.paths(res.experiment)
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(npz, payload)
        write_atomically(meta_path, json.dumps(meta, indent=1).encode())  # last: the entry now exists
        return meta_path

    def _files(self, folder: Path) -> list[Path]:
        return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []

    def _metas(self) -> list[Path]:
        return [p for p in self._files(self.folder) if is_entry_file(p) and p.suffix == ".json"]

    def owned(self) -> list[Path]:
        """Every file the cache wrote: entries, temporary files, verdict tables (and theirs)."""
        tables = self.folder / VERDICT_TABLES
        return ([p for p in self._files(self.folder) if is_entry_file(p) or is_temporary_file(p)]
                + [p for p in self._files(tables) if is_verdict_table(p) or is_temporary_file(p)])

    def foreign(self) -> list[Path]:
        """Files in the cache's folders that the cache did not write: never touched."""
        owned = set(self.owned())
        folders = [self.folder, self.folder / VERDICT_TABLES]
        return [p for folder in folders for p in self._files(folder) if p not in owned]

    def info(self) -> dict:
        owned = self.owned()
        return {"folder": str(self.folder), "entries": len(self._metas()),
                "temporary": sum(map(is_temporary_file, owned)),  # left by a writer that was killed
                "bytes": sum(map(_size, owned))}

    def verify(self) -> dict:
        """Check every entry's two checksums (its json's own, and the npz's) without loading it
        for an experiment, and every verdict table's (``repalign.verdicts.check_table``); return
        the counts and the names of the corrupt entries and tables."""
        from .verdicts import TableError, check_table

        corrupt = []
        metas = self._metas()
        for meta_path in metas:
            try:
                meta = json.loads(meta_path.read_text())
                ok = (_meta_checksum(meta) == meta["meta_sha256"] and
                      hashlib.sha256(meta_path.with_suffix(".npz").read_bytes()).hexdigest() == meta["sha256"])
            except (OSError, ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                corrupt.append(meta_path.name)
        tables = [p for p in self._files(self.folder / VERDICT_TABLES) if p.suffix == ".csv"]
        for table in tables:
            try:
                check_table(table)
            except TableError:
                corrupt.append(f"{VERDICT_TABLES}/{table.name}")
        return {"folder": str(self.folder), "entries": len(metas), "tables": len(tables), "corrupt": corrupt,
                "temporary": self.info()["temporary"]}

    def clear(self) -> int:
        """Remove every file the cache wrote (``owned``: entries, temporary files, the verdict
        tables computed from them) and nothing else; return how many entries went. Files it did
        not write (``foreign``) stay as they were."""
        entries = len(self._metas())
        try:
            for p in self.owned():
                p.unlink(missing_ok=True)
        except PermissionError:
            raise CacheUnavailable(f"cannot remove entries from the read-only result cache {self.folder}; "
                                   "make it writable first") from None
        return entries
