"""Print what ``pip install -e '.[test]'`` installs besides the package itself, one requirement a
line: the package's dependencies and its ``test`` extra, with the package's own extras that the
extra names (``helpcrunch[pandas,polars]``) written out. scripts/test installs them beside the
extension's build, where pip would do one after the other."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as pip carries it
    from pip._vendor import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def requirements(extra: str, extras: dict[str, list[str]], name: str) -> Iterator[str]:
    for requirement in extras[extra]:
        own = re.fullmatch(rf"{re.escape(name)}\[(.+)\]", requirement.strip())
        if own is None:
            yield requirement
        else:
            for inner in own.group(1).split(","):
                yield from requirements(inner.strip(), extras, name)


def main() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    extra = requirements("test", project["optional-dependencies"], project["name"])
    print("\n".join([*project.get("dependencies", []), *extra]))


if __name__ == "__main__":
    main()
