"""The widget's JavaScript unit tests (Node's built-in runner), as part of the one test command."""

import shutil
import subprocess
from pathlib import Path

from tests.services import need

ROOT = Path(__file__).resolve().parents[1]


def test_javascript_unit_tests_pass():
    node = shutil.which("node")
    need(node is not None, "Node.js is not installed")
    result = subprocess.run([node, "--test", "tests/js/"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
