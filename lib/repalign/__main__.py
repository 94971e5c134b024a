"""``python -m repalign``: sweeps, the result cache, and the book.

    python -m repalign sweep spec.yaml [--executor dask --scheduler tcp://...] [-o table.csv]
    python -m repalign cache info | verify | clear
    python -m repalign book ...            (the same as python -m repalign.book ...)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["book"]:
        from .book import main as book_main

        return book_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m repalign", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("sweep", help="run a sweep spec (YAML: base experiment and grid)")
    run.add_argument("spec", type=Path)
    run.add_argument("--executor", choices=("serial", "process", "dask"), default="serial")
    run.add_argument("--scheduler", help="Dask scheduler address (default: a LocalCluster)")
    run.add_argument("--workers", type=int, help="process-pool size (default: all cores)")
    run.add_argument("-o", "--output", type=Path, help="table path, .csv or .parquet (default: <spec>.csv)")
    cache = sub.add_parser("cache", help="inspect or empty the result cache")
    cache.add_argument("action", choices=("info", "verify", "clear"))
    sub.add_parser("book", help="run chapters and build the book (see python -m repalign.book -h)")
    args = parser.parse_args(argv)

    try:
        return _run(args)
    except OSError as err:  # an unusable cache folder, a missing data set: the message names the fix
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from .cache import ResultCache
    from .sweep import SweepSpecError, load_spec, sweep

    if args.command == "cache":
        store = ResultCache()
        if args.action == "info":
            info = store.info()
            left = f", {info['temporary']} temporary file(s) of interrupted writes" if info["temporary"] else ""
            print(f"{info['entries']} entries{left}, {info['bytes'] / 2**20:.1f} MiB in {info['folder']}")
        elif args.action == "verify":
            report = store.verify()
            bad = report["corrupt"]
            print(f"{report['entries']} entries checked in {report['folder']}: {len(bad)} corrupt"
                  + (f" ({', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}; a sweep recomputes them)" if bad else "")
                  + (f", {report['temporary']} temporary file(s) of interrupted writes" if report["temporary"] else ""))
            return 1 if bad else 0
        else:
            print(f"removed {store.clear()} entries from {store.folder}")
        return 0
    output = args.output or args.spec.with_suffix(".csv")
    problem = _output_problem(output) or _workers_problem(args.workers)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        base, grid = load_spec(args.spec)
    except SweepSpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    table = sweep(base, grid, executor=args.executor, client=args.scheduler, workers=args.workers)
    table.to_csv(output, index=False) if output.suffix == ".csv" else table.to_parquet(output, index=False)
    print(f"wrote {len(table)} rows ({int((~table.cached).sum())} computed) to {output}")
    return 0


def _output_problem(output: Path) -> str | None:
    """Why the table cannot be written there (checked before any work), or None."""
    if output.suffix not in (".csv", ".parquet"):
        return f"--output must end in .csv or .parquet, got {output}"
    if not output.parent.is_dir():
        return f"--output's folder {output.parent} does not exist; create it or choose another path"
    if not os.access(output.parent, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
        return f"--output {output} is not writable; choose another path"
    return None


def _workers_problem(workers: int | None) -> str | None:
    if workers is not None and workers < 1:
        return f"--workers must be an integer >= 1 (leave it out for all cores), got {workers}"
    return None


if __name__ == "__main__":
    sys.exit(main())
