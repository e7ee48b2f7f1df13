"""The build backend (scripts/build_backend.py): maturin's, except that a machine without Rust
gets one line saying how to get it, at once, instead of a temporary toolchain downloaded behind
pip's silent "Building wheel..."."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
HOOKS = ["get_requires_for_build_wheel", "get_requires_for_build_editable"]


def call_hook(hook: str, path: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Call ``hook`` as pip does: in a fresh interpreter with the backend's folder on sys.path,
    and ``path`` as PATH."""
    return subprocess.run(
        [sys.executable, "-c", f"import build_backend; print(build_backend.{hook}())"],
        cwd=SCRIPTS.parent,
        env={**os.environ, "PYTHONPATH": str(SCRIPTS), "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_without_cargo_the_build_stops_with_one_line(hook: str, tmp_path: Path) -> None:
    result = call_hook(hook, str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == (
        "helpcrunch is built from Rust source, and Rust (cargo) is not on PATH: install it with "
        "https://rustup.rs (one command), open a new shell and run pip install again\n"
    )


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")
@pytest.mark.parametrize("hook", HOOKS)
def test_with_cargo_it_is_maturins_build(hook: str) -> None:
    result = call_hook(hook, os.environ["PATH"])
    assert result.returncode == 0, result.stderr
    assert "puccinialin" not in result.stdout  # nothing to download


def test_an_empty_setting_lets_maturin_fetch_rust(tmp_path: Path) -> None:
    # The way back to maturin's own behaviour: it asks for puccinialin, which fetches Rust.
    result = call_hook(HOOKS[0], str(tmp_path), MATURIN_NO_INSTALL_RUST="")
    assert result.returncode == 0, result.stderr
    assert "puccinialin" in result.stdout
