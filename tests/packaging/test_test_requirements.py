"""scripts/test installs the test extras beside the extension's build, from the list
``scripts/test_requirements.py`` prints: it must be what ``pip install -e '.[test]'`` would
install besides the package itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as pip carries it
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_the_dependencies_and_the_test_extra_with_the_own_extras_written_out() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    printed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "test_requirements.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()

    own = [r for r in extras["test"] if r.startswith(f"{project['name']}[")]
    assert own == ["helpcrunch[pandas,polars]"]
    expected = [
        *project["dependencies"],
        *(r for r in extras["test"] if r not in own),
        *extras["pandas"],
        *extras["polars"],
    ]
    assert sorted(printed) == sorted(expected)
    assert not [line for line in printed if line.startswith(project["name"])]
