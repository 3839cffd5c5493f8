"""One error convention for every command line of the project.

Every ``python -m ...`` entry point ends in ``raise SystemExit(run_cli(main))``, so a failure reads
the same everywhere:

- a **known** error (bad input or configuration: the exception types in :data:`KNOWN_ERRORS`,
  or a subclass of one) prints ``error: <message>`` as one line on stderr and exits **2**;
- anything else prints ``error: unexpected <Type>: <message>`` (one line) and exits **1**;
- ``--debug`` anywhere on the command line also prints the traceback (before that line);
- Ctrl-C exits 130 with ``error: interrupted``. argparse's own usage errors keep argparse's
  exit code 2.

``main(argv)`` itself still raises, so tests and callers that use it as a function see the
exception; only the process entry point turns it into a message and an exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

DEBUG_FLAG = "--debug"
EXIT_BAD_INPUT = 2
EXIT_UNEXPECTED = 1
EXIT_INTERRUPTED = 130

# The exception types that mean "bad input or configuration", declared once for every CLI: class
# name -> the module that defines it. Matched by name along the exception's MRO, so memsafe does
# not import the packages above it; tests/test_cli_errors.py checks that each entry resolves.
KNOWN_ERRORS: dict[str, str] = {
    "BudgetError": "memsafe.budget",
    "RawFileError": "iso_energy.isos.schema",
    "NoInputError": "iso_energy.isos.schema",
    "TabularInputError": "tabular.io",  # also SchemaDriftError
    "SplitConfigError": "tabular.splits",
    "PodUsageInputError": "pod_usage.format",
    "NoPodUsageFiles": "pod_usage.format",
    "ShardError": "probe_rows.shards",
    "NoShardsError": "probe_rows.shards",
    "AtlasFormatError": "probe_rows.ripe_atlas",
    "MeasurementCsvError": "probe_rows.csv_import",
    "CliUsageError": "memsafe.cli",
    # A missing input file or folder named on the command line.
    "FileNotFoundError": "builtins",
    "NotADirectoryError": "builtins",
}


class CliUsageError(ValueError):
    """A command-line value that argparse accepted but the command cannot use (names the flag)."""


@contextmanager
def usage_errors() -> Iterator[None]:
    """Treat a ``ValueError`` raised in this block as a bad command-line value: re-raised as
    :class:`CliUsageError` (exit 2). For checking parameters (a generator's sizes, a config's
    fields), not around the heavy work, where a ``ValueError`` may be a bug (exit 1)."""
    try:
        yield
    except ValueError as exc:
        if is_known(exc):
            raise
        raise CliUsageError(str(exc)) from exc


def is_known(exc: BaseException) -> bool:
    """True when ``exc`` is (a subclass of) one of :data:`KNOWN_ERRORS`."""
    return any(cls.__name__ in KNOWN_ERRORS for cls in type(exc).__mro__)


def one_line(text: str) -> str:
    """``text`` with its lines joined by ``" | "`` (an error message is printed on one line)."""
    return " | ".join(part.strip() for part in str(text).splitlines() if part.strip())


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """Document ``--debug`` in ``parser``'s help. :func:`run_cli` removes the flag before
    ``main`` parses, so it works before or after a sub-command."""
    parser.add_argument(DEBUG_FLAG, action="store_true", help="on an error, also print the Python traceback")


def progress_to_stderr() -> None:
    """Show the plain modules' INFO records (the progress lines of long steps, at most one every
    10 s: :mod:`memsafe.progress`) on stderr, message only; a command's JSON result stays on stdout."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")


def run_cli(main: Callable[[list[str]], int | None], argv: Sequence[str] | None = None) -> int:
    """Run ``main(argv)`` under the error convention of the module docstring; return the exit code.

    ``argv`` defaults to ``sys.argv[1:]``. Returns ``main``'s own code (``None`` -> 0) on success.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args
    args = [a for a in args if a != DEBUG_FLAG]
    try:
        code = main(args)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the one place every CLI error becomes a message
        if debug:
            traceback.print_exc(file=sys.stderr)
        if is_known(exc):
            print(f"error: {one_line(str(exc) or type(exc).__name__)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        hint = "" if debug else f" (run with {DEBUG_FLAG} for the traceback)"
        print(f"error: unexpected {type(exc).__name__}: {one_line(str(exc))}{hint}", file=sys.stderr)
        return EXIT_UNEXPECTED
    finally:
        sys.stderr.flush()
    return 0 if code is None else int(code)
