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


def _main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["book"]:
        from .book import main as book_main

        return book_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m repalign", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("sweep", help="run a sweep spec (YAML: base experiment and grid)")
    run.add_argument("spec", type=Path)
    run.add_argument("--executor", choices=("serial", "process", "dask"), default="serial")
    run.add_argument("--scheduler", help="Dask scheduler address, with --executor dask (default: a LocalCluster)")
    run.add_argument("--workers", type=int, help="with --executor process or dask: the process pool's or the "
                     "LocalCluster's size (default: all cores); with --scheduler, the workers to plan stacks for")
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
            print(f"{report['entries']} entries and {report['tables']} verdict tables checked in {report['folder']}: "
                  f"{len(bad)} corrupt"
                  + (f" ({', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}; a sweep recomputes entries, "
                     "a chapter run its table)" if bad else "")
                  + (f", {report['temporary']} temporary file(s) of interrupted writes" if report["temporary"] else ""))
            return 1 if bad else 0
        else:
            print(f"removed {store.clear()} entries from {store.folder}" + _left_alone(store.foreign()))
        return 0
    output = args.output or args.spec.with_suffix(".csv")
    problem = (_workers_problem(args.workers) or _executor_problem(args.executor, args.scheduler, args.workers)
               or _output_problem(output, args.spec))
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


def _left_alone(files: list[Path]) -> str:
    """'; left N file(s) it did not write: a, b', or '' when there are none."""
    if not files:
        return ""
    names = ", ".join(p.name for p in files[:5]) + (" ..." if len(files) > 5 else "")
    return f"; left {len(files)} file(s) the cache did not write: {names}"


def _output_problem(output: Path, spec: Path) -> str | None:
    """Why the table cannot be written there (checked before any work), or None."""
    if output.resolve() == spec.resolve():  # a spec named x.csv: its default table is itself
        return f"--output {output} is the spec itself; name another file with -o"
    if output.is_dir():  # the table would be written at the very end, and fail there
        return f"--output {output} is a folder; name a .csv or .parquet file, in it or elsewhere"
    if output.suffix not in (".csv", ".parquet"):
        return f"--output must end in .csv or .parquet, got {output}"
    if not output.parent.is_dir():
        return f"--output's folder {output.parent} does not exist; create it or choose another path"
    if not os.access(output.parent, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
        return f"--output {output} is not writable; choose another path"
    return None


def _executor_problem(executor: str, scheduler: str | None, workers: int | None) -> str | None:
    """Why an option would do nothing with this executor (it would be ignored silently), or None."""
    if scheduler is not None and executor != "dask":
        return f"--scheduler needs --executor dask, got --executor {executor}"
    if workers is not None and executor == "serial":
        return "--workers needs --executor process or dask (the serial executor runs one stack at a time)"
    return None


def _workers_problem(workers: int | None) -> str | None:
    if workers is not None and workers < 1:
        return f"--workers must be an integer >= 1 (leave it out for all cores), got {workers}"
    return None


def main(argv: list[str] | None = None) -> int:
    from .book import command  # imported here: ``python -m repalign -h`` stays quick

    return command(_main)(argv)


if __name__ == "__main__":
    sys.exit(main())
