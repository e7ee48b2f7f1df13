"""The compiled module's stub (``_native.pyi``) is held to the module itself by mypy's stubtest:
every class, method, parameter and constant the stub names exists at runtime with that shape,
and nothing the module has is missing from it. What stubtest cannot see is in the allowlist
beside this file, each line with its reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ALLOWLIST = Path(__file__).with_name("stubtest_allowlist.txt")


def test_the_stub_matches_the_compiled_module() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            # PEP 800's @disjoint_base is newer than the typing the stub is written for.
            "--ignore-disjoint-bases",
            "--allowlist",
            str(ALLOWLIST),
            "helpcrunch._native",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
