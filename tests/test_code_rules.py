"""The code rules CI holds the repository to: ruff's lint and format, and the import layers."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", [("check", "."), ("format", "--check", ".")], ids=["lint", "format"])
def test_ruff(command):
    result = run(str(BIN / "ruff"), *command)
    assert result.returncode == 0, result.stdout + result.stderr


def test_imports_follow_the_layers_of_docs_architecture():
    """import-linter's contracts (.importlinter): a room imports only the rooms below it, services have no cycle."""
    result = run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
