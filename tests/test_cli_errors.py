"""Every command line fails the same way: ``error: <message>`` on one stderr line, exit 2 for bad
input or configuration, 1 for anything unexpected, and the traceback only with ``--debug``."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from memsafe.cli import KNOWN_ERRORS, is_known, run_cli

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(KNOWN_ERRORS))
def test_every_known_error_type_exists_where_declared(name):
    # The registry matches by class name, so a renamed or moved class must be updated there.
    cls = getattr(importlib.import_module(KNOWN_ERRORS[name]), name)
    assert issubclass(cls, Exception) and is_known(cls.__new__(cls))


def test_a_subclass_is_known_and_a_plain_error_is_not():
    from tabular.loading import SchemaDriftError

    assert is_known(SchemaDriftError("drift"))  # a TabularInputError
    assert not is_known(ValueError("x")) and not is_known(KeyError("x"))


def _known_failure(argv):
    from tabular.splits import SplitConfigError

    raise SplitConfigError("ratios {'a': 0.5} sum to 0.5;\nthey must sum to 1")


def _bug(argv):
    return {}["missing"]


def test_known_error_is_one_line_exit_2(capsys):
    assert run_cli(_known_failure, []) == 2
    err = capsys.readouterr().err
    assert err == "error: ratios {'a': 0.5} sum to 0.5; | they must sum to 1\n"


def test_unexpected_error_is_exit_1_and_debug_shows_the_traceback(capsys):
    assert run_cli(_bug, ["x"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: unexpected KeyError: 'missing' (run with --debug for the traceback)"]
    assert run_cli(_bug, ["x", "--debug"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):") and "in _bug" in err
    assert err.splitlines()[-1] == "error: unexpected KeyError: 'missing'"


def test_success_returns_main_code_and_debug_is_not_passed_on():
    seen = []
    assert run_cli(lambda argv: seen.append(argv) or 3, ["a", "--debug", "b"]) == 3
    assert seen == [["a", "b"]]


def _cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """One bad-input case per CLI: module argv and a fragment of the expected message."""
    (tmp / "csvs").mkdir()
    (tmp / "csvs" / "matrix.csv").write_text("source,dest,size,time\n0,1,64,1.5\n")
    (tmp / "raw").mkdir()
    (tmp / "raw" / "d.csv").write_text("cust,month,label\na,Feb-2018,1\nb,Mar-2019,0\n")
    (tmp / "empty").mkdir()
    return {
        "iso_energy.convert": (
            ["--iso", "pjm", "--dataset", "lmp_da", "--year", "2024", "--data-dir", str(tmp / "root")],
            "no raw pjm lmp_da files under",
        ),
        "iso_energy.sample": (
            ["--data-dir", str(tmp / "root"), "--start", "2024-03-01", "--end", "2024-02-01"],
            "--end 2024-02-01 must be after --start 2024-03-01",
        ),
        "probe_rows.cli": (
            ["group", "--input", str(tmp / "csvs"), "--output", str(tmp / "out")],
            "ignored: matrix.csv",
        ),
        "tabular.cli": (
            [
                "split",
                "--input",
                str(tmp / "raw"),
                "--output",
                str(tmp / "s"),
                "--label",
                "label",
                "--mode",
                "temporal",
                "--customer-column",
                "cust",
                "--date-column",
                "month",
                "--cutoffs",
                "2019-01-01",
            ],
            "date_column 'month': value 'Feb-2018'",
        ),
        "pod_usage.cli": (
            ["summarize", "--input", str(tmp / "empty"), "--output", str(tmp / "o")],
            "no pod usage CSV under",
        ),
    }


@pytest.mark.parametrize(
    "module", ["iso_energy.convert", "iso_energy.sample", "probe_rows.cli", "tabular.cli", "pod_usage.cli"]
)
def test_each_cli_prints_one_error_line_and_exits_2(tmp_path, module):
    argv, fragment = _cases(tmp_path)[module]
    done = subprocess.run([sys.executable, "-m", module, *argv], cwd=REPO, capture_output=True, text=True, timeout=120)
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert "Traceback" not in done.stderr
    debug = subprocess.run(
        [sys.executable, "-m", module, *argv, "--debug"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert debug.returncode == 2
    assert "Traceback (most recent call last):" in debug.stderr
    assert debug.stderr.splitlines()[-1] == lines[0]


@pytest.mark.parametrize(
    ("module", "argv", "fragment"),
    [
        pytest.param("tabular.cli", ["generate", "--out", "{tmp}/w", "--rows", "0"], "must be positive", id="tabular"),
        pytest.param(
            "probe_rows.cli",
            ["generate", "--output", "{tmp}/p", "--measurements", "10", "--shards", "0"],
            "shards must be positive",
            id="probe_rows",
        ),
        pytest.param(
            "pod_usage.cli",
            ["generate", "--out", "{tmp}/u", "--rows", "0"],
            "rows must be positive, got 0",
            id="pod_usage",
        ),
    ],
)
def test_generators_bad_parameters_exit_2(tmp_path, capsys, module, argv, fragment):
    main = importlib.import_module(module).main
    assert run_cli(main, [a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and fragment in err[0], err
