"""The static checks run with the tests (issue 16): ruff's lint and format check and mypy over indi_astrojolo/, with
the settings in pyproject.toml, so a lint, format or type error fails `./quickstart.sh test` like any other defect.

They run as the commands a developer would type, from the repository root with this interpreter. A missing tool is a
failure, not a skip: a suite that quietly stops checking looks the same as one that passes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]

CHECKS = {
    "ruff check": ("ruff", ["check", "indi_astrojolo"]),
    "ruff format --check": ("ruff", ["format", "--check", "indi_astrojolo"]),
    "mypy": ("mypy", []),  # what to check is [tool.mypy] packages; its cache in .mypy_cache keeps a rerun quick
}


@pytest.mark.parametrize("check", list(CHECKS))
def test_indi_astrojolo_passes(check: str) -> None:
    tool, arguments = CHECKS[check]
    if importlib.util.find_spec(tool) is None:
        pytest.fail(
            f"{tool} is not installed for {sys.executable}: install the test extras "
            f"(pip install -e '.[test]', as ./quickstart.sh setup does)"
        )
    command = [sys.executable, "-m", tool, *arguments]
    result = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, (
        f"`python {' '.join(command[1:])}` in {REPOSITORY} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    )
