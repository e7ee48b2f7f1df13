"""The package's build backend: maturin's, except that building without Rust fails at once with
one line saying how to get it.

maturin would instead download a temporary Rust toolchain behind pip's silent "Building
wheel..." on every install, and throw it away afterwards. Setting MATURIN_NO_INSTALL_RUST to an
empty string brings that behaviour back.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from typing import Any

os.environ.setdefault("MATURIN_NO_INSTALL_RUST", "1")

from maturin import *  # noqa: F403 (every hook, delegated unchanged)
from maturin import get_requires_for_build_editable as _requires_for_editable
from maturin import get_requires_for_build_wheel as _requires_for_wheel

NO_RUST = (
    "helpcrunch is built from Rust source, and Rust (cargo) is not on PATH: install it with "
    "https://rustup.rs (one command), open a new shell and run pip install again"
)


def _check_rust() -> None:
    if os.environ["MATURIN_NO_INSTALL_RUST"] and shutil.which("cargo") is None:
        sys.exit(NO_RUST)


def get_requires_for_build_wheel(config_settings: Mapping[str, Any] | None = None) -> list[str]:
    _check_rust()
    requirements: list[str] = _requires_for_wheel(config_settings)
    return requirements


def get_requires_for_build_editable(
    config_settings: Mapping[str, Any] | None = None,
) -> list[str]:
    _check_rust()
    requirements: list[str] = _requires_for_editable(config_settings)
    return requirements
